"""Warnings between collectives in the database: ids taken, links, what was shared, daily counts.

A partner's warning itself is stored as a report (`relay.store.reports`, sealed, with its
screening keys). Here only what the exchange needs, each keyed so a seized database names no
partner and links no two rows:

- `peer_seen`: the warning ids taken from each partner (HMAC of its number and the id), so a
  replay is refused; kept `SEEN_FOR` (older messages are refused as stale anyway).
- `peer_received`: the same tag → the local report, so the partner's retraction finds it.
- `peer_shared`: sealed (partner number, warning id) per report SHARE sent: where a retraction
  goes when the report is withdrawn or removed.
- `peer_days`: today's counts per partner and kind (HMAC of its number and the UTC day).

Synchronous functions on a `sqlite3.Connection`, for the database thread, inside the caller's
transaction.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Final, Literal

from relay.crypto.seal import Sealer, TamperedError, aad_for, new_row_key
from relay.store.times import hour_ms, to_ms

Counted = Literal["sent", "accepted", "refused", "told"]

SEEN_FOR: Final = timedelta(days=60)
ID_PURPOSE: Final = "peer-id"
DAY_PURPOSE: Final = "peer-day"


def id_tag(sealer: Sealer, partner_number: str, warning_id: str) -> bytes:
    """A partner's warning id, keyed: the same id from another partner is another tag."""
    return sealer.lookup(f"{partner_number}/{warning_id}", purpose=ID_PURPOSE)


def day_of(now: datetime) -> datetime:
    """The UTC day ``now`` falls in (caps are per UTC day)."""
    return datetime.combine(now.astimezone(UTC).date(), datetime.min.time(), tzinfo=UTC)


def _day_tag(sealer: Sealer, partner_number: str, now: datetime) -> tuple[bytes, int]:
    day = day_of(now)
    tag = sealer.lookup(f"{partner_number}/{day.date().isoformat()}", purpose=DAY_PURPOSE)
    return tag, to_ms(day)


# --- ids taken, links --------------------------------------------------------------------------


def taken(conn: sqlite3.Connection, tag: bytes) -> bool:
    """Was this partner's warning (or retraction of it) id taken before?"""
    row = conn.execute("SELECT 1 FROM peer_seen WHERE tag = ?", (tag,)).fetchone()
    return row is not None


def take(conn: sqlite3.Connection, tag: bytes, now: datetime) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO peer_seen (tag, until_hour) VALUES (?, ?)",
        (tag, hour_ms(now + SEEN_FOR, up=True)),
    )


def link(conn: sqlite3.Connection, tag: bytes, number: int) -> None:
    """The partner's warning ``tag`` is held here as report ``number``."""
    conn.execute("INSERT INTO peer_received (tag, number) VALUES (?, ?)", (tag, number))


def held_as(conn: sqlite3.Connection, tag: bytes) -> int | None:
    """The report a partner's warning is held as, if it still is."""
    row = conn.execute("SELECT number FROM peer_received WHERE tag = ?", (tag,)).fetchone()
    return int(row[0]) if row is not None else None


# --- what SHARE sent ---------------------------------------------------------------------------


def shared(conn: sqlite3.Connection, sealer: Sealer, number: int, partner: str, wid: str) -> None:
    """Report ``number`` went to the partner relay ``partner`` (its number) as warning ``wid``."""
    row_key = new_row_key()
    detail = sealer.seal_json(
        {"partner": partner, "id": wid}, aad=aad_for("peer_shared", "detail", row_key)
    )
    conn.execute(
        "INSERT INTO peer_shared (number, row_key, detail) VALUES (?, ?, ?)",
        (number, row_key, detail),
    )


def shared_with(conn: sqlite3.Connection, sealer: Sealer, number: int) -> list[tuple[str, str]]:
    """Where report ``number`` went: (partner number, warning id), sorted."""
    rows = conn.execute(
        "SELECT row_key, detail FROM peer_shared WHERE number = ?", (number,)
    ).fetchall()
    out = []
    for row_key, blob in rows:
        detail = sealer.open_json(bytes(blob), aad=aad_for("peer_shared", "detail", str(row_key)))
        if not isinstance(detail, dict):
            raise TamperedError("peer_shared.detail", "sealed value is not a share")
        out.append((str(detail.get("partner", "")), str(detail.get("id", ""))))
    return sorted(out)


# --- today's counts ----------------------------------------------------------------------------


def count(
    conn: sqlite3.Connection, sealer: Sealer, partner_number: str, what: Counted, now: datetime
) -> int:
    """How many ``what`` today (UTC) for the partner relay with this number."""
    tag, day = _day_tag(sealer, partner_number, now)
    row = conn.execute(
        "SELECT count FROM peer_days WHERE tag = ? AND what = ? AND day = ?", (tag, what, day)
    ).fetchone()
    return int(row[0]) if row is not None else 0


def bump(
    conn: sqlite3.Connection, sealer: Sealer, partner_number: str, what: Counted, now: datetime
) -> None:
    """One more ``what`` today; yesterday's counts go."""
    tag, day = _day_tag(sealer, partner_number, now)
    conn.execute("DELETE FROM peer_days WHERE day < ?", (day,))
    conn.execute(
        "INSERT INTO peer_days (tag, what, day, count) VALUES (?, ?, ?, 1) "
        "ON CONFLICT (tag, what) DO UPDATE SET count = count + 1",
        (tag, what, day),
    )


def prune(conn: sqlite3.Connection, now: datetime) -> int:
    """Retention: taken ids past their time and counts of past days go; how many rows went."""
    gone = conn.execute("DELETE FROM peer_seen WHERE until_hour <= ?", (to_ms(now),)).rowcount
    day = to_ms(day_of(now))
    gone += conn.execute("DELETE FROM peer_days WHERE day < ?", (day,)).rowcount
    return max(gone, 0)
