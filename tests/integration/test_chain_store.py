"""The issue-21 tables on a real SQLite file: deliveries and their keyed stamps, drills and
their rate limit — and, as issue 17 keeps the whole database, nothing readable without the key:
no tag on two rows, no time but a live deadline finer than the hour."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from relay.core.drills import Asked, AskedBy, Drill, DrillState
from relay.core.types import MemberAlias
from relay.crypto.keys import MasterKey
from relay.crypto.seal import Sealer
from relay.delivery.store import ALERT, DRILL, DeliveryStore, Recipient
from relay.drills.store import DrillStore
from relay.store.db import DB_NAME, Database
from relay.store.times import HOUR_MS

T0 = datetime(2026, 12, 1, 20, 17, 23, tzinfo=UTC)
BOB, CAROL = "+12025550102", "+12025550103"


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path)
    yield database
    await database.close()


def every_value(path: Path) -> list[tuple[str, str, object]]:
    with sqlite3.connect(path / DB_NAME) as con:
        names = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return [
            (name, str(column[0]), value)
            for name in names
            for row in [con.execute(f"SELECT * FROM {name}")]  # noqa: S608 — schema names
            for values in row.fetchall()
            for column, value in zip(row.description, values, strict=True)
        ]


async def test_deliveries_come_back_with_the_key_and_link_nothing_without_it(
    db: Database, tmp_path: Path
) -> None:
    store = DeliveryStore(db, Sealer(MasterKey.generate()))
    entry = store.new(ALERT, "w1", T0)
    entry.recipients += [
        Recipient(BOB, "bob", False, 1, T0, [1001]),
        Recipient(CAROL, "carol", False, 1, T0, [1001]),
    ]
    entry.checks[1] = T0 + timedelta(minutes=2)
    await store.put(entry, [1001])
    drill = store.new(DRILL, "d1", T0)
    drill.recipients.append(Recipient(BOB, "bob", False, 0, T0, [1002], T0 + timedelta(seconds=5)))
    await store.put(drill, [1002])

    assert await store.target(1001) == (ALERT, "w1")
    assert await store.target(1002) == (DRILL, "d1")
    assert await store.target(999) is None
    again = await store.get(ALERT, "w1")
    assert again is not None and [r.label for r in again.recipients] == ["bob", "carol"]
    assert again.checks == {1: T0 + timedelta(minutes=2)}
    assert await store.next_check() == T0 + timedelta(minutes=2)
    assert [e.ref for e in await store.due(T0 + timedelta(minutes=2))] == ["w1"]
    assert await store.due(T0 + timedelta(minutes=1)) == []
    reaches = [r.reach() for r in (await store.get(DRILL, "d1")).recipients]  # type: ignore[union-attr]
    assert reaches[0].on_phone == T0 + timedelta(seconds=5)
    assert await store.known_stamps(T0) == {store.stamp_tag(1001), store.stamp_tag(1002)}

    await db.checkpoint()
    tags: dict[bytes, list[str]] = {}
    for table, column, value in every_value(tmp_path):
        if isinstance(value, bytes) and len(value) == 32:
            tags.setdefault(value, []).append(f"{table}.{column}")
        if isinstance(value, int) and value > 10**12 and value % HOUR_MS:
            assert f"{table}.{column}" == "deliveries.check_at", (table, column)  # a deadline
    assert all(len(places) == 1 for places in tags.values()), tags
    raw = (tmp_path / DB_NAME).read_bytes()
    for secret in (BOB.encode(), b"carol", b'"w1"', b"1001"):
        assert secret not in raw

    assert await store.purge(T0 + timedelta(days=3)) == 2
    assert await store.target(1001) is None and await store.get(ALERT, "w1") is None


async def test_drills_and_her_rate_limit_come_back_from_the_store(
    db: Database, tmp_path: Path
) -> None:
    store = DrillStore(db, Sealer(MasterKey.generate()))
    asked = (
        Asked(MemberAlias("bob"), 1, T0 + timedelta(minutes=1)),
        Asked(MemberAlias("carol"), 1),
    )
    drill = Drill(
        "d1", MemberAlias("alice"), "b1", AskedBy.MEMBER, T0, T0 + timedelta(minutes=10), asked
    )
    done = Drill("d2", MemberAlias("alice"), "b2", AskedBy.ADMIN, T0, None, (), DrillState.DONE)
    async with db.transaction() as conn:
        await store.save(conn, drill)
        await store.save(conn, done)
        await store.ran_own(conn, "alice", T0, T0 + timedelta(days=1))
    assert await store.running() == [drill]
    assert await store.last_own("alice") == T0
    assert await store.last_own("bob") is None
    async with db.transaction() as conn:
        await store.purge(conn, T0 + timedelta(days=1), T0 + timedelta(hours=2))
    assert await store.running() == [drill]  # a running drill is never purged
    assert await store.last_own("alice") == T0  # her limit still applies
    async with db.transaction() as conn:
        await store.purge(conn, T0 + timedelta(days=8), T0 + timedelta(days=2))
    assert await store.last_own("alice") is None
    await db.checkpoint()
    with sqlite3.connect(tmp_path / DB_NAME) as con:
        assert con.execute("SELECT COUNT(*) FROM drills").fetchone() == (1,)
    raw = (tmp_path / DB_NAME).read_bytes()
    assert b"alice" not in raw and b"carol" not in raw
