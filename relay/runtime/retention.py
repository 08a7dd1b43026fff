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
- expired reports and incident-log entries (`relay.features.reports`, `relay.features.incidents`);
- the vault files of deleted watches and messages that no remaining row names;

then checkpoints the WAL with TRUNCATE, so the deleted rows' old page images leave the WAL too
(``secure_delete`` already zeroes them in the main file).

Unsent messages are never deleted here: an alert is retried until it goes.

signal-cli keeps every attachment it receives in its own folder, in plain form. The relay deletes
the ones it keeps (`relay.runtime.vault`); the job also deletes, through signal-cli-rest-api, any
attachment it has seen sitting there for `ATTACHMENT_GRACE` (a photo on a message the relay does
not keep, one too large to keep), so none lingers for more than about two hours.

The statements are the store's (`relay.store.purges`); this module owns the schedule, the pass
and signal-cli's folder. Nothing here logs more than counts and the names of tables.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Final

import aiohttp

from relay.crypto.seal import Sealer
from relay.features.incidents import purge_expired_entries
from relay.features.reports import purge_expired
from relay.rules import Retention, Rules
from relay.runtime.clock import Clock
from relay.store import peers
from relay.store.db import Database
from relay.store.purges import Expired, Keep, expire

if TYPE_CHECKING:
    from relay.runtime.desk import Desk
    from relay.runtime.vault import AttachmentVault

log = logging.getLogger(__name__)

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

_ATTACHMENT_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")


@dataclass
class PurgeReport:
    """What one pass deleted (counts only) and whether the WAL is empty after it."""

    checkins: int = 0  # closed check-ins and alerts, and stale drafts
    messages: int = 0  # sent outbox rows (left by an older release, or set aside)
    sent_refs: int = 0  # refs of sent messages whose watch is no longer live
    seen_tags: int = 0
    peer_rows: int = 0  # partner warning ids past their time, counts of past days
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
    try:
        # One transaction in the database thread (relay.store.purges): nothing half-deleted.
        expired = await db.write(partial(expire, sealer, keep_of(rules.retention), now))
    except Exception:
        # Rolled back: nothing half-deleted. Logged without messages (relay.runtime.logs).
        log.exception("retention: deleting check-ins and messages failed")
        report.failures.append("watches+outbox")
        expired = Expired()
    report.checkins = expired.checkins
    report.messages = expired.messages
    report.sent_refs = expired.sent_refs
    report.seen_tags = expired.seen_tags
    report.unreadable = expired.unreadable
    if vault is not None and expired.in_use is not None:
        # Files go only after the rows naming them are gone: a crash in between leaves a sealed
        # file nobody names, never a row naming a missing file.
        for key in sorted(expired.deletable):
            vault.forget(key)
            report.photos += 1
    elif expired.candidates and vault is not None:
        log.warning("retention: some sealed rows did not open; their photos stay for now")

    report.peer_rows = await _step(report, "peers", db.write(partial(peers.prune, now=now)))
    report.reports = await _step(report, "reports", purge_expired(db, now, rules, vault))
    report.log_entries = await _step(
        report, "incident_logs", purge_expired_entries(db, sealer, now, rules, vault)
    )
    await db.checkpoint()
    report.wal_bytes = _wal_bytes(db)
    return report


def keep_of(retention: Retention) -> Keep:
    """The rules' periods as the store's purge takes them. No sent message outlives `SENT_CAP`."""
    return Keep(
        checkins=retention.checkins,
        alerts=retention.alerts,
        sent=min(retention.messages, SENT_CAP),
        seen=SEEN_KEEP,
    )


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
    def for_desk(cls, desk: Desk, vault: AttachmentVault | None, clock: Clock) -> RetentionJob:
        """The job for a running relay: the desk's store, current rules and lock."""
        return cls(
            desk.db,
            desk.sealer,
            vault,
            lambda: desk.rules,
            clock,
            lock=desk.lock,
        )

    def soon(self) -> None:
        """Run a pass now rather than at the next hour (e.g. a shorter retention was loaded)."""
        self._asked = True
        self.wake.set()

    async def run_once(self) -> PurgeReport:
        now = self.clock.now()
        if self.lock is not None:
            # The desk's lock: no decision is half-made about a watch this pass deletes.
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
