"""Figure 2: inbound messages per second the relay keeps up with, on one core.

Two passes over the same relay. A burst: `count` messages pushed as fast as the simulator can
write them, from `members` members in turn (each `IN`/`OUT` alternately, every one a durable
commit and a reply); capacity = messages / time until the last reply. Then a paced pass at the
target rate for a few seconds: it keeps up if every reply comes and the lag does not grow.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from bench import env, harness
from bench.stats import Figure, percentile
from bench.timedsim import TimedSim

TARGET = 500.0
MEMBERS = 400


def _text(i: int) -> str:
    return "IN 2h Hotel Rex" if (i // MEMBERS) % 2 == 0 else "OUT"


async def _drain(sim: TimedSim, since: int, count: int, timeout: float) -> None:  # noqa: ASYNC109 — a bounded wait is the point
    await harness.wait_sends(sim, lambda _: True, count, timeout, since=since)


async def measure(work: Path, burst: int, paced_s: float) -> Figure:
    fig = Figure("inbound throughput")
    async with TimedSim(env.RELAY_NUMBER) as sim:
        world = env.make_world(work / "throughput", sim.service, MEMBERS, timings={"checkin": "2h"})
        async with harness.running(sim, harness.relay_child(world, work)) as child:
            # Burst: capacity.
            since = len(sim.arrivals)
            cpu0 = child.usage().cpu_s
            start = time.perf_counter()
            for i in range(burst):
                await sim.member_sends(env.number(i % MEMBERS), _text(i))
            pushed = time.perf_counter() - start
            await _drain(sim, since, burst, timeout=120)
            answered = sum(len(a.sent.recipients) for a in sim.arrivals[since:])
            elapsed = sim.arrivals[-1].perf - start if answered else float("nan")
            cpu = child.usage().cpu_s - cpu0
            capacity = answered / elapsed
            # Paced: the target rate for paced_s seconds; lag = reply time - push time.
            await asyncio.sleep(0.5)
            since = len(sim.arrivals)
            offset = burst
            n = int(TARGET * paced_s)
            pushes: list[float] = []
            start = time.perf_counter()
            for i in range(n):
                wait = start + i / TARGET - time.perf_counter()
                if wait > 0:
                    await asyncio.sleep(wait)
                pushes.append(time.perf_counter())
                await sim.member_sends(env.number((offset + i) % MEMBERS), _text(offset + i))
            await _drain(sim, since, n, timeout=60)
            replies = sim.arrivals[since:]
            # Replies to one member are in order; match each member's k-th push and reply.
            by_member: dict[str, list[float]] = {}
            for i, at in enumerate(pushes):
                by_member.setdefault(env.number((offset + i) % MEMBERS), []).append(at)
            lags: list[float] = []
            for arrival in replies:
                for recipient in arrival.sent.recipients:
                    queue = by_member.get(recipient)
                    if queue:
                        lags.append((arrival.perf - queue.pop(0)) * 1000)
            offered = n / (pushes[-1] - pushes[0]) if n > 1 else float("nan")
    kept_up = len(lags) == n and percentile(lags, 99) < 1000
    fig.add("burst capacity", capacity, unit="msg/s", target="≥ 500", met=capacity >= TARGET)
    fig.add("burst CPU per message", cpu / answered * 1000, unit="ms")
    fig.add(f"paced {TARGET:.0f}/s: answered", len(lags), unit="of " + str(n))
    fig.add("paced lag p50", percentile(lags, 50), unit="ms")
    fig.add("paced lag p99", percentile(lags, 99), unit="ms", target="< 1000", met=kept_up)
    fig.notes.append(f"burst pushed in {pushed:.2f}s (the simulator's own ceiling)")
    fig.summary = (
        f"{capacity:.0f} msg/s sustained in a burst of {burst} ({cpu / answered * 1000:.2f} ms "
        f"CPU each, one core); at {offered:.0f}/s offered for {paced_s:.0f}s: {len(lags)}/{n} "
        f"answered, lag p50 {percentile(lags, 50):.0f} ms, p99 {percentile(lags, 99):.0f} ms"
    )
    return fig
