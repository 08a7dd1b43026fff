"""Free space for the data directory: the admin hears of a filling disk before it stops the relay.

A full SD card is an outage that looks like silence: no check-in, reply or alert can be stored,
and the outbox is the only way messages leave. `DiskWatch` looks at start and every
``disk.check_every``. When the space left to the relay falls below ``disk.low_free_mb`` the admin
is told once; when it is back above that line with a margin (`RECOVERED_AT`), once more, so a
disk hovering at the line does not send a message at every look.

Only sizes are logged: they say nothing about anyone.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Final

from relay.runtime.clock import Clock

log = logging.getLogger(__name__)

RECOVERED_AT: Final = 1.2
"""Back to normal only with this many times ``low_free_mb`` free."""

MB: Final = 1024 * 1024

Tell = Callable[..., Awaitable[None]]  # (catalog key, **params): a notice to the admin
Measure = Callable[[Path], int]


def free_bytes(path: Path) -> int:
    """Bytes the relay's user may still write on the file system holding `path`."""
    stat = os.statvfs(path)
    return stat.f_bavail * stat.f_frsize


class DiskWatch:
    def __init__(
        self,
        path: Path,
        low_free_mb: int,
        every: timedelta,
        clock: Clock,
        tell: Tell,
        measure: Measure = free_bytes,
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        self.path = path
        self.low_free = low_free_mb * MB
        self.every = every
        self.clock = clock
        self.tell = tell
        self.measure = measure
        self.low = False  # the admin was told the disk is low (and not yet that it recovered)
        self.free_mb: int | None = None  # at the last look, for `peer-relay status`
        self.wake = asyncio.Event()
        self.on_change = on_change  # the status file is written again

    def report(self) -> dict[str, object] | None:
        """For the status file (`peer-relay status`): None before the first look."""
        return None if self.free_mb is None else {"free_mb": self.free_mb, "low": self.low}

    async def check(self) -> None:
        """One look; tells the admin when the disk crosses the line either way."""
        try:
            # statvfs can hang on a failing card: never on the event loop.
            free = await asyncio.to_thread(self.measure, self.path)
        except OSError as exc:
            log.warning("could not read the free disk space (%s)", type(exc).__name__)
            return
        self.free_mb = free // MB
        low_mb = self.low_free // MB
        if not self.low and free < self.low_free:
            log.warning(
                "low disk: %d MB free for the data directory (warning below %d MB)",
                self.free_mb,
                low_mb,
            )
            self.low = await self._told("disk_low", free=self.free_mb, low=low_mb)
        elif self.low and free >= self.low_free * RECOVERED_AT:
            log.info("disk space is fine again: %d MB free", self.free_mb)
            self.low = not await self._told("disk_ok", free=self.free_mb)
        self.on_change()

    async def _told(self, key: str, **params: object) -> bool:
        """Whether the notice went out; one that did not is tried again at the next look."""
        try:
            await self.tell(key, **params)
        except Exception as exc:  # noqa: BLE001 — the look goes on; the next one tries again
            log.warning("could not tell the admin about the disk (%s)", type(exc).__name__)
            return False
        return True

    async def run(self) -> None:
        while True:
            await self.check()
            await self.clock.sleep_until(self.clock.now() + self.every, self.wake)
