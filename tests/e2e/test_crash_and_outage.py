"""The relay as a subprocess, killed with SIGKILL; and a minute with signal-cli-rest-api failing."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from relay.sim import SignalSim
from relay.sim.faults import SendFailure
from tests.e2e.conftest import NUMBERS, Harness, RelayProcess, write_env


@pytest.mark.parametrize("down_for", [0.0, 12.0], ids=["restart-before-deadline", "restart-late"])
async def test_kill_9_between_in_and_deadline_still_alerts(
    sim: SignalSim,
    tmp_path: Path,
    relay_process: Callable[[Path], RelayProcess],
    down_for: float,
) -> None:
    relay = relay_process(write_env(tmp_path, sim.service))
    relay.start()
    await sim.wait_for_client(timeout=60)
    await sim.member_sends(NUMBERS["alice"], "IN 5s Hotel Rex room 12")
    await sim.wait_for_sent(lambda s: "Checked in" in s.message, timeout=5)

    relay.kill9()
    await sim.wait_for_no_client(timeout=5)
    await asyncio.sleep(down_for)
    relay.start()
    await sim.wait_for_client(timeout=60)

    alert = await sim.wait_for_sent(
        lambda s: s.reached(NUMBERS["bob"]) and "ALERT" in s.message, timeout=15
    )
    assert "Hotel Rex room 12" in alert.message
    if down_for:
        assert "late" in alert.message  # the alert says it was sent late
    assert relay.terminate() == 0
    if down_for:  # the admin hears about a restart with overdue steps
        assert any("offline" in s.message for s in sim.sent if s.reached(NUMBERS["dana"]))


@pytest.mark.slow
@pytest.mark.parametrize("outage", ["send-errors", "refused"])
async def test_a_minute_of_failing_sends_loses_nothing_and_keeps_order(
    harness: Harness, outage: str
) -> None:
    """Signal-cli-rest-api fails for 60 s while a check-in runs out and buddies answer."""
    await harness.says("alice", "IN 4s Hotel Rex")
    await harness.to("alice", "Checked in")
    if outage == "send-errors":
        harness.sim.faults.fail_sends(SendFailure.SERVER_ERROR)
    else:
        await harness.sim.refuse_connections()
    # While it is down the deadline passes: reminder, "are you OK?", alerts, repeats all queue.
    await asyncio.sleep(60)
    if outage == "send-errors":
        harness.sim.faults.clear()
    else:
        await harness.sim.accept_connections()
    alert = await harness.to("bob", "ALERT", timeout=15)
    assert "Hotel Rex" in alert.message
    await harness.to("carol", "ALERT", timeout=5)
    await harness.to("alice", "Are you OK?", timeout=10)
    to_alice = harness.texts_to("alice")
    steps = ["Checked in", "left on your check-in", "Are you OK?"]
    positions = [next(i for i, t in enumerate(to_alice) if step in t) for step in steps]
    assert positions == sorted(positions)  # her messages arrived in the order they were queued
    first_to_bob = harness.texts_to("bob")[0]
    assert "ALERT" in first_to_bob  # the alert before its repeats
