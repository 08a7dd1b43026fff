"""Is this the key the database was sealed with? Asked once at start, before anything runs.

A wrong key that is still a well-formed key would otherwise start a relay that cannot open a
single sealed row: replies and alerts would fail one by one while new rows were sealed under the
wrong key. The first start seals a known value; every later start must open it.
"""

from __future__ import annotations

from relay.crypto.seal import Sealer, TamperedError, aad_for
from relay.store.db import Database

_KNOWN = b"peer-relay key check v1"
_AAD = aad_for("key_check", "sealed", "1")


class WrongKey(Exception):
    """The key does not open this database."""


async def check_key(db: Database, sealer: Sealer) -> None:
    """Seal the check value on first use; raise `WrongKey` if it does not open."""
    async with db.conn.execute("SELECT sealed FROM key_check WHERE id = 1") as cursor:
        row = await cursor.fetchone()
    if row is None:
        async with db.transaction() as conn:
            await conn.execute(
                "INSERT INTO key_check (id, sealed) VALUES (1, ?)",
                (sealer.seal(_KNOWN, aad=_AAD),),
            )
        return
    try:
        opened = sealer.open(row[0], aad=_AAD)
    except TamperedError:
        raise WrongKey from None
    if opened != _KNOWN:
        raise WrongKey
