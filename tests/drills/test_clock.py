"""Clock: the wall clock steps −1 h, +1 h, +24 h while a check-in runs. Her alert still comes
when her time plus grace is up in real time: never early, at most 2 s late."""

from __future__ import annotations

import asyncio
import os
import time
from datetime import timedelta

import pytest

from relay.runtime.clock import SystemClock
from tests.drills.conftest import InProcess
from tests.e2e.conftest import NUMBERS, write_env

TIMINGS = {
    "checkin": "20s",
    "reminder_before": "2s",
    "grace": "2s",
    "escalate_after": "1h",
    "repeat_every": "1h",
}
DUE = 6.0 + 2.0  # IN 6s, then the grace


@pytest.mark.slow
@pytest.mark.parametrize("sooner", [False, True], ids=["alone", "sooner-than-another"])
@pytest.mark.parametrize(
    "jump", [timedelta(hours=-1), timedelta(hours=1), timedelta(hours=24)], ids=str
)
async def test_a_clock_step_neither_hastens_nor_delays_an_alert(
    in_process: InProcess, jump: timedelta, sooner: bool
) -> None:
    write_env(in_process.config_path.parent, in_process.sim.service, TIMINGS)
    await in_process.start()
    sim = in_process.sim
    if sooner:
        # The timer sleeps until carol's later deadline; alice's check-in only moves its alarm
        # sooner (no pass over the database) — a step must still be noticed.
        await in_process.says("carol", "IN 15s Cinema")
        await sim.wait_for_sent(lambda s: "Checked in" in s.message, timeout=5)
    pushed = time.monotonic()
    await in_process.says("alice", "IN 6s Hotel Rex")
    await sim.wait_for_sent(
        lambda s: s.reached(NUMBERS["alice"]) and "Checked in" in s.message, timeout=5
    )
    confirmed = time.monotonic()
    await asyncio.sleep(1.5)
    in_process.clock.step(jump)
    alert = await sim.wait_for_sent(
        lambda s: s.reached(NUMBERS["bob"]) and "ALERT" in s.message, timeout=DUE + 5
    )
    arrived = time.monotonic()
    assert arrived - pushed >= DUE, "alerted early"
    assert arrived - confirmed <= DUE + 2, "alerted late"
    assert "late" not in alert.message
    reminders = [t for t in in_process.texts_to("alice") if "left on your check-in" in t]
    assert len(reminders) <= 1


def test_system_clock_reports_a_step_once_and_ignores_slewing() -> None:
    wall, boot = [1_000_000.0], [50.0]
    clock = SystemClock(wall=lambda: wall[0], boot=lambda: boot[0], use_timerfd=False)
    wall[0] += 10.0
    boot[0] += 10.0  # time passes: both clocks move together
    assert clock.take_step() == timedelta(0)
    wall[0] += 0.3  # NTP slews a small error away
    assert clock.take_step() == timedelta(0)
    wall[0] -= 3600.0  # stepped back an hour
    assert clock.take_step() == timedelta(seconds=-3600.0 + 0.3)
    assert clock.take_step() == timedelta(0)  # told once
    wall[0] += 86400.0
    assert clock.take_step() == timedelta(days=1)


async def test_system_clock_sleeps_until_woken_and_closes_its_step_watch() -> None:
    fds = len(os.listdir("/proc/self/fd"))
    clock = SystemClock()
    wake = asyncio.Event()
    sleeper = asyncio.create_task(clock.sleep_until(None, wake))
    await asyncio.sleep(0.05)
    assert not sleeper.done()  # no deadline: it sleeps until woken (or the clock steps)
    wake.set()
    await asyncio.wait_for(sleeper, timeout=1)
    clock.close()
    assert len(os.listdir("/proc/self/fd")) == fds  # the timerfd is not left open
