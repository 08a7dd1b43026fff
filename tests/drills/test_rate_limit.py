"""Rate limit: signal-cli-rest-api answers 429 with challenge tokens for two buddies. The relay
backs off (a bounded number of requests per minute, no spin) and tells the admin, who must
solve the captcha or reach them another way."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from relay.sim import SendFailure
from tests.drills.conftest import InProcess
from tests.e2e.conftest import NUMBERS, write_env

TIMINGS = {
    "checkin": "20s",
    "reminder_before": "0",
    "grace": "2s",
    "escalate_after": "1h",
    "repeat_every": "1h",
}


@pytest.mark.slow
async def test_429_backs_off_and_tells_the_admin(in_process: InProcess) -> None:
    write_env(
        in_process.config_path.parent,
        in_process.sim.service,
        TIMINGS,
        outbox={"retry_cap": "2m", "alert_undelivered_after": "1m"},  # production defaults
    )
    await in_process.start()
    sim = in_process.sim
    limited = [NUMBERS["bob"], NUMBERS["carol"]]
    await in_process.says("alice", "IN 3s Hotel Rex")
    await sim.wait_for_sent(lambda s: "Checked in" in s.message, timeout=5)
    sim.faults.fail_sends(SendFailure.RATE_LIMIT, recipients=limited)

    def refused() -> int:
        return sum(1 for s in sim.sent if s.status == 429 and set(s.recipients) & set(limited))

    per_minute: list[int] = []
    for _minute in range(10):
        before = refused()
        for _ in range(6):
            in_process.clock.advance(timedelta(seconds=10))
            await asyncio.sleep(0.05)
        per_minute.append(refused() - before)
    assert sum(per_minute) >= 2  # the alerts were tried
    # Backoff doubles up to retry_cap (2 min): at most a try per buddy per minute by the end.
    assert max(per_minute[5:]) <= len(limited)
    assert sum(per_minute) <= 12 * len(limited)
    held = refused()
    await asyncio.sleep(2)  # the clock stands still: nothing is due, nothing may be tried
    assert refused() == held

    told = await sim.wait_for_sent(
        lambda s: s.reached(NUMBERS["dana"]) and "could not be delivered" in s.message, timeout=5
    )
    assert "rate limited" in told.message.replace("_", " ")
    sim.faults.clear()
    in_process.clock.advance(timedelta(minutes=3))
    alert = await sim.wait_for_sent(
        lambda s: s.reached(NUMBERS["bob"]) and s.status == 201 and "ALERT" in s.message,
        timeout=10,
    )
    assert "Hotel Rex" in alert.message
