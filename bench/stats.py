"""Figures and how they are printed: percentiles, one table, one summary line per figure."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (no interpolation: every figure is a value that was measured)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass
class Row:
    metric: str
    relay: float
    baseline: float | None = None
    target: str = ""
    met: bool | None = None
    unit: str = ""


@dataclass
class Figure:
    name: str
    rows: list[Row] = field(default_factory=list)
    summary: str = ""
    notes: list[str] = field(default_factory=list)

    def add(self, metric: str, relay: float, **kwargs: object) -> Row:
        row = Row(metric, relay, **kwargs)  # type: ignore[arg-type]
        self.rows.append(row)
        return row

    @property
    def met(self) -> bool | None:
        verdicts = [r.met for r in self.rows if r.met is not None]
        return all(verdicts) if verdicts else None


def _num(value: float | None) -> str:
    if value is None:
        return ""
    if math.isnan(value):
        return "n/a"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.2f}"


def table(figures: Sequence[Figure]) -> str:
    head = ("figure", "metric", "relay", "baseline", "diff", "target", "met")
    lines: list[tuple[str, ...]] = [head]
    for fig in figures:
        for i, row in enumerate(fig.rows):
            diff = (
                f"{row.relay - row.baseline:+.2f}"
                if row.baseline is not None and not math.isnan(row.baseline)
                else ""
            )
            verdict = "" if row.met is None else ("yes" if row.met else "NO")
            metric = f"{row.metric} ({row.unit})" if row.unit else row.metric
            lines.append(
                (
                    fig.name if i == 0 else "",
                    metric,
                    _num(row.relay),
                    _num(row.baseline),
                    diff,
                    row.target,
                    verdict,
                )
            )
    widths = [max(len(line[c]) for line in lines) for c in range(len(head))]
    out = []
    for n, line in enumerate(lines):
        out.append(
            "  ".join(
                cell.rjust(w) if c in (2, 3, 4) else cell.ljust(w)
                for c, (cell, w) in enumerate(zip(line, widths, strict=True))
            ).rstrip()
        )
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def summaries(figures: Sequence[Figure]) -> str:
    lines = []
    for fig in figures:
        verdict = {None: "", True: " [target met]", False: " [TARGET MISSED]"}[fig.met]
        lines.append(f"{fig.name}: {fig.summary}{verdict}")
    return "\n".join(lines)
