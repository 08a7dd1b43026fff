"""Opening the database: pragmas, numbered migrations, one writer transaction at a time."""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from functools import partial
from importlib import resources
from pathlib import Path
from typing import TypeVar

import aiosqlite

log = logging.getLogger(__name__)

DB_NAME = "relay.db"
CHECKPOINT_TRIES = 100

T = TypeVar("T")
U = TypeVar("U")
Work = Callable[[sqlite3.Connection], T]
"""Plain sqlite3 statements run together in the database thread (see `Database.run`)."""


class SchemaTooNew(Exception):
    """The database was written by a newer peer-relay; refuse rather than guess."""


def newest_schema() -> int:
    """The newest schema this peer-relay knows (its last numbered migration)."""
    migrations = _migrations()
    return migrations[-1][0] if migrations else 0


def read_on_disk(data_dir: Path, read: Work[T]) -> T | None:
    """``read(connection)`` on ``data_dir``'s database without changing anything on disk; None
    when there is no database yet or it cannot be read here (opening it for real says why).

    ``immutable=1``: SQLite opens the main file alone, creating no ``-wal`` or ``-shm`` beside
    it (``mode=ro`` alone still creates them, and made by another user — `peer-relay check` run
    as root — they would stop the relay from opening its own database). So what is still in an
    uncheckpointed WAL after a crash is not seen: the start-up check reads this way, and the
    relay's own opening (`Database.open`, `check_key`) is what decides.
    """
    path = (data_dir / DB_NAME).absolute()
    if not path.is_file():
        return None
    try:
        conn = sqlite3.connect(f"{path.as_uri()}?mode=ro&immutable=1", uri=True)
    except sqlite3.Error:
        return None
    try:
        return read(conn)
    except sqlite3.Error:
        return None
    finally:
        conn.close()


def schema_on_disk(data_dir: Path) -> int | None:
    """The schema number of ``data_dir``'s database, read as `read_on_disk` does (so it can only
    under-report: `Database.open` refuses a newer schema anyway)."""

    def version(conn: sqlite3.Connection) -> int | None:
        row = conn.execute("PRAGMA user_version").fetchone()
        return int(row[0]) if row else None

    return read_on_disk(data_dir, version)


def too_new(found: int) -> str:
    """What `SchemaTooNew` says: one line for the admin, naming both numbers."""
    return (
        f"the database is at schema {found}, this peer-relay knows up to {newest_schema()}: "
        "it was used by a newer peer-relay; install that version again (or restore a backup "
        "made by this one)"
    )


class FlushFailed(OSError):
    """Committed, but flushing the WAL to the disk failed: nothing read after it may be sent
    until a later flush succeeds (the next `synced_read` tries again)."""


def _fsync_file(path: Path) -> None:
    """Flush a file's data to the disk. fdatasync where there is one, as SQLite itself does:
    it skips the timestamps (a journal commit of its own on ext4), and still writes a changed
    file size, which reading the data back needs."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return
    try:
        getattr(os, "fdatasync", os.fsync)(fd)
    finally:
        os.close(fd)


def _private(path: Path) -> None:
    """The database file exists and is owner-only (0600), whatever the umask.

    SQLite gives a new WAL and shared-memory file the main file's mode (it chmods them to match
    when it creates them), so making the main file 0600 before SQLite opens it covers all three;
    files left by an older release are brought down to 0600 here too. The data directory is 0700
    already: files must not rely on it (a copy made with `cp -r`, a backup tool, a moved folder).
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)
    for suffix in ("-wal", "-shm", "-journal"):
        try:
            os.chmod(path.with_name(path.name + suffix), 0o600)
        except FileNotFoundError:
            continue


def _roll_back(conn: sqlite3.Connection) -> None:
    """End a failed transaction. SQLite leaves it open when COMMIT itself fails (a deferred
    constraint, a full disk): every later BEGIN would fail, and no check-in could be taken."""
    if conn.in_transaction:
        conn.execute("ROLLBACK")


@contextmanager
def savepoint(conn: sqlite3.Connection) -> Iterator[None]:
    """A part of the caller's transaction that is kept whole or not at all: if the block raises,
    its writes are undone (the error goes on to the caller) and the transaction carries on — one
    message of a batch that fails must not take the others' commits with it."""
    conn.execute("SAVEPOINT part")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK TO part")
        raise
    finally:
        conn.execute("RELEASE part")


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
        # Something was committed since the WAL was last fsynced. Only touched under the write
        # lock or in the database thread, so a commit is never missed between the two.
        self._unsynced = False

    @classmethod
    async def open(cls, data_dir: Path) -> Database:
        path = data_dir / DB_NAME
        _private(path)
        conn = await aiosqlite.connect(path, isolation_level=None)
        conn.row_factory = aiosqlite.Row
        db = cls(conn, path)
        try:
            await db.configure()
            await db._migrate()
        except BaseException:
            await conn.close()  # a refused schema must not leave its thread behind
            raise
        return db

    async def configure(self) -> None:
        """The relay's pragmas on this connection (a second one, relay.store.inbox, too)."""
        for pragma in (
            "PRAGMA journal_mode=WAL",
            # NORMAL, and a flush before anything is sent: group commit. A check-in is only
            # confirmed to her after its deadline is on disk, and power loss on a Pi without a
            # UPS is an ordinary event — so nothing is handed to the sender before one
            # fdatasync of the WAL covers its commit (`synced_read`, `write_then`). A commit
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
            await self.conn.execute_fetchall(pragma)  # read to the end (see `checkpoint`)

    async def _migrate(self) -> None:
        async with self.conn.execute("PRAGMA user_version") as cursor:
            row = await cursor.fetchone()
        current = int(row[0]) if row else 0
        migrations = _migrations()
        newest = migrations[-1][0] if migrations else 0
        if current > newest:
            raise SchemaTooNew(too_new(current))
        for number, script in migrations:
            if number <= current:
                continue
            log.info("applying database migration %03d", number)
            # executescript commits first; wrap the script and the version bump in one transaction.
            await self.conn.executescript(
                f"BEGIN IMMEDIATE;\n{script}\nPRAGMA user_version={number};\nCOMMIT;"
            )

    async def run(self, work: Work[T]) -> T:
        """`work(connection)` in the database thread: several statements, one trip.

        Every aiosqlite call is a hand-off to its thread and back (tens of microseconds each,
        more on a busy core); a decision used to make a dozen. aiosqlite runs its calls through
        `Connection._execute` — the one entry point it has for a function of ours — on the same
        thread and connection as everything else, so ordering and the lock below still hold.
        `work` must read its results fully (`fetchall`/`fetchone` on a one-row query): a
        statement left open blocks the next COMMIT and checkpoint on this connection.
        """
        execute: Callable[..., Awaitable[T]] = self.conn._execute
        return await execute(work, self.conn._conn)

    async def write(self, work: Work[T], *, tells: bool = True) -> T:
        """`work` as one write transaction in one trip: all of it is committed, or none.

        `tells=False` for writes that nobody is told about (a message marked sent): they need
        no fsync before the next send. Cancelling the caller cannot split the transaction.
        """
        async with self._write_lock:
            return await self.run(partial(self._transact, work, tells))

    async def write_then(
        self, work: Work[T], then: Callable[[sqlite3.Connection, T], U]
    ) -> tuple[T, U]:
        """`write(work)`, then `then(connection, result)` after every commit so far is on disk
        (as in `synced_read`): one trip for a decision and what the sender should send next."""
        async with self._write_lock:
            return await self.run(partial(self._transact_then, work, then))

    def _transact_then(
        self, work: Work[T], then: Callable[[sqlite3.Connection, T], U], conn: sqlite3.Connection
    ) -> tuple[T, U]:
        result = self._transact(work, True, conn)
        return result, self._synced(lambda c: then(c, result), conn)

    def _transact(self, work: Work[T], tells: bool, conn: sqlite3.Connection) -> T:
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = work(conn)
            conn.execute("COMMIT")
        except BaseException:
            _roll_back(conn)
            raise
        if tells:
            self._unsynced = True
        return result

    async def synced_read(self, read: Work[T]) -> T:
        """`read` between write transactions, after every commit so far is on disk.

        The sender reads what to send this way: one trip fsyncs the WAL (if anything was
        committed since the last time) and reads, so whatever it reads is durable — a commit
        cannot slip in between, the database thread runs one thing at a time.
        """
        async with self._write_lock:
            return await self.run(partial(self._synced, read))

    def _synced(self, read: Work[T], conn: sqlite3.Connection) -> T:
        if self._unsynced:
            # Cleared only once the flush succeeded: after a failed one (EIO, a full disk),
            # the next look must flush again before anything is read to be sent.
            try:
                _fsync_file(self.path.with_name(self.path.name + "-wal"))
            except OSError as exc:
                raise FlushFailed(exc.errno, "flushing the WAL failed") from None
            self._unsynced = False
        return read(conn)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """One write transaction over several awaits (for writers that need the async API)."""
        async with self._write_lock:
            await self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
                await self.conn.execute("COMMIT")
            except BaseException:
                await self.run(_roll_back)
                raise
            self._unsynced = True

    async def one(self, sql: str, params: tuple[object, ...] = ()) -> aiosqlite.Row | None:
        """The first row of a read, in one trip to the database thread.

        Reads that fetch in a second trip leave their statement open in between, and a
        checkpoint on this shared connection then fails ("database table is locked").
        """
        rows = list(await self.conn.execute_fetchall(sql, params))
        return rows[0] if rows else None

    async def checkpoint(self) -> bool:
        """Move the WAL into the main file and truncate it, so deleted pages leave the WAL.

        False when another connection's reader (`peer-relay status`, a backup) kept SQLite
        from finishing: the WAL still holds old pages, and a later checkpoint must try again."""
        async with self._write_lock:
            for attempt in range(CHECKPOINT_TRIES):
                try:
                    # Its result row read to the end: a statement left open would block the
                    # next COMMIT on this connection ("SQL statements in progress").
                    rows = list(await self.conn.execute_fetchall("PRAGMA wal_checkpoint(TRUNCATE)"))
                    return not rows or int(rows[0][0]) == 0  # (busy, log frames, checkpointed)
                except sqlite3.OperationalError as exc:
                    # SQLITE_LOCKED: another task's read on this connection has a statement
                    # open between two awaits; it ends within milliseconds.
                    if "locked" not in str(exc) or attempt == CHECKPOINT_TRIES - 1:
                        raise
                await asyncio.sleep(0.01)
        return False  # pragma: no cover — the last try raises

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
