"""Is this the key the database was sealed with? Asked once at start, before anything runs.

A wrong key that is still a well-formed key would otherwise start a relay that cannot open a
single sealed row: replies and alerts would fail one by one while new rows were sealed under the
wrong key. The first start seals a known value; every later start must open it.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from relay.crypto.seal import Sealer, TamperedError, aad_for, new_row_key
from relay.store.db import Database, read_on_disk

_KNOWN = b"peer-relay key check v1"


class WrongKey(Exception):
    """The key does not open this database."""


def key_opens_on_disk(data_dir: Path, sealer: Sealer) -> bool | None:
    """Whether ``sealer`` opens ``data_dir``'s database, read without changing anything on disk
    (the start-up check); None when that cannot be told yet (no database, no check value)."""

    def read(conn: sqlite3.Connection) -> tuple[str, bytes] | None:
        row = conn.execute("SELECT row_key, sealed FROM key_check WHERE id = 1").fetchone()
        return (str(row[0]), bytes(row[1])) if row else None

    row = read_on_disk(data_dir, read)
    if row is None:
        return None
    return _opens(sealer, *row)


def _opens(sealer: Sealer, row_key: str, sealed: bytes) -> bool:
    try:
        return sealer.open(sealed, aad=aad_for("key_check", "sealed", row_key)) == _KNOWN
    except TamperedError:
        return False


async def check_key(db: Database, sealer: Sealer) -> None:
    """Seal the check value on first use; raise `WrongKey` if it does not open."""
    async with db.conn.execute("SELECT row_key, sealed FROM key_check WHERE id = 1") as cursor:
        row = await cursor.fetchone()
    if row is None:
        row_key = new_row_key()
        aad = aad_for("key_check", "sealed", row_key)
        async with db.transaction() as conn:
            await conn.execute(
                "INSERT INTO key_check (id, row_key, sealed) VALUES (1, ?, ?)",
                (row_key, sealer.seal(_KNOWN, aad=aad)),
            )
        return
    if not _opens(sealer, row[0], row[1]):
        raise WrongKey
