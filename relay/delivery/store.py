"""The deliveries table: one row per recipient of an alert or practice alert, and the keyed
Signal timestamps that lead a receipt to its row (migration 009).

Nothing in clear says who: recipients are keyed HMACs of their address, timestamps keyed HMACs,
the label (how she is shown) sealed to its row. What stays readable is what the timer needs:
which alert or drill (random ids), which tier, and when.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import aiosqlite

from relay.core.delivery import Reach
from relay.crypto.seal import Sealer, TamperedError, aad_for, new_row_key
from relay.store.db import Database
from relay.store.times import from_ms, opt_dt, to_ms

ALERT = "alert"
DRILL = "drill"


@dataclass(frozen=True, slots=True)
class Sent:
    """A tracked message signal-cli accepted: for whom, about what, with which timestamp."""

    about: str  # ALERT or DRILL
    ref: str  # the watch's or the drill's id
    address: str  # number, uuid or group id (tagged, never stored)
    label: str
    tier: int
    at: datetime
    stamp: int  # Signal's timestamp
    check_at: datetime | None  # when to look whether her tier reached any phone


@dataclass(frozen=True, slots=True)
class Row:
    id: int
    about: str
    ref: str
    recipient_tag: bytes


class DeliveryStore:
    def __init__(self, db: Database, sealer: Sealer) -> None:
        self.db = db
        self.sealer = sealer

    def recipient_tag(self, address: str) -> bytes:
        return self.sealer.lookup(address, purpose="delivery-recipient")

    def stamp_tag(self, stamp: int) -> bytes:
        return self.sealer.lookup(str(stamp), purpose="delivery-stamp")

    async def record(self, sent: Sequence[Sent]) -> None:
        """Each message's row (the first message to her about it makes it) and its stamp."""
        prepared = []
        for item in sent:
            row_key = new_row_key()
            label = self.sealer.seal_json(
                {"label": item.label, "group": item.address.startswith("group.")},
                aad=aad_for("deliveries", "label", row_key),
            )
            prepared.append((item, row_key, label, self.recipient_tag(item.address)))

        def work(conn: sqlite3.Connection) -> None:
            for item, row_key, label, tag in prepared:
                conn.execute(
                    "INSERT INTO deliveries (about, ref, recipient_tag, row_key, label, tier, "
                    "sent_at, check_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (about, ref, recipient_tag) DO NOTHING",
                    (
                        item.about,
                        item.ref,
                        tag,
                        row_key,
                        label,
                        item.tier,
                        to_ms(item.at),
                        to_ms(item.check_at) if item.check_at else None,
                    ),
                )
                found = conn.execute(
                    "SELECT id FROM deliveries WHERE about = ? AND ref = ? AND recipient_tag = ?",
                    (item.about, item.ref, tag),
                ).fetchone()
                conn.execute(
                    "INSERT OR IGNORE INTO delivery_stamps (tag, delivery) VALUES (?, ?)",
                    (self.stamp_tag(item.stamp), found[0]),
                )

        await self.db.write(work, tells=False)

    async def rows_for_stamp(self, stamp: int) -> list[Row]:
        rows = await self.db.conn.execute_fetchall(
            "SELECT d.id, d.about, d.ref, d.recipient_tag FROM delivery_stamps s "
            "JOIN deliveries d ON d.id = s.delivery WHERE s.tag = ?",
            (self.stamp_tag(stamp),),
        )
        return [Row(r[0], r[1], r[2], bytes(r[3])) for r in rows]

    async def mark(self, ids: Sequence[int], *, read: bool, at: datetime) -> None:
        """Her phone said so: delivered (and read). The first time of each is kept."""
        ms = to_ms(at)

        def work(conn: sqlite3.Connection) -> None:
            for row_id in ids:
                conn.execute(
                    "UPDATE deliveries SET delivered_at = COALESCE(delivered_at, ?) WHERE id = ?",
                    (ms, row_id),
                )
                if read:
                    conn.execute(
                        "UPDATE deliveries SET read_at = COALESCE(read_at, ?) WHERE id = ?",
                        (ms, row_id),
                    )

        await self.db.write(work, tells=False)

    async def mark_answered(self, about: str, ref: str, address: str, at: datetime) -> None:
        """An answer proves the message reached her phone, receipt or not."""
        await self.db.write(
            lambda conn: conn.execute(
                "UPDATE deliveries SET delivered_at = COALESCE(delivered_at, ?) "
                "WHERE about = ? AND ref = ? AND recipient_tag = ?",
                (to_ms(at), about, ref, self.recipient_tag(address)),
            ),
            tells=False,
        )

    async def answered_in(
        self, conn: aiosqlite.Connection, about: str, ref: str, address: str, at: datetime
    ) -> None:
        """`mark_answered`, inside the caller's transaction (the one that records the answer)."""
        await conn.execute(
            "UPDATE deliveries SET delivered_at = COALESCE(delivered_at, ?) "
            "WHERE about = ? AND ref = ? AND recipient_tag = ?",
            (to_ms(at), about, ref, self.recipient_tag(address)),
        )

    async def reaches(self, about: str, ref: str) -> list[Reach]:
        rows = await self.db.conn.execute_fetchall(
            "SELECT row_key, label, tier, sent_at, delivered_at, read_at FROM deliveries "
            "WHERE about = ? AND ref = ? ORDER BY id",
            (about, ref),
        )
        found = []
        for row in rows:
            try:
                opened = self.sealer.open_json(row[1], aad=aad_for("deliveries", "label", row[0]))
            except TamperedError:
                continue  # a damaged row says nothing; it never blocks the rest
            if not isinstance(opened, dict):
                continue
            found.append(
                Reach(
                    label=str(opened.get("label") or "?"),
                    group=bool(opened.get("group")),
                    tier=int(row[2]),
                    sent_at=from_ms(row[3]),
                    delivered_at=opt_dt(row[4]),
                    read_at=opt_dt(row[5]),
                )
            )
        return found

    async def next_check(self) -> datetime | None:
        row = await self.db.one("SELECT MIN(check_at) FROM deliveries WHERE check_at IS NOT NULL")
        return opt_dt(row[0]) if row else None

    async def due_checks(self, now: datetime) -> list[tuple[str, int]]:
        """(alert id, tier) whose time to look has come, oldest first."""
        rows = await self.db.conn.execute_fetchall(
            "SELECT ref, tier, MIN(check_at) FROM deliveries WHERE about = 'alert' "
            "AND check_at IS NOT NULL AND check_at <= ? GROUP BY ref, tier ORDER BY 3",
            (to_ms(now),),
        )
        return [(str(r[0]), int(r[1])) for r in rows]

    async def done_checking(self, ref: str, tier: int) -> None:
        await self.db.write(
            lambda conn: conn.execute(
                "UPDATE deliveries SET check_at = NULL WHERE about = 'alert' AND ref = ? "
                "AND tier = ?",
                (ref, tier),
            ),
            tells=False,
        )

    async def known_stamps(self, since: datetime) -> set[bytes]:
        """Stamp tags of messages sent since `since` (receipts for older ones are not awaited)."""
        rows = await self.db.conn.execute_fetchall(
            "SELECT s.tag FROM delivery_stamps s JOIN deliveries d ON d.id = s.delivery "
            "WHERE d.sent_at >= ?",
            (to_ms(since),),
        )
        return {bytes(r[0]) for r in rows}

    @staticmethod
    async def shift(conn: aiosqlite.Connection, delta: timedelta) -> None:
        """The wall clock jumped: a look due in a minute stays due in a minute."""
        await conn.execute(
            "UPDATE deliveries SET check_at = check_at + ? WHERE check_at IS NOT NULL",
            (round(delta.total_seconds() * 1000),),
        )

    async def purge(self, before: datetime) -> int:
        """Rows (and their stamps) of messages sent before `before`."""

        def work(conn: sqlite3.Connection) -> int:
            return conn.execute(
                "DELETE FROM deliveries WHERE sent_at < ?", (to_ms(before),)
            ).rowcount

        return await self.db.write(work, tells=False)
