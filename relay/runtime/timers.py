"""The timer: every due step of every watch (reminders, alerts, escalations) taken on time.

The loop sleeps until the earliest deadline in the database, or until woken. Waking is the
`Alarm`'s job, made before the desk and the timer so that both can hold it: a decision that
saved a watch due *earlier* than the timer's alarm moves the alarm (no pass over the database);
a clock step or a test asks for a full pass. Each pass reads the due watches' ids first, then
reads, decides (the pure core's `on_timer`) and writes them `BATCH` at a time: after a restart
with thousands overdue the first alerts are queued and handed to the sender without waiting for
every other watch to be read, or for one commit per watch.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import TYPE_CHECKING

from relay.core.decide import Decision, on_timer
from relay.core.render import span
from relay.core.state import Watch
from relay.runtime.clock import has_stepped
from relay.runtime.logs import watch_ref

if TYPE_CHECKING:
    from relay.runtime.alarm import Alarm
    from relay.runtime.desk import Desk

log = logging.getLogger(__name__)

BATCH = 200  # due watches written per transaction
LOG_EACH = 20  # a pass with more due than this logs one line per batch, not per watch


class Timers:
    def __init__(self, desk: Desk, alarm: Alarm) -> None:
        self.desk = desk
        self.alarm = alarm
        # When the loop last made progress (monotonic): the watchdog's stall check
        # (`Relay.stalled`) tells a loop that hangs from one busy with a backlog after downtime.
        self.progress = time.monotonic()

    async def fire_due(self) -> int:
        """Take every due step of every watch; return how many watches moved. Each watch due
        at the start of the pass is decided once."""
        desk = self.desk
        async with desk.lock:
            await desk.follow_clock()
            now = desk.clock.now()
            self.progress = time.monotonic()
            due = await desk.watches.due_ids(now)
            for start in range(0, len(due), BATCH):
                chunk = await desk.watches.by_ids(due[start : start + BATCH])
                decisions = [on_timer(desk.context, watch, now) for watch in chunk]
                await desk.apply(
                    Decision(
                        watches=tuple(w for d in decisions for w in d.watches),
                        messages=tuple(m for d in decisions for m in d.messages),
                    ),
                    now,
                )
                self.progress = time.monotonic()
                self._log(chunk, now, backlog=len(due) > LOG_EACH)
            return len(due)

    async def run(self) -> None:
        alarm, clock = self.alarm, self.desk.clock
        while True:
            alarm.asleep = False
            await self.fire_due()
            nxt = await self.desk.watches.next_wake()
            while True:
                alarm.sleeping(nxt)
                await clock.sleep_until(nxt, alarm.wake)
                sooner = alarm.sooner
                if alarm.look or sooner is None or sooner <= clock.now() or has_stepped(clock):
                    break  # due, stepped or asked: a full pass
                nxt = sooner  # only an earlier deadline, still ahead: set the alarm to it

    def _log(self, watches: list[Watch], now: datetime, *, backlog: bool) -> None:
        """One line per watch, or — for a backlog (after downtime) — one line per batch."""
        if backlog:
            oldest = min((w.next_at for w in watches if w.next_at is not None), default=now)
            log.info(
                "timers for %d overdue watch(es), up to %s late", len(watches), span(now - oldest)
            )
        level = logging.DEBUG if backlog else logging.INFO
        if not log.isEnabledFor(level):
            return
        for watch in watches:
            late = now - watch.next_at if watch.next_at else None
            log.log(
                level,
                "timer for watch %s (%s)%s",
                watch_ref(self.desk.sealer, watch.id),
                watch.phase,
                f", {span(late)} late" if late and late.total_seconds() > 30 else "",
            )
