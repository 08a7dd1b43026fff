"""The issue-21 tables on a real SQLite file: deliveries and their keyed stamps, drills and
their rate limit — and, as issue 17 keeps the whole database, nothing readable without the key:
no tag on two rows, no time but a live deadline finer than the hour. The repositories are
synchronous (the database thread): driven here through `Database.run`/`write`, as the relay
does."""

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
from relay.store.db import DB_NAME, Database
from relay.store.deliveries import ALERT, DRILL, DeliveryRepo, Recipient
from relay.store.practice import PracticeRepo
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
    store = DeliveryRepo(Sealer(MasterKey.generate()))
    entry = store.new(ALERT, "w1", T0)
    entry.recipients += [
        Recipient(BOB, "bob", False, 1, T0, [1001]),
        Recipient(CAROL, "carol", False, 1, T0, [1001]),
    ]
    entry.checks[1] = T0 + timedelta(minutes=2)
    drill = store.new(DRILL, "d1", T0)
    drill.recipients.append(Recipient(BOB, "bob", False, 0, T0, [1002], T0 + timedelta(seconds=5)))

    def put(conn: sqlite3.Connection) -> None:
        store.put(conn, entry, [1001])
        store.put(conn, drill, [1002])

    await db.write(put)

    def read(conn: sqlite3.Connection) -> None:
        assert store.target(conn, 1001) == (ALERT, "w1")
        assert store.target(conn, 1002) == (DRILL, "d1")
        assert store.target(conn, 999) is None
        again = store.get(conn, ALERT, "w1")
        assert again is not None and [r.label for r in again.recipients] == ["bob", "carol"]
        assert again.checks == {1: T0 + timedelta(minutes=2)}
        assert store.next_check(conn) == T0 + timedelta(minutes=2)
        assert [e.ref for e in store.due(conn, T0 + timedelta(minutes=2))] == ["w1"]
        assert store.due(conn, T0 + timedelta(minutes=1)) == []
        practice = store.get(conn, DRILL, "d1")
        assert practice is not None
        assert practice.recipients[0].reach().on_phone == T0 + timedelta(seconds=5)
        assert store.known_stamps(conn, T0) == {store.stamp_tag(1001), store.stamp_tag(1002)}

    await db.run(read)

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

    assert await db.write(lambda conn: store.purge(conn, T0 + timedelta(days=3))) == 2
    assert await db.run(lambda conn: store.target(conn, 1001)) is None
    assert await db.run(lambda conn: store.get(conn, ALERT, "w1")) is None


async def test_drills_and_her_rate_limit_come_back_from_the_store(
    db: Database, tmp_path: Path
) -> None:
    store = PracticeRepo(Sealer(MasterKey.generate()))
    asked = (
        Asked(MemberAlias("bob"), 1, T0 + timedelta(minutes=1)),
        Asked(MemberAlias("carol"), 1),
    )
    drill = Drill(
        "d1", MemberAlias("alice"), "b1", AskedBy.MEMBER, T0, T0 + timedelta(minutes=10), asked
    )
    done = Drill("d2", MemberAlias("alice"), "b2", AskedBy.ADMIN, T0, None, (), DrillState.DONE)

    def save(conn: sqlite3.Connection) -> None:
        store.save(conn, [drill, done])
        store.ran_own(conn, "alice", T0, T0 + timedelta(days=1))

    await db.write(save)
    assert await db.run(store.running) == [drill]
    assert await db.run(lambda conn: store.asking(conn, "carol")) == [drill]
    assert await db.run(lambda conn: store.asking(conn, "bob")) == []  # she answered
    assert await db.run(store.next_report) == T0 + timedelta(minutes=10)
    assert await db.run(lambda conn: store.last_own(conn, "alice")) == T0
    assert await db.run(lambda conn: store.last_own(conn, "bob")) is None
    await db.write(lambda conn: store.purge(conn, T0 + timedelta(days=1), T0 + timedelta(hours=2)))
    assert await db.run(store.running) == [drill]  # a running drill is never purged
    assert await db.run(lambda conn: store.last_own(conn, "alice")) == T0  # her limit applies
    await db.write(lambda conn: store.purge(conn, T0 + timedelta(days=8), T0 + timedelta(days=2)))
    assert await db.run(lambda conn: store.last_own(conn, "alice")) is None
    await db.checkpoint()
    with sqlite3.connect(tmp_path / DB_NAME) as con:
        assert con.execute("SELECT COUNT(*) FROM drills").fetchone() == (1,)
    raw = (tmp_path / DB_NAME).read_bytes()
    assert b"alice" not in raw and b"carol" not in raw
