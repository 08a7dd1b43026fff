"""The store on a real SQLite file: migrations, durability settings, sealing, outbox order."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from relay.core.state import Kind, Phase, Recipient, Watch
from relay.core.types import MemberAlias
from relay.crypto.keys import MasterKey
from relay.crypto.seal import Sealer
from relay.store.db import DB_NAME, Database, SchemaTooNew, savepoint
from relay.store.outbox import OutboxRepo, Queued
from relay.store.watches import WatchRepo

MIGRATIONS = Path(__file__).resolve().parents[2] / "relay" / "store" / "migrations"
T0 = datetime(2026, 11, 26, 20, 0, tzinfo=UTC)
NOTE = "canary-note-7f3a Hotel Rex"
NUMBER = "+12025550177"


@pytest.fixture
def sealer() -> Sealer:
    return Sealer(MasterKey.generate())


async def test_pragmas_and_migrations(tmp_path: Path) -> None:
    db = await Database.open(tmp_path)
    async with db.conn.execute("PRAGMA journal_mode") as cur:
        assert (await cur.fetchone())[0] == "wal"
    async with db.conn.execute("PRAGMA synchronous") as cur:
        # NORMAL: commits are made durable in groups, before any send (Database.synced_read).
        assert (await cur.fetchone())[0] == 1
    newest = max(int(p.name.split("_")[0]) for p in MIGRATIONS.glob("*.sql"))
    async with db.conn.execute("PRAGMA user_version") as cur:
        assert (await cur.fetchone())[0] == newest
    await db.close()
    db = await Database.open(tmp_path)  # re-opening applies nothing twice
    await db.close()


async def test_refuses_a_newer_schema(tmp_path: Path) -> None:
    await (await Database.open(tmp_path)).close()
    with sqlite3.connect(tmp_path / DB_NAME) as raw:
        raw.execute("PRAGMA user_version=99")
    with pytest.raises(SchemaTooNew):
        await Database.open(tmp_path)


async def test_watch_round_trip_and_nothing_plain_on_disk(tmp_path: Path, sealer: Sealer) -> None:
    db = await Database.open(tmp_path)
    repo = WatchRepo(db, sealer)
    watch = Watch(
        member=MemberAlias("alice"),
        kind=Kind.CHECKIN,
        phase=Phase.ALERTED,
        started_at=T0,
        deadline=T0 + timedelta(hours=1),
        next_at=T0 + timedelta(hours=1, minutes=5),
        note=NOTE,
        alerted=(Recipient.member(MemberAlias("bob")),),
        alert_started_at=T0 + timedelta(hours=1),
        id="w-1",
    )
    async with db.transaction() as conn:
        await repo.save(conn, watch)
    assert await repo.live_for(MemberAlias("alice")) == watch
    assert await repo.open_alerts_for(MemberAlias("bob")) == [watch]
    assert await repo.open_alerts_for(MemberAlias("carol")) == []
    assert await repo.next_wake() == watch.next_at
    assert await repo.due(T0) == []
    assert await repo.due(T0 + timedelta(hours=2)) == [watch]
    await db.checkpoint()
    await db.close()
    raw = (tmp_path / DB_NAME).read_bytes()
    for secret in (b"canary-note-7f3a", b"alice", b"bob"):
        assert secret not in raw


async def test_one_live_watch_per_member(tmp_path: Path, sealer: Sealer) -> None:
    db = await Database.open(tmp_path)
    repo = WatchRepo(db, sealer)
    first = Watch(MemberAlias("alice"), Kind.CHECKIN, Phase.ACTIVE, T0, T0, T0, id="a")
    async with db.transaction() as conn:
        await repo.save(conn, first)
    with pytest.raises(sqlite3.IntegrityError):
        async with db.transaction() as conn:
            await repo.save(conn, first.evolve(id="b"))
    assert (await repo.live_for(MemberAlias("alice"))) == first  # the failed write rolled back
    await db.close()


async def test_outbox_keeps_order_per_recipient(tmp_path: Path, sealer: Sealer) -> None:
    db = await Database.open(tmp_path)
    repo = OutboxRepo(db, sealer)
    async with db.transaction() as conn:
        await repo.add(conn, Queued(NUMBER, "first", "reply"), T0)
        await repo.add(conn, Queued(NUMBER, "second", "reply"), T0)
        await repo.add(conn, Queued("+12025550178", "other", "alert"), T0)
    heads = await repo.heads(T0)
    assert [(h.address, h.text) for h in heads] == [(NUMBER, "first"), ("+12025550178", "other")]
    await repo.mark_failed(heads[0].id, "refused", T0 + timedelta(seconds=5))
    # Her first message waits for its retry; her second must not overtake it.
    assert [h.text for h in await repo.heads(T0 + timedelta(seconds=1))] == ["other"]
    await repo.mark_sent(heads[0].id, 1789000000001, T0 + timedelta(seconds=6))
    assert [h.text for h in await repo.heads(T0 + timedelta(seconds=6))] == ["second", "other"]
    assert await repo.backlog() == (2, T0)
    await db.close()
    raw = b"".join(path.read_bytes() for path in tmp_path.glob(f"{DB_NAME}*"))
    assert NUMBER.encode() not in raw and b"second" not in raw


async def test_stuck_alerts_are_reported_once(tmp_path: Path, sealer: Sealer) -> None:
    db = await Database.open(tmp_path)
    repo = OutboxRepo(db, sealer)
    async with db.transaction() as conn:
        await repo.add(conn, Queued(NUMBER, "alert", "alert", "w1", "bob"), T0)
        await repo.add(conn, Queued(NUMBER, "reply", "reply"), T0)
    assert await repo.stuck_alerts(T0 + timedelta(minutes=1), timedelta(minutes=2)) == []
    stuck = await repo.stuck_alerts(T0 + timedelta(minutes=3), timedelta(minutes=2))
    assert [(s.text, s.label) for s in stuck] == [("alert", "bob")]
    async with db.transaction() as conn:
        await repo.mark_reported(conn, [s.id for s in stuck])
    assert await repo.stuck_alerts(T0 + timedelta(minutes=9), timedelta(minutes=2)) == []
    await db.close()


async def test_a_damaged_row_is_set_aside_and_the_rest_still_flows(
    tmp_path: Path, sealer: Sealer
) -> None:
    db = await Database.open(tmp_path)
    watches, outbox = WatchRepo(db, sealer), OutboxRepo(db, sealer)
    a = Watch(MemberAlias("alice"), Kind.CHECKIN, Phase.ACTIVE, T0, T0, T0, id="a")
    b = Watch(MemberAlias("bob"), Kind.CHECKIN, Phase.ACTIVE, T0, T0, T0, id="b")
    async with db.transaction() as conn:
        await watches.save(conn, a)
        await watches.save(conn, b)
        await outbox.add(conn, Queued(NUMBER, "damaged", "alert"), T0)
        await outbox.add(conn, Queued("+12025550178", "fine", "alert"), T0)
        # One flipped byte in alice's sealed detail and in the first message's body.
        for table, column, key in (("watches", "detail", "'a'"), ("outbox", "body", "1")):
            where = f"id = {key}"
            rows = await conn.execute_fetchall(f"SELECT {column} FROM {table} WHERE {where}")  # noqa: S608
            blob = bytearray(rows[0][0])
            blob[-1] ^= 0x01
            await conn.execute(f"UPDATE {table} SET {column} = ? WHERE {where}", (bytes(blob),))  # noqa: S608
    assert await watches.due(T0) == [b]
    assert await watches.due(T0) == [b]  # alice's row no longer wakes the timer
    assert [h.text for h in await outbox.heads(T0)] == ["fine"]
    assert [h.text for h in await outbox.heads(T0)] == ["fine"]
    await db.close()


async def test_a_unit_of_work_runs_in_the_database_thread_all_or_nothing(tmp_path: Path) -> None:
    """Database.run/write lean on aiosqlite's Connection._execute (pinned in pyproject.toml)."""
    db = await Database.open(tmp_path)
    await db.write(lambda conn: conn.execute("INSERT INTO counters (name, value) VALUES ('a', 1)"))

    def half_then_fail(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO counters (name, value) VALUES ('b', 1)")
        raise RuntimeError("fails after a write")

    with pytest.raises(RuntimeError):
        await db.write(half_then_fail)
    rows = await db.run(lambda conn: conn.execute("SELECT name FROM counters").fetchall())
    assert [r[0] for r in rows] == ["a"]  # the failed unit left nothing behind
    await db.close()


async def test_a_failed_flush_is_tried_again_before_the_next_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the sender reads must be durable: a flush that failed leaves the commit unflushed.

    The disk error is simulated (it cannot be caused here); the flushes are counted."""
    db = await Database.open(tmp_path)
    flushed: list[Path] = []
    failing = [True]

    def flush(path: Path) -> None:
        if failing.pop() if failing else False:
            raise OSError(5, "Input/output error")
        flushed.append(path)

    monkeypatch.setattr("relay.store.db._fsync_file", flush)
    await db.write(lambda conn: conn.execute("INSERT INTO counters (name, value) VALUES ('a', 1)"))

    def read(conn: sqlite3.Connection) -> list[str]:
        return [r[0] for r in conn.execute("SELECT name FROM counters").fetchall()]

    try:
        with pytest.raises(OSError):
            await db.synced_read(read)
        assert await db.synced_read(read) == ["a"]
        assert flushed == [tmp_path / f"{DB_NAME}-wal"]  # flushed on the second look
        assert await db.synced_read(read) == ["a"]
        assert len(flushed) == 1  # nothing new committed: no third flush
    finally:
        await db.close()


async def test_a_commit_that_fails_leaves_no_transaction_open(tmp_path: Path) -> None:
    """SQLite keeps a transaction open when its COMMIT fails (here a deferred foreign key; on
    a Pi, a full or failing card can do the same). Every later write would then fail with
    "cannot start a transaction within a transaction": the relay could not take a check-in."""
    db = await Database.open(tmp_path)
    try:
        await db.run(
            lambda conn: conn.executescript(
                "CREATE TEMP TABLE parent (id INTEGER PRIMARY KEY);"
                "CREATE TEMP TABLE child (id INTEGER PRIMARY KEY, parent INTEGER"
                " REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED);"
            )
        )

        def orphan(conn: sqlite3.Connection) -> None:
            conn.execute("INSERT INTO counters (name, value) VALUES ('lost', 1)")
            conn.execute("INSERT INTO child (parent) VALUES (7)")

        with pytest.raises(sqlite3.IntegrityError):
            await db.write(orphan)
        with pytest.raises(sqlite3.IntegrityError):
            async with db.transaction() as conn:
                await conn.execute("INSERT INTO child (parent) VALUES (8)")

        await db.write(lambda c: c.execute("INSERT INTO counters (name, value) VALUES ('a', 1)"))
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO counters (name, value) VALUES ('b', 1)")
        rows = await db.run(lambda conn: conn.execute("SELECT name FROM counters").fetchall())
        assert sorted(r[0] for r in rows) == ["a", "b"]  # the failed ones left nothing
    finally:
        await db.close()


async def test_a_savepoint_undoes_only_its_own_part(tmp_path: Path) -> None:
    """One message of a batch failing loses its own writes, not the batch's (store.db.savepoint)."""
    db = await Database.open(tmp_path)

    def batch(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO counters (name, value) VALUES ('kept-before', 1)")
        with pytest.raises(RuntimeError), savepoint(conn):
            conn.execute("INSERT INTO counters (name, value) VALUES ('undone', 1)")
            raise RuntimeError("this message failed")
        with savepoint(conn):
            conn.execute("INSERT INTO counters (name, value) VALUES ('kept-after', 1)")

    try:
        await db.write(batch)
        names = {row[0] for row in await db.conn.execute_fetchall("SELECT name FROM counters")}
    finally:
        await db.close()
    assert {"kept-before", "kept-after"} <= names
    assert "undone" not in names
