"""Durations as admins and members write them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relay.rules.rule_durations import LONGEST, format_duration, parse_duration

M = timedelta(minutes=1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90", 90 * M),
        ("0", timedelta(0)),
        ("90s", timedelta(seconds=90)),
        ("10m", 10 * M),
        ("10min", 10 * M),
        ("2h", 120 * M),
        ("1h30m", 90 * M),
        ("1h30", 90 * M),
        ("1h5", 65 * M),
        ("1:30", 90 * M),
        ("1H 30M", 90 * M),
        (" 2 h ", 120 * M),
        ("7d", timedelta(days=7)),
        ("52w", timedelta(weeks=52)),
        ("1d2h3m4s", timedelta(days=1, hours=2, minutes=3, seconds=4)),
    ],
)
def test_what_people_write(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", " ", "-5", "-5m", "+5m", "1.5h", "soon", "h", "m30", "30m1h", "1h1h", "5 minutes",
     "1:75", "²", "١٢", "99999999", "9999999w", "1h30x", "10mm"],
)  # fmt: skip
def test_what_is_not_a_duration(text: str) -> None:
    assert parse_duration(text) is None


@given(st.timedeltas(min_value=timedelta(0), max_value=LONGEST))
def test_format_reads_back(value: timedelta) -> None:
    whole = timedelta(seconds=int(value.total_seconds()))
    assert parse_duration(format_duration(whole)) == whole


@given(st.text(max_size=40))
def test_never_raises_and_never_negative_or_huge(text: str) -> None:
    parsed = parse_duration(text)
    assert parsed is None or timedelta(0) <= parsed <= LONGEST


def test_format_is_short() -> None:
    assert format_duration(90 * M) == "1h30m"
    assert format_duration(timedelta(seconds=45)) == "45s"
    assert format_duration(timedelta(0)) == "0m"
    assert format_duration(timedelta(days=2)) == "2d"
