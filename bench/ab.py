"""`python -m bench.ab TREE_A TREE_B [--samples N]`: reply latency of two relay code trees, side by
side in one run.

For deciding whether a change to the reply path is worth keeping: the relay of each tree (its
`relay/`, e.g. a `git worktree` of the commit before) runs against its own simulator, pinned to
the same core, one message at a time, alternating A, B, A, B … with the latency figure's messages
and pauses. Printed: p50 and p99 of each, the difference of the p50s, and in how many pairs B was
the faster. Run it once with the same tree on both sides first: that difference is the noise of
the machine (about 0.07 ms at p50 for 800 pairs on the development VM).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from collections.abc import Callable
from pathlib import Path

from bench import env, harness, procs
from bench.latency import GAP, MEMBERS, TIMINGS, _one
from bench.stats import percentile
from bench.timedsim import TimedSim

WARMUP = 20


def _child(world: env.World, logs: Path, repo: Path, name: str) -> Callable[[], procs.Child]:
    return lambda: procs.relay(world.config, logs / f"relay-{name}.log", repo=repo)


async def compare(a: Path, b: Path, samples: int, work: Path) -> tuple[list[float], list[float]]:
    async with TimedSim(env.RELAY_NUMBER) as sim_a, TimedSim(env.RELAY_NUMBER) as sim_b:
        world_a = env.make_world(work / "a", sim_a.service, MEMBERS, timings=TIMINGS)
        world_b = env.make_world(work / "b", sim_b.service, MEMBERS, timings=TIMINGS)
        async with (
            harness.running(sim_a, _child(world_a, work, a, "a")),
            harness.running(sim_b, _child(world_b, work, b, "b")),
        ):
            times_a: list[float] = []
            times_b: list[float] = []
            for i in range(WARMUP + samples):
                member = env.number(i % MEMBERS)
                text = "IN 2h Hotel Rex" if (i // MEMBERS) % 2 == 0 else "OUT"
                one_a = await _one(sim_a, member, text)
                await asyncio.sleep(GAP)
                one_b = await _one(sim_b, member, text)
                await asyncio.sleep(GAP)
                if i >= WARMUP:
                    times_a.append(one_a)
                    times_b.append(one_b)
    return times_a, times_b


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ab", description=__doc__)
    parser.add_argument("a", type=Path, help="the baseline tree (holds relay/)")
    parser.add_argument("b", type=Path, help="the tree with the change")
    parser.add_argument("--samples", type=int, default=800, help="pairs measured (default 800)")
    args = parser.parse_args()
    for tree in (args.a, args.b):
        if not (tree / "relay" / "__main__.py").is_file():
            parser.error(f"{tree} holds no relay/ package")
    with tempfile.TemporaryDirectory(prefix="peer-relay-ab-") as tmp:
        times_a, times_b = asyncio.run(compare(args.a, args.b, args.samples, Path(tmp)))
    p50_a, p50_b = percentile(times_a, 50), percentile(times_b, 50)
    faster = sum(1 for x, y in zip(times_a, times_b, strict=True) if y < x) / len(times_a)
    print(f"A {args.a}: p50 {p50_a:.3f} ms, p99 {percentile(times_a, 99):.3f} ms")
    print(f"B {args.b}: p50 {p50_b:.3f} ms, p99 {percentile(times_b, 99):.3f} ms")
    print(
        f"B − A at p50: {p50_b - p50_a:+.3f} ms; B faster in {faster:.0%} of {len(times_a)} pairs"
    )


if __name__ == "__main__":
    main()
