"""The phase fragments (`relay.store.phases`) on the real schema: they pick the phases the core
names, and the per-message lookups still use the partial indexes migration 001 made for them."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from relay.core.state import ALERT_PHASES, LIVE_PHASES, Phase
from relay.store import phases
from relay.store.db import Database


def _plan(conn: sqlite3.Connection, where: str) -> str:
    sql = f"EXPLAIN QUERY PLAN SELECT id FROM watches WHERE {where}"  # noqa: S608 — test fragments
    rows = conn.execute(sql, (b"t",) * where.count("?")).fetchall()
    return " | ".join(str(row[-1]) for row in rows)


@pytest.mark.parametrize(
    ("where", "index"),
    [
        (f"member_tag = ? AND {phases.NOT_CLOSED}", "watches_one_live"),
        (phases.OPEN_ALERT, "watches_alerted"),
    ],
)
async def test_lookups_use_the_partial_indexes(tmp_path: Path, where: str, index: str) -> None:
    db = await Database.open(tmp_path)
    try:
        plan = await db.run(lambda conn: _plan(conn, where))
    finally:
        await db.close()
    assert f"USING INDEX {index}" in plan, plan


async def test_fragments_pick_the_phases_the_core_names(tmp_path: Path) -> None:
    db = await Database.open(tmp_path)

    def picked(conn: sqlite3.Connection, where: str) -> set[Phase]:
        rows = conn.execute(f"SELECT phase FROM watches WHERE {where}").fetchall()  # noqa: S608 — test fragments
        return {Phase(row[0]) for row in rows}

    def fill_and_pick(conn: sqlite3.Connection) -> dict[str, set[Phase]]:
        conn.execute("PRAGMA foreign_keys=OFF")
        for phase in Phase:
            conn.execute(
                "INSERT INTO watches (id, member_tag, phase, started_at, detail) "
                "VALUES (?, ?, ?, 0, x'00')",
                (phase.value, phase.value.encode(), phase.value),
            )
        return {
            name: picked(conn, getattr(phases, name))
            for name in ("LIVE", "NOT_LIVE", "OPEN_ALERT", "NOT_CLOSED", "CLOSED")
        }

    try:
        found = await db.run(fill_and_pick)
    finally:
        await db.close()
    assert found == {
        "LIVE": set(LIVE_PHASES),
        "NOT_LIVE": set(Phase) - LIVE_PHASES,
        "OPEN_ALERT": set(ALERT_PHASES),
        "NOT_CLOSED": set(Phase) - {Phase.CLOSED},
        "CLOSED": {Phase.CLOSED},
    }


def test_fragments_refuse_what_is_not_a_phase() -> None:
    with pytest.raises(ValueError, match="no phases"):
        phases.phase_in(())
