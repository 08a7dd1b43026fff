"""Incident logs in the database: a log's head, its sealed entries, the files its exports made.

Synchronous functions on a `sqlite3.Connection`, for the inbound pipeline's database thread
(`relay.features.base`) and for retention; `LogRepo` wraps them for async callers. An append runs in
the transaction that read the head: the head row is updated only if it is still the one read,
so two appends can never fork the chain (the second fails and its transaction rolls back).
Each log is found by a keyed tag of its owner's alias; entries (text, time, photos) are sealed.
How an entry is made and chained is `relay.features.incidents` (`entries`, `chain`), not this
module.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

import aiosqlite

from relay.crypto.seal import JsonValue, Sealer, TamperedError, aad_for, new_row_key
from relay.store.db import Database
from relay.store.times import hour_ms, to_ms

OWNER_PURPOSE: Final = "incident-owner"


@dataclass(frozen=True)
class Photo:
    sha256: str
    content_type: str
    key: str  # attachment-vault key (None of this leaves the relay; exports carry copies)


@dataclass(frozen=True)
class Head:
    log_id: str
    seq: int
    hash: str
    first: int = 1


@dataclass(frozen=True)
class Entry:
    seq: int
    at: str  # relay.features.incidents.hashchain.stamp of the relay clock
    text: str = field(repr=False)
    salt: str = field(repr=False)
    photos: tuple[Photo, ...]
    prev: str
    content_sha256: str
    hash: str
    signature: bytes = field(repr=False)

    def photo_entries(self) -> list[dict[str, str]]:
        """The photos as the chain lists them (`relay.features.incidents.hashchain.photo_entry`)."""
        return [{"sha256": p.sha256, "type": p.content_type} for p in self.photos]


def photo_records(body: dict[str, JsonValue]) -> list[dict[str, JsonValue]]:
    """The photos listed in an entry's sealed content."""
    listed = body.get("photos")
    return [p for p in listed if isinstance(p, dict)] if isinstance(listed, list) else []


def owner_tag(sealer: Sealer, alias: str) -> bytes:
    return sealer.lookup(alias, purpose=OWNER_PURPOSE)


# --- reading -------------------------------------------------------------------------------------


def head(conn: sqlite3.Connection, sealer: Sealer, alias: str) -> Head | None:
    row = conn.execute(
        "SELECT log_id, head_seq, head_hash, first_seq FROM incident_logs WHERE owner_tag = ?",
        (owner_tag(sealer, alias),),
    ).fetchone()
    if row is None:
        return None
    return Head(str(row[0]), int(row[1]), str(row[2]), int(row[3]))


def entries(conn: sqlite3.Connection, sealer: Sealer, alias: str) -> list[Entry]:
    """Her log, oldest first."""
    return entries_of(conn, sealer, owner_tag(sealer, alias))


def entries_of(conn: sqlite3.Connection, sealer: Sealer, tag: bytes) -> list[Entry]:
    rows = conn.execute(
        "SELECT seq, row_key, hash, signature, content FROM incident_entries "
        "WHERE owner_tag = ? ORDER BY seq",
        (tag,),
    ).fetchall()
    return [_entry(sealer, row) for row in rows]


def logs(conn: sqlite3.Connection) -> list[tuple[bytes, int]]:
    """Every log: (owner tag, first entry left)."""
    rows = conn.execute("SELECT owner_tag, first_seq FROM incident_logs").fetchall()
    return [(bytes(row[0]), int(row[1])) for row in rows]


def _entry(sealer: Sealer, row: Sequence[object]) -> Entry:
    seq, row_key, entry_hash, signature, content = row
    aad = aad_for("incident_entries", "content", str(row_key))
    body = sealer.open_json(_bytes(content), aad=aad)
    if not isinstance(body, dict):
        raise TamperedError("incident_entries.content", "sealed value is not an entry")
    photos = tuple(
        Photo(str(p["sha256"]), str(p["type"]), str(p["key"])) for p in photo_records(body)
    )
    return Entry(
        seq=int(str(seq)),
        at=str(body["at"]),
        text=str(body["text"]),
        salt=str(body["salt"]),
        photos=photos,
        prev=str(body["prev"]),
        content_sha256=str(body["content_sha256"]),
        hash=str(entry_hash),
        signature=_bytes(signature),
    )


def _bytes(value: object) -> bytes:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    raise TamperedError("incident_entries", "sealed value is not bytes")


# --- writing (inside the caller's transaction) ---------------------------------------------------


def append(conn: sqlite3.Connection, sealer: Sealer, alias: str, head: Head, entry: Entry) -> None:
    """Store ``entry`` after ``head`` (as read before); fail if the log moved meanwhile."""
    tag = owner_tag(sealer, alias)
    if head.seq == 0:
        conn.execute(
            "INSERT INTO incident_logs (owner_tag, log_id, head_seq, head_hash, first_seq) "
            "VALUES (?, ?, ?, ?, 1)",
            (tag, head.log_id, entry.seq, entry.hash),
        )
    else:
        cur = conn.execute(
            "UPDATE incident_logs SET head_seq = ?, head_hash = ? "
            "WHERE owner_tag = ? AND head_seq = ? AND head_hash = ?",
            (entry.seq, entry.hash, tag, head.seq, head.hash),
        )
        if cur.rowcount != 1:
            raise LookupError("the incident log moved while an entry was being added")
    row_key = new_row_key()
    content = sealer.seal_json(
        {
            "at": entry.at,
            "text": entry.text,
            "salt": entry.salt,
            "prev": entry.prev,
            "content_sha256": entry.content_sha256,
            "photos": [
                {"sha256": p.sha256, "type": p.content_type, "key": p.key} for p in entry.photos
            ],
        },
        aad=aad_for("incident_entries", "content", row_key),
    )
    conn.execute(
        "INSERT INTO incident_entries (owner_tag, seq, row_key, hash, signature, content) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (tag, entry.seq, row_key, entry.hash, entry.signature, content),
    )


def exported(
    conn: sqlite3.Connection, sealer: Sealer, alias: str, keys: Sequence[str], now: datetime
) -> None:
    """Remember the vault files an EXPORT made, so FORGET and retention can delete them."""
    tag = owner_tag(sealer, alias)
    conn.executemany(
        "INSERT INTO incident_exports (owner_tag, vault_key, created_at) VALUES (?, ?, ?)",
        [(tag, key, hour_ms(now, up=True)) for key in keys],  # to the hour: issue 17
    )


def forget(conn: sqlite3.Connection, sealer: Sealer, alias: str) -> list[str]:
    """FORGET: her whole log goes, with the files her exports made. Returns the vault keys of
    its photos and export files (the caller deletes them)."""
    tag = owner_tag(sealer, alias)
    keys = [p.key for e in entries_of(conn, sealer, tag) for p in e.photos]
    rows = conn.execute(
        "SELECT vault_key FROM incident_exports WHERE owner_tag = ?", (tag,)
    ).fetchall()
    keys += [str(row[0]) for row in rows]
    conn.execute("DELETE FROM incident_exports WHERE owner_tag = ?", (tag,))
    conn.execute("DELETE FROM incident_logs WHERE owner_tag = ?", (tag,))
    return keys


def drop_through(conn: sqlite3.Connection, tag: bytes, seq: int, first: int) -> int:
    """Retention: delete a log's entries up to ``seq``; the log remembers the first one left
    (never lower than ``first``, where it was). Returns how many went."""
    cur = conn.execute("DELETE FROM incident_entries WHERE owner_tag = ? AND seq <= ?", (tag, seq))
    conn.execute(
        "UPDATE incident_logs SET first_seq = ? WHERE owner_tag = ?", (max(first, seq + 1), tag)
    )
    return max(cur.rowcount, 0)


def drop_exports(conn: sqlite3.Connection, before: datetime) -> list[str]:
    """Retention: forget the export files made before ``before``; their vault keys."""
    rows = conn.execute(
        "SELECT vault_key FROM incident_exports WHERE created_at <= ?", (to_ms(before),)
    ).fetchall()
    conn.execute("DELETE FROM incident_exports WHERE created_at <= ?", (to_ms(before),))
    return [str(row[0]) for row in rows]


# --- for async callers (FORGET until it moves, tests) --------------------------------------------


class LogRepo:
    """The calls above for async code (tests, tools), each one trip to the database thread.
    Inside `Database.transaction` they run in that transaction (same connection). The relay
    itself calls the synchronous functions, in the database thread."""

    def __init__(self, db: Database, sealer: Sealer) -> None:
        self.db = db
        self.sealer = sealer

    def owner_tag(self, alias: str) -> bytes:
        return owner_tag(self.sealer, alias)

    async def head(self, alias: str) -> Head | None:
        return await self.db.run(lambda conn: head(conn, self.sealer, alias))

    async def entries(self, alias: str) -> list[Entry]:
        return await self.db.run(lambda conn: entries(conn, self.sealer, alias))

    async def append(
        self, conn: aiosqlite.Connection, alias: str, head: Head, entry: Entry
    ) -> None:
        del conn  # the caller's transaction is on the database's own connection
        await self.db.run(lambda c: append(c, self.sealer, alias, head, entry))

    async def forget(self, conn: aiosqlite.Connection, alias: str) -> list[str]:
        del conn  # the caller's transaction is on the database's own connection
        return await self.db.run(lambda c: forget(c, self.sealer, alias))
