"""Opening the database: pragmas, numbered migrations, one writer transaction at a time."""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path

import aiosqlite

log = logging.getLogger(__name__)

DB_NAME = "relay.db"
CHECKPOINT_TRIES = 100


class SchemaTooNew(Exception):
    """The database was written by a newer peer-relay; refuse rather than guess."""


def _fsync_file(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _migrations() -> list[tuple[int, str]]:
    folder = resources.files("relay.store").joinpath("migrations")
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            found.append((int(entry.name.split("_", 1)[0]), entry.read_text(encoding="utf-8")))
    return sorted(found)


class Database:
    """An aiosqlite connection with the relay's pragmas and a writer lock."""

    def __init__(self, conn: aiosqlite.Connection, path: Path) -> None:
        self.conn = conn
        self.path = path
        self._write_lock = asyncio.Lock()

    @classmethod
    async def open(cls, data_dir: Path) -> Database:
        path = data_dir / DB_NAME
        conn = await aiosqlite.connect(path, isolation_level=None)
        conn.row_factory = aiosqlite.Row
        db = cls(conn, path)
        await db._configure()
        await db._migrate()
        return db

    async def _configure(self) -> None:
        for pragma in (
            "PRAGMA journal_mode=WAL",
            # NORMAL, and `sync()` before anything is sent: group commit. A check-in is only
            # confirmed to her after its deadline is on disk, and power loss on a Pi without a
            # UPS is an ordinary event — so the outbox sender calls `sync()` (one fsync of the
            # WAL, covering every commit so far) before it hands any message over. A commit
            # survives kill -9 as soon as it returns (it is in the OS's cache); what power loss
            # can take is only what nobody was told yet. One fsync per batch of sends instead
            # of one per commit: with FULL, 500 messages/s meant 1,000 fsyncs/s (bench/).
            "PRAGMA synchronous=NORMAL",
            "PRAGMA foreign_keys=ON",
            "PRAGMA busy_timeout=5000",
            # Deleted rows are overwritten with zeros, so sealed blobs and tags do not linger
            # in free pages after retention removes them.
            "PRAGMA secure_delete=ON",
        ):
            await self.conn.execute(pragma)

    async def _migrate(self) -> None:
        async with self.conn.execute("PRAGMA user_version") as cursor:
            row = await cursor.fetchone()
        current = int(row[0]) if row else 0
        migrations = _migrations()
        newest = migrations[-1][0] if migrations else 0
        if current > newest:
            raise SchemaTooNew(
                f"the database is at schema {current}, this peer-relay knows up to {newest}"
            )
        for number, script in migrations:
            if number <= current:
                continue
            log.info("applying database migration %03d", number)
            # executescript commits first; wrap the script and the version bump in one transaction.
            await self.conn.executescript(
                f"BEGIN IMMEDIATE;\n{script}\nPRAGMA user_version={number};\nCOMMIT;"
            )

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """One durable write transaction; readers are never blocked (WAL)."""
        async with self._write_lock:
            await self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                await self.conn.execute("ROLLBACK")
                raise
            await self.conn.execute("COMMIT")

    @asynccontextmanager
    async def settled(self) -> AsyncIterator[aiosqlite.Connection]:
        """The connection between write transactions, for reads that must not see one half-done.

        Every task shares this one connection, and a connection sees its own uncommitted rows:
        the sender reading the outbox while a decision is being written would send a message
        that a crash could still roll back.
        """
        async with self._write_lock:
            yield self.conn

    async def sync(self) -> None:
        """Make every commit so far durable (fsync the WAL); call before telling anyone.

        fsync flushes the file's dirty pages whichever descriptor asks, so a descriptor of our
        own does it without a transaction. No WAL file: everything is in the main file, which
        SQLite syncs at each checkpoint.
        """
        await asyncio.to_thread(_fsync_file, self.path.with_name(self.path.name + "-wal"))

    async def one(self, sql: str, params: tuple[object, ...] = ()) -> aiosqlite.Row | None:
        """The first row of a read, in one trip to the database thread.

        Reads that fetch in a second trip leave their statement open in between, and a
        checkpoint on this shared connection then fails ("database table is locked").
        """
        rows = list(await self.conn.execute_fetchall(sql, params))
        return rows[0] if rows else None

    async def checkpoint(self) -> None:
        """Move the WAL into the main file and truncate it, so deleted pages leave the WAL."""
        async with self._write_lock:
            for attempt in range(CHECKPOINT_TRIES):
                try:
                    await self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                    return
                except sqlite3.OperationalError as exc:
                    # SQLITE_LOCKED: another task's read on this connection has a statement
                    # open between two awaits; it ends within milliseconds.
                    if "locked" not in str(exc) or attempt == CHECKPOINT_TRIES - 1:
                        raise
                await asyncio.sleep(0.01)

    async def bump_counter(self, name: str) -> None:
        async with self.transaction() as conn:
            await conn.execute(
                "INSERT INTO counters (name, value) VALUES (?, 1) "
                "ON CONFLICT (name) DO UPDATE SET value = value + 1",
                (name,),
            )

    async def counter(self, name: str) -> int:
        row = await self.one("SELECT value FROM counters WHERE name = ?", (name,))
        return int(row[0]) if row else 0

    async def close(self) -> None:
        await self.conn.close()
