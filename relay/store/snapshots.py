"""Whole-database copies for `peer-relay backup` and `restore` (`relay.admin.backup` decides and
says).

An online copy through SQLite's backup API into memory (consistent while the relay writes: a
raw copy of the file could be torn between the database and its WAL), its integrity and schema,
its bytes, and writing such a copy to a new file. Plain sqlite3: the relay's own connection is
not involved, and no function here reads a row.
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path


def copy_online(source: Path) -> sqlite3.Connection:
    """An in-memory copy of the live database at `source` (the caller closes it).

    Read-only URI: the copy never writes to the relay's database; the WAL index is shared."""
    live = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)
    memory = sqlite3.connect(":memory:")
    try:
        live.execute("PRAGMA busy_timeout=10000")
        live.backup(memory)
    except BaseException:
        memory.close()
        raise
    finally:
        live.close()
    return memory


def problems(conn: sqlite3.Connection) -> int:
    """How many problems SQLite's integrity check finds (0: the database is sound)."""
    rows = conn.execute("PRAGMA integrity_check").fetchall()
    return 0 if [tuple(r) for r in rows] == [("ok",)] else len(rows)


def schema(conn: sqlite3.Connection) -> int:
    """The database's schema number (its newest migration)."""
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def image(conn: sqlite3.Connection) -> bytes:
    """The in-memory database's bytes, in the rollback-journal format (see `_without_wal`)."""
    return _without_wal(conn.serialize())


def from_image(data: bytes) -> sqlite3.Connection:
    """An in-memory database from `image`'s bytes (the caller closes it)."""
    memory = sqlite3.connect(":memory:")
    try:
        memory.deserialize(_without_wal(data))
    except BaseException:
        memory.close()
        raise
    return memory


def _without_wal(data: bytes) -> bytes:
    # The page copy keeps the live file's WAL marks (header bytes 18-19 = 2): an image with them
    # cannot be opened from memory. 1 is the rollback-journal format, what `journal_mode=DELETE`
    # writes; the relay turns WAL back on when it opens the restored file.
    if len(data) >= 100 and data[18:20] == b"\x02\x02":
        return data[:18] + b"\x01\x01" + data[20:]
    return data


def write_copy(memory: sqlite3.Connection, path: Path) -> None:
    """`memory` into the (new, empty) file at `path`, one self-contained file to rename."""
    out = sqlite3.connect(path)
    try:
        memory.backup(out)
        out.execute("PRAGMA journal_mode=DELETE")
    finally:
        out.close()


def fold_wal(path: Path) -> None:
    """Fold a database's WAL back into it, where that still works (a damaged file is left as
    it is): moved aside without it, the WAL would be replayed into whatever takes its place."""
    with contextlib.suppress(sqlite3.Error):
        old = sqlite3.connect(path)
        try:
            old.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            old.close()
