"""`python -m bench --quick` keeps working: it runs every figure and prints each summary line.

The figures themselves are printed, not asserted (CI machines differ); what must hold is that
the benchmark ran them all against real processes and produced numbers.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FIGURES = (
    "reply latency",
    "inbound throughput",
    "deadlines",
    "memory",
    "start-up",
    "SOS to 50",
    "boot backlog",
)


def _python(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """`python <args>` from the repository, output captured."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.mark.slow
def test_quick_benchmark_prints_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "figures.json"
    done = _python("-m", "bench", "--quick", "--json", str(out), timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    print(done.stdout)
    for name in FIGURES:
        assert f"\n{name}: " in done.stdout
    figures = json.loads(out.read_text())["figures"]
    assert [f["name"] for f in figures] == list(FIGURES)
    for figure in figures:
        assert figure["rows"], figure["name"]
        for row in figure["rows"]:
            assert not math.isnan(row["relay"]), (figure["name"], row["metric"])


@pytest.mark.slow
def test_ab_compares_two_trees(tmp_path: Path) -> None:
    """`python -m bench.ab`: both trees' relays answer, and a tree without relay/ is refused."""
    done = _python("-m", "bench.ab", str(REPO), str(REPO), "--samples", "10", timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert lines[0].startswith("A ") and "p50 " in lines[0] and "nan" not in lines[0]
    assert lines[1].startswith("B ") and "p50 " in lines[1] and "nan" not in lines[1]
    assert "B − A at p50: " in lines[2] and "of 10 pairs" in lines[2]
    refused = _python("-m", "bench.ab", str(tmp_path), str(REPO), timeout=60)
    assert refused.returncode == 2 and "holds no relay/ package" in refused.stderr
