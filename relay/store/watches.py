"""Watches (check-ins and alerts) in the database: sealed detail, visible phase and next wake-up.

`member_tag` (a keyed hash of her alias) is what finds her live watch or draft. A closed watch gets
a random tag instead, the same size: her finished check-ins and alerts are not linked to each
other, or to her live one, in a seized database (issue 17). What still needs them by member —
FORGET — opens each closed watch's sealed detail, which names her.
"""

from __future__ import annotations

import logging
import secrets
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import aiosqlite

from relay.core.state import ClientNote, Kind, Mark, Phase, Pin, Recipient, RecipientKind, Watch
from relay.core.types import MemberAlias
from relay.crypto.seal import Sealer, TamperedError, aad_for
from relay.store.db import Database
from relay.store.phases import LIVE, NOT_CLOSED, OPEN_ALERT
from relay.store.times import from_ms, hour_ms, opt_dt, opt_ms, to_ms

log = logging.getLogger(__name__)

_COLUMNS = "id, phase, next_at, started_at, closed_at, detail"
_UPSERT = (
    "INSERT INTO watches (id, member_tag, phase, next_at, started_at, closed_at, detail) "
    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
    "phase = excluded.phase, next_at = excluded.next_at, closed_at = excluded.closed_at, "
    "detail = excluded.detail, member_tag = excluded.member_tag, started_at = excluded.started_at"
)


def _rows(where: str, params: tuple[object, ...], conn: sqlite3.Connection) -> list[sqlite3.Row]:
    sql = f"SELECT {_COLUMNS} FROM watches WHERE {where}"  # noqa: S608 — fixed fragments only
    return conn.execute(sql, params).fetchall()


def _set_aside(watch_ids: list[str], conn: sqlite3.Connection) -> None:
    conn.executemany("UPDATE watches SET next_at = NULL WHERE id = ?", [(i,) for i in watch_ids])


def member_tag(sealer: Sealer, alias: MemberAlias) -> bytes:
    """The keyed tag of her live watch or draft (a closed one gets a random tag)."""
    return sealer.lookup(alias, purpose="watch-member")


def _recipient_json(r: Recipient) -> list[str]:
    return [r.kind.value, r.address, r.label]


class WatchRepo:
    def __init__(self, db: Database, sealer: Sealer) -> None:
        self.db = db
        self.sealer = sealer
        self._tags: dict[MemberAlias, bytes] = {}  # HMACs of aliases: one per member, kept

    def member_tag(self, alias: MemberAlias) -> bytes:
        tag = self._tags.get(alias)
        if tag is None:
            tag = self._tags[alias] = member_tag(self.sealer, alias)
        return tag

    def _seal(self, watch: Watch) -> bytes:
        detail: dict[str, Any] = {
            "member": watch.member,
            "kind": watch.kind.value,
            "deadline": to_ms(watch.deadline),
            "note": watch.note,
            "reminded": watch.reminded,
            "alert_started_at": opt_ms(watch.alert_started_at),
            "tiers_alerted": watch.tiers_alerted,
            "repeats": watch.repeats,
            "alerted": [_recipient_json(r) for r in watch.alerted],
            "acked_by": watch.acked_by,
            "pins": [[to_ms(p.at), p.lat, p.lng, p.label, p.original] for p in watch.pins],
            "client": [[to_ms(c.at), c.text] for c in watch.client],
            "photos": list(watch.photos),
            "marks": [[to_ms(m.at), m.what] for m in watch.marks],
            "cover_until": opt_ms(watch.cover_until),
            "told_nobody": watch.told_nobody,
            # Exact here; the columns hold them to the hour (relay.store.times.hour_ms).
            "started_at": to_ms(watch.started_at),
            "closed_at": opt_ms(watch.closed_at),
        }
        return self.sealer.seal_json(detail, aad=aad_for("watches", "detail", watch.id))

    def _load(self, row: aiosqlite.Row) -> Watch:
        detail: Any = self.sealer.open_json(
            row["detail"], aad=aad_for("watches", "detail", row["id"])
        )
        return Watch(
            id=row["id"],
            member=MemberAlias(detail["member"]),
            kind=Kind(detail["kind"]),
            phase=Phase(row["phase"]),
            started_at=from_ms(detail.get("started_at", row["started_at"])),
            deadline=from_ms(detail["deadline"]),
            next_at=opt_dt(row["next_at"]),
            note=detail["note"],
            reminded=bool(detail["reminded"]),
            alert_started_at=opt_dt(detail["alert_started_at"]),
            tiers_alerted=int(detail["tiers_alerted"]),
            repeats=int(detail["repeats"]),
            alerted=tuple(
                Recipient(RecipientKind(kind), address, label)
                for kind, address, label in detail["alerted"]
            ),
            acked_by=MemberAlias(detail["acked_by"]) if detail["acked_by"] else None,
            closed_at=opt_dt(detail.get("closed_at", row["closed_at"])),
            pins=tuple(
                Pin(from_ms(at), lat, lng, label, original)
                for at, lat, lng, label, original in detail.get("pins", ())
            ),
            client=tuple(ClientNote(from_ms(at), text) for at, text in detail.get("client", ())),
            photos=tuple(detail.get("photos", ())),
            marks=tuple(Mark(from_ms(at), what) for at, what in detail.get("marks", ())),
            cover_until=opt_dt(detail.get("cover_until")),
            told_nobody=bool(detail.get("told_nobody", False)),
        )

    async def _select(self, where: str, params: Iterable[object]) -> list[Watch]:
        # One round trip to the database thread, not three (execute, fetch, close).
        return await self.opened(await self.db.run(partial(_rows, where, tuple(params))))

    async def opened(self, rows: Sequence[sqlite3.Row]) -> list[Watch]:
        """Rows read by `*_rows` → watches, setting aside any that cannot be opened."""
        found, damaged = self._open(rows)
        if damaged:
            await self.db.write(partial(_set_aside, damaged))
        return found

    def opened_here(self, conn: sqlite3.Connection, rows: Sequence[sqlite3.Row]) -> list[Watch]:
        """`opened`, in the database thread inside the caller's transaction."""
        found, damaged = self._open(rows)
        _set_aside(damaged, conn)
        return found

    def _open(self, rows: Sequence[sqlite3.Row]) -> tuple[list[Watch], list[str]]:
        found, damaged = [], []
        for row in rows:
            try:
                found.append(self._load(row))
            except TamperedError as exc:
                # One damaged row must not stop every other check-in's timer: set it aside
                # (no more wake-ups for it) and say where, never what.
                log.error("a watch could not be opened (%s: %s); set aside", exc.where, exc.problem)
                damaged.append(row["id"])
        return found, damaged

    # Reads for `Database.run` (plain sqlite3, in the database thread), to combine with others.

    def live_rows(self, conn: sqlite3.Connection, alias: MemberAlias) -> list[sqlite3.Row]:
        return _rows(f"member_tag = ? AND {NOT_CLOSED}", (self.member_tag(alias),), conn)

    def get_here(self, conn: sqlite3.Connection, watch_id: str) -> Watch | None:
        """`get`, in the database thread inside the caller's transaction."""
        found = self.opened_here(conn, _rows("id = ?", (watch_id,), conn))
        return found[0] if found else None

    @staticmethod
    def alert_rows(conn: sqlite3.Connection) -> list[sqlite3.Row]:
        """Live alerts (anyone's): `alerted_in` picks those a member was sent."""
        return _rows(OPEN_ALERT, (), conn)

    @staticmethod
    def alerted_in(watches: Iterable[Watch], alias: MemberAlias) -> list[Watch]:
        me = Recipient.member(alias)
        return [w for w in watches if me in w.alerted]

    async def live_for(self, alias: MemberAlias) -> Watch | None:
        found = await self._select(f"member_tag = ? AND {NOT_CLOSED}", (self.member_tag(alias),))
        return found[0] if found else None

    async def get(self, watch_id: str) -> Watch | None:
        found = await self._select("id = ?", (watch_id,))
        return found[0] if found else None

    async def open_alerts_for(self, alias: MemberAlias) -> list[Watch]:
        """Live alerts this member was sent (she may ACK or RESOLVE them)."""
        return self.alerted_in(await self.opened(await self.db.run(self.alert_rows)), alias)

    async def due(self, now: datetime) -> list[Watch]:
        return await self.by_ids(await self.due_ids(now))

    async def due_ids(self, now: datetime) -> list[str]:
        """Ids of the watches due at `now`, soonest first (nothing unsealed)."""
        rows = await self.db.conn.execute_fetchall(
            "SELECT id FROM watches WHERE next_at IS NOT NULL AND next_at <= ? ORDER BY next_at",
            (to_ms(now),),
        )
        return [row[0] for row in rows]

    async def by_ids(self, ids: Sequence[str]) -> list[Watch]:
        """These watches, soonest wake-up first (any no longer there are left out)."""
        if not ids:
            return []
        marks = ", ".join("?" * len(ids))
        return await self._select(f"id IN ({marks}) ORDER BY next_at", ids)

    async def next_wake(self) -> datetime | None:
        row = await self.db.one("SELECT MIN(next_at) FROM watches")
        return opt_dt(row[0]) if row else None

    async def live_members(self) -> list[MemberAlias]:
        """Members with a live check-in or alert (a rules reload keeps their rules for them)."""
        found = await self._select(LIVE, ())
        return [w.member for w in found]

    async def count_due(self, now: datetime) -> int:
        """How many watches are due at `now`, without reading (and unsealing) them."""
        rows = await self.db.conn.execute_fetchall(
            "SELECT COUNT(*) FROM watches WHERE next_at IS NOT NULL AND next_at <= ?",
            (to_ms(now),),
        )
        return int(next(iter(rows))[0])

    async def count_live(self) -> int:
        row = await self.db.one(f"SELECT COUNT(*) FROM watches WHERE {LIVE}")  # noqa: S608 — a fixed fragment
        return int(row[0]) if row else 0

    async def shift(self, conn: aiosqlite.Connection, delta: timedelta) -> int:
        """Move every live watch's times by `delta` (the wall clock jumped); how many moved."""
        live = await self._select(NOT_CLOSED, ())
        for watch in live:
            await self.save(
                conn,
                watch.evolve(
                    started_at=watch.started_at + delta,
                    deadline=watch.deadline + delta,
                    next_at=watch.next_at + delta if watch.next_at else None,
                    alert_started_at=(
                        watch.alert_started_at + delta if watch.alert_started_at else None
                    ),
                    cover_until=watch.cover_until + delta if watch.cover_until else None,
                ),
            )
        return len(live)

    async def save(self, conn: aiosqlite.Connection, watch: Watch) -> None:
        """Insert or update inside the caller's transaction."""
        await self.save_many(conn, (watch,))

    async def save_many(self, conn: aiosqlite.Connection, watches: Sequence[Watch]) -> None:
        """Insert or update several in one trip to the database thread."""
        if watches:
            await conn.executemany(_UPSERT, self.rows(watches))

    def rows(self, watches: Sequence[Watch]) -> list[tuple[object, ...]]:
        """Sealed rows for `store_rows` (sealing stays on the caller's thread)."""
        return [self._row(watch) for watch in watches]

    @staticmethod
    def store_rows(conn: sqlite3.Connection, rows: list[tuple[object, ...]]) -> None:
        """Insert or update, inside the caller's `Database.write`."""
        if rows:
            conn.executemany(_UPSERT, rows)

    def _row(self, watch: Watch) -> tuple[object, ...]:
        closed = watch.phase is Phase.CLOSED
        return (
            watch.id,
            secrets.token_bytes(len(self.member_tag(watch.member)))
            if closed
            else self.member_tag(watch.member),
            watch.phase.value,
            opt_ms(watch.next_at),  # exact: the timer wakes on it
            hour_ms(watch.started_at),
            hour_ms(watch.closed_at, up=True) if watch.closed_at is not None else None,
            self._seal(watch),
        )
