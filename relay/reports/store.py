"""Reports in the database: the sealed report, its screening keys, photos and moderation record.

Reads go through the shared connection (the engine's lock serialises the callers); writes take
the caller's transaction, so a report, its keys and the message telling her "recorded" commit
together. Nothing about a report reaches SQL unsealed except its number, status, severity and
times (to the hour); the reporter is a sealed alias (to answer her) and a keyed tag of her alias
*and the row's random key* (to find her own reports): two reports by one author have unrelated
tags, so a seized database does not link them, and only the key finds hers (issue 17).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final, Literal

import aiosqlite

from relay.core.identifiers import Identifier, IdentifierKind
from relay.core.types import MemberAlias
from relay.crypto.seal import Sealer, TamperedError, aad_for, new_row_key
from relay.reports.matching import all_tags
from relay.store.db import Database
from relay.store.times import from_ms, hour_ms, opt_dt, to_ms

Status = Literal["pending", "approved"]
Action = Literal["submitted", "rated", "approved", "rejected", "removed", "withdrawn", "expired"]

AUTHOR_PURPOSE: Final = "report-author"
KEYS_VERSION: Final = 2
"""Which screening tags a stored report has: 2 adds number endings and plate starts. Reports
stored under an older version are given the new tags at start-up (`ReportRepo.rekey`)."""
_KEYS_COUNTER: Final = "report_keys_version"

_KINDS: Final[dict[object, IdentifierKind]] = {
    "phone": "phone",
    "plate": "plate",
    "email": "email",
    "handle": "handle",
}


@dataclass(frozen=True)
class NewReport:
    """A report as the feature builds it, before it is stored."""

    number: int
    author: MemberAlias
    text: str = field(repr=False)
    identifiers: tuple[Identifier, ...]
    severity: int | None
    status: Status
    created_at: datetime
    expires_at: datetime | None
    photos: tuple[str, ...] = ()


@dataclass(frozen=True)
class StoredReport:
    number: int
    status: Status
    severity: int | None
    created_at: datetime
    decided_at: datetime | None
    expires_at: datetime | None
    author: MemberAlias | None = field(repr=False)  # None once she asked to be forgotten
    text: str = field(repr=False)
    identifiers: tuple[Identifier, ...] = field(repr=False)
    photos: tuple[str, ...] = ()


class ReportRepo:
    def __init__(self, db: Database, sealer: Sealer) -> None:
        self.db = db
        self.sealer = sealer

    def author_tag(self, alias: str, row_key: str) -> bytes:
        """Her tag on one report: unrelated to her tag on any other."""
        return self.sealer.lookup(f"{alias}/{row_key}", purpose=AUTHOR_PURPOSE)

    def _by(self, alias: str, row_key: str, tag: bytes) -> bool:
        # Reports stored before issue 17 carry one tag per author, the same on each.
        return tag in (
            self.author_tag(alias, row_key),
            self.sealer.lookup(alias, purpose=AUTHOR_PURPOSE),
        )

    async def authored(
        self, conn: aiosqlite.Connection, alias: str
    ) -> list[tuple[int, str, str, bytes]]:
        """Her reports, oldest first: (number, status, row key, sealed body). Every tagged row
        is looked at (a keyed hash each: microseconds), none is opened."""
        async with conn.execute(
            "SELECT number, status, row_key, author_tag, body FROM reports "
            "WHERE author_tag IS NOT NULL ORDER BY number"
        ) as cur:
            rows = await cur.fetchall()
        return [
            (int(r[0]), str(r[1]), str(r[2]), bytes(r[4]))
            for r in rows
            if self._by(alias, str(r[2]), bytes(r[3]))
        ]

    # --- reading -----------------------------------------------------------------------------

    async def next_number(self) -> int:
        """The number the next report gets. Callers hold the engine's lock, and the insert
        fails (rolling back the whole decision) if another writer took it meanwhile."""
        sql = (
            "SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'reports'), 0), "
            "coalesce((SELECT max(number) FROM reports), 0), "
            "coalesce((SELECT max(number) FROM report_actions), 0))"
        )
        async with self.db.conn.execute(sql) as cur:
            row = await cur.fetchone()
        return int(row[0] if row else 0) + 1

    async def get(self, number: int) -> StoredReport | None:
        async with self.db.conn.execute("SELECT * FROM reports WHERE number = ?", (number,)) as cur:
            row = await cur.fetchone()
        return await self._report(row) if row is not None else None

    async def last_action(self, number: int) -> str | None:
        sql = "SELECT action FROM report_actions WHERE number = ? ORDER BY id DESC LIMIT 1"
        async with self.db.conn.execute(sql, (number,)) as cur:
            row = await cur.fetchone()
        return str(row[0]) if row is not None else None

    async def actions(self, number: int | None = None) -> list[tuple[int, str, datetime]]:
        """The moderation record, oldest first: (report number, action, when)."""
        sql = "SELECT number, action, at FROM report_actions"
        params: tuple[int, ...] = ()
        if number is not None:
            sql += " WHERE number = ?"
            params = (number,)
        async with self.db.conn.execute(sql + " ORDER BY id", params) as cur:
            rows = await cur.fetchall()
        return [(int(r[0]), str(r[1]), from_ms(int(r[2]))) for r in rows]

    async def newest_unrated(self, author: str) -> int | None:
        sql = (
            "SELECT number, row_key, author_tag FROM reports "
            "WHERE author_tag IS NOT NULL AND severity IS NULL ORDER BY number DESC"
        )
        async with self.db.conn.execute(sql) as cur:
            rows = await cur.fetchall()
        found = (int(r[0]) for r in rows if self._by(author, str(r[1]), bytes(r[2])))
        return next(found, None)

    async def is_author(self, number: int, author: str) -> bool:
        sql = "SELECT row_key, author_tag FROM reports WHERE number = ? AND author_tag IS NOT NULL"
        async with self.db.conn.execute(sql, (number,)) as cur:
            row = await cur.fetchone()
        return row is not None and self._by(author, str(row[0]), bytes(row[1]))

    async def candidates(
        self, identifiers: Iterable[Identifier], now: datetime
    ) -> list[StoredReport]:
        """Approved, unexpired reports sharing a screening key with ``identifiers``, oldest first.

        Confirm each with `relay.reports.matching.matched_kinds`: a plate key is shared by
        plates one character apart from it, not only by the same plate.
        """
        numbers: set[int] = set()
        for tag in sorted(all_tags(self.sealer, identifiers)):
            sql = "SELECT number FROM report_keys WHERE tag = ?"
            async with self.db.conn.execute(sql, (tag,)) as cur:
                numbers.update(int(row[0]) for row in await cur.fetchall())
        found = []
        sql = (
            "SELECT * FROM reports WHERE number = ? AND status = 'approved' "
            "AND (expires_at IS NULL OR expires_at > ?)"
        )
        for number in sorted(numbers):
            async with self.db.conn.execute(sql, (number, to_ms(now))) as cur:
                row = await cur.fetchone()
            if row is not None:
                found.append(await self._report(row))
        return found

    async def _report(self, row: aiosqlite.Row) -> StoredReport:
        body = self.sealer.open_json(row["body"], aad=aad_for("reports", "body", row["row_key"]))
        if not isinstance(body, dict):
            raise TamperedError("reports.body", "sealed value is not a report")
        identifiers = tuple(
            Identifier(_kind(pair[0]), str(pair[1]))
            for pair in _list(body.get("identifiers"))
            if isinstance(pair, list) and len(pair) == 2
        )
        author = body.get("author")
        sql = "SELECT vault_key FROM report_photos WHERE number = ? ORDER BY position"
        async with self.db.conn.execute(sql, (row["number"],)) as cur:
            photos = tuple(str(r[0]) for r in await cur.fetchall())
        return StoredReport(
            number=int(row["number"]),
            status="approved" if row["status"] == "approved" else "pending",
            severity=None if row["severity"] is None else int(row["severity"]),
            created_at=from_ms(_int(body.get("created_at"), row["created_at"])),
            decided_at=opt_dt(row["decided_at"]),
            expires_at=opt_dt(row["expires_at"]),
            author=MemberAlias(author) if isinstance(author, str) else None,
            text=str(body.get("text") or ""),
            identifiers=identifiers,
            photos=photos,
        )

    # --- writing (inside the caller's transaction) ---------------------------------------------

    async def add(self, conn: aiosqlite.Connection, report: NewReport) -> None:
        row_key = new_row_key()
        body = self.sealer.seal_json(
            {
                "author": report.author,
                "text": report.text,
                "identifiers": [[i.kind, i.value] for i in report.identifiers],
                "created_at": to_ms(report.created_at),  # exact here; the column to the hour
            },
            aad=aad_for("reports", "body", row_key),
        )
        await conn.execute(
            "INSERT INTO reports (number, row_key, author_tag, status, severity, created_at, "
            "decided_at, expires_at, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                report.number,
                row_key,
                self.author_tag(report.author, row_key),
                report.status,
                report.severity,
                # To the hour (up: retention counts from it): the exact time of a report
                # matched the reply telling its author, and so named her (issue 17).
                hour_ms(report.created_at, up=True),
                hour_ms(report.created_at) if report.status == "approved" else None,
                hour_ms(report.expires_at, up=True) if report.expires_at is not None else None,
                body,
            ),
        )
        await conn.executemany(
            "INSERT INTO report_keys (tag, number) VALUES (?, ?)",
            [
                (tag, report.number)
                for tag in sorted(all_tags(self.sealer, report.identifiers, index=True))
            ],
        )
        await conn.executemany(
            "INSERT INTO report_photos (number, position, vault_key) VALUES (?, ?, ?)",
            [(report.number, i, key) for i, key in enumerate(report.photos)],
        )
        await record(conn, report.number, "submitted", report.created_at)
        if report.status == "approved":
            await record(conn, report.number, "approved", report.created_at)

    async def rekey(self) -> int:
        """Give every stored report the screening tags of `KEYS_VERSION` (once: a counter
        remembers it); returns how many reports were re-keyed. The tags are keyed HMACs, so
        only the running relay, which holds the key, can compute them — not a SQL migration."""
        if await self.db.counter(_KEYS_COUNTER) >= KEYS_VERSION:
            return 0
        async with self.db.transaction() as conn:
            async with conn.execute("SELECT * FROM reports") as cur:
                rows = list(await cur.fetchall())
            for row in rows:
                report = await self._report(row)
                await conn.executemany(
                    "INSERT OR IGNORE INTO report_keys (tag, number) VALUES (?, ?)",
                    [
                        (tag, report.number)
                        for tag in sorted(all_tags(self.sealer, report.identifiers, index=True))
                    ],
                )
            await conn.execute(
                "INSERT INTO counters (name, value) VALUES (?, ?) "
                "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                (_KEYS_COUNTER, KEYS_VERSION),
            )
        return len(rows)

    async def rate(
        self, conn: aiosqlite.Connection, number: int, severity: int, now: datetime
    ) -> None:
        await conn.execute("UPDATE reports SET severity = ? WHERE number = ?", (severity, number))
        await record(conn, number, "rated", now)

    async def approve(self, conn: aiosqlite.Connection, number: int, now: datetime) -> None:
        cur = await conn.execute(
            "UPDATE reports SET status = 'approved', decided_at = ? "
            "WHERE number = ? AND status = 'pending'",
            (hour_ms(now), number),
        )
        if cur.rowcount != 1:
            raise LookupError(f"report #{number} is no longer pending")
        await record(conn, number, "approved", now)

    async def forget_author(
        self, conn: aiosqlite.Connection, author: str, now: datetime
    ) -> list[str]:
        """FORGET: her pending reports are deleted; shared ones stay as the collective's
        warnings but lose every link to her (no tag, no sealed alias). Returns photo keys to
        delete from the vault."""
        photos: list[str] = []
        for number, status, row_key, sealed in await self.authored(conn, author):
            if status == "pending":
                photos += await delete(conn, number, "withdrawn", now)
                continue
            aad = aad_for("reports", "body", row_key)
            body = self.sealer.open_json(sealed, aad=aad)
            if isinstance(body, dict):
                body.pop("author", None)
            await conn.execute(
                "UPDATE reports SET author_tag = NULL, body = ? WHERE number = ?",
                (self.sealer.seal_json(body, aad=aad), number),
            )
        return photos


async def record(conn: aiosqlite.Connection, number: int, action: Action, at: datetime) -> None:
    """One line of the moderation record: never who, only what and when."""
    await conn.execute(
        "INSERT INTO report_actions (number, action, at) VALUES (?, ?, ?)",
        (number, action, hour_ms(at)),  # to the hour, like every when of a report
    )


async def delete(
    conn: aiosqlite.Connection, number: int, action: Action, now: datetime
) -> list[str]:
    """Delete a report with its keys and photo rows, and record why; return its photos' vault
    keys (the caller deletes the files)."""
    async with conn.execute(
        "SELECT vault_key FROM report_photos WHERE number = ? ORDER BY position", (number,)
    ) as cur:
        photos = [str(r[0]) for r in await cur.fetchall()]
    await conn.execute("DELETE FROM reports WHERE number = ?", (number,))
    await record(conn, number, action, now)
    return photos


def _kind(value: object) -> IdentifierKind:
    kind = _KINDS.get(value)
    if kind is not None:
        return kind
    raise TamperedError("reports.body", "sealed value holds an unknown identifier kind")


def _list(value: object) -> Sequence[object]:
    return value if isinstance(value, list) else []


def _int(value: object, fallback: object) -> int:
    """A sealed exact time if there is one (reports since issue 17), else the column's."""
    return value if isinstance(value, int) else int(str(fallback))
