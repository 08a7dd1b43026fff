"""Child processes under measurement: spawn (pinned to one core), and read their /proc counters.

The relay and the echo bot run as separate processes so each one's resident memory, CPU time and
wake-ups are its own, and so the measuring process (the simulator) never shares their event loop.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def cores() -> list[int]:
    return sorted(os.sched_getaffinity(0))


_ALL_CORES = sorted(os.sched_getaffinity(0))


def child_core() -> int | None:
    """The core the measured child gets; the measuring process keeps the others."""
    return _ALL_CORES[-1] if len(_ALL_CORES) > 1 else None


def pin_self_away() -> None:
    """Keep the measuring process off the child's core (when there are two or more)."""
    if len(_ALL_CORES) > 1:
        os.sched_setaffinity(0, _ALL_CORES[:-1])


@dataclass
class Usage:
    cpu_s: float  # user + system, all threads
    rss_mb: float
    peak_rss_mb: float
    wakeups: int  # voluntary context switches, all threads: each one is a sleep after a wake-up


def usage(pid: int) -> Usage:
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(stat[11]) + int(stat[12])) / CLK_TCK  # utime, stime (fields 14, 15)
    rss = peak = 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) / 1024
        elif line.startswith("VmHWM:"):
            peak = int(line.split()[1]) / 1024
    wakeups = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            for line in (task / "status").read_text().splitlines():
                if line.startswith("voluntary_ctxt_switches:"):
                    wakeups += int(line.split()[1])
        except OSError:
            continue  # a thread that ended meanwhile
    return Usage(cpu_s=cpu, rss_mb=rss, peak_rss_mb=peak, wakeups=wakeups)


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[bytes]
    log_path: Path
    started: float  # time.perf_counter() just before spawning
    ready_s: float = 0.0  # spawn → its receive WebSocket reached the simulator
    stop_signal: int = signal.SIGTERM  # py-spy (BENCH_PROFILE) writes its profile on SIGINT

    @property
    def pid(self) -> int:
        return self.proc.pid

    def usage(self) -> Usage:
        return usage(self.proc.pid)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = 15.0) -> int:
        if self.proc.poll() is None:
            if self.stop_signal == signal.SIGINT:  # py-spy and the relay under it, together
                os.killpg(self.proc.pid, signal.SIGINT)
            else:
                self.proc.send_signal(self.stop_signal)
            try:
                return self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        return self.proc.wait(timeout=timeout)

    def kill9(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def spawn(
    name: str,
    args: list[str],
    log_path: Path,
    *,
    pin: bool = True,
    prefix: tuple[str, ...] = (),
    repo: Path = REPO,
) -> Child:
    """`python <args>` in `repo` (its `relay/` is the one imported) with output to `log_path`,
    pinned to `child_core()` when `pin`."""
    core = child_core() if pin else None
    log = log_path.open("ab")
    started = time.perf_counter()
    try:
        proc = subprocess.Popen(
            [*prefix, sys.executable, *args],
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
            cwd=repo,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            preexec_fn=(lambda: os.sched_setaffinity(0, {core})) if core is not None else None,
            start_new_session=bool(prefix),  # a profiled child stops with its profiler
        )
    finally:
        log.close()
    return Child(name, proc, log_path, started)


def relay(config: Path, log_path: Path, *, pin: bool = True, repo: Path = REPO) -> Child:
    args = ["-m", "relay", "run", "--config", str(config)]
    profile = os.environ.get("BENCH_PROFILE")
    if profile:
        # Sampled by py-spy into collapsed stacks (CPU figures then are py-spy's own).
        out = Path(profile) / f"{log_path.stem}.{time.time_ns()}.txt"
        spy = str(Path(sys.executable).with_name("py-spy"))
        record = (spy, "record", "--gil", "--format", "raw", "-r", "500", "-o", str(out), "--")
        child = spawn("relay", args, log_path, pin=pin, prefix=record, repo=repo)
        child.stop_signal = signal.SIGINT
        return child
    return spawn("relay", args, log_path, pin=pin, repo=repo)


def echo_bot(service: str, number: str, log_path: Path, *, pin: bool = True) -> Child:
    return spawn("echo", ["-m", "bench.echo_bot", service, number], log_path, pin=pin)
