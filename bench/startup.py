"""Figure 5: start-up with many overdue deadlines: time to ready, and to every alert queued.

The relay first runs once with the world's rules and is stopped, as a box that was running
before it went down (that run leaves its sealed copy of the checked rules, `relay.rules.compiled`;
its own start is reported as the cold start: rules never seen before, checked in full). Then
`count` check-ins whose deadlines passed while the relay was down (spread over the last hour) are
stored, and the relay is spawned again. Ready = spawn → its receive WebSocket reaches the
simulator (Python start, rules, database, every task running). Queued = spawn → every overdue
check-in's alert is committed (its watch is 'alerted' in the commit that queues the alert; read
from the database, as a second reader). Handed over =
spawn → the simulator got all of them.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench import env, harness, procs
from bench.stats import Figure
from bench.timedsim import TimedSim
from relay.store.db import DB_NAME

TIMINGS = {
    "checkin": "2h",
    "checkin_max": "12h",
    "reminder_before": "0",
    "grace": "5s",
    "escalate_after": "1h",
    "repeat_every": "1h",
}


def _alerts_queued(db: Path) -> int:
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
    except sqlite3.Error:
        return 0
    try:
        # The watches, not the outbox: an alert's row goes once it is sent (issue 17), and each
        # watch turns 'alerted' in the very commit that queues its alert.
        row = conn.execute("SELECT COUNT(*) FROM watches WHERE phase = 'alerted'").fetchone()
        return int(row[0])
    except sqlite3.Error:
        return 0
    finally:
        conn.close()


async def measure(work: Path, count: int) -> Figure:
    fig = Figure("start-up")
    async with TimedSim(env.RELAY_NUMBER) as sim:
        world = env.make_world(work / "startup", sim.service, count, timings=TIMINGS)
        before = procs.relay(world.config, work / "relay-startup-cold.log")
        try:
            cold = await harness.wait_connected(sim, before, timeout=120)
        finally:
            await asyncio.to_thread(before.stop)
        now = datetime.now(UTC)
        overdue = (
            (i, now - timedelta(minutes=61) + timedelta(seconds=3600 * i / count))
            for i in range(count)
        )
        await env.seed_checkins(world, overdue, timedelta(hours=2))
        db = world.data_dir / DB_NAME
        child = procs.relay(world.config, work / "relay-startup.log")
        try:
            ready = await harness.wait_connected(sim, child, timeout=120)
            queued = float("nan")
            deadline = time.perf_counter() + 120
            while time.perf_counter() < deadline:
                if await asyncio.to_thread(_alerts_queued, db) >= count:
                    queued = time.perf_counter() - child.started
                    break
                await asyncio.sleep(0.02)
            await harness.wait_sends(sim, lambda s: "ALERT" in s.message, count, 120)
            alerts = [a for a in sim.arrivals if "ALERT" in a.sent.message]
            handed = alerts[-1].perf - child.started if len(alerts) >= count else float("nan")
        finally:
            await asyncio.to_thread(child.stop)
    fig.add("ready", ready, unit="s", target="≤ 2", met=ready <= 2)
    fig.add("all overdue alerts queued", queued, unit="s", target="≤ 5", met=queued <= 5)
    fig.add("all handed to the simulator", handed, unit="s")
    fig.add("cold start, ready (rules checked in full)", cold, unit="s")
    fig.summary = (
        f"{count:,} overdue deadlines: ready in {ready:.2f}s, every alert queued at {queued:.2f}s "
        f"and handed over at {handed:.2f}s (from spawn, {count:,} members in the rules; "
        f"ready in {cold:.2f}s on a cold start, rules never seen before)"
    )
    return fig
