"""The watch phases as SQL, generated from the core's definition (`relay.core.state`).

Which phases are live, or an open alert, is decided once, in the core; every query that picks
watches by phase uses a fragment from here, so no list of phases is typed as SQL text.

The fragments hold literals, not parameters, in the enum's order: SQLite uses a partial index
(``watches_one_live``, ``watches_alerted`` in migration 001) only when the query's condition
matches the index's own text — the same literals in the same order. A parameter, or the same
phases in another order, would scan the table on every message.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

from relay.core.state import ALERT_PHASES, LIVE_PHASES, Phase

_WORD: Final = re.compile(r"[a-z_]+")


def _literal(phase: Phase) -> str:
    if not _WORD.fullmatch(phase.value):  # never true for the enum; guards the f-strings below
        raise ValueError(f"not a phase name: {phase.value!r}")
    return f"'{phase.value}'"


def phase_in(phases: Iterable[Phase], column: str = "phase") -> str:
    """``phase IN ('a', 'b')`` for these phases, in the enum's order."""
    wanted = frozenset(phases)
    if not wanted:
        raise ValueError("no phases")
    listed = ", ".join(_literal(p) for p in Phase if p in wanted)
    return f"{column} IN ({listed})"


def phase_is_not(phase: Phase, column: str = "phase") -> str:
    """``phase != 'x'``."""
    return f"{column} != {_literal(phase)}"


LIVE: Final = phase_in(LIVE_PHASES)
"""A check-in or alert that is on (not a draft, not closed)."""

NOT_LIVE: Final = phase_in(set(Phase) - LIVE_PHASES)
"""Drafts and closed watches: what retention may delete."""

OPEN_ALERT: Final = phase_in(ALERT_PHASES)
"""An alert that went out and is not closed (the ``watches_alerted`` index)."""

NOT_CLOSED: Final = phase_is_not(Phase.CLOSED)
"""Her live watch or draft (the ``watches_one_live`` index: one per member)."""

CLOSED: Final = phase_in({Phase.CLOSED})
