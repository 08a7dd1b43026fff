"""The relay watching itself: systemd's watchdog, the STATUS= line, the status file, the run lock.

**Watchdog.** systemd kills and restarts a service that stops sending ``WATCHDOG=1``
(``WatchdogSec=`` in the unit). The relay keeps sending it, every half interval, only while all of
its loops make progress:

- the event processor, the timer loop and every supervised task (`Relay.stalled`);
- the receive loop. An idle receive WebSocket carries no frames for hours, so silence proves
  nothing; instead the watchdog round-trips a WebSocket ping on it each time. A connection that
  looks open but returns no pong (a wedged peer or proxy, a receive task that stopped reading) is
  stalled. Between connections the receive loop must keep trying: each attempt counts as progress,
  and a loop that has not tried for `STALL_AFTER` is stalled. signal-cli-rest-api being away is
  not a stall of the relay (a restart would not help); the canary reports that.

**STATUS= and the status file.** What `systemctl status` shows, and what `peer-relay status`
reads from ``<data_dir>/status.json`` (mode 0600): whether the receive WebSocket is open and
since when, the canary's last verdict, and a stall if any — counts, states and times only, never
a number, an alias or a word of any message. The file is rewritten only when what it says
changes (times to the minute), so an idle relay does not wear the SD card.

**Run lock.** ``<data_dir>/relay.lock`` is held (``flock``) for as long as a relay runs on that
data directory, so `peer-relay restore` can refuse to swap the database under a running relay,
and a second relay on the same database refuses to start.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TextIO

from relay.crypto.files import write_private_file
from relay.runtime import systemd
from relay.runtime.canary_report import CanaryReport
from relay.runtime.clock import Clock

log = logging.getLogger(__name__)

STALL_AFTER = 90.0
"""Seconds the receive loop may go without a connection attempt before it counts as stalled."""

PING_WITHIN = 10.0
"""Longest wait for a pong on the receive WebSocket (shorter when the watchdog interval is)."""

IDLE_PERIOD = 30.0
"""How often the checks run without systemd's watchdog (the STATUS= line and the file still)."""

STATUS_FILE = "status.json"
LOCK_FILE = "relay.lock"


class ReceiveLoop(Protocol):
    """What the watchdog needs of `relay.signal.receiver.Receiver`."""

    last_activity: float
    kind: str  # "socket" (signal-cli's JSON-RPC socket, manual mode) or "websocket"
    problem: str | None  # something `peer-relay status` must say (a daemon not in manual mode)

    @property
    def open(self) -> bool: ...

    async def ping(self, within: float) -> float | None: ...


# --- the run lock --------------------------------------------------------------------------------


class RunLock:
    """An exclusive ``flock`` on ``<data_dir>/relay.lock``; the kernel drops it if we die."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> bool:
        """Take the lock; False if another process (a running relay, a restore) holds it."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
        try:
            give_to_owner(fd, self.path.parent)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the flock
            self._fd = None


def give_to_owner(fd: int, data_dir: Path) -> None:
    """Run as root (a restore by hand with sudo), hand a file we made to the data directory's
    owner: a lock file or database left owned by root would stop the relay from starting."""
    if os.geteuid() != 0:
        return
    owner = data_dir.stat()
    if (owner.st_uid, owner.st_gid) != (0, 0):
        os.fchown(fd, owner.st_uid, owner.st_gid)


def relay_running(data_dir: Path) -> bool:
    """Whether a relay (or a restore) holds the run lock on `data_dir` now."""
    if not (data_dir / LOCK_FILE).exists():
        return False
    probe = RunLock(data_dir)
    try:
        if probe.acquire():
            probe.release()
            return False
    except OSError:
        return False  # not ours to open (another user's data directory): cannot tell
    return True


# --- the watchdog --------------------------------------------------------------------------------


@dataclass
class Watchdog:
    """Checks every loop each period; pings systemd only while all make progress."""

    stalled: Callable[[], Awaitable[str | None]]  # the daemon's own checks (processor, timers)
    receiver: ReceiveLoop
    data_dir: Path
    clock: Clock
    canary: Callable[[], CanaryReport | None] = lambda: None
    disk: Callable[[], dict[str, object] | None] = lambda: None  # relay.runtime.disk: free MB, low?
    # Set by the canary and the disk watch when what they report changes: written at once.
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    problem: str | None = None
    open_since: datetime | None = None
    _written: str | None = None
    _status: str | None = None

    async def run(self) -> None:
        interval = systemd.watchdog_interval()
        period = interval / 2 if interval else IDLE_PERIOD
        within = min(PING_WITHIN, period)
        while True:
            problem = await self.stalled() or await self._receive_stalled(within)
            if problem != self.problem:
                if problem is not None:
                    log.error("not pinging the watchdog: %s looks stalled", problem)
                else:
                    log.warning("every loop makes progress again; pinging the watchdog")
            self.problem = problem
            if problem is None and interval:
                systemd.notify(systemd.WATCHDOG)
            self.refresh()
            await self._pause(period)

    async def _pause(self, period: float) -> None:
        """`period` seconds, writing the status again whenever a report changes meanwhile."""
        until = time.monotonic() + period
        while (left := until - time.monotonic()) > 0:
            try:
                await asyncio.wait_for(self.changed.wait(), left)
            except TimeoutError:
                return
            self.changed.clear()
            self.refresh()

    async def _receive_stalled(self, within: float) -> str | None:
        try:
            latency = await self.receiver.ping(within)
        except TimeoutError:
            return "receiver (no pong on the receive connection)"
        if latency is not None:
            if self.open_since is None:
                self.open_since = self.clock.now()
            return None
        self.open_since = None
        if time.monotonic() - self.receiver.last_activity > STALL_AFTER:
            return "receiver (no connection attempt)"
        return None

    def refresh(self) -> None:
        """Tell systemd and the status file what is true now (only what changed is written)."""
        report = self.canary()
        text = self._status_line(report)
        if text != self._status:
            systemd.notify(systemd.status(text))
            self._status = text
        document = json.dumps(self._document(report), sort_keys=True)
        if document != self._written:
            try:
                write_private_file(self.data_dir / STATUS_FILE, document.encode(), overwrite=True)
            except OSError as exc:
                log.warning("could not write the status file (%s)", exc.strerror or "error")
                return
            self._written = document

    def _status_line(self, report: CanaryReport | None) -> str:
        if self.problem is not None:
            return f"stalled: {self.problem}; not pinging the watchdog"
        if report is not None and report.state == "degraded":
            since = _minute(report.failing_since) or "?"
            return f"relaying; no delivery proved since {since} UTC: alerts may be delayed"
        if report is not None and report.state == "ok":
            return f"relaying; delivery proved {_minute(report.last_ok_at)} UTC"
        return "relaying"

    def _document(self, report: CanaryReport | None) -> dict[str, Any]:
        canary: dict[str, Any] | None = None
        if report is not None:
            canary = {
                "state": report.state,
                "last_ok_at": _minute(report.last_ok_at),
                "checked_at": _minute(report.checked_at),
                "failing_since": _minute(report.failing_since),
                "reason": report.reason,
            }
        return {
            "version": 1,
            "pid": os.getpid(),
            "receive": {
                "open": self.receiver.open,
                "since": _minute(self.open_since),
                "via": self.receiver.kind,
                "problem": self.receiver.problem,
            },
            "canary": canary,
            "disk": self.disk(),
            "stalled": self.problem,
        }


def _minute(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


# --- for `peer-relay status` ---------------------------------------------------------------------


def report_status_file(data_dir: Path, out: TextIO) -> bool:
    """Print what the running relay last wrote about itself; True when all of it is healthy."""
    running = relay_running(data_dir)
    try:
        data = json.loads((data_dir / STATUS_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        out.write(f"relay: {'running' if running else 'NOT RUNNING'}, no status written yet\n")
        return False
    except (OSError, ValueError):
        out.write("relay: the status file is unreadable\n")
        return False
    if not isinstance(data, dict):
        out.write("relay: the status file is unreadable\n")
        return False
    healthy = running
    out.write(f"relay: {'running' if running else 'NOT RUNNING (what it last said follows)'}\n")
    stalled = data.get("stalled")
    if stalled:
        healthy = False
        out.write(f"watchdog: STALLED — {stalled}\n")
    receive = data.get("receive")
    receive = receive if isinstance(receive, dict) else {}
    via = "signal-cli's socket" if receive.get("via") == "socket" else "signal-cli-rest-api"
    if receive.get("open"):
        since = receive.get("since")
        what = "subscribed" if receive.get("via") == "socket" else "connected"
        out.write(f"receive loop: {what}{f' since {since} UTC' if since else ''}\n")
    else:
        healthy = False
        out.write(f"receive loop: NOT CONNECTED to {via}\n")
    if receive.get("problem"):
        healthy = False
        out.write(f"receive loop: PROBLEM — {receive['problem']}\n")
    canary = data.get("canary")
    if not isinstance(canary, dict):
        out.write("end-to-end check: off\n")
    elif canary.get("state") == "degraded":
        healthy = False
        reason = str(canary.get("reason") or "unknown").replace("_", " ")
        out.write(
            f"end-to-end check: FAILING since {canary.get('failing_since')} UTC ({reason}); "
            f"members are told alerts may be delayed\n"
        )
    elif canary.get("state") == "ok":
        out.write(f"end-to-end check: ok, delivery last proved {canary.get('last_ok_at')} UTC\n")
    else:
        out.write("end-to-end check: no verdict yet\n")
    disk = data.get("disk")
    if isinstance(disk, dict) and isinstance(disk.get("free_mb"), int):
        if disk.get("low"):
            healthy = False
            out.write(f"disk: LOW — {disk['free_mb']} MB free for the data directory\n")
        else:
            out.write(f"disk: {disk['free_mb']} MB free\n")
    return healthy
