"""The inbox's de-duplication tags: which envelopes were already decided.

A tag is a keyed hash of sender, timestamp and kind (`Sealer.dedupe_tag`): the table holds no
sender. Written in the same transaction as the envelope's decision, so a redelivered envelope
(signal-cli after a crash, the WebSocket fallback's replays) is recognised and not decided twice.
Kept for two days (`relay.runtime.retention`), an hour-coarse time each.
"""

from __future__ import annotations

import sqlite3


def seen(conn: sqlite3.Connection, tag: bytes) -> bool:
    """Was this envelope decided before?"""
    return conn.execute("SELECT 1 FROM inbox_seen WHERE tag = ?", (tag,)).fetchone() is not None


def remember(conn: sqlite3.Connection, tag: bytes, hour: int) -> None:
    """This envelope is decided (inside the decision's transaction)."""
    conn.execute("INSERT INTO inbox_seen (tag, seen_at) VALUES (?, ?)", (tag, hour))


def forget_before(conn: sqlite3.Connection, before: int) -> int:
    """Retention: tags written at or before `before` (ms) go; how many went."""
    cursor = conn.execute("DELETE FROM inbox_seen WHERE seen_at <= ?", (before,))
    return max(cursor.rowcount, 0)
