"""The lifecycle table: every row, the drawing in its docstring, nothing else moving a phase."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from relay.core import lifecycle
from relay.core.lifecycle import TABLE, Event, IllegalTransition, moved, step
from relay.core.state import Kind, Phase, Watch
from relay.core.types import MemberAlias

T0 = datetime(2026, 12, 1, 20, 0, tzinfo=UTC)
EDGE = re.compile(r"^\s*(\w+):\s+(\w+)\s+--(\w+)-->\s*(?:(\w+):\s*)?(\w+)\s*$")


def drawn() -> dict[tuple[Kind, Phase, Event], tuple[Kind, Phase]]:
    edges = {}
    for line in (lifecycle.__doc__ or "").splitlines():
        found = EDGE.match(line)
        if found:
            kind, phase, event, to_kind, to_phase = found.groups()
            key = (Kind(kind), Phase(phase), Event(event))
            assert key not in edges, f"drawn twice: {line.strip()}"
            edges[key] = (Kind(to_kind or kind), Phase(to_phase))
    return edges


def test_the_drawing_is_the_table() -> None:
    assert drawn() == TABLE


@pytest.mark.parametrize(("key", "target"), sorted(TABLE.items()), ids=lambda v: str(v))
def test_each_row_of_the_table(key: tuple[Kind, Phase, Event], target: tuple[Kind, Phase]) -> None:
    kind, phase, event = key
    assert step(kind, phase, event) == target
    watch = Watch(MemberAlias("alice"), kind, phase, T0, T0, None, id="w")
    after = moved(watch, event)
    assert (after.kind, after.phase) == target


ILLEGAL = [key for key in itertools.product(Kind, Phase, Event) if key not in TABLE]


@pytest.mark.parametrize("key", ILLEGAL, ids=lambda v: str(v))
def test_every_other_event_is_refused(key: tuple[Kind, Phase, Event]) -> None:
    kind, phase, event = key
    watch = Watch(MemberAlias("alice"), kind, phase, T0, T0, None, id="w")
    with pytest.raises(IllegalTransition):
        moved(watch, event)


def test_a_duress_alert_is_never_ended_from_her_phone_but_by_her_secret() -> None:
    for (kind, _, event), (_, to) in TABLE.items():
        if kind is Kind.DURESS and to is Phase.CLOSED:
            assert event in (Event.OUT_SECRET, Event.RESOLVE), event
        if kind is Kind.DURESS:
            assert event is not Event.OUT


def test_duress_is_never_left_for_another_kind() -> None:
    assert all(to is Kind.DURESS for (kind, _, _), (to, _) in TABLE.items() if kind is Kind.DURESS)


def test_nothing_leaves_closed() -> None:
    assert not [key for key in TABLE if key[1] is Phase.CLOSED]


def test_only_the_timer_and_undeliverable_news_move_an_alert_up_the_ladder() -> None:
    into_alert = {
        event
        for (kind, phase, event), (_, to) in TABLE.items()
        if phase in (Phase.ACTIVE, Phase.DUE) and to is Phase.ALERTED
    }
    assert into_alert == {Event.ALERT, Event.SOS, Event.DURESS}


def test_the_caller_cannot_set_a_phase() -> None:
    watch = Watch(MemberAlias("alice"), Kind.CHECKIN, Phase.ACTIVE, T0, T0, None, id="w")
    with pytest.raises(TypeError):
        moved(watch, Event.EXTEND, phase=Phase.CLOSED)


def test_the_state_machine_changes_phases_only_through_the_table() -> None:
    source = Path(lifecycle.__file__).with_name("decide.py").read_text(encoding="utf-8")
    assert not re.search(r"\bphase\s*=", source), "decide.py sets a phase outside the table"
    assert not re.search(r"\bkind\s*=", source), "decide.py sets a kind outside the table"
