"""Incident logs in the database: appending a chained, signed entry; reading a log back; deleting
under retention or FORGET.

Appends happen inside the caller's transaction, after the engine's lock let the caller read the
head: the head row is updated only if it is still the one read, so two appends can never fork
the chain (the second one fails and its transaction rolls back).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

import aiosqlite

from relay.crypto.seal import JsonValue, Sealer, TamperedError, aad_for, new_row_key
from relay.incidents import chain
from relay.store.db import Database
from relay.store.times import hour_ms

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
    at: str  # chain.stamp of the relay clock
    text: str = field(repr=False)
    salt: str = field(repr=False)
    photos: tuple[Photo, ...]
    prev: str
    content_sha256: str
    hash: str
    signature: bytes = field(repr=False)

    def photo_entries(self) -> list[dict[str, str]]:
        return [chain.photo_entry(p.sha256, p.content_type) for p in self.photos]


def new_entry(
    sealer: Sealer,
    head: Head,
    now: datetime,
    text: str,
    photos: Sequence[Photo] = (),
) -> Entry:
    """The entry after ``head``: timestamped by the relay clock, chained, signed."""
    seq = head.seq + 1
    at = chain.stamp(now)
    salt = secrets.token_hex(16)
    listed = [chain.photo_entry(p.sha256, p.content_type) for p in photos]
    digest = chain.content_digest(text, listed, salt)
    entry_hash = chain.entry_hash(head.log_id, seq, at, head.hash, digest)
    signature = chain.sign(
        sealer.signing_key(), chain.entry_statement(head.log_id, seq, entry_hash)
    )
    return Entry(seq, at, text, salt, tuple(photos), head.hash, digest, entry_hash, signature)


def fresh_head() -> Head:
    """The head of a log that has no entry yet (its id is chosen now)."""
    log_id = secrets.token_hex(16)
    return Head(log_id=log_id, seq=0, hash=chain.genesis(log_id))


def photo_records(body: dict[str, JsonValue]) -> list[dict[str, JsonValue]]:
    """The photos listed in an entry's sealed content."""
    listed = body.get("photos")
    return [p for p in listed if isinstance(p, dict)] if isinstance(listed, list) else []


class LogRepo:
    def __init__(self, db: Database, sealer: Sealer) -> None:
        self.db = db
        self.sealer = sealer

    def owner_tag(self, alias: str) -> bytes:
        return self.sealer.lookup(alias, purpose=OWNER_PURPOSE)

    async def head(self, alias: str) -> Head | None:
        sql = "SELECT log_id, head_seq, head_hash, first_seq FROM incident_logs WHERE owner_tag = ?"
        async with self.db.conn.execute(sql, (self.owner_tag(alias),)) as cur:
            row = await cur.fetchone()
        if row is None:
            return None
        return Head(str(row[0]), int(row[1]), str(row[2]), int(row[3]))

    async def entries(self, alias: str) -> list[Entry]:
        sql = (
            "SELECT seq, row_key, hash, signature, content FROM incident_entries "
            "WHERE owner_tag = ? ORDER BY seq"
        )
        async with self.db.conn.execute(sql, (self.owner_tag(alias),)) as cur:
            rows = await cur.fetchall()
        return [self._entry(row) for row in rows]

    def _entry(self, row: aiosqlite.Row) -> Entry:
        aad = aad_for("incident_entries", "content", row["row_key"])
        body = self.sealer.open_json(row["content"], aad=aad)
        if not isinstance(body, dict):
            raise TamperedError("incident_entries.content", "sealed value is not an entry")
        photos = tuple(
            Photo(str(p["sha256"]), str(p["type"]), str(p["key"])) for p in photo_records(body)
        )
        return Entry(
            seq=int(row["seq"]),
            at=str(body["at"]),
            text=str(body["text"]),
            salt=str(body["salt"]),
            photos=photos,
            prev=str(body["prev"]),
            content_sha256=str(body["content_sha256"]),
            hash=str(row["hash"]),
            signature=bytes(row["signature"]),
        )

    async def append(
        self, conn: aiosqlite.Connection, alias: str, head: Head, entry: Entry
    ) -> None:
        """Store ``entry`` after ``head`` (as read before); fail if the log moved meanwhile."""
        tag = self.owner_tag(alias)
        if head.seq == 0:
            await conn.execute(
                "INSERT INTO incident_logs (owner_tag, log_id, head_seq, head_hash, first_seq) "
                "VALUES (?, ?, ?, ?, 1)",
                (tag, head.log_id, entry.seq, entry.hash),
            )
        else:
            cur = await conn.execute(
                "UPDATE incident_logs SET head_seq = ?, head_hash = ? "
                "WHERE owner_tag = ? AND head_seq = ? AND head_hash = ?",
                (entry.seq, entry.hash, tag, head.seq, head.hash),
            )
            if cur.rowcount != 1:
                raise LookupError("the incident log moved while an entry was being added")
        row_key = new_row_key()
        content = self.sealer.seal_json(
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
        await conn.execute(
            "INSERT INTO incident_entries (owner_tag, seq, row_key, hash, signature, content) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (tag, entry.seq, row_key, entry.hash, entry.signature, content),
        )

    async def exported(
        self, conn: aiosqlite.Connection, alias: str, keys: Sequence[str], now: datetime
    ) -> None:
        """Remember the vault files an EXPORT made, so FORGET and retention can delete them."""
        tag = self.owner_tag(alias)
        await conn.executemany(
            "INSERT INTO incident_exports (owner_tag, vault_key, created_at) VALUES (?, ?, ?)",
            [(tag, key, hour_ms(now, up=True)) for key in keys],  # to the hour: issue 17
        )

    async def forget(self, conn: aiosqlite.Connection, alias: str) -> list[str]:
        """FORGET: her whole log goes, with the files her exports made. Returns the vault keys
        of its photos and export files (the caller deletes them)."""
        tag = self.owner_tag(alias)
        keys = [p.key for e in await self.entries(alias) for p in e.photos]
        async with conn.execute(
            "SELECT vault_key FROM incident_exports WHERE owner_tag = ?", (tag,)
        ) as cur:
            keys += [str(row[0]) for row in await cur.fetchall()]
        await conn.execute("DELETE FROM incident_exports WHERE owner_tag = ?", (tag,))
        await conn.execute("DELETE FROM incident_logs WHERE owner_tag = ?", (tag,))
        return keys
