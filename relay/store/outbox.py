"""The outbox: every outgoing message is written here (sealed) before it is sent.

A message leaves the table's pending set only when signal-cli-rest-api accepted it; the sender
keeps order per recipient and retries with capped backoff (`relay.outbox`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import aiosqlite

from relay.crypto.seal import Sealer, TamperedError, aad_for, new_row_key
from relay.store.db import Database
from relay.store.times import from_ms, opt_ms, to_ms

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Queued:
    """A message ready to be written: the address is already resolved (number, uuid, group id)."""

    address: str
    text: str
    purpose: str
    watch_id: str | None = None
    label: str = ""  # an alias, a group or contact label: how notices about it name the recipient
    attachments: tuple[str, ...] = ()  # attachment vault keys


@dataclass(frozen=True, slots=True)
class Pending:
    id: int
    address: str
    text: str
    purpose: str
    watch_id: str | None
    created_at: datetime
    attempts: int
    last_error: str | None
    label: str
    attachments: tuple[str, ...] = ()


_INSERT = (
    "INSERT INTO outbox (row_key, recipient_tag, recipient, body, attachments, purpose, "
    "watch_id, created_at, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


class OutboxRepo:
    def __init__(self, db: Database, sealer: Sealer) -> None:
        self.db = db
        self.sealer = sealer

    def _tag(self, address: str) -> bytes:
        return self.sealer.lookup(address, purpose="outbox-recipient")

    async def add(self, conn: aiosqlite.Connection, item: Queued, now: datetime) -> None:
        """Queue inside the caller's transaction."""
        await self.add_many(conn, (item,), now)

    async def add_many(
        self, conn: aiosqlite.Connection, items: Sequence[Queued], now: datetime
    ) -> None:
        """Queue several, in this order, in one trip to the database thread."""
        if items:
            await conn.executemany(_INSERT, [self._row(item, now) for item in items])

    def _row(self, item: Queued, now: datetime) -> tuple[object, ...]:
        row_key = new_row_key()
        payload = {"to": item.address, "label": item.label}
        return (
            row_key,
            self._tag(item.address),
            self.sealer.seal_json(payload, aad=aad_for("outbox", "recipient", row_key)),
            self.sealer.seal_text(item.text, aad=aad_for("outbox", "body", row_key)),
            self.sealer.seal_json(
                list(item.attachments), aad=aad_for("outbox", "attachments", row_key)
            )
            if item.attachments
            else None,
            item.purpose,
            item.watch_id,
            to_ms(now),
            to_ms(now),
        )

    async def heads(self, now: datetime, limit: int = 64) -> list[Pending]:
        """For each recipient, her oldest unsent message, if it is due for a try."""
        sql = (
            "SELECT o.* FROM outbox o JOIN ("
            " SELECT MIN(id) AS id FROM outbox WHERE sent_at IS NULL GROUP BY recipient_tag"
            ") h ON o.id = h.id WHERE o.next_attempt_at <= ? ORDER BY o.id LIMIT ?"
        )
        async with self.db.settled() as conn:
            rows = await conn.execute_fetchall(sql, (to_ms(now), limit))
        heads = []
        for row in rows:
            try:
                heads.append(self._load(row))
            except TamperedError as exc:
                # A damaged message must not hold up everything queued behind it.
                log.error(
                    "message #%d could not be opened (%s: %s); set aside",
                    row["id"],
                    exc.where,
                    exc.problem,
                )
                await self._set_aside(row["id"], now)
        return heads

    async def _set_aside(self, message_id: int, now: datetime) -> None:
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE outbox SET sent_at = ?, last_error = 'unreadable' WHERE id = ?",
                (to_ms(now), message_id),
            )

    def _load(self, row: aiosqlite.Row) -> Pending:
        row_key = row["row_key"]
        payload = self.sealer.open_json(
            row["recipient"], aad=aad_for("outbox", "recipient", row_key)
        )
        assert isinstance(payload, dict)  # noqa: S101 — written by add() above
        return Pending(
            id=row["id"],
            address=str(payload["to"]),
            label=str(payload.get("label") or ""),
            text=self.sealer.open_text(row["body"], aad=aad_for("outbox", "body", row_key)),
            purpose=row["purpose"],
            watch_id=row["watch_id"],
            created_at=from_ms(row["created_at"]),
            attempts=row["attempts"],
            last_error=row["last_error"],
            attachments=self._attachments(row),
        )

    def _attachments(self, row: aiosqlite.Row) -> tuple[str, ...]:
        if row["attachments"] is None:
            return ()
        aad = aad_for("outbox", "attachments", row["row_key"])
        keys = self.sealer.open_json(row["attachments"], aad=aad)
        return tuple(str(k) for k in keys) if isinstance(keys, list) else ()

    async def next_attempt(self) -> datetime | None:
        """When the earliest waiting head may be tried again (None: nothing pending)."""
        sql = (
            "SELECT MIN(o.next_attempt_at) FROM outbox o JOIN ("
            " SELECT MIN(id) AS id FROM outbox WHERE sent_at IS NULL GROUP BY recipient_tag"
            ") h ON o.id = h.id"
        )
        row = await self.db.one(sql)
        return from_ms(row[0]) if row and row[0] is not None else None

    async def shift(self, conn: aiosqlite.Connection, delta: timedelta) -> None:
        """Move unsent messages' times by `delta` (the wall clock jumped): a retry due in a
        second stays due in a second, and "stuck for N minutes" counts real minutes."""
        ms = round(delta.total_seconds() * 1000)
        await conn.execute(
            "UPDATE outbox SET next_attempt_at = next_attempt_at + ?, created_at = created_at + ? "
            "WHERE sent_at IS NULL",
            (ms, ms),
        )

    async def mark_sent(self, message_id: int, signal_timestamp: int | None, now: datetime) -> None:
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE outbox SET sent_at = ?, signal_timestamp = ?, attempts = attempts + 1, "
                "last_error = NULL WHERE id = ?",
                (to_ms(now), signal_timestamp, message_id),
            )

    async def mark_failed(self, message_id: int, error: str, retry_at: datetime) -> None:
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ? "
                "WHERE id = ?",
                (error, to_ms(retry_at), message_id),
            )

    async def stuck_alerts(self, now: datetime, older_than: timedelta) -> list[Pending]:
        """Unsent alerts older than `older_than` that the admin has not been told about."""
        sql = (
            "SELECT * FROM outbox WHERE sent_at IS NULL AND purpose = 'alert' "
            "AND stuck_reported = 0 AND created_at <= ? ORDER BY id"
        )
        rows = await self.db.conn.execute_fetchall(sql, (to_ms(now - older_than),))
        return [self._load(row) for row in rows]

    async def mark_reported(self, conn: aiosqlite.Connection, message_ids: list[int]) -> None:
        await conn.executemany(
            "UPDATE outbox SET stuck_reported = 1 WHERE id = ?", [(i,) for i in message_ids]
        )

    async def backlog(self) -> tuple[int, datetime | None]:
        """How many messages wait, and since when the oldest waits."""
        row = await self.db.one(
            "SELECT COUNT(*), MIN(created_at) FROM outbox WHERE sent_at IS NULL"
        )
        if row is None:
            return 0, None
        return int(row[0]), from_ms(row[1]) if row[1] is not None else None

    async def watch_for_signal_timestamp(self, signal_timestamp: int) -> str | None:
        """Which watch a relay message (quoted or reacted to by a buddy) belonged to."""
        row = await self.db.one(
            "SELECT watch_id FROM outbox WHERE signal_timestamp = ?", (signal_timestamp,)
        )
        return None if row is None else row[0]

    async def purge_sent(self, conn: aiosqlite.Connection, before: datetime) -> int:
        cursor = await conn.execute(
            "DELETE FROM outbox WHERE sent_at IS NOT NULL AND sent_at < ?", (opt_ms(before),)
        )
        return cursor.rowcount
