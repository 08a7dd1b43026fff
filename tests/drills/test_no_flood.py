"""No flood after a send outage: 60 s of signal-cli-rest-api answering 500 while an alert repeats
every 3 s. When sends work again the buddy gets one alert, with how long ago her check-in ended
as of when it leaves (not as of when it was decided); the admin gets one or two notices."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

import pytest

from relay.sim import SendFailure
from tests.drills.conftest import InProcess
from tests.drills.test_outage import queued
from tests.e2e.conftest import NUMBERS, write_env

TIMINGS = {
    "checkin": "20s",
    "reminder_before": "0",
    "grace": "2s",
    "escalate_after": "30m",
    "repeat_every": "3s",
}
_AGO = re.compile(r"\((\d+)s ago\)|\((\d+) min ago\)")


@pytest.mark.slow
async def test_sixty_seconds_of_500s_end_in_one_current_alert_and_one_or_two_notices(
    in_process: InProcess,
) -> None:
    write_env(
        in_process.config_path.parent,
        in_process.sim.service,
        TIMINGS,
        outbox={"retry_cap": "5s", "alert_undelivered_after": "20s"},
        canary={"enabled": False},
    )
    await in_process.start()
    sim, clock = in_process.sim, in_process.clock
    await in_process.says("alice", "IN 2s Hotel Rex")
    await sim.wait_for_sent(lambda s: "Checked in" in s.message, timeout=5)
    since = len(sim.sent)

    sim.faults.fail_sends(SendFailure.SERVER_ERROR)
    for _ in range(30):  # 60 s for the relay, 3 s for us: the alert and 18 repeats are due
        clock.advance(timedelta(seconds=2))
        await asyncio.sleep(0.1)
    unsent, messages = queued(in_process)
    to_bob = [t for a, t in messages if a == NUMBERS["bob"]]
    assert len(to_bob) == 1 and "ALERT" in to_bob[0]  # the repeats folded into it
    assert unsent >= 1

    sim.faults.clear()
    # Real time only from here: the next retry (at most retry_cap away) works, and wakes the rest.
    async with asyncio.timeout(30):
        while queued(in_process)[0]:
            await asyncio.sleep(0.1)
    delivered = [s for s in sim.sent[since:] if s.status == 201 and s.delivered]
    to_bob = [s for s in delivered if s.reached(NUMBERS["bob"])]
    # One alert when Signal answers again, not a pile. (Repeats keep their cadence, counted
    # from when they were decided: the next may follow once the alert has gone.)
    burst = [s.message for s in to_bob if s.at - to_bob[0].at < 1000]
    assert len(burst) == 1, [s.message for s in to_bob]
    assert all("Still nobody" in s.message for s in to_bob[1:])
    bob = burst
    assert "Hotel Rex" in bob[0]
    age = _AGO.search(bob[0])
    assert age is not None
    seconds = int(age.group(1)) if age.group(1) else int(age.group(2)) * 60
    assert seconds >= 50  # rendered when it left, a minute after her check-in ended
    dana = [s.message for s in delivered if s.reached(NUMBERS["dana"])]
    about_sends = [t for t in dana if "Signal sends" in t or "could not be delivered" in t]
    assert 1 <= len(about_sends) <= 2, dana
    assert any("Signal sends are failing since" in t for t in about_sends)
