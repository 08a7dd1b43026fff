"""The practice drills' tables (migration 009), kept as issue 17 keeps everything: a seized
database links nobody. A drill's row holds in clear only its report's deadline (while it runs)
and the hour it started; whose it was, who was asked and answered, its batch and exact times are
sealed. Her own DRILLs' rate limit is one row per member (a keyed tag of her alias, sealed time),
deleted once the limit no longer applies. The rules' schedule is one row: the hour it last ran,
and when the first run is due.

Every call is synchronous on a `sqlite3.Connection`, in the database thread: inside the
pipeline's transaction, or in one `Database.run`/`write` trip of the drills' timer.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from relay.core.drills import Asked, AskedBy, Drill, DrillState
from relay.core.types import MemberAlias
from relay.crypto.seal import Sealer, TamperedError, aad_for, new_row_key
from relay.store.times import from_ms, hour_ms, opt_dt, opt_ms, to_ms

_UPSERT = (
    "INSERT INTO drills (id, state, report_at, started_hour, detail) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (id) DO UPDATE SET state = excluded.state, report_at = excluded.report_at, "
    "detail = excluded.detail"
)


class PracticeRepo:
    def __init__(self, sealer: Sealer) -> None:
        self.sealer = sealer

    def member_tag(self, alias: str) -> bytes:
        return self.sealer.lookup(alias, purpose="drill-member")

    def save(self, conn: sqlite3.Connection, drills: Sequence[Drill]) -> None:
        """Inside the caller's transaction (the one that queues their messages)."""
        conn.executemany(_UPSERT, [self._row(drill) for drill in drills])

    def _row(self, drill: Drill) -> tuple[object, ...]:
        detail: dict[str, Any] = {
            "member": drill.member,
            "batch": drill.batch,
            "by": drill.asked_by.value,
            "started": to_ms(drill.started_at),
            "cover": drill.cover,
            "asked": [[a.alias, a.tier, opt_ms(a.answered_at)] for a in drill.asked],
        }
        return (
            drill.id,
            drill.state.value,
            opt_ms(drill.report_at),
            hour_ms(drill.started_at),
            self.sealer.seal_json(detail, aad=aad_for("drills", "detail", drill.id)),
        )

    def running(self, conn: sqlite3.Connection) -> list[Drill]:
        """The drills still running, oldest first (a damaged one is left out)."""
        rows = conn.execute(
            "SELECT id, state, report_at, detail FROM drills WHERE state = 'running'"
        ).fetchall()
        found = [d for d in (self._load(r) for r in rows) if d is not None]
        return sorted(found, key=lambda d: d.started_at)

    def asking(self, conn: sqlite3.Connection, alias: str) -> list[Drill]:
        """Running drills waiting for `alias`'s answer."""
        return [d for d in self.running(conn) if d.waiting_on(alias)]

    @staticmethod
    def next_report(conn: sqlite3.Connection) -> datetime | None:
        """When the first running drill's report is due (nothing unsealed)."""
        row = conn.execute(
            "SELECT MIN(report_at) FROM drills WHERE state = 'running' AND report_at IS NOT NULL"
        ).fetchone()
        return opt_dt(row[0]) if row else None

    # --- her own drills' rate limit ----------

    def last_own(self, conn: sqlite3.Connection, alias: str) -> datetime | None:
        """When she last ran a drill herself (None: not within the limit's reach)."""
        row = conn.execute(
            "SELECT row_key, detail FROM drill_limits WHERE member_tag = ?",
            (self.member_tag(alias),),
        ).fetchone()
        if row is None:
            return None
        try:
            opened = self.sealer.open_json(row[1], aad=aad_for("drill_limits", "detail", row[0]))
        except TamperedError:
            return None
        return _when(opened)

    def ran_own(self, conn: sqlite3.Connection, alias: str, at: datetime, until: datetime) -> None:
        """She ran one herself at `at`; the row may go after `until` (the limit's end)."""
        row_key = new_row_key()
        conn.execute(
            "INSERT INTO drill_limits (member_tag, row_key, until_hour, detail) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (member_tag) DO UPDATE SET row_key = "
            "excluded.row_key, until_hour = excluded.until_hour, detail = excluded.detail",
            (
                self.member_tag(alias),
                row_key,
                hour_ms(until, up=True),
                self.sealer.seal_json(to_ms(at), aad=aad_for("drill_limits", "detail", row_key)),
            ),
        )

    # --- the rules' schedule ----------

    @staticmethod
    def schedule_state(
        conn: sqlite3.Connection,
    ) -> tuple[datetime | None, datetime | None, str | None]:
        """(last run, to the hour; first run due; the plan it was due for)."""
        row = conn.execute(
            "SELECT last_hour, first_at, plan FROM drill_schedule WHERE id = 1"
        ).fetchone()
        if row is None:
            return None, None, None
        return opt_dt(row[0]), opt_dt(row[1]), row[2]

    @staticmethod
    def plan_first(conn: sqlite3.Connection, first_at: datetime, plan: str) -> None:
        conn.execute(
            "INSERT INTO drill_schedule (id, first_at, plan) VALUES (1, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET first_at = excluded.first_at, plan = excluded.plan",
            (to_ms(first_at), plan),
        )

    @staticmethod
    def mark_scheduled(conn: sqlite3.Connection, at: datetime) -> None:
        conn.execute(
            "INSERT INTO drill_schedule (id, last_hour) VALUES (1, ?) "
            "ON CONFLICT (id) DO UPDATE SET last_hour = excluded.last_hour",
            (hour_ms(at),),
        )

    # --- retention ----------

    @staticmethod
    def purge(conn: sqlite3.Connection, before: datetime, now: datetime) -> None:
        """Finished drills started before `before`; rate limits that no longer apply."""
        conn.execute(
            "DELETE FROM drills WHERE state = 'done' AND started_hour < ?", (hour_ms(before),)
        )
        conn.execute("DELETE FROM drill_limits WHERE until_hour < ?", (hour_ms(now),))

    def _load(self, row: sqlite3.Row) -> Drill | None:
        try:
            detail = self.sealer.open_json(row[3], aad=aad_for("drills", "detail", row[0]))
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
        started = _when(detail.get("started"))
        if started is None:
            return None
        return Drill(
            id=row[0],
            member=MemberAlias(str(detail.get("member"))),
            batch=str(detail.get("batch")),
            asked_by=AskedBy(str(detail.get("by"))),
            started_at=started,
            report_at=opt_dt(row[2]),
            asked=asked,
            state=DrillState(row[1]),
            cover=bool(detail.get("cover")),
        )


def _when(value: object) -> datetime | None:
    return from_ms(value) if isinstance(value, int) else None
