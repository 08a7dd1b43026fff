"""Reports in the database: the sealed report, its screening keys, photos and moderation record.

Synchronous functions on a `sqlite3.Connection`, for the inbound pipeline's database thread
(`relay.features.base`): a feature reads through them inside the batch's one transaction, and its
writes take the same transaction, so a report, its keys and the message telling her "recorded"
commit together. `ReportRepo` wraps the reads (and FORGET's calls) for async callers.

Nothing about a report reaches SQL unsealed except its number, status, severity and times (to
the hour); the reporter is a sealed alias (to answer her) and a keyed tag of her alias *and the
row's random key* (to find her own reports): two reports by one author have unrelated tags, so a
seized database does not link them, and only the key finds hers (issue 17). Screening tags are
made by the caller (`relay.features.reports.matching`): this module stores and looks them up.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final, Literal

import aiosqlite

from relay.core.identifiers import Identifier, IdentifierKind
from relay.core.types import MemberAlias
from relay.crypto.seal import Sealer, TamperedError, aad_for, new_row_key
from relay.store.db import Database
from relay.store.times import from_ms, hour_ms, to_ms

Status = Literal["pending", "approved"]
Action = Literal[
    "submitted", "rated", "approved", "rejected", "removed", "withdrawn", "expired", "retracted"
]

AUTHOR_PURPOSE: Final = "report-author"
KEYS_COUNTER: Final = "report_keys_version"
"""The counter remembering which screening tags stored reports have
(`relay.features.reports.rekey`)."""

_KINDS: Final[dict[object, IdentifierKind]] = {
    "phone": "phone",
    "plate": "plate",
    "email": "email",
    "handle": "handle",
}
_COLUMNS: Final = "number, row_key, status, severity, created_at, decided_at, expires_at, body"


@dataclass(frozen=True)
class NewReport:
    """A report as the feature builds it, before it is stored."""

    number: int
    author: MemberAlias | None  # None: a partner collective's warning (`origin`)
    text: str = field(repr=False)
    identifiers: tuple[Identifier, ...]
    severity: int | None
    status: Status
    created_at: datetime
    expires_at: datetime | None
    photos: tuple[str, ...] = ()
    origin: str | None = None  # the partner's label, for a warning from a partner collective
    categories: tuple[str, ...] = ()


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
    origin: str | None = None  # the partner's label, for a warning from a partner collective
    categories: tuple[str, ...] = ()


# --- her tag -------------------------------------------------------------------------------------


def author_tag(sealer: Sealer, alias: str, row_key: str) -> bytes:
    """Her tag on one report: unrelated to her tag on any other."""
    return sealer.lookup(f"{alias}/{row_key}", purpose=AUTHOR_PURPOSE)


def _by(sealer: Sealer, alias: str, row_key: str, tag: bytes) -> bool:
    # Reports stored before issue 17 carry one tag per author, the same on each.
    return tag in (author_tag(sealer, alias, row_key), sealer.lookup(alias, purpose=AUTHOR_PURPOSE))


# --- reading -------------------------------------------------------------------------------------


def authored(
    conn: sqlite3.Connection, sealer: Sealer, alias: str
) -> list[tuple[int, str, str, bytes]]:
    """Her reports, oldest first: (number, status, row key, sealed body). Every tagged row is
    looked at (a keyed hash each: microseconds), none is opened."""
    rows = conn.execute(
        "SELECT number, status, row_key, author_tag, body FROM reports "
        "WHERE author_tag IS NOT NULL ORDER BY number"
    ).fetchall()
    return [
        (int(r[0]), str(r[1]), str(r[2]), bytes(r[4]))
        for r in rows
        if _by(sealer, alias, str(r[2]), bytes(r[3]))
    ]


def next_number(conn: sqlite3.Connection) -> int:
    """The number the next report gets: read in the transaction that stores it."""
    row = conn.execute(
        "SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'reports'), 0), "
        "coalesce((SELECT max(number) FROM reports), 0), "
        "coalesce((SELECT max(number) FROM report_actions), 0))"
    ).fetchone()
    return int(row[0] if row else 0) + 1


def get(conn: sqlite3.Connection, sealer: Sealer, number: int) -> StoredReport | None:
    row = conn.execute(_select("WHERE number = ?"), (number,)).fetchone()
    return _report(conn, sealer, row) if row is not None else None


def last_action(conn: sqlite3.Connection, number: int) -> str | None:
    row = conn.execute(
        "SELECT action FROM report_actions WHERE number = ? ORDER BY id DESC LIMIT 1", (number,)
    ).fetchone()
    return str(row[0]) if row is not None else None


def actions(conn: sqlite3.Connection, number: int | None = None) -> list[tuple[int, str, datetime]]:
    """The moderation record, oldest first: (report number, action, when)."""
    if number is None:
        rows = conn.execute("SELECT number, action, at FROM report_actions ORDER BY id").fetchall()
    else:
        rows = conn.execute(
            "SELECT number, action, at FROM report_actions WHERE number = ? ORDER BY id",
            (number,),
        ).fetchall()
    return [(int(r[0]), str(r[1]), from_ms(int(r[2]))) for r in rows]


def newest_unrated(conn: sqlite3.Connection, sealer: Sealer, author: str) -> int | None:
    rows = conn.execute(
        "SELECT number, row_key, author_tag FROM reports "
        "WHERE author_tag IS NOT NULL AND severity IS NULL ORDER BY number DESC"
    ).fetchall()
    found = (int(r[0]) for r in rows if _by(sealer, author, str(r[1]), bytes(r[2])))
    return next(found, None)


def is_author(conn: sqlite3.Connection, sealer: Sealer, number: int, author: str) -> bool:
    row = conn.execute(
        "SELECT row_key, author_tag FROM reports WHERE number = ? AND author_tag IS NOT NULL",
        (number,),
    ).fetchone()
    return row is not None and _by(sealer, author, str(row[0]), bytes(row[1]))


def candidates(
    conn: sqlite3.Connection, sealer: Sealer, tags: Iterable[bytes], now: datetime
) -> list[StoredReport]:
    """Approved, unexpired reports stored under any of ``tags``, oldest first.

    Confirm each with `relay.features.reports.matching.matched_kinds`: a plate key is shared by
    plates one
    character apart from it, not only by the same plate.
    """
    numbers: set[int] = set()
    for tag in sorted(tags):
        rows = conn.execute("SELECT number FROM report_keys WHERE tag = ?", (tag,)).fetchall()
        numbers.update(int(row[0]) for row in rows)
    found = []
    for number in sorted(numbers):
        row = conn.execute(
            _select(
                "WHERE number = ? AND status = 'approved' "
                "AND (expires_at IS NULL OR expires_at > ?)"
            ),
            (number, to_ms(now)),
        ).fetchone()
        if row is not None:
            found.append(_report(conn, sealer, row))
    return found


def every_report(conn: sqlite3.Connection, sealer: Sealer) -> list[StoredReport]:
    """Every stored report, opened (to give them new screening tags)."""
    rows = conn.execute(_select("ORDER BY number")).fetchall()
    return [_report(conn, sealer, row) for row in rows]


def expired(conn: sqlite3.Connection, now: datetime, cutoff: datetime | None) -> list[int]:
    """Reports past their own expiry, or (``cutoff``: today's retention) made before it."""
    at = to_ms(cutoff) if cutoff is not None else None
    rows = conn.execute(
        "SELECT number FROM reports WHERE (expires_at IS NOT NULL AND expires_at <= ?) "
        "OR (? IS NOT NULL AND created_at <= ?) ORDER BY number",
        (to_ms(now), at, at),
    ).fetchall()
    return [int(row[0]) for row in rows]


def counter(conn: sqlite3.Connection, name: str) -> int:
    row = conn.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()
    return int(row[0]) if row else 0


def _select(rest: str) -> str:
    return f"SELECT {_COLUMNS} FROM reports {rest}"  # noqa: S608 — fixed fragments only


def _report(conn: sqlite3.Connection, sealer: Sealer, row: Sequence[object]) -> StoredReport:
    number, row_key, status, severity, created_at, decided_at, expires_at, sealed = row
    body = sealer.open_json(_bytes(sealed), aad=aad_for("reports", "body", str(row_key)))
    if not isinstance(body, dict):
        raise TamperedError("reports.body", "sealed value is not a report")
    identifiers = tuple(
        Identifier(_kind(pair[0]), str(pair[1]))
        for pair in _list(body.get("identifiers"))
        if isinstance(pair, list) and len(pair) == 2
    )
    author = body.get("author")
    origin = body.get("origin")
    photos = conn.execute(
        "SELECT vault_key FROM report_photos WHERE number = ? ORDER BY position", (number,)
    ).fetchall()
    return StoredReport(
        number=int(str(number)),
        status="approved" if status == "approved" else "pending",
        severity=None if severity is None else int(str(severity)),
        created_at=from_ms(_int(body.get("created_at"), created_at)),
        decided_at=_when(decided_at),
        expires_at=_when(expires_at),
        author=MemberAlias(author) if isinstance(author, str) else None,
        text=str(body.get("text") or ""),
        identifiers=identifiers,
        photos=tuple(str(r[0]) for r in photos),
        origin=origin if isinstance(origin, str) else None,
        categories=tuple(str(c) for c in _list(body.get("categories"))),
    )


# --- writing (inside the caller's transaction) ---------------------------------------------------


def add(conn: sqlite3.Connection, sealer: Sealer, report: NewReport, tags: Iterable[bytes]) -> None:
    """Store a new report under its screening ``tags`` (`all_tags(…, index=True)`)."""
    row_key = new_row_key()
    plain: dict[str, object] = {
        "text": report.text,
        "identifiers": [[i.kind, i.value] for i in report.identifiers],
        "created_at": to_ms(report.created_at),  # exact here; the column to the hour
    }
    if report.author is not None:
        plain["author"] = report.author
    if report.origin is not None:
        plain["origin"] = report.origin
    if report.categories:
        plain["categories"] = list(report.categories)
    body = sealer.seal_json(plain, aad=aad_for("reports", "body", row_key))
    conn.execute(
        "INSERT INTO reports (number, row_key, author_tag, status, severity, created_at, "
        "decided_at, expires_at, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            report.number,
            row_key,
            author_tag(sealer, report.author, row_key) if report.author is not None else None,
            report.status,
            report.severity,
            # To the hour (up: retention counts from it): the exact time of a report matched
            # the reply telling its author, and so named her (issue 17).
            hour_ms(report.created_at, up=True),
            hour_ms(report.created_at) if report.status == "approved" else None,
            hour_ms(report.expires_at, up=True) if report.expires_at is not None else None,
            body,
        ),
    )
    conn.executemany(
        "INSERT INTO report_keys (tag, number) VALUES (?, ?)",
        [(tag, report.number) for tag in sorted(tags)],
    )
    conn.executemany(
        "INSERT INTO report_photos (number, position, vault_key) VALUES (?, ?, ?)",
        [(report.number, i, key) for i, key in enumerate(report.photos)],
    )
    record(conn, report.number, "submitted", report.created_at)
    if report.status == "approved":
        record(conn, report.number, "approved", report.created_at)


def add_keys(conn: sqlite3.Connection, number: int, tags: Iterable[bytes]) -> None:
    """More screening tags for a stored report (those it has already are kept)."""
    conn.executemany(
        "INSERT OR IGNORE INTO report_keys (tag, number) VALUES (?, ?)",
        [(tag, number) for tag in sorted(tags)],
    )


def set_counter(conn: sqlite3.Connection, name: str, value: int) -> None:
    conn.execute(
        "INSERT INTO counters (name, value) VALUES (?, ?) "
        "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        (name, value),
    )


def rate(conn: sqlite3.Connection, number: int, severity: int, now: datetime) -> None:
    conn.execute("UPDATE reports SET severity = ? WHERE number = ?", (severity, number))
    record(conn, number, "rated", now)


def approve(conn: sqlite3.Connection, number: int, now: datetime) -> None:
    cur = conn.execute(
        "UPDATE reports SET status = 'approved', decided_at = ? "
        "WHERE number = ? AND status = 'pending'",
        (hour_ms(now), number),
    )
    if cur.rowcount != 1:
        raise LookupError(f"report #{number} is no longer pending")
    record(conn, number, "approved", now)


def forget_author(
    conn: sqlite3.Connection, sealer: Sealer, author: str, now: datetime
) -> list[str]:
    """FORGET: her pending reports are deleted; shared ones stay as the collective's warnings
    but lose every link to her (no tag, no sealed alias). Returns photo keys to delete from the
    vault."""
    photos: list[str] = []
    for number, status, row_key, sealed in authored(conn, sealer, author):
        if status == "pending":
            photos += delete(conn, number, "withdrawn", now)
            continue
        aad = aad_for("reports", "body", row_key)
        body = sealer.open_json(sealed, aad=aad)
        if isinstance(body, dict):
            body.pop("author", None)
        conn.execute(
            "UPDATE reports SET author_tag = NULL, body = ? WHERE number = ?",
            (sealer.seal_json(body, aad=aad), number),
        )
    return photos


def record(conn: sqlite3.Connection, number: int, action: Action, at: datetime) -> None:
    """One line of the moderation record: never who, only what and when."""
    conn.execute(
        "INSERT INTO report_actions (number, action, at) VALUES (?, ?, ?)",
        (number, action, hour_ms(at)),  # to the hour, like every when of a report
    )


def delete(conn: sqlite3.Connection, number: int, action: Action, now: datetime) -> list[str]:
    """Delete a report with its keys and photo rows, and record why; return its photos' vault
    keys (the caller deletes the files)."""
    rows = conn.execute(
        "SELECT vault_key FROM report_photos WHERE number = ? ORDER BY position", (number,)
    ).fetchall()
    conn.execute("DELETE FROM reports WHERE number = ?", (number,))
    record(conn, number, action, now)
    return [str(r[0]) for r in rows]


# --- for async callers (the CLI, FORGET until it moves, tests) -----------------------------------


class ReportRepo:
    """Some of the calls above for async code (tests, tools), each one trip to the database
    thread. Inside `Database.transaction` they run in that transaction (same connection). The
    relay itself calls the synchronous functions, in the database thread."""

    def __init__(self, db: Database, sealer: Sealer) -> None:
        self.db = db
        self.sealer = sealer

    async def get(self, number: int) -> StoredReport | None:
        return await self.db.run(lambda conn: get(conn, self.sealer, number))

    async def actions(self, number: int | None = None) -> list[tuple[int, str, datetime]]:
        return await self.db.run(lambda conn: actions(conn, number))

    async def is_author(self, number: int, author: str) -> bool:
        return await self.db.run(lambda conn: is_author(conn, self.sealer, number, author))

    async def authored(
        self, conn: aiosqlite.Connection, alias: str
    ) -> list[tuple[int, str, str, bytes]]:
        del conn  # the database's own connection: `run` reaches it in its thread
        return await self.db.run(lambda c: authored(c, self.sealer, alias))

    async def forget_author(
        self, conn: aiosqlite.Connection, author: str, now: datetime
    ) -> list[str]:
        del conn  # the caller's transaction is on the database's own connection
        return await self.db.run(lambda c: forget_author(c, self.sealer, author, now))


def _kind(value: object) -> IdentifierKind:
    kind = _KINDS.get(value)
    if kind is not None:
        return kind
    raise TamperedError("reports.body", "sealed value holds an unknown identifier kind")


def _list(value: object) -> Sequence[object]:
    return value if isinstance(value, list) else []


def _bytes(value: object) -> bytes:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    raise TamperedError("reports.body", "sealed value is not bytes")


def _when(value: object) -> datetime | None:
    return None if value is None else from_ms(int(str(value)))


def _int(value: object, fallback: object) -> int:
    """A sealed exact time if there is one (reports since issue 17), else the column's."""
    return value if isinstance(value, int) else int(str(fallback))
