"""What the Signal stack does wrong, and the relay survives: bad frames, closes, drops, outages."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from relay.sim import SignalSim
from relay.sim.envelopes import Malformed
from relay.sim.faults import SendFailure
from tests.e2e.conftest import NUMBERS, Harness, write_env


@pytest.mark.parametrize("kind", list(Malformed))
async def test_malformed_frame_then_checkin_is_processed_within_2s(
    harness: Harness, kind: Malformed
) -> None:
    await harness.sim.push_malformed(kind, sender=NUMBERS["alice"])
    await asyncio.sleep(1)
    sent_at = time.monotonic()
    await harness.says("alice", "IN 30m")
    await harness.to("alice", "Checked in", timeout=2)
    assert time.monotonic() - sent_at < 2


async def test_clean_close_reconnects_and_next_message_within_2s(harness: Harness) -> None:
    assert await harness.sim.close_websockets(code=1000) == 1
    await harness.sim.wait_for_no_client(timeout=2)
    await harness.sim.wait_for_client(timeout=2)
    sent_at = time.monotonic()
    await harness.says("alice", "IN 30m")
    await harness.to("alice", "Checked in", timeout=2)
    assert time.monotonic() - sent_at < 2


async def test_abrupt_drop_reconnects(harness: Harness) -> None:
    await harness.sim.drop_websockets()
    await harness.sim.wait_for_no_client(timeout=2)
    await harness.sim.wait_for_client(timeout=3)
    await harness.says("alice", "STATUS")
    await harness.to("alice", "No check-in running", timeout=2)


async def test_remote_delete_and_edit_cancel_nothing(harness: Harness) -> None:
    ts = await harness.says("alice", "IN 3s Hotel Rex")
    await harness.to("alice", "Checked in")
    await harness.sim.member_deletes(NUMBERS["alice"], target=ts)
    await harness.sim.member_edits(NUMBERS["alice"], target=ts, text="OUT")
    await harness.to("bob", "ALERT", timeout=10)


@pytest.mark.parametrize(
    "failure", [SendFailure.SERVER_ERROR, SendFailure.RATE_LIMIT, SendFailure.UNTRUSTED]
)
async def test_failed_sends_are_retried_until_delivered_in_order(
    harness: Harness, failure: SendFailure
) -> None:
    harness.sim.faults.fail_sends(failure)
    await harness.says("alice", "IN 30m first")
    await harness.says("alice", "STATUS")
    await harness.says("alice", "HELP")
    await asyncio.sleep(3)
    assert not [s for s in harness.sim.sent if s.delivered]
    harness.sim.faults.clear()
    await harness.to("alice", "SOS", timeout=10)  # the help text, sent last
    delivered = [s.message for s in harness.sim.sent if s.reached(NUMBERS["alice"])]
    assert len(delivered) == 3
    assert (
        "Checked in" in delivered[0] and "Check-in until" in delivered[1] and "SOS" in delivered[2]
    )


async def test_an_alert_still_unsent_after_a_while_is_reported_to_the_admin(
    sim: SignalSim, tmp_path: Path
) -> None:
    config = write_env(
        tmp_path, sim.service, outbox={"retry_cap": "1s", "alert_undelivered_after": "3s"}
    )
    h = Harness(sim, config)
    await h.start()
    try:
        # Bob's phone cannot be reached (a network failure: worth retrying, not "unreachable").
        sim.faults.fail_sends(SendFailure.NETWORK, recipients=[NUMBERS["bob"]])
        await h.says("alice", "IN 2s")
        await h.to("carol", "ALERT", timeout=10)
        notice = await h.to("dana", "could not be delivered to Bob", timeout=10)
        assert "Alice" in notice.message
        assert not [s for s in sim.sent if s.reached(NUMBERS["bob"])]
        sim.faults.clear()
        await h.to("bob", "ALERT", timeout=10)  # retried until delivered
    finally:
        await h.stop()


async def test_a_failed_flush_after_her_commit_still_gets_her_reply_and_the_alert(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The WAL flush after her check-in's commit fails once (EIO, simulated: a disk cannot be
    made to fail here). The check-in is committed; her reply still goes out once a flush
    succeeds, and the alert fires on time: the timer is not left asleep past her deadline."""
    from relay.store import db as store_db

    real = store_db._fsync_file
    failures = [OSError(5, "Input/output error")]
    flushed_at: list[int] = []  # how many sends the simulator had seen at each good flush

    def flaky(path: Path) -> None:
        if failures:
            raise failures.pop()
        real(path)
        flushed_at.append(len(harness.sim.sent))

    monkeypatch.setattr(store_db, "_fsync_file", flaky)
    await harness.says("alice", "IN 3s Hotel Rex")
    reply = await harness.to("alice", "Checked in", timeout=3)
    assert not failures  # the flush did fail once
    # …and her reply left only after a flush that worked: it never promises what a power cut
    # could take back.
    assert any(n <= harness.sim.sent.index(reply) for n in flushed_at)
    started = time.monotonic()
    await harness.to("bob", "ALERT", timeout=10)
    assert time.monotonic() - started < 8  # deadline 3 s + grace 2 s, not "never"
    assert not any("couldn't save" in t for t in harness.texts_to("alice"))  # it was saved


@pytest.mark.parametrize("path", ["plain", "quoting"])
async def test_a_message_the_database_refuses_gets_her_a_direct_answer(
    harness: Harness, path: str
) -> None:
    """The database refuses the write (read-only here; on a Pi, a full or failing card). Her
    check-in cannot be saved, and she is told so at once, straight through Signal, instead of
    silence she could take for a running check-in. Once writes work again, it goes through."""
    relay = harness.relay
    assert relay is not None and relay.desk is not None
    quote = {}
    if path == "quoting":  # a reply quoting one of the relay's: the general path
        await harness.says("alice", "STATUS")
        status = await harness.to("alice")
        quote = {"quote": status.timestamps[0]}
    await relay.desk.db.conn.execute("PRAGMA query_only = ON")
    try:
        await harness.says("alice", "IN 3s Hotel Rex", **quote)
        told = await harness.to("alice", "couldn't save", timeout=5)
        assert "Checked in" not in told.message
    finally:
        await relay.desk.db.conn.execute("PRAGMA query_only = OFF")
    await asyncio.sleep(6)  # past her would-be deadline and grace: nothing was started
    assert not any("ALERT" in t for t in harness.texts_to("bob"))
    await harness.says("alice", "IN 30m Hotel Rex")
    await harness.to("alice", "Checked in")
