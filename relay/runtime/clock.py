"""The one place the running relay reads time, so tests and drills can move it.

Deadlines are instants of the wall clock, and the wall clock can jump: NTP stepping a Pi that
booted without a real-time clock, an admin setting the date. A jump is not time passing — a
check-in of 90 minutes must alert 90 minutes (plus grace) after IN, whatever the clock did —
so a clock that can tell reports each jump (`take_step`) and the desk moves the live deadlines
with it (`Desk.follow_clock`).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import sys
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Protocol

log = logging.getLogger(__name__)


class Clock(Protocol):
    def now(self) -> datetime: ...

    async def sleep_until(self, moment: datetime | None, wake: asyncio.Event) -> None:
        """Return at `moment` (never, if None) or as soon as `wake` is set, whichever is first.

        May return early (a clock step); callers re-check and sleep again."""


def has_stepped(clock: Clock) -> bool:
    """Whether a clock step waits to be taken; False from clocks that cannot tell."""
    peek: Callable[[], bool] | None = getattr(clock, "stepped", None)
    return peek() if peek is not None else False


def step_of(clock: Clock) -> timedelta:
    """How far the wall clock jumped since last asked; zero from clocks that cannot tell."""
    take: Callable[[], timedelta] | None = getattr(clock, "take_step", None)
    return take() if take is not None else timedelta(0)


async def wait_any(
    events: Iterable[asyncio.Event],
    timeout: float | None = None,  # noqa: ASYNC109 -- asyncio.wait's own limit; it raises nothing
) -> None:
    """Return as soon as one of `events` is set, or after `timeout` seconds (never, if None).

    For clocks, the real one and those tests and drills inject: the waiters are cancelled and
    reaped before returning, so none is left pending on an event that may never be set.
    """
    waiters = {asyncio.ensure_future(event.wait()) for event in events}
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)


MAX_SLEEP = 60.0
"""Without a way to be told of clock steps (no timerfd), sleeps are cut at this length so a step
is noticed within a minute: one cheap wake-up a minute, not a poll."""

STEP_MIN = 1.0
"""Seconds the wall clock must jump, against the boot clock, to count as a step. NTP slews
small errors (both clocks move together); it steps large ones."""


def _boot_seconds() -> float:
    """Seconds since boot, counting suspend (a suspended box is not a clock step)."""
    return time.clock_gettime(getattr(time, "CLOCK_BOOTTIME", time.CLOCK_MONOTONIC))


class SystemClock:
    def __init__(
        self,
        wall: Callable[[], float] = time.time,
        boot: Callable[[], float] = _boot_seconds,
        use_timerfd: bool = True,
    ) -> None:
        self._wall = wall
        self._boot = boot
        self._offset = wall() - boot()
        self._use_timerfd = use_timerfd
        self._watch: _StepWatch | None = None
        self._sleepers: set[asyncio.Event] = set()  # set at a clock step, to end their sleeps

    def now(self) -> datetime:
        return datetime.fromtimestamp(self._wall(), UTC)

    def stepped(self) -> bool:
        """Whether the wall clock jumped since `take_step` last said so (without taking it)."""
        return abs(self._wall() - self._boot() - self._offset) >= STEP_MIN

    def take_step(self) -> timedelta:
        offset = self._wall() - self._boot()
        jump = offset - self._offset
        if abs(jump) < STEP_MIN:
            return timedelta(0)
        self._offset = offset
        return timedelta(seconds=jump)

    async def sleep_until(self, moment: datetime | None, wake: asyncio.Event) -> None:
        # A clock step sets `wake` itself: one waiter, no helper tasks (this runs per message).
        timeout = None if moment is None else max(0.0, (moment - self.now()).total_seconds())
        if not self._watching():
            timeout = MAX_SLEEP if timeout is None else min(MAX_SLEEP, timeout)
        self._sleepers.add(wake)
        try:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await wake.wait()
        finally:
            self._sleepers.discard(wake)
        wake.clear()

    def close(self) -> None:
        """Stop watching for clock steps (the timerfd belongs to the loop that is ending)."""
        if self._watch is not None:
            self._watch.close()
            self._watch = None

    def _watching(self) -> bool:
        """Whether clock steps end sleeps (else sleeps are cut at MAX_SLEEP)."""
        if not self._use_timerfd:
            return False
        if self._watch is None:
            self._watch = _StepWatch.open(self._on_step)
        if self._watch is None or not self._watch.alive:
            self._use_timerfd = False  # back to sleeps of at most MAX_SLEEP
            return False
        return True

    def _on_step(self) -> None:
        for wake in self._sleepers:
            wake.set()


class _Timespec(ctypes.Structure):
    _fields_ = (("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long))


class _Itimerspec(ctypes.Structure):
    _fields_ = (("it_interval", _Timespec), ("it_value", _Timespec))


_CLOCK_REALTIME = 0
_TFD_TIMER_ABSTIME = 1
_TFD_TIMER_CANCEL_ON_SET = 2
_FAR = 10 * 365 * 86400


class _StepWatch:
    """Linux timerfd with TFD_TIMER_CANCEL_ON_SET: readable when the wall clock is set.

    Lets sleeps last until the next deadline with no periodic wake-up, yet end at once when
    the clock jumps.
    """

    def __init__(self, libc: ctypes.CDLL, fd: int, on_step: Callable[[], None]) -> None:
        self._libc = libc
        self.fd = fd
        self._on_step = on_step
        self.alive = True

    @classmethod
    def open(cls, on_step: Callable[[], None]) -> _StepWatch | None:
        if not sys.platform.startswith("linux"):
            return None
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            fd = libc.timerfd_create(_CLOCK_REALTIME, os.O_NONBLOCK | os.O_CLOEXEC)
        except (OSError, AttributeError):
            return None
        if fd < 0:
            return None
        watch = cls(libc, fd, on_step)
        if not watch._arm():
            os.close(fd)
            return None
        asyncio.get_running_loop().add_reader(fd, watch._readable)
        return watch

    def _arm(self) -> bool:
        spec = _Itimerspec(_Timespec(0, 0), _Timespec(int(time.time()) + _FAR, 0))
        flags = _TFD_TIMER_ABSTIME | _TFD_TIMER_CANCEL_ON_SET
        return int(self._libc.timerfd_settime(self.fd, flags, ctypes.byref(spec), None)) == 0

    def close(self) -> None:
        if self.alive:
            self.alive = False
            with contextlib.suppress(RuntimeError, ValueError):  # the loop may be closed already
                asyncio.get_running_loop().remove_reader(self.fd)
            os.close(self.fd)

    def _readable(self) -> None:
        with contextlib.suppress(OSError):  # ECANCELED is the news itself
            os.read(self.fd, 8)
        if not self._arm():
            log.warning("cannot re-arm the clock-step watch; clock steps noticed within a minute")
            self.close()
        self._on_step()
