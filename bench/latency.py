"""Figure 1: a frame on the WebSocket → its reply at `/v2/send`, relay vs the echo bot.

The two run side by side in one run, each against its own simulator, one message at a time,
alternating (relay, echo, relay, echo …) so any drift of the machine hits both alike. The relay
gets real work: members alternate `IN 2h Hotel Rex` and `OUT`, each a durable commit (watch,
outbox row, de-dup tag) before the reply is sent.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from bench import env, harness
from bench.stats import Figure, percentile
from bench.timedsim import TimedSim

TIMINGS = {
    "checkin": "2h",
    "reminder_before": "10m",
    "grace": "10m",
    "escalate_after": "15m",
    "repeat_every": "5m",
}
MEMBERS = 40
GAP = 0.03
"""Seconds between samples: each side finishes its after-work (the relay marks the message sent,
another fsync) before the other is timed, as they share one core."""


async def _one(sim: TimedSim, sender: str, text: str) -> float:
    since = len(sim.arrivals)
    start = time.perf_counter()
    await sim.member_sends(sender, text)
    await sim.wait_for_sent(lambda s: s.reached(sender), since=len(sim.sent), timeout=10)
    arrival = next(a for a in sim.arrivals[since:] if a.sent.reached(sender))
    return (arrival.perf - start) * 1000


async def measure(work: Path, samples: int, warmup: int) -> tuple[Figure, float]:
    """The figure, and the echo bot's RSS (MB) after it answered every message (the floor)."""
    fig = Figure("reply latency")
    async with (
        TimedSim(env.RELAY_NUMBER) as relay_sim,
        TimedSim(harness.ECHO_NUMBER) as echo_sim,
    ):
        world = env.make_world(work / "latency", relay_sim.service, MEMBERS, timings=TIMINGS)
        async with (
            harness.running(relay_sim, harness.relay_child(world, work)),
            harness.running(echo_sim, harness.echo_child(echo_sim, work)) as echo,
        ):
            relay_ms: list[float] = []
            echo_ms: list[float] = []
            for i in range(warmup + samples):
                member = i % MEMBERS
                text = "IN 2h Hotel Rex" if (i // MEMBERS) % 2 == 0 else "OUT"
                r = await _one(relay_sim, env.number(member), text)
                await asyncio.sleep(GAP)
                e = await _one(echo_sim, env.number(member), "hello")
                await asyncio.sleep(GAP)
                if i >= warmup:
                    relay_ms.append(r)
                    echo_ms.append(e)
            echo_rss = echo.usage().rss_mb
    p50, p99 = percentile(relay_ms, 50), percentile(relay_ms, 99)
    b50, b99 = percentile(echo_ms, 50), percentile(echo_ms, 99)
    fig.add("p50", p50, baseline=b50, unit="ms", target="≤ base + 2", met=p50 <= b50 + 2)
    fig.add("p99", p99, baseline=b99, unit="ms", target="≤ base + 10", met=p99 <= b99 + 10)
    fig.add("p50 ratio", p50 / b50, unit="×")
    fig.summary = (
        f"p50 {p50:.2f} ms vs {b50:.2f} ms baseline (×{p50 / b50:.1f}, {p50 - b50:+.2f} ms); "
        f"p99 {p99:.2f} ms vs {b99:.2f} ms (×{p99 / b99:.1f}, {p99 - b99:+.2f} ms); "
        f"{samples} replies each, durable commits"
    )
    return fig, echo_rss
