"""Running a child against a simulator: start it, wait until it listens, always stop it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from bench import procs
from bench.env import World
from bench.timedsim import TimedSim

ECHO_NUMBER = "+12025550199"


class ChildFailed(RuntimeError):
    pass


async def wait_connected(sim: TimedSim, child: procs.Child, timeout: float) -> float:  # noqa: ASYNC109
    """Seconds from spawning `child` to its receive WebSocket reaching `sim`."""
    before = len(sim.connected_at)
    deadline = time.perf_counter() + timeout
    while len(sim.connected_at) <= before:
        if not child.alive():
            raise ChildFailed(f"{child.name} exited early:\n{child.log_tail()}")
        if time.perf_counter() > deadline:
            raise ChildFailed(
                f"{child.name} did not connect in {timeout:.0f}s:\n{child.log_tail()}"
            )
        await asyncio.sleep(0.005)
    return sim.connected_at[before] - child.started


@asynccontextmanager
async def running(
    sim: TimedSim,
    start: Callable[[], procs.Child],
    timeout: float = 60.0,  # noqa: ASYNC109 — how long the child may take to connect
) -> AsyncIterator[procs.Child]:
    child = start()
    try:
        child.ready_s = await wait_connected(sim, child, timeout)
        yield child
    finally:
        await asyncio.to_thread(child.stop)


def relay_child(world: World, logs: Path) -> Callable[[], procs.Child]:
    return lambda: procs.relay(world.config, logs / f"relay-{world.root.name}.log")


def echo_child(sim: TimedSim, logs: Path) -> Callable[[], procs.Child]:
    return lambda: procs.echo_bot(sim.service, sim.account, logs / "echo.log")


async def wait_sends(
    sim: TimedSim,
    predicate: Callable[[object], bool],
    count: int,
    timeout: float,  # noqa: ASYNC109
    since: int = 0,
) -> None:
    """Until `count` deliveries from `since` on match `predicate` (or the timeout).

    Counted per recipient: the relay sends one request for the same text to several people."""
    deadline = time.perf_counter() + timeout
    seen = since
    found = 0
    while True:
        arrivals = sim.arrivals
        found += sum(len(a.sent.recipients) for a in arrivals[seen:] if predicate(a.sent))
        seen = len(arrivals)
        if found >= count or time.perf_counter() > deadline:
            return
        await asyncio.sleep(0.02)
