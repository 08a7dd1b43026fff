"""The spine end to end: a check-in becomes, after a missed deadline, an alert on a buddy's phone.

Everything runs for real: the relay's signalbot-based adapter talks HTTP and WebSocket to the
simulator on 127.0.0.1, with a real SQLite file and a real key.
"""

from __future__ import annotations

from tests.e2e.conftest import NUMBERS, STRANGER, Harness


async def test_missed_checkin_alerts_buddies_and_ack_tells_her(harness: Harness) -> None:
    await harness.says("alice", "IN 6s Hotel Rex room 12")
    started = await harness.to("alice", "Checked in until")
    assert "Bob, Carol" in started.message  # her buddy and her watcher

    await harness.to("alice", "left on your check-in", timeout=8)  # reminder (2 s before)
    await harness.to("alice", "Are you OK?", timeout=8)  # at the deadline
    alert = await harness.to("bob", "ALERT", timeout=8)  # after the 2 s grace
    assert "Alice" in alert.message and "Hotel Rex room 12" in alert.message
    assert "ACK" in alert.message
    await harness.to("carol", "ALERT")
    before_ack = len(harness.sim.sent)
    assert set(harness.who()) == {"alice", "bob", "carol"}  # nobody else heard anything

    await harness.says("bob", "ack")
    await harness.to("alice", "Bob is on it", since=before_ack)
    await harness.to("carol", "Bob is on it for Alice", since=before_ack)
    await harness.to("bob", "you're on it for Alice", since=before_ack)
    # Escalation stopped: dana (tier 3) never hears of it, and nothing repeats.
    assert "dana" not in harness.who()


async def test_out_before_deadline_is_quiet(harness: Harness) -> None:
    await harness.says("alice", "in 30s")
    await harness.to("alice", "Checked in")
    await harness.says("alice", "/out")
    await harness.to("alice", "Glad you're safe")
    assert set(harness.who()) == {"alice"}


async def test_late_out_sends_all_clear_to_everyone_alerted(harness: Harness) -> None:
    await harness.says("alice", "IN 3s")
    await harness.to("bob", "ALERT", timeout=10)
    await harness.to("carol", "ALERT")
    mark = len(harness.sim.sent)
    await harness.says("alice", "  SAFE  ")
    await harness.to("bob", "Alice is safe", since=mark)
    await harness.to("carol", "Alice is safe", since=mark)
    await harness.to("alice", "Glad you're safe", since=mark)


async def test_same_envelope_twice_is_one_checkin_and_one_reply(harness: Harness) -> None:
    ts = await harness.says("alice", "IN 30m")
    await harness.to("alice", "Checked in")
    await harness.sim.member_sends(NUMBERS["alice"], "IN 30m", timestamp=ts)
    await harness.says("alice", "STATUS")  # a later message is answered, so the first was seen
    await harness.to("alice", "Check-in until")
    replies = [t for t in harness.texts_to("alice") if "Checked in" in t or "Updated" in t]
    assert len(replies) == 1
    assert harness.relay is not None and harness.relay.desk is not None
    assert await harness.relay.desk.watches.count_live() == 1


async def test_stranger_gets_nothing_and_only_a_count_is_kept(harness: Harness) -> None:
    await harness.sim.member_sends(STRANGER, "IN 10 who is this")
    await harness.says("alice", "HELP")
    await harness.to("alice", "SOS")  # alice's later message was handled: the stranger's too
    assert not [s for s in harness.sim.sent if s.reached(STRANGER)]
    assert harness.relay is not None and harness.relay.desk is not None
    db = harness.relay.desk.db
    assert await db.counter("strangers") == 1
    async with db.conn.execute("SELECT COUNT(*) FROM outbox WHERE purpose != 'reply'") as cur:
        assert (await cur.fetchone())[0] == 0
    assert await harness.relay.desk.watches.count_live() == 0


async def test_unknown_and_malformed_input_gets_a_short_kind_reply(harness: Harness) -> None:
    inputs = ["", "x" * 10_000, "🌈🌈🌈", "IN\u0000\u0007 5", "\u200b\u200f\u202e", "banana"]
    for text in inputs:
        mark = len(harness.sim.sent)
        await harness.says("alice", text)
        reply = await harness.to("alice", since=mark)
        assert len(reply.message) < 400
    # Still alive and well afterwards.
    await harness.says("alice", "IN 30m")
    await harness.to("alice", "Checked in")
