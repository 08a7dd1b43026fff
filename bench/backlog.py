"""Figure 7: the boot backlog — messages that waited on Signal's servers while the box was off.

A power cut: signal-cli is down while `count` members write (one in twenty an SOS), so Signal
keeps every message. Then signal-cli starts in manual receive mode (as the Ansible role runs it)
and the relay is spawned: it subscribes on signal-cli's socket and signal-cli hands it the whole
backlog at once. Measured from the relay's spawn: subscribed; every message committed (its
de-duplication row, read from the database as a second reader); every message answered (each
member's reply, and each SOS's alert to her buddy, handed to the simulator).

The simulated signal-cli hands messages over as fast as the socket takes them (the real one
decrypts each and acknowledges it to Signal first), so this is the relay's side of the drain.
"""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path

from bench import env, procs
from bench.stats import Figure
from bench.timedsim import TimedSim
from relay.store.db import DB_NAME

TIMINGS = {
    "checkin": "2h",
    "reminder_before": "0",
    "grace": "5s",
    "escalate_after": "1h",
    "repeat_every": "1h",
}
SOS_EVERY = 20


def _committed(db: Path) -> int:
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
    except sqlite3.Error:
        return 0
    try:
        return int(conn.execute("SELECT COUNT(*) FROM inbox_seen").fetchone()[0])
    except sqlite3.Error:
        return 0
    finally:
        conn.close()


def _answered(sim: TimedSim) -> tuple[int, int]:
    """(members answered, buddies alerted for an SOS), counted per recipient."""
    replies = alerts = 0
    for arrival in sim.arrivals:
        text, reached = arrival.sent.message, len(arrival.sent.delivered_to)
        if "Checked in" in text or "Alert sent to" in text:
            replies += reached
        elif "SOS from" in text:
            alerts += reached
    return replies, alerts


async def measure(work: Path, count: int) -> Figure:
    fig = Figure("boot backlog")
    folder = Path(tempfile.mkdtemp(prefix="bench-sock-"))  # a UNIX socket path must be short
    socket = folder / "socket"
    try:
        async with TimedSim(env.RELAY_NUMBER, receive_mode="manual", socket_path=socket) as sim:
            world = env.make_world(
                work / "backlog", sim.service, count, timings=TIMINGS, socket=socket
            )
            await sim.signal_cli.stop()  # the box is off; Signal keeps what members send
            sos = 0
            for i in range(count):
                text = "SOS" if i % SOS_EVERY == SOS_EVERY - 1 else "IN 2h Hotel Rex"
                sos += text == "SOS"
                await sim.member_sends(env.number(i), text)
            await sim.signal_cli.start()
            db = world.data_dir / DB_NAME
            child = procs.relay(world.config, work / "relay-backlog.log")
            try:
                await sim.wait_for_subscriber(timeout=120)
                subscribed = time.perf_counter() - child.started
                committed = float("nan")
                deadline = time.perf_counter() + 300
                while time.perf_counter() < deadline:
                    if await asyncio.to_thread(_committed, db) >= count:
                        committed = time.perf_counter() - child.started
                        break
                    await asyncio.sleep(0.02)
                answered = float("nan")
                while time.perf_counter() < deadline:
                    if _answered(sim) >= (count, sos):
                        answered = sim.arrivals[-1].perf - child.started
                        break
                    await asyncio.sleep(0.02)
                lost = count - await asyncio.to_thread(_committed, db)
            finally:
                await asyncio.to_thread(child.stop)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    fig.add("subscribed", subscribed, unit="s")
    fig.add(f"all {count:,} committed", committed, unit="s")
    fig.add(f"all answered ({sos} SOS alerted)", answered, unit="s")
    fig.add("lost", lost, unit="")
    fig.summary = (
        f"{count:,} messages waiting on Signal's servers at boot ({sos} SOS), signal-cli in "
        f"manual mode: subscribed {subscribed:.2f}s after spawn, all committed at "
        f"{committed:.2f}s, all answered at {answered:.2f}s; {lost} lost"
    )
    return fig
