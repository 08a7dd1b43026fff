"""`python -m bench [--quick] [--only NAMES] [--json FILE]`: every figure, one table, summaries.

Full run: the counts of issue 8 (10,000 check-ins over 60 s, 10,000 pending at start …), several
minutes. `--quick`: small counts, under a minute, for CI — figures are printed, not asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sqlite3
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from bench import backlog, deadlines, latency, memory, procs, sos, startup, throughput
from bench.stats import Figure, summaries, table

NAMES = ("latency", "throughput", "deadlines", "memory", "startup", "sos", "backlog")


def _fsync_ms(folder: Path, commits: int = 200) -> float:
    """One durable SQLite commit here (WAL, synchronous=FULL): the floor under every reply."""
    conn = sqlite3.connect(folder / "fsync.db", isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("CREATE TABLE t (a)")
        start = time.perf_counter()
        for i in range(commits):
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO t VALUES (?)", (i,))
            conn.execute("COMMIT")
        return (time.perf_counter() - start) / commits * 1000
    finally:
        conn.close()


def machine(work: Path) -> dict[str, object]:
    model = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "durable_commit_ms": round(_fsync_ms(work), 2),
    }


async def run(names: tuple[str, ...], quick: bool, work: Path) -> list[Figure]:
    figures: list[Figure] = []
    big: tuple[int, float] | None = None
    if "latency" in names:
        fig, _ = await latency.measure(work, samples=150 if quick else 2000, warmup=20)
        figures.append(fig)
    if "throughput" in names:
        figures.append(
            await throughput.measure(work, burst=600 if quick else 5000, paced_s=1 if quick else 10)
        )
    if "deadlines" in names:
        count, spread = (1000, 5.0) if quick else (10_000, 60.0)
        fig, peak, members = await deadlines.measure(work, count, spread, idle_s=5 if quick else 60)
        figures.append(fig)
        big = (members, peak)
    if "memory" in names:
        fig, peak, echo_peak = await memory.measure(work, members=300 if quick else 1000)
        members = 300 if quick else 1000
        figures.append(memory.finish(fig, (members, peak), big, echo_peak))
    if "startup" in names:
        figures.append(await startup.measure(work, count=1000 if quick else 10_000))
    if "sos" in names:
        figures.append(await sos.measure(work))
    if "backlog" in names:
        figures.append(await backlog.measure(work, count=200 if quick else 1000))
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small counts, under a minute")
    parser.add_argument(
        "--only", default=",".join(NAMES), help=f"comma-separated subset of {','.join(NAMES)}"
    )
    parser.add_argument("--json", type=Path, help="also write the figures here as JSON")
    parser.add_argument(
        "--keep", type=Path, help="work here and keep the logs (default: a temp dir)"
    )
    args = parser.parse_args(argv)
    names = tuple(n.strip() for n in args.only.split(",") if n.strip())
    unknown = set(names) - set(NAMES)
    if unknown:
        parser.error(f"unknown figure(s): {', '.join(sorted(unknown))}")
    procs.pin_self_away()
    with tempfile.TemporaryDirectory(prefix="peer-relay-bench-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        info = machine(work)
        started = time.perf_counter()
        figures = asyncio.run(run(names, args.quick, work))
        took = time.perf_counter() - started
    print(f"peer-relay benchmarks ({'quick' if args.quick else 'full'} run, {took:.0f}s)")
    print("machine: " + ", ".join(f"{k} {v}" for k, v in info.items()))
    print(f"relay pinned to core {procs.child_core()}; simulator and driver on the others")
    print()
    print(table(figures))
    print()
    print(summaries(figures))
    for fig in figures:
        for note in fig.notes:
            print(f"  note ({fig.name}): {note}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {"machine": info, "quick": args.quick, "figures": [asdict(f) for f in figures]},
                indent=2,
                default=str,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
