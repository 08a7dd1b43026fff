"""Drills: the relay under crashes, clock steps, downtime, outages, rate limits and replays.

Counts are small by default (CI); `DRILL_SCALE=full` runs the issue's full counts. Simulated
time comes from `SteppedClock`, injected into an in-process relay: real time plus an offset the
drill moves, so ten minutes of outage or three days of downtime take seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from relay.config import load_config
from relay.crypto.keys import load_key
from relay.crypto.seal import Sealer
from relay.rules import load_rules
from relay.runtime.clock import wait_any
from relay.runtime.logs import setup_logging
from relay.runtime.supervisor import Relay
from relay.sim import SignalSim
from tests.e2e.conftest import NUMBERS, RELAY_NUMBER, wait_receiving

FULL = os.environ.get("DRILL_SCALE", "").lower() == "full"


def scale(ci: int, full: int) -> int:
    return full if FULL else ci


class SteppedClock:
    """The wall clock as the relay sees it: real time plus `offset`, which a drill steps.

    Sleepers wake on a step (a real clock step wakes nobody; the relay must notice it by
    itself — `take_step` is how it asks).
    """

    def __init__(self) -> None:
        self.offset = timedelta(0)
        self._untaken = timedelta(0)
        self._moved = asyncio.Event()

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def stepped(self) -> bool:
        return self._untaken != timedelta(0)

    def take_step(self) -> timedelta:
        step, self._untaken = self._untaken, timedelta(0)
        return step

    def step(self, delta: timedelta) -> None:
        """The wall clock jumps (NTP, a hand-set clock): `now()` moves, real time does not."""
        self.offset += delta
        self._untaken += delta
        self._wake()

    def advance(self, delta: timedelta) -> None:
        """Time passes faster than real: for the relay, `delta` of ordinary time went by.

        Unlike `step`, this is not a jump of the clock: the relay must treat it as elapsed.
        """
        self.offset += delta
        self._wake()

    def _wake(self) -> None:
        moved, self._moved = self._moved, asyncio.Event()
        moved.set()

    async def sleep_until(self, moment: datetime | None, wake: asyncio.Event) -> None:
        moved = self._moved
        timeout = None if moment is None else max(0.0, (moment - self.now()).total_seconds())
        await wait_any((wake, moved), timeout)
        wake.clear()


@dataclass
class InProcess:
    """The relay in this event loop with an injected clock; start and stop it at will."""

    sim: SignalSim
    config_path: Path
    clock: SteppedClock = field(default_factory=SteppedClock)
    relay: Relay | None = None
    task: asyncio.Task[int] | None = None

    async def start(self) -> Relay:
        config = load_config(self.config_path)
        rules = load_rules(config.rules_dir, allow_placeholders=True)
        sealer = Sealer(load_key(config.data_dir))
        self.relay = Relay(
            config=config, rules=rules, sealer=sealer, clock=self.clock, install_signals=False
        )
        self.task = asyncio.create_task(self.relay.run())
        ready = asyncio.create_task(self.relay.ready.wait())
        done, _ = await asyncio.wait({ready, self.task}, timeout=10, return_when="FIRST_COMPLETED")
        if self.task in done:
            ready.cancel()
            raise RuntimeError(f"relay exited at start with {self.task.result()}")
        await wait_receiving(self.sim, self.relay)
        return self.relay

    async def stop(self) -> None:
        if self.relay is not None and self.task is not None:
            self.relay.stop_event.set()
            await asyncio.wait_for(self.task, timeout=15)
        self.relay = None
        self.task = None

    @property
    def sealer(self) -> Sealer:
        return Sealer(load_key(load_config(self.config_path).data_dir))

    @property
    def data_dir(self) -> Path:
        return load_config(self.config_path).data_dir

    async def says(self, member: str, text: str, **kwargs: object) -> int:
        return await self.sim.member_sends(NUMBERS[member], text, **kwargs)  # type: ignore[arg-type]

    def texts_to(self, member: str) -> list[str]:
        number = NUMBERS.get(member, member)
        return [s.message for s in self.sim.sent if s.reached(number)]

    async def settle(self, timeout: float = 10.0) -> None:
        """Until every frame the simulator delivered so far was read and handled."""
        relay = self.relay
        assert relay is not None and relay.receiver is not None and relay.desk is not None
        async with asyncio.timeout(timeout):
            quiet = 0
            while quiet < 3:
                busy = (
                    relay.receiver.frames < self.sim.stats.frames_delivered
                    or not relay.queue.empty()
                    or relay.desk.lock.locked()
                )
                quiet = 0 if busy else quiet + 1
                await asyncio.sleep(0.02)


@pytest.fixture
async def sim() -> AsyncIterator[SignalSim]:
    async with SignalSim(RELAY_NUMBER) as simulator:
        yield simulator


@pytest.fixture
async def in_process(sim: SignalSim, tmp_path: Path) -> AsyncIterator[InProcess]:
    """Not started: a drill writes its config first (`write_env`) and calls `start()`."""
    setup_logging("INFO")
    runner = InProcess(sim, tmp_path / "config.yaml")
    yield runner
    with contextlib.suppress(Exception):
        await runner.stop()


__all__ = ["FULL", "NUMBERS", "InProcess", "SteppedClock", "scale"]
