"""The drills table (migration 009): each drill sealed, with in clear only what the timer and the
rate limit need — whose (a keyed tag), when it started, when its report is due."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import aiosqlite

from relay.core.drills import Asked, AskedBy, Drill, DrillState
from relay.core.types import MemberAlias
from relay.crypto.seal import Sealer, TamperedError, aad_for
from relay.store.db import Database
from relay.store.times import from_ms, opt_dt, opt_ms, to_ms

_UPSERT = (
    "INSERT INTO drills (id, member_tag, batch, state, asked_by, started_at, report_at, detail) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET state = excluded.state, "
    "report_at = excluded.report_at, detail = excluded.detail"
)


class DrillStore:
    def __init__(self, db: Database, sealer: Sealer) -> None:
        self.db = db
        self.sealer = sealer

    def member_tag(self, alias: str) -> bytes:
        return self.sealer.lookup(alias, purpose="drill-member")

    async def save(self, conn: aiosqlite.Connection, drill: Drill) -> None:
        """Inside the caller's transaction (the one that queues its messages)."""
        detail: dict[str, Any] = {
            "member": drill.member,
            "cover": drill.cover,
            "asked": [[a.alias, a.tier, opt_ms(a.answered_at)] for a in drill.asked],
        }
        await conn.execute(
            _UPSERT,
            (
                drill.id,
                self.member_tag(drill.member),
                drill.batch,
                drill.state.value,
                drill.asked_by.value,
                to_ms(drill.started_at),
                opt_ms(drill.report_at),
                self.sealer.seal_json(detail, aad=aad_for("drills", "detail", drill.id)),
            ),
        )

    async def running(self) -> list[Drill]:
        rows = await self.db.conn.execute_fetchall(
            "SELECT * FROM drills WHERE state = 'running' ORDER BY started_at"
        )
        return [d for d in (self._load(r) for r in rows) if d is not None]

    async def last_own(self, alias: str) -> datetime | None:
        """When she last ran a drill herself (the rate limit; the admin's do not count)."""
        row = await self.db.one(
            "SELECT MAX(started_at) FROM drills WHERE member_tag = ? AND asked_by = 'member'",
            (self.member_tag(alias),),
        )
        return opt_dt(row[0]) if row is not None else None

    async def schedule_state(self) -> tuple[datetime | None, datetime | None, str | None]:
        """(last run, first run due, the plan it was due for) of the rules' schedule."""
        row = await self.db.one("SELECT last_run, first_at, plan FROM drill_schedule WHERE id = 1")
        if row is None:
            return None, None, None
        return opt_dt(row[0]), opt_dt(row[1]), row[2]

    @staticmethod
    async def plan_first(conn: aiosqlite.Connection, first_at: datetime, plan: str) -> None:
        await conn.execute(
            "INSERT INTO drill_schedule (id, first_at, plan) VALUES (1, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET first_at = excluded.first_at, plan = excluded.plan",
            (to_ms(first_at), plan),
        )

    @staticmethod
    async def mark_scheduled(conn: aiosqlite.Connection, at: datetime) -> None:
        await conn.execute(
            "INSERT INTO drill_schedule (id, last_run) VALUES (1, ?) "
            "ON CONFLICT (id) DO UPDATE SET last_run = excluded.last_run",
            (to_ms(at),),
        )

    async def purge(self, conn: aiosqlite.Connection, before: datetime) -> None:
        """Finished drills started before `before` (kept that long for the rate limit)."""
        await conn.execute(
            "DELETE FROM drills WHERE state = 'done' AND started_at < ?", (to_ms(before),)
        )

    def _load(self, row: aiosqlite.Row) -> Drill | None:
        try:
            detail = self.sealer.open_json(
                row["detail"], aad=aad_for("drills", "detail", row["id"])
            )
        except TamperedError:
            return None  # a damaged drill is not reported; it never blocks the others
        if not isinstance(detail, dict):
            return None
        listed = detail.get("asked")
        asked = tuple(
            Asked(MemberAlias(str(a[0])), int(str(a[1])), _when(a[2]))
            for a in (listed if isinstance(listed, list) else [])
            if isinstance(a, list) and len(a) == 3
        )
        return Drill(
            id=row["id"],
            member=MemberAlias(str(detail.get("member"))),
            batch=row["batch"],
            asked_by=AskedBy(row["asked_by"]),
            started_at=from_ms(row["started_at"]),
            report_at=opt_dt(row["report_at"]),
            asked=asked,
            state=DrillState(row["state"]),
            cover=bool(detail.get("cover")),
        )


def _when(value: object) -> datetime | None:
    return from_ms(value) if isinstance(value, int) else None
