"""Retention's statements: which stored rows are past their time, deleting them, and which vault
files a remaining row still names. The schedule and the pass are `relay.runtime.retention`'s.

Everything here runs in the database thread inside the caller's transaction (`Database.write`):
a pass deletes watches, sent messages, refs and de-duplication tags together, or nothing.
Nothing here logs more than counts and where a sealed value failed to open.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from relay.core.state import Phase
from relay.crypto.seal import JsonValue, Sealer, TamperedError, aad_for
from relay.store import seen
from relay.store.ids import delete_ids
from relay.store.outbox import drop_refs, purge_sent
from relay.store.phases import LIVE, NOT_LIVE
from relay.store.times import HOUR_MS, from_ms, to_ms

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Keep:
    """How long each kind of row is kept (from the rules' ``retention``)."""

    checkins: timedelta  # closed check-ins, and drafts after the last thing added
    alerts: timedelta  # closed alerts (a check-in that alerted, an SOS, a duress alert)
    sent: timedelta  # sent messages still in the outbox
    seen: timedelta  # inbound de-duplication tags


@dataclass
class Expired:
    """What one pass deleted from the watches and the outbox, and the files it may delete."""

    checkins: int = 0
    messages: int = 0
    sent_refs: int = 0
    seen_tags: int = 0
    unreadable: int = 0
    candidates: set[str] = field(default_factory=set)  # vault keys of the deleted rows
    in_use: set[str] | None = None  # keys still named (None: some row did not open, keep all)

    @property
    def deletable(self) -> set[str]:
        """The files to delete once this is committed: named by nothing left."""
        return self.candidates - self.in_use if self.in_use is not None else set()


def expire(sealer: Sealer, keep: Keep, now: datetime, conn: sqlite3.Connection) -> Expired:
    """Delete what `keep` no longer keeps, inside the caller's transaction (see the module)."""
    out = Expired()
    out.checkins, keys, unreadable = purge_watches(conn, sealer, keep, now)
    out.candidates |= keys
    out.unreadable += unreadable
    out.messages, keys, unreadable = purge_sent(conn, sealer, now - keep.sent)
    out.candidates |= keys
    out.unreadable += unreadable
    live = live_ids(conn)
    out.sent_refs, unreadable = drop_refs(conn, sealer, live.__contains__)
    out.unreadable += unreadable
    out.seen_tags = seen.forget_before(conn, to_ms(now - keep.seen))
    if out.candidates:
        out.in_use = vault_keys_in_use(conn, sealer)
    return out


def live_ids(conn: sqlite3.Connection) -> set[str]:
    """Ids of the live watches (check-ins and alerts that are on)."""
    return {str(row[0]) for row in conn.execute(f"SELECT id FROM watches WHERE {LIVE}")}  # noqa: S608 — a fixed fragment


def purge_watches(
    conn: sqlite3.Connection, sealer: Sealer, keep: Keep, now: datetime
) -> tuple[int, set[str], int]:
    """Closed watches and stale drafts past their time: (deleted, their photo keys, unreadable)."""
    shortest = min(keep.checkins, keep.alerts)
    longest = max(keep.checkins, keep.alerts)
    rows = conn.execute(
        f"SELECT id, phase, started_at, closed_at, detail FROM watches WHERE {NOT_LIVE} "  # noqa: S608 — a fixed fragment
        "AND coalesce(closed_at, started_at) <= ?",
        (to_ms(now - shortest) + HOUR_MS,),  # the column is to the hour; the detail decides
    ).fetchall()
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
        if Phase(row["phase"]) is Phase.DRAFT:
            keep_for, ended = keep.checkins, max(ended, _last_added(detail))
        else:
            keep_for = keep.alerts if _alerted(detail) else keep.checkins
        if ended <= now - keep_for:
            doomed.append(row["id"])
            keys.update(photo_keys(detail))
    delete_ids(conn, "watches", doomed)
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
    """Whether a closed watch was an alert (so `Keep.alerts` applies)."""
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


def photo_keys(detail: JsonValue) -> list[str]:
    """The vault keys a watch's opened detail names."""
    listed = detail.get("photos") if isinstance(detail, dict) else None
    return [k for k in listed if isinstance(k, str)] if isinstance(listed, list) else []


def vault_keys_in_use(conn: sqlite3.Connection, sealer: Sealer) -> set[str] | None:
    """Every vault key a row still names: watches, the outbox, reports, incident logs and exports.

    None if a sealed row did not open: it might name a file, so no file may be deleted now.
    A new table that names vault keys must be added here, or its files may be deleted.
    """
    keys: set[str] = set()
    try:
        for row in conn.execute("SELECT id, detail FROM watches").fetchall():
            aad = aad_for("watches", "detail", row["id"])
            keys.update(photo_keys(sealer.open_json(row["detail"], aad=aad)))
        for row in conn.execute(
            "SELECT row_key, attachments FROM outbox WHERE attachments IS NOT NULL"
        ).fetchall():
            aad = aad_for("outbox", "attachments", row["row_key"])
            listed = sealer.open_json(row["attachments"], aad=aad)
            if isinstance(listed, list):
                keys.update(k for k in listed if isinstance(k, str))
        for sql in (
            "SELECT vault_key FROM report_photos",
            "SELECT vault_key FROM incident_exports",
        ):
            keys.update(str(row[0]) for row in conn.execute(sql).fetchall())
        for row in conn.execute("SELECT row_key, content FROM incident_entries").fetchall():
            aad = aad_for("incident_entries", "content", row["row_key"])
            keys.update(incident_photo_keys(sealer.open_json(row["content"], aad=aad)))
    except TamperedError as exc:
        log.warning("retention: %s did not open; no photo is deleted in this pass", exc.where)
        return None
    return keys


def incident_photo_keys(content: JsonValue) -> list[str]:
    """The vault keys an incident-log entry's opened content names."""
    listed = content.get("photos") if isinstance(content, dict) else None
    if not isinstance(listed, list):
        return []
    return [str(p["key"]) for p in listed if isinstance(p, dict) and isinstance(p.get("key"), str)]
