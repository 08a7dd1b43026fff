"""Practice drills end to end, through the simulator with receipts as phones send them: DRILL
with one buddy answering, one not, one phone off — and the report; the admin's drill with a gap;
a real SOS during a drill."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from relay.cli import main as cli
from relay.sim import SignalSim
from tests.drills.conftest import SteppedClock
from tests.e2e.chain_support import add_watchers, count_to, eventually, set_drills
from tests.e2e.conftest import NUMBERS, RELAY_NUMBER, Harness, write_env

REAL_ALERT_MARKS = ("🚨", "🆘", "ALERT:", "SOS from")


@pytest.fixture
async def phones() -> AsyncIterator[SignalSim]:
    async with SignalSim(RELAY_NUMBER, delivery_receipts=True) as simulator:
        yield simulator


@pytest.fixture
async def drilling(phones: SignalSim, tmp_path: Path) -> AsyncIterator[Harness]:
    """Alice's first tier: bob (buddy), carol and elena (watchers; elena reads Spanish)."""
    config = write_env(tmp_path, phones.service)
    add_watchers(tmp_path / "rules", "alice", ["carol", "elena"])
    set_drills(tmp_path / "rules", tiers=[1], report_after="4s", min_interval="1h")
    h = Harness(phones, config)
    await h.start()
    yield h
    await h.stop()


async def test_a_drill_reports_who_got_it_and_who_answered(drilling: Harness) -> None:
    h, sim = drilling, drilling.sim
    sim.phone_off(NUMBERS["elena"])
    await h.says("alice", "DRILL")
    started = await h.to("alice", "Practice alert sent")
    assert all(name in started.message for name in ("Bob", "Carol", "Elena"))
    to_bob = await h.to("bob", "PRACTICE")
    to_carol = await h.to("carol", "PRACTICE")
    to_elena = await h.to("elena", "SIMULACRO")
    for practice in (to_bob, to_carol, to_elena):
        assert practice.message.startswith("🧪")
        assert not any(mark in practice.message for mark in REAL_ALERT_MARKS)
    await sim.member_reads(NUMBERS["bob"])
    await h.says("bob", "ACK")
    thanks = await h.to("bob", "practice answered")
    assert "Alice" in thanks.message

    report = await h.to("alice", "Your practice alert", timeout=15)
    lines = report.message.splitlines()
    bob = next(line for line in lines if "Bob" in line)
    carol = next(line for line in lines if "Carol" in line)
    elena = next(line for line in lines if "Elena" in line)
    assert bob.startswith("✅") and "answered after" in bob and "on the phone" in bob
    assert carol.startswith("⚠️") and "on the phone" in carol and "no answer" in carol
    assert elena.startswith("❌") and "never reached the phone" in elena
    assert "1 of 3 answered" in report.message
    # Someone answered: no gap, so the admin hears nothing of it.
    assert count_to(h, "dana", "Practice alerts nobody answered") == 0
    # A second DRILL within min_interval is refused, politely, with when it is possible.
    await h.says("alice", "DRILL")
    await h.to("alice", "The next one is possible from")
    assert count_to(h, "bob", "PRACTICE") == 1
    # Elena's phone comes back after the report: her answer to the practice is told it is over.
    await sim.phone_on(NUMBERS["elena"])
    await sim.member_replies(NUMBERS["elena"], "ACK", to=to_elena.timestamp or 0)
    await h.to("elena", "simulacro ya terminó")


async def test_a_reply_to_the_practice_message_answers_the_practice(drilling: Harness) -> None:
    h, sim = drilling, drilling.sim
    await h.says("alice", "DRILL")
    practice = await h.to("carol", "PRACTICE")
    await sim.member_replies(NUMBERS["carol"], "coming!", to=practice.timestamp or 0)
    await h.to("carol", "practice answered")
    await sim.member_reacts(NUMBERS["bob"], to=(await h.to("bob", "PRACTICE")).timestamp or 0)
    await h.to("bob", "practice answered")
    report = await h.to("alice", "Your practice alert", timeout=15)
    assert "2 of 3 answered" in report.message


async def test_the_admins_drill_reports_a_gap_to_the_admin(
    drilling: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    h = drilling
    assert cli(["drill", "--config", str(h.config_path), "--member", "alice"]) == 0
    assert "asked the running relay" in capsys.readouterr().out
    await h.to("alice", "The admin started a practice for you", timeout=10)
    await h.to("bob", "PRACTICE")
    gap = await h.to("dana", "Practice alerts nobody answered", timeout=15)
    assert "Alice" in gap.message and "Bob" in gap.message
    report = await h.to("alice", "Your practice alert")
    assert "Nobody answered" in report.message
    assert cli(["drill", "--config", str(h.config_path), "--member", "zed"]) == 1
    assert "not a member" in capsys.readouterr().err


async def test_a_real_sos_during_a_drill_wins(drilling: Harness) -> None:
    h, sim = drilling, drilling.sim
    await h.says("alice", "DRILL")
    await h.to("bob", "PRACTICE")
    practice_to_carol = await h.to("carol", "PRACTICE")
    mark = len(sim.sent)
    await h.says("alice", "SOS in the car park")
    real = await h.to("bob", "SOS from Alice", since=mark)
    assert "car park" in real.message
    # A plain ACK goes to the real alert, and bob is told which one it answered.
    await h.says("bob", "ACK")
    acked = await h.to("bob", "you're on it for Alice", since=mark)
    assert "REAL alert" in acked.message
    await h.to("alice", "Bob is on it", since=mark)
    # A reply to the practice message after that is a practice answer, never a real one: the
    # practice is over, and carol is not taken for someone on the way.
    await sim.member_replies(NUMBERS["carol"], "ok!", to=practice_to_carol.timestamp or 0)
    await h.to("carol", "That practice is over", since=mark)
    await asyncio.sleep(5)  # past the report time
    assert count_to(h, "alice", "Your practice alert") == 0  # her real alert won
    assert count_to(h, "alice", "Carol is on it") == 0
    await h.says("alice", "STATUS")
    status = await h.to("alice", "Your alert is open", since=mark)
    assert "Bob is on it" in status.message


async def test_a_drill_and_a_missed_checkin_the_checkin_alert_goes_out(drilling: Harness) -> None:
    h, sim = drilling, drilling.sim
    await h.says("bob", "IN 1s")
    await h.to("bob", "Checked in")
    await h.says("alice", "DRILL")  # bob is asked to practise while his own check-in runs
    await h.to("bob", "PRACTICE")
    alert = await h.to("alice", "ALERT: Bob didn't check out", timeout=15)
    assert alert.message.startswith("🚨")
    # Alice's ACK answers bob's real alert (real wins), not her own practice.
    await h.says("alice", "ACK")
    await h.to("bob", "Alice is on it", timeout=10)
    await eventually(lambda: count_to(h, "alice", "you're on it for Bob") == 1)
    await sim.wait_for_sent(lambda s: "Your practice alert" in s.message, timeout=15)


async def test_the_rules_schedule_a_drill_for_everyone(phones: SignalSim, tmp_path: Path) -> None:
    """`drills.schedule`: at the next 03:00 (London), every member's first tier gets a practice;
    not again until `every` has passed; each member gets her report, the admin the gaps."""
    config = write_env(tmp_path, phones.service)
    set_drills(tmp_path / "rules", report_after="10m", schedule={"every": "4w", "at": "03:00"})
    clock = SteppedClock()
    h = Harness(phones, config)
    relay = h.relay_for_restart()
    relay.clock = clock
    h.relay, h.task = relay, asyncio.create_task(relay.run())
    await asyncio.wait_for(relay.ready.wait(), timeout=10)
    await phones.wait_for_client(timeout=10)
    try:
        local = clock.now().astimezone(ZoneInfo("Europe/London"))
        three = datetime.combine(local.date(), time(3, 0), ZoneInfo("Europe/London"))
        if three <= local:
            three += timedelta(days=1)
        clock.advance(three - local + timedelta(seconds=1))
        await h.to("bob", "PRACTICE", timeout=10)  # alice's first tier
        await h.to("alice", "The admin started a practice for you")
        await h.to("carol", "PRACTICE")
        clock.advance(timedelta(minutes=11))
        gaps = await h.to("dana", "Practice alerts nobody answered", timeout=10)
        assert "Alice" in gaps.message and "Elena" in gaps.message
        await h.to("elena", "Tu simulacro")
        clock.advance(timedelta(days=1))
        await asyncio.sleep(1)
        assert count_to(h, "bob", "PRACTICE") == 1  # not again until four weeks have passed
        clock.advance(timedelta(weeks=4))
        await eventually(lambda: count_to(h, "bob", "PRACTICE") == 2)
    finally:
        await h.stop()
