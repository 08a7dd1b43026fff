"""The deliveries tables (migration 009): one sealed row per alert or practice drill, holding each
recipient's messages and what her phone said; one row per tracked send request's timestamp.

A seized database links nobody (issue 17): the row of an alert is found by a keyed tag of its id,
a receipt's timestamp by a keyed tag of its own, and neither tag is on any other row; who was
sent what, and when exactly, is sealed. In clear: the hour the first message went (retention)
and, while one is due, when to look whether a tier reached a phone (a live deadline).

Every call is synchronous on a `sqlite3.Connection`, in the database thread: inside the
pipeline's transaction, or in one `Database.run`/`write` trip of the tracker's. A row is read,
changed and written within one trip, so the database thread keeps changes from crossing.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from relay.core.delivery import Reach
from relay.crypto.seal import Sealer, TamperedError, aad_for, new_row_key
from relay.store.times import from_ms, hour_ms, opt_dt, opt_ms, to_ms

ALERT = "alert"
DRILL = "drill"


@dataclass(slots=True)
class Recipient:
    """One person (or group) sent an alert's or drill's messages."""

    address: str  # number, uuid or group id (sealed with the row)
    label: str
    group: bool
    tier: int
    sent: datetime
    stamps: list[int] = field(default_factory=list)
    on_phone: datetime | None = None  # her phone's delivery receipt (or an answer)
    read: datetime | None = None

    def reach(self) -> Reach:
        return Reach(self.label, self.group, self.tier, self.sent, self.on_phone, self.read)


@dataclass(slots=True)
class Entry:
    """The row of one alert or drill, unsealed."""

    about: str  # ALERT or DRILL
    ref: str  # the watch's or the drill's id
    row_key: str
    sent_hour: int
    recipients: list[Recipient] = field(default_factory=list)
    checks: dict[int, datetime] = field(default_factory=dict)  # tier → when to look

    def recipient(self, address: str) -> Recipient | None:
        return next((r for r in self.recipients if r.address == address), None)

    def check_at(self) -> datetime | None:
        return min(self.checks.values()) if self.checks else None


class DeliveryRepo:
    def __init__(self, sealer: Sealer) -> None:
        self.sealer = sealer

    def ref_tag(self, about: str, ref: str) -> bytes:
        return self.sealer.lookup(f"{about}:{ref}", purpose="delivery-ref")

    def stamp_tag(self, stamp: int) -> bytes:
        return self.sealer.lookup(str(stamp), purpose="delivery-stamp")

    # --- rows ------------------------------------------------------------------------------------

    def get(self, conn: sqlite3.Connection, about: str, ref: str) -> Entry | None:
        row = conn.execute(
            "SELECT row_key, sent_hour, detail FROM deliveries WHERE ref_tag = ?",
            (self.ref_tag(about, ref),),
        ).fetchone()
        return None if row is None else self._open(about, ref, row)

    def new(self, about: str, ref: str, at: datetime) -> Entry:
        return Entry(about, ref, new_row_key(), hour_ms(at))

    def put(self, conn: sqlite3.Connection, entry: Entry, stamps: Sequence[int] = ()) -> None:
        """Write `entry` (new or changed), and rows for new `stamps` of it."""
        conn.execute(
            "INSERT INTO deliveries (ref_tag, row_key, check_at, sent_hour, detail) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (ref_tag) DO UPDATE SET "
            "check_at = excluded.check_at, detail = excluded.detail",
            self._row(entry),
        )
        conn.executemany(
            "INSERT OR IGNORE INTO delivery_stamps (tag, row_key, sent_hour, target) "
            "VALUES (?, ?, ?, ?)",
            [self._stamp_row(entry, stamp) for stamp in stamps],
        )

    def target(self, conn: sqlite3.Connection, stamp: int) -> tuple[str, str] | None:
        """(about, ref) of the alert or drill a tracked timestamp was sent for."""
        row = conn.execute(
            "SELECT row_key, target FROM delivery_stamps WHERE tag = ?", (self.stamp_tag(stamp),)
        ).fetchone()
        if row is None:
            return None
        try:
            opened = self.sealer.open_json(row[1], aad=aad_for("delivery_stamps", "target", row[0]))
        except TamperedError:
            return None
        if not isinstance(opened, list) or len(opened) != 2:
            return None
        return str(opened[0]), str(opened[1])

    def due(self, conn: sqlite3.Connection, now: datetime) -> list[Entry]:
        """Alerts with a look due (soonest first)."""
        rows = conn.execute(
            "SELECT ref_tag, row_key, sent_hour, detail FROM deliveries "
            "WHERE check_at IS NOT NULL AND check_at <= ? ORDER BY check_at",
            (to_ms(now),),
        ).fetchall()
        found = []
        for row in rows:
            entry = self._open(None, None, row[1:])
            if entry is not None:
                found.append(entry)
        return found

    @staticmethod
    def next_check(conn: sqlite3.Connection) -> datetime | None:
        row = conn.execute(
            "SELECT MIN(check_at) FROM deliveries WHERE check_at IS NOT NULL"
        ).fetchone()
        return opt_dt(row[0]) if row else None

    @staticmethod
    def known_stamps(conn: sqlite3.Connection, since: datetime) -> set[bytes]:
        """Stamp tags of requests sent since `since` (receipts for older ones are not awaited)."""
        rows = conn.execute(
            "SELECT tag FROM delivery_stamps WHERE sent_hour >= ?", (hour_ms(since),)
        ).fetchall()
        return {bytes(r[0]) for r in rows}

    @staticmethod
    def shift(conn: sqlite3.Connection, delta: timedelta) -> None:
        """The wall clock jumped: a look due in a minute stays due in a minute. (The exact
        times inside the rows are when things happened, not deadlines: they stay.)"""
        conn.execute(
            "UPDATE deliveries SET check_at = check_at + ? WHERE check_at IS NOT NULL",
            (round(delta.total_seconds() * 1000),),
        )

    @staticmethod
    def purge(conn: sqlite3.Connection, before: datetime) -> int:
        """Rows and stamps of what was first sent before `before` (to the hour)."""
        cut = hour_ms(before)
        conn.execute("DELETE FROM delivery_stamps WHERE sent_hour < ?", (cut,))
        return conn.execute("DELETE FROM deliveries WHERE sent_hour < ?", (cut,)).rowcount

    # --- sealing ---------------------------------------------------------------------------------

    def _row(self, entry: Entry) -> tuple[object, ...]:
        detail: dict[str, Any] = {
            "about": entry.about,
            "ref": entry.ref,
            "to": [
                [
                    r.address,
                    r.label,
                    r.group,
                    r.tier,
                    to_ms(r.sent),
                    r.stamps,
                    opt_ms(r.on_phone),
                    opt_ms(r.read),
                ]
                for r in entry.recipients
            ],
            "checks": {str(tier): to_ms(at) for tier, at in entry.checks.items()},
        }
        check = entry.check_at()
        return (
            self.ref_tag(entry.about, entry.ref),
            entry.row_key,
            to_ms(check) if check is not None else None,
            entry.sent_hour,
            self.sealer.seal_json(detail, aad=aad_for("deliveries", "detail", entry.row_key)),
        )

    def _stamp_row(self, entry: Entry, stamp: int) -> tuple[object, ...]:
        row_key = new_row_key()
        target = self.sealer.seal_json(
            [entry.about, entry.ref], aad=aad_for("delivery_stamps", "target", row_key)
        )
        return (self.stamp_tag(stamp), row_key, entry.sent_hour, target)

    def _open(self, about: str | None, ref: str | None, row: Any) -> Entry | None:
        row_key, sent_hour, blob = row[0], row[1], row[2]
        try:
            detail = self.sealer.open_json(blob, aad=aad_for("deliveries", "detail", row_key))
        except TamperedError:
            return None  # a damaged row says nothing; it never blocks the rest
        if not isinstance(detail, dict):
            return None
        listed = detail.get("to")
        checks = detail.get("checks")
        entry = Entry(
            str(detail.get("about") if about is None else about),
            str(detail.get("ref") if ref is None else ref),
            row_key,
            int(sent_hour),
        )
        for item in listed if isinstance(listed, list) else []:
            if isinstance(item, list) and len(item) == 8:
                address, label, group, tier, sent, stamps, on, read = item
                entry.recipients.append(
                    Recipient(
                        str(address),
                        str(label),
                        bool(group),
                        int(str(tier)),
                        from_ms(int(str(sent))),
                        [int(str(s)) for s in stamps] if isinstance(stamps, list) else [],
                        _when(on),
                        _when(read),
                    )
                )
        if isinstance(checks, dict):
            entry.checks = {int(k): from_ms(int(str(v))) for k, v in checks.items()}
        return entry


def _when(value: object) -> datetime | None:
    return from_ms(value) if isinstance(value, int) else None
