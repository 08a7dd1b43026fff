"""Retention: deleting what the relay no longer needs, on a schedule, and making sure it is gone.

`purge` is one pass; `RetentionJob` runs a pass at start and then every hour. A pass deletes:

- closed check-ins ``retention.checkins`` after they closed, and closed alerts (a check-in that
  alerted, an SOS, a duress alert) ``retention.alerts`` after — with their notes, locations,
  client details and photos, which all live in the watch's sealed detail;
- drafts (details she sent with no check-in after them) ``retention.checkins`` after the last
  thing she added;
- sent messages' refs (`relay.store.outbox`: which watch a message Signal timestamped was about)
  once their watch is no longer live; sent messages themselves are deleted when they are sent,
  except rows left by an older release or set aside as unreadable, which go
  ``min(retention.messages, SENT_CAP)`` after they went (but not a live alert's);
- inbound de-duplication tags after `SEEN_KEEP`;
- expired reports and incident-log entries (`relay.reports`, `relay.incidents`);
- the vault files of deleted watches and messages that no remaining row names;

then checkpoints the WAL with TRUNCATE, so the deleted rows' old page images leave the WAL too
(``secure_delete`` already zeroes them in the main file).

Unsent messages are never deleted here: an alert is retried until it goes.

signal-cli keeps every attachment it receives in its own folder, in plain form. The relay deletes
the ones it keeps (`relay.attachments`); the job also deletes, through signal-cli-rest-api, any
attachment it has seen sitting there for `ATTACHMENT_GRACE` (a photo on a message the relay does
not keep, one too large to keep), so none lingers for more than about two hours.

Nothing here logs more than counts and the names of tables.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final, TypeVar

import aiohttp
import aiosqlite

from relay.clock import Clock
from relay.crypto.seal import JsonValue, Sealer, TamperedError, aad_for
from relay.incidents import purge_expired_entries
from relay.reports import purge_expired
from relay.rules import Retention, Rules
from relay.store.db import Database
from relay.store.outbox import drop_refs
from relay.store.times import HOUR_MS, from_ms, to_ms

if TYPE_CHECKING:
    from relay.attachments import AttachmentVault
    from relay.engine import Engine

log = logging.getLogger(__name__)

_T = TypeVar("_T")

PURGE_EVERY: Final = timedelta(hours=1)
"""How often the job runs. Also the granularity of every retention period."""

SENT_CAP: Final = timedelta(hours=1)
"""No sent message is kept longer than this, whatever ``retention.messages`` says: alert texts
carry notes, places and client details, and once sent the relay needs a sent row only to match
a buddy's quote or reaction to a live alert (kept while the alert lives)."""

SEEN_KEEP: Final = timedelta(days=2)
"""How long an inbound envelope's de-duplication tag is kept (signal-cli re-delivers within
minutes; two days covers a relay that was down overnight)."""

ATTACHMENT_GRACE: Final = timedelta(hours=1)
"""An attachment still in signal-cli's folder this long after the job first saw it is not being
kept by anyone: the relay handles a message within seconds."""

_CHUNK: Final = 500  # ids per DELETE … IN (…)
_ATTACHMENT_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")


@dataclass
class PurgeReport:
    """What one pass deleted (counts only) and whether the WAL is empty after it."""

    checkins: int = 0  # closed check-ins and alerts, and stale drafts
    messages: int = 0  # sent outbox rows (left by an older release, or set aside)
    sent_refs: int = 0  # refs of sent messages whose watch is no longer live
    seen_tags: int = 0
    reports: int = 0
    log_entries: int = 0
    photos: int = 0  # sealed vault files
    signal_cli_files: int = 0  # attachments deleted from signal-cli's folder
    unreadable: int = 0  # sealed rows that failed to open (tampered?): deleted by age alone
    failures: list[str] = field(default_factory=list)  # steps that failed (named, no details)
    wal_bytes: int | None = None  # size of the WAL after the checkpoint (0: truncated)

    def counts(self) -> str:
        """``checkins=2 messages=5 … wal_bytes=0`` — safe to log. A WAL left non-empty (another
        reader held it, or a write came right after) is emptied by a later pass."""
        names = [f.name for f in fields(self) if f.name != "failures"]
        return " ".join(f"{name}={getattr(self, name)}" for name in names)


# --- one pass ------------------------------------------------------------------------------------


async def purge(
    db: Database,
    sealer: Sealer,
    vault: AttachmentVault | None,
    rules: Rules,
    now: datetime,
) -> PurgeReport:
    """Delete everything the rules no longer keep (see the module docstring), then checkpoint.

    A step that fails is logged and named in ``failures``; the others still run, and the
    checkpoint always does.
    """
    report = PurgeReport()
    retention = rules.retention
    candidates: set[str] = set()
    in_use: set[str] | None = None
    try:
        async with db.transaction() as conn:
            report.checkins, keys, unreadable = await _purge_watches(conn, sealer, retention, now)
            candidates |= keys
            report.unreadable += unreadable
            report.messages, keys, unreadable = await _purge_sent(conn, sealer, retention, now)
            candidates |= keys
            report.unreadable += unreadable
            report.sent_refs, unreadable = await _purge_refs(conn, sealer)
            report.unreadable += unreadable
            report.seen_tags = await _purge_seen(conn, now)
            if candidates:
                in_use = await vault_keys_in_use(conn, sealer)
    except Exception:
        # Rolled back: nothing half-deleted. Logged without messages (relay.logs).
        log.exception("retention: deleting check-ins and messages failed")
        report.failures.append("watches+outbox")
        candidates = set()
    if vault is not None and in_use is not None:
        # Files go only after the rows naming them are gone: a crash in between leaves a sealed
        # file nobody names, never a row naming a missing file.
        for key in sorted(candidates - in_use):
            vault.forget(key)
            report.photos += 1
    elif candidates and vault is not None:
        log.warning("retention: some sealed rows did not open; their photos stay for now")

    report.reports = await _step(report, "reports", purge_expired(db, now, rules, vault))
    report.log_entries = await _step(
        report, "incident_logs", purge_expired_entries(db, sealer, now, rules, vault)
    )
    await db.checkpoint()
    report.wal_bytes = _wal_bytes(db)
    return report


async def _step(report: PurgeReport, name: str, work: Awaitable[int]) -> int:
    try:
        return await work
    except Exception:
        log.exception("retention: the %s step failed", name)
        report.failures.append(name)
        return 0


def _wal_bytes(db: Database) -> int:
    wal = db.path.with_name(db.path.name + "-wal")
    try:
        return wal.stat().st_size
    except FileNotFoundError:
        return 0


async def _purge_watches(
    conn: aiosqlite.Connection, sealer: Sealer, retention: Retention, now: datetime
) -> tuple[int, set[str], int]:
    """Closed watches and stale drafts past their time: (deleted, their photo keys, unreadable)."""
    shortest = min(retention.checkins, retention.alerts)
    longest = max(retention.checkins, retention.alerts)
    async with conn.execute(
        "SELECT id, phase, started_at, closed_at, detail FROM watches "
        "WHERE phase IN ('closed', 'draft') AND coalesce(closed_at, started_at) <= ?",
        (to_ms(now - shortest) + HOUR_MS,),  # the column is to the hour; the detail decides
    ) as cursor:
        rows = await cursor.fetchall()
    doomed: list[str] = []
    keys: set[str] = set()
    unreadable = 0
    for row in rows:
        # The columns hold the hour it closed (rounded up) or started (down); the exact times
        # are sealed in the detail (rows from before issue 17 have exact columns only).
        ended = from_ms(row["closed_at"] if row["closed_at"] is not None else row["started_at"])
        try:
            detail = sealer.open_json(row["detail"], aad=aad_for("watches", "detail", row["id"]))
        except TamperedError as exc:
            unreadable += 1
            log.warning("retention: %s did not open; deleting it by age alone", exc.where)
            if ended <= now - longest:
                doomed.append(row["id"])
            continue
        ended = _exact_end(detail, ended)
        if row["phase"] == "draft":
            keep_for, ended = retention.checkins, max(ended, _last_added(detail))
        else:
            keep_for = retention.alerts if _alerted(detail) else retention.checkins
        if ended <= now - keep_for:
            doomed.append(row["id"])
            keys.update(_photo_keys(detail))
    for chunk in _chunks(doomed):
        marks = ",".join("?" * len(chunk))
        await conn.execute(f"DELETE FROM watches WHERE id IN ({marks})", chunk)  # noqa: S608 — placeholders only
    return len(doomed), keys, unreadable


def _exact_end(detail: JsonValue, coarse: datetime) -> datetime:
    """When a watch closed (or a draft started), from its sealed detail; else the column's."""
    if isinstance(detail, dict):
        for name in ("closed_at", "started_at"):
            value = detail.get(name)
            if isinstance(value, int):
                return from_ms(value)
    return coarse


def _alerted(detail: JsonValue) -> bool:
    """Whether a closed watch was an alert (so `retention.alerts` applies)."""
    if not isinstance(detail, dict):
        return True  # the longer period when in doubt
    return detail.get("alert_started_at") is not None or detail.get("kind") in ("sos", "duress")


def _last_added(detail: JsonValue) -> datetime:
    """The newest pin or client note of a draft (its epoch when it has none)."""
    stamps = [0]
    if isinstance(detail, dict):
        for name in ("pins", "client"):
            listed = detail.get(name)
            for item in listed if isinstance(listed, list) else ():
                if isinstance(item, list) and item and isinstance(item[0], int):
                    stamps.append(item[0])
    return from_ms(max(stamps))


def _photo_keys(detail: JsonValue) -> list[str]:
    listed = detail.get("photos") if isinstance(detail, dict) else None
    return [k for k in listed if isinstance(k, str)] if isinstance(listed, list) else []


async def _purge_sent(
    conn: aiosqlite.Connection, sealer: Sealer, retention: Retention, now: datetime
) -> tuple[int, set[str], int]:
    """Sent messages past their time, except a live alert's: (deleted, vault keys, unreadable)."""
    cutoff = now - min(retention.messages, SENT_CAP)
    async with conn.execute(
        "SELECT id, row_key, attachments FROM outbox WHERE sent_at IS NOT NULL AND sent_at <= ? "
        "AND (watch_id IS NULL OR watch_id NOT IN "
        "(SELECT id FROM watches WHERE phase IN ('active', 'due', 'alerted', 'acked')))",
        (to_ms(cutoff),),
    ) as cursor:
        rows = await cursor.fetchall()
    keys: set[str] = set()
    unreadable = 0
    for row in rows:
        if row["attachments"] is None:
            continue
        aad = aad_for("outbox", "attachments", row["row_key"])
        try:
            listed = sealer.open_json(row["attachments"], aad=aad)
        except TamperedError as exc:
            unreadable += 1
            log.warning("retention: %s did not open; deleting the message anyway", exc.where)
            continue
        if isinstance(listed, list):
            keys.update(k for k in listed if isinstance(k, str))
    ids = [int(row["id"]) for row in rows]
    for chunk in _chunks(ids):
        marks = ",".join("?" * len(chunk))
        await conn.execute(f"DELETE FROM outbox WHERE id IN ({marks})", chunk)  # noqa: S608 — placeholders only
    return len(ids), keys, unreadable


async def _purge_refs(conn: aiosqlite.Connection, sealer: Sealer) -> tuple[int, int]:
    """Refs of sent messages whose watch is no longer live: (deleted, unreadable)."""
    async with conn.execute(
        "SELECT id FROM watches WHERE phase IN ('active', 'due', 'alerted', 'acked')"
    ) as cursor:
        live = {str(row[0]) for row in await cursor.fetchall()}
    return await drop_refs(conn, sealer, live.__contains__)


async def _purge_seen(conn: aiosqlite.Connection, now: datetime) -> int:
    cursor = await conn.execute(
        "DELETE FROM inbox_seen WHERE seen_at <= ?", (to_ms(now - SEEN_KEEP),)
    )
    return max(cursor.rowcount, 0)


async def vault_keys_in_use(conn: aiosqlite.Connection, sealer: Sealer) -> set[str] | None:
    """Every vault key a row still names: watches, the outbox, reports, incident logs and exports.

    None if a sealed row did not open: it might name a file, so no file may be deleted now.
    A new table that names vault keys must be added here, or its files may be deleted.
    """
    keys: set[str] = set()
    try:
        async with conn.execute("SELECT id, detail FROM watches") as cursor:
            for row in await cursor.fetchall():
                aad = aad_for("watches", "detail", row["id"])
                keys.update(_photo_keys(sealer.open_json(row["detail"], aad=aad)))
        async with conn.execute(
            "SELECT row_key, attachments FROM outbox WHERE attachments IS NOT NULL"
        ) as cursor:
            for row in await cursor.fetchall():
                aad = aad_for("outbox", "attachments", row["row_key"])
                listed = sealer.open_json(row["attachments"], aad=aad)
                if isinstance(listed, list):
                    keys.update(k for k in listed if isinstance(k, str))
        for table in ("report_photos", "incident_exports"):
            async with conn.execute(f"SELECT vault_key FROM {table}") as cursor:  # noqa: S608 — fixed names
                keys.update(str(row[0]) for row in await cursor.fetchall())
        async with conn.execute("SELECT row_key, content FROM incident_entries") as cursor:
            for row in await cursor.fetchall():
                aad = aad_for("incident_entries", "content", row["row_key"])
                keys.update(_incident_photo_keys(sealer.open_json(row["content"], aad=aad)))
    except TamperedError as exc:
        log.warning("retention: %s did not open; no photo is deleted in this pass", exc.where)
        return None
    return keys


def _incident_photo_keys(content: JsonValue) -> list[str]:
    listed = content.get("photos") if isinstance(content, dict) else None
    if not isinstance(listed, list):
        return []
    return [str(p["key"]) for p in listed if isinstance(p, dict) and isinstance(p.get("key"), str)]


def _chunks(items: Sequence[_T]) -> Iterable[list[_T]]:
    for start in range(0, len(items), _CHUNK):
        yield list(items[start : start + _CHUNK])


# --- signal-cli's attachment folder ---------------------------------------------------------------


class SignalCliAttachments:
    """Deletes attachments left in signal-cli's folder (seen there for `ATTACHMENT_GRACE`).

    signal-cli-rest-api lists the folder by file name only, with no time, so the first time a
    name is seen is remembered (in memory: after a restart the grace starts again). The grace is
    measured on the monotonic clock: a wall-clock step (NTP after boot on a Pi with no battery
    clock) must not make a photo that is being kept right now look an hour old.
    """

    def __init__(
        self,
        vault: AttachmentVault,
        grace: timedelta = ATTACHMENT_GRACE,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.vault = vault
        self.grace = grace.total_seconds()
        self.monotonic = monotonic
        self.first_seen: dict[str, float] = {}

    async def sweep(self) -> int:
        """Delete what has sat there long enough; return how many. Unreachable: 0."""
        names = await self._list()
        if names is None:
            return 0
        now = self.monotonic()
        self.first_seen = {name: self.first_seen.get(name, now) for name in names}
        deleted = 0
        for name, seen in sorted(self.first_seen.items()):
            if now - seen >= self.grace:
                status = await self.vault.transport.delete(f"/v1/attachments/{name}")
                if status in (200, 204):
                    deleted += 1
                if status in (200, 204, 404):  # 404: someone deleted it meanwhile
                    del self.first_seen[name]
        return deleted

    async def _list(self) -> list[str] | None:
        try:
            status, body = await self.vault.transport.get("/v1/attachments")
        except (OSError, TimeoutError, aiohttp.ClientError):
            return None
        if status != 200:
            return None
        try:
            listed = json.loads(body)
        except ValueError:
            return None
        if not isinstance(listed, list):
            return None
        # Names are signal-cli's random ids with an extension; anything else (a path, a name that
        # would change the URL) is not one of them and is left alone.
        return [n for n in listed if isinstance(n, str) and _ATTACHMENT_NAME.fullmatch(n)]


# --- the schedule --------------------------------------------------------------------------------


class RetentionJob:
    """A purge at start, then every `every`; `soon()` asks for one now (after a rules reload)."""

    def __init__(
        self,
        db: Database,
        sealer: Sealer,
        vault: AttachmentVault | None,
        rules: Callable[[], Rules],
        clock: Clock,
        *,
        lock: asyncio.Lock | None = None,
        every: timedelta = PURGE_EVERY,
    ) -> None:
        self.db = db
        self.sealer = sealer
        self.vault = vault
        self.rules = rules
        self.clock = clock
        self.lock = lock
        self.every = every
        self.wake = asyncio.Event()
        self.passes = 0
        self.last: PurgeReport | None = None
        self.passed = asyncio.Event()  # set after every pass (tests and drills wait on it)
        self.signal_cli = SignalCliAttachments(vault) if vault is not None else None
        self._asked = False

    @classmethod
    def for_engine(cls, engine: Engine, clock: Clock) -> RetentionJob:
        """The job for a running relay: the engine's store, vault, current rules and lock."""
        return cls(
            engine.db,
            engine.sealer,
            engine.vault,
            lambda: engine.rules,
            clock,
            lock=engine.lock,
        )

    def soon(self) -> None:
        """Run a pass now rather than at the next hour (e.g. a shorter retention was loaded)."""
        self._asked = True
        self.wake.set()

    async def run_once(self) -> PurgeReport:
        now = self.clock.now()
        if self.lock is not None:
            # The engine's lock: no decision is half-made about a watch this pass deletes.
            async with self.lock:
                report = await purge(self.db, self.sealer, self.vault, self.rules(), now)
        else:
            report = await purge(self.db, self.sealer, self.vault, self.rules(), now)
        if self.signal_cli is not None:
            report.signal_cli_files = await self.signal_cli.sweep()
        self.passes += 1
        self.last = report
        if report.failures or report.unreadable:
            log.warning(
                "retention pass: %s; failed: %s", report.counts(), ",".join(report.failures)
            )
        else:
            log.info("retention pass: %s", report.counts())
        self.passed.set()
        return report

    async def run(self) -> None:
        while True:
            await self.run_once()
            due = self.clock.now() + self.every
            # The clock may return early (it wakes every minute to notice a wall-clock step).
            while not self._asked and self.clock.now() < due:
                await self.clock.sleep_until(due, self.wake)
            self._asked = False
