"""Figure 3: many live check-ins running out: how late is each alert, and what does idling cost.

`count` check-ins are stored (as `IN` would store them) with deadlines spread evenly over
`spread_s` seconds, starting a few seconds after the relay is spawned; grace is 2 s and there is no
reminder. Lateness of an alert = when it reached the simulator − (deadline + grace). After the
last alert nothing is due for an hour: the relay's CPU time and voluntary context switches (all
threads; an upper bound on wake-ups: one wake of the event loop that asks the database switches
two threads several times) are then read over an idle window — between deadlines it should sleep.
Peak RSS of this run is reported with figure 4.
"""

from __future__ import annotations

import asyncio
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench import env, harness
from bench.stats import Figure, percentile
from bench.timedsim import TimedSim

GRACE = timedelta(seconds=2)
TIMINGS = {
    "checkin": "2h",
    "checkin_max": "12h",
    "reminder_before": "0",
    "grace": "2s",
    "escalate_after": "1h",
    "repeat_every": "1h",
}
_WHO = re.compile(r"\b[mM](\d{5})\b")


async def measure(
    work: Path, count: int, spread_s: float, idle_s: float
) -> tuple[Figure, float, int]:
    """The figure, the relay's peak RSS (MB) and how many members its rules had."""
    fig = Figure("deadlines")
    async with TimedSim(env.RELAY_NUMBER) as sim:
        world = env.make_world(work / "deadlines", sim.service, count, timings=TIMINGS)
        lead = 3.0 + count / 1000  # rules load and start-up, before the first deadline
        first = datetime.now(UTC) + timedelta(seconds=lead)
        due_at = {i: first + timedelta(seconds=spread_s * i / count) for i in range(count)}
        await env.seed_checkins(world, due_at.items(), timedelta(hours=2))
        async with harness.running(sim, harness.relay_child(world, work)) as child:
            last_due = max(due_at.values()) + GRACE
            timeout = (last_due - datetime.now(UTC)).total_seconds() + 60
            await harness.wait_sends(sim, _is_alert, count, timeout)
            lateness: dict[int, float] = {}
            for arrival in sim.arrivals:
                if not _is_alert(arrival.sent):
                    continue
                who = _WHO.search(arrival.sent.message)
                if who is None:
                    continue
                i = int(who.group(1))
                expected = (due_at[i] + GRACE).timestamp()
                lateness.setdefault(i, (arrival.wall - expected) * 1000)
            await asyncio.sleep(2)  # the last sends' bookkeeping settles
            before, t0 = child.usage(), time.perf_counter()
            await asyncio.sleep(idle_s)
            after, t1 = child.usage(), time.perf_counter()
            peak = after.peak_rss_mb
    values = list(lateness.values())
    minutes = (t1 - t0) / 60
    idle_cpu = (after.cpu_s - before.cpu_s) * 1000 / minutes
    wakeups = (after.wakeups - before.wakeups) / minutes
    p50, p99, worst = percentile(values, 50), percentile(values, 99), max(values, default=0)
    early = min(values, default=0)
    fig.add("alerts fired", len(values), unit=f"of {count}", met=len(values) == count)
    fig.add("lateness p50", p50, unit="ms")
    fig.add("lateness p99", p99, unit="ms", target="≤ 200", met=p99 <= 200)
    fig.add("lateness max", worst, unit="ms", target="≤ 1000", met=worst <= 1000)
    fig.add("earliest", early, unit="ms", target="≥ 0", met=early >= 0)
    fig.add("idle CPU", idle_cpu, unit="ms/min")
    fig.add("idle context switches", wakeups, unit="/min")
    fig.summary = (
        f"{len(values)}/{count} alerts over {spread_s:.0f}s: late by p50 {p50:.0f} ms, "
        f"p99 {p99:.0f} ms, max {worst:.0f} ms; idle between deadlines {idle_cpu:.0f} ms CPU "
        f"and {wakeups:.0f} context switches per minute (over {t1 - t0:.0f}s)"
    )
    return fig, peak, count


def _is_alert(sent: object) -> bool:
    return "ALERT" in getattr(sent, "message", "")
