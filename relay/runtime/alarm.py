"""When the timer loop (`relay.runtime.timers`) wakes: at its deadline, sooner when a decision
saved an earlier one, or at once for a full pass. Made before the desk and the timer, so that
both hold it and neither needs the other."""

from __future__ import annotations

import asyncio
from datetime import datetime

from relay.core.state import Watch


class Alarm:
    """When the timer loop wakes: at its deadline, sooner when told of an earlier one, or at
    once for a full pass."""

    def __init__(self) -> None:
        self.wake = asyncio.Event()
        # While the loop sleeps: until when (None: until woken). Saving a watch due later than
        # that needs no wake-up (it cost a lock and two queries per message); one due sooner
        # only moves the alarm, no pass over the database.
        self.asleep = False
        self.until: datetime | None = None
        self.sooner: datetime | None = None
        self.look = False  # wake for a full pass (a clock step, a test), not a new alarm

    def saved(self, watches: tuple[Watch, ...]) -> None:
        """Watches were just committed: wake earlier if one is due before the alarm."""
        if not self.asleep:
            return  # the loop reads the earliest deadline again before it sleeps
        sooner = min((w.next_at for w in watches if w.next_at is not None), default=None)
        if sooner is None or (self.until is not None and sooner >= self.until):
            return
        if self.sooner is None or sooner < self.sooner:
            self.sooner = sooner
        self.wake.set()

    def full_pass(self) -> None:
        """A full pass now: every due watch, the earliest deadline read again."""
        self.look = True
        self.wake.set()

    def sleeping(self, until: datetime | None) -> None:
        self.asleep, self.until, self.sooner, self.look = True, until, None, False
