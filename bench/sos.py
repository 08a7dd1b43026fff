"""Figure 6: an SOS to 50 recipients: how long until the simulator has them all, in how many
requests. The member `sos` has 50 watchers; her SOS alerts all of them at once (tier 1)."""

from __future__ import annotations

import time
from pathlib import Path

from bench import env, harness
from bench.stats import Figure
from bench.timedsim import TimedSim

RECIPIENTS = 50
TIMINGS = {"checkin": "2h", "escalate_after": "1h", "repeat_every": "1h"}


async def measure(work: Path) -> Figure:
    fig = Figure("SOS to 50")
    async with TimedSim(env.RELAY_NUMBER) as sim:
        world = env.make_world(
            work / "sos", sim.service, RECIPIENTS + 2, timings=TIMINGS, sos_watchers=RECIPIENTS
        )
        her = env.number(world.members)  # `sos` is numbered right after the generated members
        async with harness.running(sim, harness.relay_child(world, work)):
            since = len(sim.arrivals)
            requests = sim.send_requests
            start = time.perf_counter()
            await sim.member_sends(her, "SOS")
            await harness.wait_sends(sim, _alert, RECIPIENTS, 30, since=since)
            arrivals = [a for a in sim.arrivals[since:] if _alert(a.sent)]
            reached = {r for a in arrivals for r in a.sent.delivered_to}
            elapsed = (arrivals[-1].perf - start) * 1000 if arrivals else float("nan")
            alert_requests = len(arrivals)
            total_requests = sim.send_requests - requests
    fig.add(
        "recipients reached", len(reached), unit=f"of {RECIPIENTS}", met=len(reached) == RECIPIENTS
    )
    fig.add("handed over", elapsed, unit="ms", target="≤ 100", met=elapsed <= 100)
    fig.add("send requests for the alert", alert_requests, target="1", met=alert_requests == 1)
    fig.summary = (
        f"{len(reached)}/{RECIPIENTS} reached {elapsed:.0f} ms after the SOS frame, in "
        f"{alert_requests} /v2/send request(s) for the alert "
        f"({total_requests} in all, with her reply)"
    )
    return fig


def _alert(sent: object) -> bool:
    return "SOS from" in getattr(sent, "message", "")
