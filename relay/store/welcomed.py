"""Whom the relay has welcomed (or met while the welcome was off): the ``welcomed`` table.

One keyed tag of her alias and number per member, and the hour it was written: no name, no
number (`relay.features.welcomer` decides who is welcomed and what she is told). Synchronous
functions for
`Database.run`/`write`, inside the caller's transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from datetime import datetime
from typing import Final

from relay.crypto.seal import Sealer
from relay.store.times import hour_ms

PURPOSE: Final = "welcomed"


def tag(sealer: Sealer, alias: str, number: str) -> bytes:
    """Her tag: a new number is a new tag (a new phone needs the one-tap setup again)."""
    return sealer.lookup(f"{alias}\n{number}", purpose=PURPOSE)


def known(conn: sqlite3.Connection) -> set[bytes]:
    """Every member met so far."""
    return {bytes(row[0]) for row in conn.execute("SELECT tag FROM welcomed").fetchall()}


def remember(conn: sqlite3.Connection, tags: Iterable[bytes], now: datetime) -> None:
    """These members are met, as of `now` (to the hour)."""
    at = hour_ms(now)
    conn.executemany(
        "INSERT OR IGNORE INTO welcomed (tag, at_hour) VALUES (?, ?)", [(t, at) for t in tags]
    )


def forget(conn: sqlite3.Connection, tags: Iterable[bytes]) -> None:
    """These members left the rules: welcomed again if they come back."""
    conn.executemany("DELETE FROM welcomed WHERE tag = ?", [(t,) for t in tags])
