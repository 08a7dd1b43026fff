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
FIGURES = ("reply latency", "inbound throughput", "deadlines", "memory", "start-up", "SOS to 50")


@pytest.mark.slow
def test_quick_benchmark_prints_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "figures.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--json", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
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
