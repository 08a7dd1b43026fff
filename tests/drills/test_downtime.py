"""Downtime: the relay is stopped while deadlines pass (5 min, 2 h, 3 days of simulated time).

On start every overdue alert must go out within 5 s, saying it is late.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from tests.drills.conftest import InProcess
from tests.e2e.conftest import NUMBERS, write_env

TIMINGS = {
    "checkin": "20s",
    "checkin_max": "12h",
    "reminder_before": "0",
    "grace": "2s",
    "escalate_after": "1h",
    "repeat_every": "1h",
}


@pytest.mark.parametrize(
    ("down", "checkin"),
    [
        (timedelta(minutes=5), "2m"),
        (timedelta(hours=2), "1h"),
        (timedelta(days=3), "12h"),
    ],
    ids=["5min", "2h", "3days"],
)
async def test_overdue_alerts_fire_within_5s_of_start_marked_late(
    in_process: InProcess, down: timedelta, checkin: str
) -> None:
    write_env(in_process.config_path.parent, in_process.sim.service, TIMINGS)
    await in_process.start()
    for member in ("alice", "elena"):
        since = len(in_process.sim.sent)
        await in_process.says(member, f"IN {checkin}")
        await in_process.sim.wait_for_sent(
            lambda s, m=member: s.reached(NUMBERS[m]), since=since, timeout=5
        )
    await in_process.stop()

    in_process.clock.advance(down)  # the box was off: time passed, nobody was watching
    since = len(in_process.sim.sent)
    started = time.monotonic()
    await in_process.start()
    for buddy in ("bob", "dana"):
        alert = await in_process.sim.wait_for_sent(
            lambda s, b=buddy: s.reached(NUMBERS[b]) and "ALERT" in s.message,
            since=since,
            timeout=5,
        )
        assert time.monotonic() - started <= 5
        assert "late" in alert.message  # "(Sent … late — the relay was offline.)"
    told = await in_process.sim.wait_for_sent(
        lambda s: s.reached(NUMBERS["dana"]) and "offline" in s.message, since=since, timeout=5
    )
    assert "2" in told.message  # two overdue check-ins
