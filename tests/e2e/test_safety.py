"""The seven sequences an audit found breaking the safety promises, end to end: the relay on the
real signalbot library, against the simulator on 127.0.0.1, with the sample rules (short timings).

alice: buddy bob, watcher carol, duress word "lemonade"; bob: check-in secret "bluebird"; carol:
buddy dana; dana: the admin; elena: buddy dana. The night-shift circle holds all five.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml

from relay.sim import SignalSim
from relay.sim.faults import SendFailure
from tests.e2e.conftest import FAST, NUMBERS, Harness, write_env


async def settle(h: Harness, seconds: float = 0.6) -> None:
    """Give the relay time to act on what it was sent (used only before asserting an absence)."""
    await asyncio.sleep(seconds)


async def duress_during_a_check_in(h: Harness) -> int:
    """alice checks in, then sends her duress word; bob gets the silent alert. Returns the mark
    of what was sent so far."""
    await h.says("alice", "IN 5m")
    await h.to("alice", "Checked in")
    await h.says("alice", "lemonade")
    await h.to("bob", "SILENT ALERT")
    return len(h.sim.sent)


def texts_since(h: Harness, member: str, mark: int) -> list[str]:
    number = NUMBERS[member]
    return [s.message for s in h.sim.sent[mark:] if s.reached(number)]


# 1. The phone's holder cannot cancel a duress alert -------------------------------------------


async def test_a_plain_out_after_the_duress_word_never_tells_buddies_she_is_safe(
    harness: Harness,
) -> None:
    mark = await duress_during_a_check_in(harness)
    await harness.says("alice", "OUT")
    reply = await harness.to("alice", since=mark)
    assert reply.message == "💜 Noted — you had no check-in running."
    forwarded = await harness.to("bob", "after the duress word", since=mark)
    assert "“OUT”" in forwarded.message
    await settle(harness)
    assert not any("is safe" in t for t in harness.texts_to("bob") + harness.texts_to("carol"))
    assert harness.relay is not None and harness.relay.desk is not None
    watch = await harness.relay.desk.watches.live_for("alice")  # type: ignore[arg-type]
    assert watch is not None and watch.kind == "duress"


# 2. Duress is silent on her own phone ---------------------------------------------------------


async def test_after_the_duress_word_her_phone_learns_nothing_of_the_alarm(
    harness: Harness,
) -> None:
    mark = await duress_during_a_check_in(harness)
    await harness.says("alice", "STATUS")
    status = await harness.to("alice", since=mark)
    assert status.message == "No check-in running."
    await harness.says("alice", "IN 1h")
    started = await harness.to("alice", "Checked in until", since=mark)
    assert "Bob, Carol" in started.message
    await harness.says("alice", "+30")
    await harness.to("alice", "New end time", since=mark)
    await harness.says("alice", "STATUS")
    await harness.to("alice", "Check-in until", since=mark)
    await settle(harness)
    seen = " ".join(texts_since(harness, "alice", mark))
    assert "alert" not in seen.lower() and "buddies know" not in seen


# 3. A reaction or quote acts on the alert it points at, only for someone sent it --------------


async def test_a_thumbs_up_on_an_all_clear_leaves_the_other_alert_escalating(
    harness: Harness,
) -> None:
    await harness.says("carol", "SOS")
    await harness.to("bob", "SOS from Carol")  # bob: the night-shift circle
    await harness.says("alice", "IN 2s")
    await harness.to("bob", "ALERT: Alice", timeout=10)
    await harness.says("alice", "OUT")
    safe = await harness.to("bob", "Alice is safe")
    assert safe.timestamp is not None
    mark = len(harness.sim.sent)
    await harness.sim.member_reacts(NUMBERS["bob"], to=safe.timestamp, emoji="👍")
    answer = await harness.to("bob", "isn't an alert", since=mark)
    assert answer is not None
    await settle(harness)
    assert not any("on it for Carol" in t for t in texts_since(harness, "dana", mark))
    assert harness.relay is not None and harness.relay.desk is not None
    carol = await harness.relay.desk.watches.live_for("carol")  # type: ignore[arg-type]
    assert carol is not None and carol.phase == "alerted"


async def test_ack_naming_an_alert_she_was_not_sent_acts_on_nothing(harness: Harness) -> None:
    await harness.says("carol", "IN 2s")  # carol's missed ladder: dana first
    await harness.to("dana", "ALERT: Carol", timeout=10)
    await harness.says("alice", "IN 2s")  # bob and carol; never elena in tier 1
    await harness.to("bob", "ALERT: Alice", timeout=10)
    mark = len(harness.sim.sent)
    await harness.says("elena", "ACK alice")
    reply = await harness.to("elena", since=mark)
    assert "Bob" not in reply.message and "on it" not in reply.message
    await settle(harness)
    assert not any("on it" in t for t in texts_since(harness, "alice", mark))
    assert not any("on it" in t for t in texts_since(harness, "carol", mark))


# 4. RESOLVED quoting one alert closes that alert ----------------------------------------------


async def test_resolved_quoting_carols_sos_closes_carols_not_elenas(harness: Harness) -> None:
    await harness.says("carol", "SOS")
    carol = await harness.to("dana", "SOS from Carol")
    await harness.says("elena", "SOS")
    await harness.to("dana", "SOS from Elena")
    assert carol.timestamp is not None
    mark = len(harness.sim.sent)
    await harness.sim.member_replies(NUMBERS["dana"], "RESOLVED", to=carol.timestamp)
    await harness.to("carol", "Dana closed your alert", since=mark)
    await settle(harness)
    assert not any("closed" in t.lower() for t in texts_since(harness, "elena", mark))
    assert harness.relay is not None and harness.relay.desk is not None
    elena = await harness.relay.desk.watches.live_for("elena")  # type: ignore[arg-type]
    assert elena is not None and elena.phase == "alerted"


# 5. No false comfort --------------------------------------------------------------------------


@pytest.fixture
async def plain_ladder(sim: SignalSim, tmp_path: Path) -> AsyncIterator[Harness]:
    """Missed check-ins and SOS: buddies first, then the admin; no circles, groups or outside
    numbers (a group or an outside number may still be reachable)."""
    config = write_env(tmp_path, sim.service)
    rules = tmp_path / "rules"
    escalation = yaml.safe_load((rules / "escalation.yaml").read_text())
    for kind in ("missed", "sos"):
        escalation["escalation"][kind] = [{"buddies": True}, {"admin": True}]
    (rules / "escalation.yaml").write_text(yaml.safe_dump(escalation))
    h = Harness(sim, config)
    await h.start()
    yield h
    await h.stop()


async def test_when_nobody_can_be_reached_she_is_told_and_no_reply_claims_otherwise(
    plain_ladder: Harness,
) -> None:
    h = plain_ladder
    gone = [NUMBERS["bob"], NUMBERS["carol"], NUMBERS["dana"]]
    h.sim.faults.fail_sends(SendFailure.UNREGISTERED, recipients=gone)
    await h.says("alice", "IN 2s")
    await h.to("alice", "Checked in")
    told = await h.to("alice", "could not reach anyone", timeout=15)
    assert "Night support line" in told.message or "☎️" in told.message
    mark = len(h.sim.sent)
    await h.says("alice", "IN 1h")
    reply = await h.to("alice", since=mark)
    assert "nobody could be reached" in reply.message
    assert "buddies know" not in reply.message


async def test_a_new_check_in_with_everyone_unreachable_says_so_at_once(
    plain_ladder: Harness,
) -> None:
    h = plain_ladder
    gone = [NUMBERS["bob"], NUMBERS["carol"], NUMBERS["dana"]]
    h.sim.faults.fail_sends(SendFailure.UNREGISTERED, recipients=gone)
    await h.says("alice", "SOS")
    await h.to("alice", "could not reach anyone", timeout=15)
    await h.says("alice", "OUT")
    await h.to("alice", "Glad you're safe")
    mark = len(h.sim.sent)
    await h.says("alice", "IN 1h")
    reply = await h.to("alice", since=mark)
    assert "Nobody can get your alerts" in reply.message
    assert "Watching: nobody yet" in reply.message


async def test_a_member_with_no_buddies_is_not_promised_buddies(
    sim: SignalSim, tmp_path: Path
) -> None:
    """frida has no buddies and no circle: her missed check-in reaches the admin's tier only."""
    config = write_env(tmp_path, sim.service)
    rules = tmp_path / "rules"
    members = yaml.safe_load((rules / "members.yaml").read_text())
    members["members"]["frida"] = {"number": "+1 202-555-0107"}
    (rules / "members.yaml").write_text(yaml.safe_dump(members))
    h = Harness(sim, config)
    await h.start()
    try:
        await h.sim.member_sends("+12025550107", "IN 2s")
        started = await h.to("+12025550107", "Checked in")
        assert "Watching: Dana" in started.message
        due = await h.to("+12025550107", "Are you OK?", timeout=10)
        assert "buddies" not in due.message and "alert Dana" in due.message
    finally:
        await h.stop()


# 6. Caps are caps -----------------------------------------------------------------------------


async def test_repeated_extends_stop_at_the_check_in_cap(harness: Harness) -> None:
    assert FAST["checkin_max"] == "12h" and FAST["extend_max"] == "4h"
    await harness.says("alice", "IN 11h")
    await harness.to("alice", "Checked in")
    mark = len(harness.sim.sent)
    for _ in range(3):
        await harness.says("alice", "EXTEND 4h")
    await harness.to("alice", "up to 12h in all", since=mark)
    assert harness.relay is not None and harness.relay.desk is not None
    watch = await harness.relay.desk.watches.live_for("alice")  # type: ignore[arg-type]
    assert watch is not None
    assert (watch.deadline - watch.started_at).total_seconds() <= 12 * 3600


# 7. A second SOS joins the open alert ---------------------------------------------------------


async def test_a_second_sos_is_one_short_line_not_a_second_blast(harness: Harness) -> None:
    await harness.says("alice", "SOS")
    await harness.to("bob", "SOS from Alice")
    mark = len(harness.sim.sent)
    await harness.says("alice", "SOS he has a knife")
    again = await harness.to("bob", "sent SOS again", since=mark)
    assert "he has a knife" in again.message
    await harness.to("alice", "Alert sent to", since=mark)
    await settle(harness)
    assert not any("SOS from Alice" in t for t in texts_since(harness, "bob", mark))


async def test_forget_after_the_duress_word_looks_done_and_deletes_nothing(
    harness: Harness,
) -> None:
    await harness.says("alice", "lemonade")
    await harness.to("bob", "SILENT ALERT")
    mark = len(harness.sim.sent)
    await harness.says("alice", "FORGET")
    await harness.to("alice", "send FORGET YES", since=mark)
    await harness.says("alice", "FORGET YES")
    done = await harness.to("alice", "Done. Deleted", since=mark)
    assert "running" not in done.message
    await harness.to("bob", "“FORGET YES”", since=mark)
    assert harness.relay is not None and harness.relay.desk is not None
    watch = await harness.relay.desk.watches.live_for("alice")  # type: ignore[arg-type]
    assert watch is not None and watch.kind == "duress" and watch.live
