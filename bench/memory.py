"""Figure 4: resident memory of the relay, as the difference from the bare echo bot's.

Both run side by side against their own simulators and handle the same traffic: every one of
`members` members sends `IN 2h Hotel Rex` (so each has a live check-in) and then `STATUS`; the
echo bot answers the same number of messages. The reference's floor for the echo bot is about
57 MB; the relay's own cost is what it adds to that.
"""

from __future__ import annotations

from pathlib import Path

from bench import env, harness
from bench.stats import Figure
from bench.timedsim import TimedSim

TIMINGS = {"checkin": "2h", "reminder_before": "10m", "grace": "10m"}
BUDGET_MB = 60.0


async def _traffic(sim: TimedSim, members: int, texts: tuple[str, ...], window: int = 50) -> int:
    """Every member sends each text; at most `window` replies outstanding. Returns how many."""
    sent = 0
    start = len(sim.arrivals)
    for text in texts:
        for i in range(members):
            await sim.member_sends(env.number(i), text)
            sent += 1
            if sent - sum(len(a.sent.recipients) for a in sim.arrivals[start:]) >= window:
                await harness.wait_sends(sim, lambda _: True, sent - window, 30, since=start)
    await harness.wait_sends(sim, lambda _: True, sent, 60, since=start)
    return sent


async def measure(work: Path, members: int) -> tuple[Figure, float, float]:
    """The figure (without the 10,000 row), the relay's and the echo bot's peak RSS (MB)."""
    fig = Figure("memory")
    async with (
        TimedSim(env.RELAY_NUMBER) as relay_sim,
        TimedSim(harness.ECHO_NUMBER) as echo_sim,
    ):
        world = env.make_world(work / "memory", relay_sim.service, members, timings=TIMINGS)
        async with (
            harness.running(relay_sim, harness.relay_child(world, work)) as relay,
            harness.running(echo_sim, harness.echo_child(echo_sim, work)) as echo,
        ):
            handled = await _traffic(relay_sim, members, ("IN 2h Hotel Rex", "STATUS"))
            await _traffic(echo_sim, members, ("hello", "hello"))
            relay_peak = relay.usage().peak_rss_mb
            echo_peak = echo.usage().peak_rss_mb
    fig.add(
        f"peak RSS, {members:,} members, {members:,} live",
        relay_peak,
        baseline=echo_peak,
        unit="MB",
    )
    fig.notes.append(f"{handled} messages each")
    return fig, relay_peak, echo_peak


def finish(
    fig: Figure,
    small: tuple[int, float],
    large: tuple[int, float] | None,
    echo_peak: float,
) -> Figure:
    """Add the verdict rows: the relay's cost over the echo bot, small world and large one."""
    members, peak = small
    over = peak - echo_peak
    fig.add(f"over echo bot, {members:,} members", over, unit="MB", target="≤ 60", met=over <= 60)
    summary = (
        f"{peak:.0f} MB peak with {members:,} members "
        f"({over:+.0f} MB over echo bot's {echo_peak:.0f} MB)"
    )
    if large is not None:
        count, big = large
        fig.add(
            f"peak RSS, {count:,} members, {count:,} live",
            big,
            baseline=echo_peak,
            unit="MB",
        )
        big_over = big - echo_peak
        fig.add(
            f"over echo bot, {count:,} members",
            big_over,
            unit="MB",
            target="≤ 60",
            met=big_over <= BUDGET_MB,
        )
        summary += (
            f"; {big:.0f} MB ({big_over:+.0f} MB) with {count:,} members "
            f"and {count:,} live check-ins firing"
        )
    fig.summary = summary
    return fig
