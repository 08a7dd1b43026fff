"""The issue-21 tables on a real SQLite file: deliveries and their keyed stamps, drills; nothing
in them readable without the key."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from relay.core.drills import Asked, AskedBy, Drill, DrillState
from relay.core.types import MemberAlias
from relay.crypto.keys import MasterKey
from relay.crypto.seal import Sealer
from relay.delivery.store import ALERT, DeliveryStore, Sent
from relay.drills.store import DrillStore
from relay.store.db import DB_NAME, Database

T0 = datetime(2026, 12, 1, 20, 0, tzinfo=UTC)
BOB, CAROL = "+12025550102", "+12025550103"


@pytest.fixture
async def db(tmp_path: Path) -> Database:
    database = await Database.open(tmp_path)
    yield database  # type: ignore[misc]
    await database.close()


async def test_a_receipt_finds_its_recipient_and_the_first_times_are_kept(
    db: Database, tmp_path: Path
) -> None:
    store = DeliveryStore(db, Sealer(MasterKey.generate()))
    check = T0 + timedelta(minutes=2)
    # One batched send to bob and carol shares a stamp; a repeat to bob later adds a stamp.
    await store.record(
        [
            Sent(ALERT, "w1", BOB, "bob", 1, T0, 1001, check),
            Sent(ALERT, "w1", CAROL, "carol", 1, T0, 1001, check),
        ]
    )
    await store.record([Sent(ALERT, "w1", BOB, "bob", 2, T0 + timedelta(minutes=5), 1002, None)])
    shared = await store.rows_for_stamp(1001)
    assert len(shared) == 2
    (repeat,) = await store.rows_for_stamp(1002)
    assert repeat.recipient_tag == store.recipient_tag(BOB)
    await store.mark([repeat.id], read=False, at=T0 + timedelta(minutes=6))
    await store.mark([repeat.id], read=True, at=T0 + timedelta(minutes=7))
    reaches = {r.label: r for r in await store.reaches(ALERT, "w1")}
    assert reaches["bob"].tier == 1 and reaches["bob"].sent_at == T0  # her first message's
    assert reaches["bob"].delivered_at == T0 + timedelta(minutes=6)
    assert reaches["bob"].read_at == T0 + timedelta(minutes=7)
    assert reaches["carol"].on_phone is None
    assert await store.next_check() == check
    assert await store.due_checks(check) == [("w1", 1)]
    await store.done_checking("w1", 1)
    assert await store.due_checks(check) == [] and await store.next_check() is None
    # An answer proves it reached her phone.
    await store.mark_answered(ALERT, "w1", CAROL, T0 + timedelta(minutes=3))
    assert {r.label: r for r in await store.reaches(ALERT, "w1")}["carol"].on_phone is not None
    assert await store.known_stamps(T0) == {store.stamp_tag(1001), store.stamp_tag(1002)}
    assert await store.purge(T0 + timedelta(days=3)) == 2
    assert await store.rows_for_stamp(1001) == []
    await db.checkpoint()
    raw = (tmp_path / DB_NAME).read_bytes()
    for secret in (BOB.encode(), b"carol", b"1001"):
        assert secret not in raw


async def test_drills_come_back_from_the_store_and_count_for_the_rate_limit(
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
    admins = Drill(
        "d2",
        MemberAlias("alice"),
        "b2",
        AskedBy.ADMIN,
        T0 + timedelta(hours=1),
        None,
        (),
        DrillState.DONE,
    )
    async with db.transaction() as conn:
        await store.save(conn, drill)
        await store.save(conn, admins)
    assert await store.running() == [drill]
    assert await store.last_own("alice") == T0  # the admin's drill is not hers
    assert await store.last_own("bob") is None
    async with db.transaction() as conn:
        await store.purge(conn, T0 + timedelta(days=1))
    assert await store.running() == [drill]  # a running drill is never purged
    await db.checkpoint()
    conn = sqlite3.connect(tmp_path / DB_NAME)
    assert conn.execute("SELECT COUNT(*) FROM drills").fetchone() == (1,)
    raw = (tmp_path / DB_NAME).read_bytes()
    assert b"alice" not in raw and b"carol" not in raw
