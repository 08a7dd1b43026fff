"""The inbox: envelopes read from signal-cli's socket, kept (sealed) until they are decided.

signal-cli acknowledges a message to Signal's servers before it writes it to the socket, so the
relay is its only keeper from then on. The receiver writes each envelope here as soon as it has
read it — a commit without fsync, which survives kill -9 (the OS has it) — and the processor
deletes it once the decision about it is committed. At start the relay reads back what is left
and decides it before it subscribes again (de-duplication makes a second decision a no-op).
"""

from __future__ import annotations

import logging
import sqlite3
from datetime import datetime

import aiosqlite

from relay.crypto.seal import Sealer, TamperedError, aad_for, new_row_key
from relay.store.db import Database
from relay.store.times import to_ms

log = logging.getLogger(__name__)


class InboxRepo:
    """On a connection of its own (its own thread), opened on the migrated database: a write
    here does not queue behind the decisions and flushes on the main connection, so the
    receiver keeps what it read within a millisecond (SQLite still lets one writer at a time;
    the main connection's transactions are single trips)."""

    def __init__(self, db: Database, sealer: Sealer) -> None:
        self.db = db
        self.sealer = sealer

    @classmethod
    async def open(cls, main: Database, sealer: Sealer) -> InboxRepo:
        conn = await aiosqlite.connect(main.path, isolation_level=None)
        db = Database(conn, main.path)
        try:
            await db.configure()
        except BaseException:
            await conn.close()
            raise
        return cls(db, sealer)

    async def close(self) -> None:
        await self.db.close()

    async def keep(self, bodies: list[bytes], now: datetime) -> list[int]:
        """Write envelopes (their JSON text), in one transaction; their ids, in order."""
        rows = []
        for body in bodies:
            row_key = new_row_key()
            rows.append((row_key, self.sealer.seal(body, aad=aad_for("inbox", "body", row_key))))

        def work(conn: sqlite3.Connection) -> list[int]:
            ids = []
            for row_key, sealed in rows:
                cursor = conn.execute(
                    "INSERT INTO inbox (row_key, body, received_at) VALUES (?, ?, ?)",
                    (row_key, sealed, to_ms(now)),
                )
                ids.append(int(cursor.lastrowid or 0))
            return ids

        # No fsync owed: it survives the relay's death as soon as it is committed; power loss
        # takes signal-cli's unacknowledged hand-over with it either way, and the decision's
        # own commit (flushed before anything is sent) follows within milliseconds.
        return await self.db.write(work, tells=False)

    async def drop(self, ids: list[int]) -> None:
        """Decided: forget them."""
        if not ids:
            return

        def work(conn: sqlite3.Connection) -> None:
            conn.executemany("DELETE FROM inbox WHERE id = ?", [(i,) for i in ids])

        await self.db.write(work, tells=False)

    async def left(self) -> list[tuple[int, bytes]]:
        """What was read but not decided when the relay last stopped, oldest first."""
        rows = await self.db.conn.execute_fetchall(
            "SELECT id, row_key, body FROM inbox ORDER BY id"
        )
        found = []
        for row in rows:
            try:
                found.append(
                    (row[0], self.sealer.open(row[2], aad=aad_for("inbox", "body", row[1])))
                )
            except TamperedError as exc:
                log.error("inbox entry #%d could not be opened (%s); dropped", row[0], exc.problem)
                await self.drop([row[0]])
        return found
