"""Delivery-aware alerts end to end: an alert whose tier reached no phone (phones off: no
delivery receipt) moves on to the next tier after `escalation.undelivered_after`, long before
the tier's own time; with the phones on it does not; STATUS tells her whose phone it reached."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from relay.sim import SignalSim
from tests.e2e.chain_support import count_to
from tests.e2e.conftest import FAST, NUMBERS, RELAY_NUMBER, Harness, write_env

# Tiers come 10 minutes apart and repeats as rarely: only a tier that reached no phone moves
# the ladder within this test.
SLOW_LADDER = {**FAST, "escalate_after": "10m", "repeat_every": "10m"}


@pytest.fixture
async def phones() -> AsyncIterator[SignalSim]:
    async with SignalSim(RELAY_NUMBER, delivery_receipts=True) as simulator:
        yield simulator


@pytest.fixture
async def relay(phones: SignalSim, tmp_path: Path) -> AsyncIterator[Harness]:
    """Alice's missed-check-in ladder: bob and carol, then her circle (dana, elena), then the
    admin and the support line; an alert that reached no phone for 3 s moves on."""
    h = Harness(phones, write_env(tmp_path, phones.service, SLOW_LADDER, undelivered_after="3s"))
    await h.start()
    yield h
    await h.stop()


async def missed_checkin(h: Harness) -> None:
    await h.says("alice", "IN 1s Hotel Rex")
    await h.to("alice", "Checked in")
    await h.to("bob", "ALERT", timeout=15)


async def test_an_alert_to_phones_that_are_off_moves_on_after_undelivered_after(
    relay: Harness,
) -> None:
    h, sim = relay, relay.sim
    sim.phone_off(NUMBERS["bob"])
    sim.phone_off(NUMBERS["carol"])
    await missed_checkin(h)
    alerted_at = asyncio.get_running_loop().time()
    await asyncio.sleep(0.3)  # the sender records what signal-cli accepted
    await h.says("alice", "STATUS")
    status = await h.to("alice", "Your alert is open")
    assert "Bob: sent" in status.message and "not on the phone yet" in status.message
    to_elena = await h.to("elena", "ALERTA", timeout=10)  # tier 2, in her language
    waited = asyncio.get_running_loop().time() - alerted_at
    assert 2.5 <= waited < 9, waited  # undelivered_after (3 s), not escalate_after (10 min)
    assert "Alice" in to_elena.message
    notice = await h.to("dana", "reached no phone within 3s")
    assert "Bob" in notice.message and "Carol" in notice.message
    assert "next tier was alerted" in notice.message
    # Bob's phone comes back: the alert is on it now, and STATUS says so, with the time.
    await sim.phone_on(NUMBERS["bob"])
    mark = len(sim.sent)
    await asyncio.sleep(0.5)
    await h.says("alice", "STATUS")
    status = await h.to("alice", "Your alert is open", since=mark)
    assert "📱 Bob: reached the phone" in status.message
    assert "no answer yet" in status.message


async def test_an_alert_that_reached_a_phone_waits_for_its_tier(relay: Harness) -> None:
    h, sim = relay, relay.sim
    sim.phone_off(NUMBERS["carol"])  # bob's phone is on: tier 1 reached a phone
    await missed_checkin(h)
    await asyncio.sleep(6)  # twice undelivered_after
    assert count_to(h, "elena", "ALERTA") == 0
    assert count_to(h, "dana", "reached no phone") == 0
    await sim.member_reads(NUMBERS["bob"])
    await asyncio.sleep(0.3)
    await h.says("alice", "STATUS")
    status = await h.to("alice", "Your alert is open")
    bob = next(line for line in status.message.splitlines() if "Bob" in line)
    assert "reached the phone" in bob and "read" in bob
    carol = next(line for line in status.message.splitlines() if "Carol" in line)
    assert "not on the phone yet" in carol
    await h.says("bob", "ACK")
    await h.to("alice", "Bob is on it")
    await h.says("alice", "STATUS")
    await h.to("alice", "💜 Bob: on it")


async def test_after_the_duress_word_status_shows_nothing_of_the_alert(relay: Harness) -> None:
    h = relay
    await h.says("alice", "lemonade")  # her duress word
    await h.to("bob", "SILENT ALERT", timeout=10)
    mark = len(h.sim.sent)
    await h.says("alice", "STATUS")
    reply = await h.to("alice", "No check-in running", since=mark)
    assert "Bob" not in reply.message and "phone" not in reply.message
