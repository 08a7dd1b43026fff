"""Durations as members write them, and what is not one."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relay.core.durations import (
    MAX_DURATION,
    is_sane,
    looks_like_time_attempt,
    mentions_time,
    parse_duration,
)

S = timedelta(seconds=1)
M = timedelta(minutes=1)
H = timedelta(hours=1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90", 90 * M),
        ("5", 5 * M),
        ("90s", 90 * S),
        ("10m", 10 * M),
        ("90m", 90 * M),
        ("90min", 90 * M),
        ("90 mins", 90 * M),
        ("45 min", 45 * M),
        ("45 min.", 45 * M),
        ("45 minutes", 45 * M),
        ("90'", 90 * M),
        ("90mn", 90 * M),
        ("2h", 2 * H),
        ("2 h", 2 * H),
        ("2H", 2 * H),
        ("2hrs", 2 * H),
        ("2 hours", 2 * H),
        ("1 hour", H),
        ("1h30", 90 * M),
        ("1h30m", 90 * M),
        ("1h 30m", 90 * M),
        ("1 h 30 min", 90 * M),
        ("1h05", 65 * M),
        ("2 h 15", 135 * M),
        ("1:30", 90 * M),
        ("0:45", 45 * M),
        ("1 hour and 30 minutes", 90 * M),
        ("1 hour, 30 minutes", 90 * M),
        ("1.5h", 90 * M),
        ("1,5h", 90 * M),
        ("1m30s", 90 * S),
        ("2h0m30s", 2 * H + 30 * S),
        ("an hour", H),
        ("one hour", H),
        ("two hours", 2 * H),
        ("half an hour", 30 * M),
        ("1 hour and a half", 90 * M),
        # Spanish, Portuguese, French
        ("2 horas", 2 * H),
        ("una hora", H),
        ("media hora", 30 * M),
        ("1 hora y media", 90 * M),
        ("90 minutos", 90 * M),
        ("uma hora", H),
        ("duas horas", 2 * H),
        ("meia hora", 30 * M),
        ("uma hora e meia", 90 * M),
        ("une heure", H),
        ("deux heures", 2 * H),
        ("une demi-heure", 30 * M),
        ("une heure et demie", 90 * M),
        ("1 heure 30", 90 * M),
        # Forgiving input
        ("  90  ", 90 * M),
        ("90,", 90 * M),
        ("１ｈ３０", 90 * M),  # full-width
        ("1H30", 90 * M),
        ("0", timedelta(0)),  # readable; `is_sane` refuses it
        ("99999h", 99999 * H),
    ],
)
def test_durations_members_write(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "soon",
        "1.5",  # hours or minutes? refused rather than guessed
        "1h30 second",
        "1.5h30m",
        "1:75",
        "1h75",
        "h",
        "min",
        "hotel",
        "a hotel",
        "90 90",
        "1 30",
        "30m 2h",  # components out of order
        "1h1h",
        "9" * 10,  # more digits than any duration has
        "9" * 10_000,
        "1e5",
        "inf",
        "nan",
        "-5",
        "+5",
        "1 hour and a half and a half",
        "half",
    ],
)
def test_not_durations(text: str) -> None:
    assert parse_duration(text) is None


def test_bounds() -> None:
    assert is_sane(timedelta(seconds=1))
    assert is_sane(MAX_DURATION)
    assert not is_sane(MAX_DURATION + S)
    assert not is_sane(timedelta(0))
    assert not is_sane(-M)


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        (["soon"], True),
        (["soon-ish", "99999h"], True),
        (["a", "while"], True),
        (["mas", "tarde"], True),
        (["bientot"], True),
        (["1.5"], True),
        (["90-120"], True),
        (["2hs!"], True),
        (["+"], True),
        (["-5"], True),
        (["+30"], True),
        (["-"], False),
        (["hotel", "rex"], False),
        (["221b", "baker"], False),
        (["12bis"], False),
        ([], False),
        (["!"], False),
    ],
)
def test_time_attempts(words: list[str], expected: bool) -> None:
    assert looks_like_time_attempt(words) is expected


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        (["ritz", "2h"], True),
        (["jusqu'a", "23h"], True),
        (["23h30"], True),
        (["until", "10:30"], True),
        (["for", "two", "hours"], True),
        (["back", "at", "5pm."], True),
        (["45min"], True),
        (["room", "12"], False),
        (["5m", "from", "the", "station"], False),  # metres
        (["in", "her", "90s"], False),
        (["hotel", "rex"], False),
    ],
)
def test_time_mentions(words: list[str], expected: bool) -> None:
    assert mentions_time(words) is expected


@settings(max_examples=2000, deadline=None)
@given(st.text(st.characters(codec=None, categories=None), max_size=80))
def test_parse_duration_never_raises(text: str) -> None:
    result = parse_duration(text)
    assert result is None or isinstance(result, timedelta)


@settings(max_examples=300, deadline=None)
@given(hours=st.integers(0, 99), minutes=st.integers(0, 59), spaced=st.booleans())
def test_hours_and_minutes_read_back(hours: int, minutes: int, spaced: bool) -> None:
    gap = " " if spaced else ""
    expected = timedelta(hours=hours, minutes=minutes)
    assert parse_duration(f"{hours}{gap}h{gap}{minutes:02d}") == expected
    assert parse_duration(f"{hours}:{minutes:02d}") == expected
    assert parse_duration(f"{hours}h{gap}{minutes}m") == expected
