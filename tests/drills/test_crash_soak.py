"""Crash soak: the relay as a subprocess under a steady load of check-ins, killed with SIGKILL
at random moments and restarted each time. Every check-in she was told about ends in an alert
to her buddy (none lost), and a kill costs at most one duplicate message."""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
from collections import Counter
from pathlib import Path

import pytest

from bench import env, procs
from relay.sim import SignalSim
from tests.drills.conftest import scale

TIMINGS = {
    "checkin": "2h",
    "reminder_before": "0",
    "grace": "1s",
    "escalate_after": "1h",
    "repeat_every": "1h",
}
_WHO = re.compile(r"\bM(\d{5})\b")


async def _load(sim: SignalSim, members: int, stop: asyncio.Event) -> int:
    """A check-in from the next member every 150 ms, whether the relay is up or not."""
    sent = 0
    while not stop.is_set() and sent < members:
        await sim.member_sends(env.number(sent), "IN 3s Hotel Rex")
        sent += 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=0.15)
    return sent


@pytest.mark.slow
async def test_kill_9_at_random_moments_loses_no_alert(tmp_path: Path) -> None:
    kills = scale(20, 200)
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    members = kills * 20
    async with SignalSim(env.RELAY_NUMBER) as sim:
        world = env.make_world(tmp_path / "world", sim.service, members, timings=TIMINGS)
        log = tmp_path / "relay.log"
        relay = procs.relay(world.config, log, pin=False)
        stop = asyncio.Event()
        load = asyncio.create_task(_load(sim, members, stop))
        try:
            await sim.wait_for_client(timeout=30)
            for _ in range(kills):
                await asyncio.sleep(rng.uniform(0.1, 1.2))
                relay.kill9()
                await sim.wait_for_no_client(timeout=10)
                relay = procs.relay(world.config, log, pin=False)
                await sim.wait_for_client(timeout=30)
            stop.set()
            checked_in = await load
            by_number = {env.number(i): i for i in range(members)}

            def confirmed() -> set[int]:
                return {
                    by_number[r]
                    for s in sim.sent
                    if "Checked in" in s.message
                    for r in s.delivered_to
                }

            def alerted() -> set[int]:
                found = set()
                for s in sim.sent:
                    who = _WHO.search(s.message) if "ALERT" in s.message else None
                    if who is not None and env.number(int(who.group(1)) ^ 1) in s.delivered_to:
                        found.add(int(who.group(1)))
                return found

            async with asyncio.timeout(60):
                while not confirmed() <= alerted():
                    await asyncio.sleep(0.2)
        finally:
            stop.set()
            load.cancel()
            await asyncio.to_thread(relay.stop)
    lost = confirmed() - alerted()
    assert not lost, f"seed {seed}: alerts lost for {sorted(lost)[:10]}"
    assert len(confirmed()) >= kills, f"only {len(confirmed())} of {checked_in} confirmed"
    counted = Counter(
        (r, s.message)
        for s in sim.sent
        if any(k in s.message for k in ("Checked in", "ALERT", "check-in ended", "Are you OK"))
        for r in s.delivered_to
    )
    duplicates = sum(n - 1 for n in counted.values())
    print(f"{kills} kills, {len(confirmed())} check-ins confirmed, none lost, {duplicates} dups")
    assert duplicates <= kills, f"seed {seed}: {duplicates} duplicates after {kills} kills"
