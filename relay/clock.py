"""The one place the running relay reads time, so tests and drills can move it."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...

    async def sleep_until(self, moment: datetime | None, wake: asyncio.Event) -> None:
        """Return at `moment` (never, if None) or as soon as `wake` is set, whichever is first."""


MAX_SLEEP = 60.0
"""Sleeps are cut at this length so a step of the wall clock (NTP after boot on a Pi with no RTC)
is noticed within a minute; between deadlines that is one cheap wake-up a minute, not a poll."""


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep_until(self, moment: datetime | None, wake: asyncio.Event) -> None:
        timeout = MAX_SLEEP
        if moment is not None:
            timeout = min(MAX_SLEEP, max(0.0, (moment - self.now()).total_seconds()))
        # asyncio.timeout, not wait_for: on 3.11 wait_for swallows a cancellation that arrives
        # as `wake` is set, and the task then sleeps on through a clean stop.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await wake.wait()
        wake.clear()
