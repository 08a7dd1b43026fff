"""Screening without a database: which reported identifier a looked-up form finds, severity
words, CHECK queries, a member's region, who a warning reaches, and the words members read.

The table below is the bar: a client reported one way must be found when looked up another
way (national and international numbers, plates with spaces, case and one slip), and must not
be found by a different client. Matching goes through the same keyed tags the store indexes
(`tags_for`) and the same confirmation (`matched_kinds`), with a real key.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from relay.core.identifiers import Identifier, IdentifierKind, extract_identifiers
from relay.core.render import Catalog
from relay.crypto.keys import MasterKey
from relay.crypto.seal import Sealer
from relay.features.reports.audience import audience
from relay.features.reports.matching import (
    all_tags,
    matched_kinds,
    query_identifiers,
    region_of,
    tags_for,
)
from relay.features.reports.screening import Match, render_check, render_warning
from relay.features.reports.severity import LOW, UNSAFE, VIOLENT, severity_answer, severity_of
from relay.features.reports.wording import summary
from relay.locales import load_catalog
from relay.rules import load_rules

REPO = Path(__file__).resolve().parents[2]
SEALER = Sealer(MasterKey.generate())

# (as reported, reporter's region, as looked up, looker's region)
MUST_MATCH = [
    ("+44 7700 900123", None, "07700 900123", "GB"),
    ("07700 900123", "GB", "+447700900123", "US"),
    ("(202) 555-0199", "US", "+1 202 555 0199", "GB"),
    ("202.555.0199", "US", "2025550199", "US"),
    ("+34 612 34 56 78", "GB", "612345678", "ES"),
    ("0033 6 12 34 56 78", "FR", "06 12 34 56 78", "FR"),
    ("+55 11 91234-5678", None, "(11) 91234-5678", "BR"),
    ("+1-202-555-0199", None, "1 202 555 0199", "US"),
    ("AB12 CDE", "GB", "ab12cde", "GB"),
    ("AB12-CDE", "GB", "AB12 CDF", "GB"),  # one wrong character
    ("KA 01 AB 1234", "IN", "KA01AB1234", "IN"),
    ("B-MW 1234", "DE", "bmw 1234", "DE"),
    ("AB-123-CD", "FR", "AB 123 CO", "FR"),  # one wrong character
    ("AB12CDE", "GB", "AB12CE", "GB"),  # one missing
    ("AB12CDE", "GB", "AB21CDE", "GB"),  # two swapped
    ("O8ZX123", None, "08ZX123", None),  # O read as 0
    ("А123ВС77", "RU", "A123BC77", "RU"),  # Cyrillic letters that look Latin
    ("@Johnny_X", None, "@johnny_x", None),
    ("johnny.x@Example.ORG", None, "JOHNNY.X@example.org", None),
    ("@johnny_x", None, "johnny_x", None),  # CHECK with a bare handle
]

MUST_NOT_MATCH = [
    ("+44 7700 900123", None, "+44 7700 900124", None),
    # The same digits in another country, written with its code. (Without one, "7700 900123"
    # from a US member is also looked up as the end of a number: a partial match, said so.)
    ("07700 900123", "GB", "+1 770 090 0123", "US"),
    ("AB12CDE", "GB", "AB12CFF", "GB"),  # two wrong characters
    ("AB12", None, "AB13", None),  # too short to forgive a slip
    ("AB12CDE", None, "XY12CDE", None),
    ("XAB12", None, "AB12Y", None),  # share a one-slip key, but two edits apart
    ("@johnny_x", None, "@johnny_y", None),
    ("@johnny", None, "johnny@example.org", None),
    ("john@example.org", None, "john@example.com", None),
    ("AB12CDE", None, "@ab12cde", None),  # a plate is not a handle
    ("+33 6 12 34 56 78", None, "+34 612 345 678", None),
    ("KA01AB1234", None, "KA01AB5678", None),
    ("+1 202 555 0199", None, "+1 202 555 0198", None),
]


def finds(reported: str, reporter: str | None, looked_up: str, looker: str | None) -> bool:
    stored = extract_identifiers(reported, reporter)
    assert stored, f"nothing extracted from {reported!r}"
    query = query_identifiers(looked_up, looker)
    assert query, f"nothing read from {looked_up!r}"
    candidate = bool(all_tags(SEALER, stored) & all_tags(SEALER, query))
    return candidate and bool(matched_kinds(stored, query))


@pytest.mark.parametrize(("reported", "reporter", "looked_up", "looker"), MUST_MATCH)
def test_the_same_client_written_another_way_is_found(
    reported: str, reporter: str | None, looked_up: str, looker: str | None
) -> None:
    assert finds(reported, reporter, looked_up, looker)


@pytest.mark.parametrize(("reported", "reporter", "looked_up", "looker"), MUST_NOT_MATCH)
def test_a_different_client_is_not_found(
    reported: str, reporter: str | None, looked_up: str, looker: str | None
) -> None:
    assert not finds(reported, reporter, looked_up, looker)


def test_the_table_is_as_large_as_the_bar() -> None:
    assert len(MUST_MATCH) >= 15 and len(MUST_NOT_MATCH) >= 10


def test_tags_are_keyed_and_per_kind() -> None:
    phone = Identifier("phone", "+447700900123")
    other_key = Sealer(MasterKey.generate())
    assert tags_for(SEALER, phone) == tags_for(SEALER, phone)
    assert not tags_for(SEALER, phone) & tags_for(other_key, phone)
    # The same characters as a handle and as an email never share a tag.
    assert not tags_for(SEALER, Identifier("handle", "@x1")) & tags_for(
        SEALER, Identifier("email", "@x1")
    )
    # A plate is indexed under its one-slip keys too, so a lookup finds it without the plate.
    assert len(tags_for(SEALER, Identifier("plate", "AB12CDE"))) == 8


def test_a_sharing_key_alone_is_not_a_match() -> None:
    stored = [Identifier("plate", "XAB12")]
    query = [Identifier("plate", "AB12Y")]
    assert all_tags(SEALER, stored) & all_tags(SEALER, query)
    assert matched_kinds(stored, query) == ()


def test_check_queries() -> None:
    assert query_identifiers("AB12 CDE", "GB") == [
        Identifier("plate", "AB12CDE"),
        Identifier("plate_start", "AB12CDE"),  # a longer reported plate may start so
    ]
    assert query_identifiers("johnny_x", None) == [Identifier("handle", "@johnny_x")]
    # No area code: only the end of a number, looked up as such.
    assert query_identifiers("555 0199", "US") == [Identifier("phone_end", "5550199")]
    assert query_identifiers("12345", None) == []  # under six digits: too many share them
    assert query_identifiers("07700 900123, AB12 CDE", "GB") == [
        Identifier("phone", "+447700900123"),
        Identifier("plate", "AB12CDE"),
    ]


@pytest.mark.parametrize(
    ("query", "stored", "matches"),
    [
        ("900456", "+447700900456", True),  # the last six digits
        ("900 456", "+447700900456", True),  # spaces ignored
        ("0-900-456", "+447700900456", True),  # dashes and a leading zero ignored
        ("7700 900456", "+447700900456", True),
        ("900457", "+447700900456", False),
        ("XY34", "XY34ZZZ", True),  # the start of a plate
        ("xy-34", "XY34ZZZ", True),
        ("XY340", "XY34OZZ", True),  # O and 0 read alike
        ("XY35", "XY34ZZZ", False),
        ("34ZZ", "XY34ZZZ", False),  # the middle is not the start
    ],
)
def test_part_of_a_number_or_plate_finds_the_report(query: str, stored: str, matches: bool) -> None:
    kind: IdentifierKind = "phone" if stored.startswith("+") else "plate"
    reported = [Identifier(kind, stored)]
    looked_up = query_identifiers(query, "GB")
    shares = bool(all_tags(SEALER, reported, index=True) & all_tags(SEALER, looked_up))
    assert shares == matches, (query, looked_up)
    assert bool(matched_kinds(reported, looked_up)) == matches


def test_partial_tags_are_only_stored_not_searched_for_a_whole_identifier() -> None:
    phone = Identifier("phone", "+447700900456")
    assert len(tags_for(SEALER, phone)) == 1  # a lookup of a whole number: one query
    # Stored: the number, and its last 6 … 11 digits, each under the phone-end purpose.
    assert len(tags_for(SEALER, phone, index=True)) == 1 + 6


def test_region_comes_from_her_own_number() -> None:
    assert region_of("+12025550101") == "US"
    assert region_of("+447700900123") == "GB"
    assert region_of("+34612345678") == "ES"
    assert region_of("not a number") is None
    assert region_of(None) is None


@pytest.mark.parametrize(
    ("text", "level"),
    [
        ("he choked me, number 07700 900123", VIOLENT),
        ("Me pegó y tenía un cuchillo", VIOLENT),
        ("Ele me bateu", VIOLENT),
        ("il m'a frappée", VIOLENT),
        ("stealthed me and refused to pay", UNSAFE),
        ("se quitó el condón", UNSAFE),
        ("não pagou e ameaçou", UNSAFE),
        ("il m'a menacée", UNSAFE),
        ("total time waster, haggled for an hour", LOW),
        ("no se presentó", LOW),
        ("rude but paid; later he threatened me", UNSAFE),  # the highest level wins
        ("CHOKED", VIOLENT),
    ],
)
def test_severity_words(text: str, level: int) -> None:
    assert severity_of(text) == level


@pytest.mark.parametrize(
    "text", ["nice guy, paid, bit late", "gunther from the bar", "used a condom", "", None]
)
def test_no_severity_word_means_ask(text: str | None) -> None:
    assert severity_of(text) is None


def test_severity_answers() -> None:
    assert [severity_answer(t) for t in ("1", " 2 ", "#3", "3.", "4", "13", "two", None)] == [
        1,
        2,
        3,
        3,
        None,
        None,
        None,
        None,
    ]


def test_summary_is_one_line_and_short() -> None:
    assert summary("he  was\nrude") == "he was rude"
    long = "word " * 100
    cut = summary(long)
    assert len(cut) <= 161 and cut.endswith("…") and "\n" not in cut


def test_audience_follows_the_rules() -> None:
    rules = load_rules(REPO / "rules", allow_placeholders=True)
    shared = audience(rules)
    # The sample shares with night-shift, a circle bound to a Signal group: one post there.
    assert shared.group is not None and shared.group.label == "night-shift"
    assert shared.group_languages == ("en", "es")
    assert shared.members == ()


def test_warnings_name_no_reporter_and_read_in_her_language() -> None:
    catalog: Catalog = load_catalog()
    when = datetime(2026, 3, 12, 23, 30, tzinfo=UTC)
    matches = [Match(7, 3, when, "choked a worker at the Rex", ("phone",))]
    english = render_warning(catalog, "en", matches, "America/New_York")
    spanish = render_check(catalog, "es", matches, "Europe/Madrid")
    assert "#7 · 2026-03-12 · violent — choked a worker at the Rex" in english
    assert "2026-03-13" in spanish and "violento" in spanish  # her date, her words
    assert render_warning(catalog, "en", [], "UTC") == ""
    assert "No warnings match" in render_check(catalog, "en", [], "UTC")
