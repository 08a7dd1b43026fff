"""Value rules: phone numbers, placeholders, issue lines."""

from __future__ import annotations

import pytest

from relay.rules import RuleIssue, RulesInvalid, normalise_number
from relay.rules.values import is_placeholder_group, is_placeholder_number


@pytest.mark.parametrize(
    "text",
    ["+12025550101", "+1 202-555-0101", "+1 (202) 555 0101", " +1.202.555.0101 "],
)
def test_number_spellings_normalise_to_e164(text: str) -> None:
    assert normalise_number(text) == "+12025550101"


@pytest.mark.parametrize(
    "text",
    ["2025550101", "+1 202 555", "+1 202 555 0101 ext. 5", "+999 1234567", "call me", "", "+" * 50],
)
def test_what_is_not_a_signal_number(text: str) -> None:
    assert normalise_number(text) is None


def test_placeholders_are_the_fictional_555_01xx_range() -> None:
    assert is_placeholder_number("+12025550101")
    assert is_placeholder_number("+14155550199")
    assert not is_placeholder_number("+12025550200")
    assert not is_placeholder_number("+442025550101")
    assert is_placeholder_group("group.c2FtcGxlLWdyb3VwLXJlcGxhY2UtbWU=")
    assert not is_placeholder_group("group.bmlnaHQtc2hpZnQtZ3JvdXA=")


def test_issue_lines() -> None:
    error = RuleIssue(
        "rules/members.yaml", 14, "members.alice.buddies[1]", "'bobb' is not a member"
    )
    assert str(error) == "rules/members.yaml:14: members.alice.buddies[1]: 'bobb' is not a member"
    warning = RuleIssue("rules/m.yaml", 3, "members.a.number", "made-up", "warning")
    assert str(warning) == "rules/m.yaml:3: warning: members.a.number: made-up"
    assert str(RuleIssue("rules", None, "", "no members")) == "rules: no members"
    assert str(RuleIssue("f.yaml", 2, "a\nb", "x\u2028y")) == "f.yaml:2: a\\x0ab: x\\u2028y"


def test_rules_invalid_sorts_and_separates_errors_from_warnings() -> None:
    later = RuleIssue("b.yaml", 1, "x", "later")
    first = RuleIssue("a.yaml", 9, "y", "first")
    warning = RuleIssue("a.yaml", 1, "z", "just so you know", "warning")
    exc = RulesInvalid([later, warning, first])
    assert exc.issues == [warning, first, later]
    assert exc.errors == [first, later]
    assert str(exc).splitlines()[1] == "a.yaml:9: y: first"
