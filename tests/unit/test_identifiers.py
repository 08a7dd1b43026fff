"""Phone numbers, plates, emails and handles: found in free text and normalised to one form."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relay.core.identifiers import (
    Identifier,
    extract_identifiers,
    normalise_phone,
    normalise_plate,
    plate_distance,
    plate_match_keys,
    plates_match,
)


def found(text: str, region: str | None = None) -> list[tuple[str, str]]:
    return [(i.kind, i.value) for i in extract_identifiers(text, region)]


@pytest.mark.parametrize(
    ("text", "region", "expected"),
    [
        ("07700 900123", "GB", "+447700900123"),
        ("07700900123", "GB", "+447700900123"),
        ("+44 7700 900123", None, "+447700900123"),
        ("+44 (0) 7700 900123", None, "+447700900123"),
        ("0044 7700 900123", "GB", "+447700900123"),
        ("(202) 555-0101", "US", "+12025550101"),
        ("+1 202-555-0101", "GB", "+12025550101"),
        ("202.555.0101", "US", "+12025550101"),
        ("612 34 56 78", "ES", "+34612345678"),
        ("+34 612-34-56-78", None, "+34612345678"),
        ("06 12 34 56 78", "FR", "+33612345678"),
        ("(11) 91234-5678", "BR", "+5511912345678"),
        ("０７７００ ９００１２３", "gb", "+447700900123"),  # full-width digits, lower-case region
    ],
)
def test_national_and_international_forms_are_one_number(
    text: str, region: str | None, expected: str
) -> None:
    assert normalise_phone(text, region) == expected
    assert found(f"his number is {text}, call first", region) == [("phone", expected)]


@pytest.mark.parametrize(
    ("text", "region"),
    [
        ("07700 900123", None),  # national form without a region
        ("12345", "GB"),
        ("555 0101", "US"),  # local-only
        ("hello", "GB"),
        ("", "GB"),
        ("+" + "9" * 40, None),
    ],
)
def test_not_phone_numbers(text: str, region: str | None) -> None:
    assert normalise_phone(text, region) is None


def test_dates_times_and_links_are_not_phone_numbers() -> None:
    text = (
        "met 2024-05-01 at 10:30, room 12, https://maps.google.com/maps?q=52.5219184%2C13.4132147"
    )
    assert [kind for kind, _ in found(text, "GB")] == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("AB12CDE", "AB12CDE"),
        ("ab12 cde", "AB12CDE"),
        ("AB12-CDE", "AB12CDE"),
        ("ab-123-cd", "AB123CD"),
        ("B-MW 1234", "BMW1234"),
        ("KA 01 AB 1234", "KA01AB1234"),
        ("1234 BCD", "1234BCD"),
        ("М 123 ОР 77", "M123OP77"),  # Cyrillic lookalikes
        ("ΙΚΒ 1234", "IKB1234"),  # Greek
        ("ＡＢ１２ＣＤＥ", "AB12CDE"),
        ("ABC", None),  # too short
        ("ABCDEFGHIJK1", None),  # too long
        ("LUVU", None),  # letters only
        ("123456", None),  # digits only
        ("AB12 CDE!", None),
        ("", None),
    ],
)
def test_plates(text: str, expected: str | None) -> None:
    assert normalise_plate(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "tall, blue Ford, plate AB12 CDE, phone 07700 900123, insta @Johnny_B. "
            "mail John.Doe@Example.COM",
            [
                ("email", "john.doe@example.com"),
                ("handle", "@johnny_b"),
                ("phone", "+447700900123"),
                ("plate", "AB12CDE"),
            ],
        ),
        ("Blue van AB12 CDE.", [("plate", "AB12CDE")]),
        ("blue van ab12 cde", [("plate", "AB12CDE")]),
        ("silver golf WA 12345 seen twice", [("plate", "WA12345")]),
        ("6ft2, 85kg, 180cm, 2nd floor at 10pm, 1h30, 34DD", []),
        ("grey car AB12CDE and later AB12 CDE again", [("plate", "AB12CDE")]),
        ("ana@example.org", [("email", "ana@example.org")]),
        ("@ana_b and @ana_b.", [("handle", "@ana_b")]),
        ("see https://www.instagram.com/@nope and geo:51.5,-0.12", []),
        ("", []),
    ],
)
def test_identifiers_in_client_details(text: str, expected: list[tuple[str, str]]) -> None:
    assert found(text, "GB") == expected


def test_a_screening_query_is_read_whole() -> None:
    assert found("ROOM 12") == [("plate", "ROOM12")]
    assert found("ab 12 cd") == [("plate", "AB12CD")]


def test_identifier_repr_hides_the_value() -> None:
    assert "7700" not in repr(Identifier("phone", "+447700900123"))


@pytest.mark.parametrize(
    ("a", "b", "distance", "match"),
    [
        ("AB12CDE", "ab12 cde", 0, True),
        ("AB12CDE", "AB12CDF", 1, True),  # one wrong
        ("AB12CDE", "AB21CDE", 1, True),  # two swapped
        ("AB12CDE", "AB12CD", 1, True),  # one missing
        ("AB12CDE", "AB12CDEX", 1, True),  # one extra
        ("ABO123", "AB0123", 0, True),  # O and 0
        ("AB1CDE", "ABICDE", 0, True),  # I and 1
        ("AB12CDE", "AB12CXY", 2, False),
        ("AB12", "AB13", 1, False),  # too short to forgive
        ("AB123", "AB124", 1, True),
        ("AB12CDE", "ZZ99ZZZ", 7, False),
    ],
)
def test_plate_matching_forgives_one_character(a: str, b: str, distance: int, match: bool) -> None:
    assert plate_distance(a, b) == distance
    assert plate_distance(b, a) == distance
    assert plates_match(a, b) is match


PLATE = st.text("ABCDEFGHJKLMNPRSTUVWXYZ0123456789IO", min_size=4, max_size=10)


def one_slip(plate: str, data: st.DataObject) -> str:
    index = data.draw(st.integers(0, len(plate) - 1))
    kind = data.draw(st.sampled_from(["swap", "drop", "add", "change"]))
    char = data.draw(st.sampled_from("ABCDEFGHJKLMNPRSTUVWXYZ0123456789"))
    if kind == "swap" and index + 1 < len(plate):
        return plate[:index] + plate[index + 1] + plate[index] + plate[index + 2 :]
    if kind == "drop":
        return plate[:index] + plate[index + 1 :]
    if kind == "add":
        return plate[:index] + char + plate[index:]
    return plate[:index] + char + plate[index + 1 :]


@settings(max_examples=1000, deadline=None)
@given(plate=PLATE, data=st.data())
def test_a_plate_one_slip_away_shares_a_match_key(plate: str, data: st.DataObject) -> None:
    other = one_slip(plate, data)
    if plates_match(plate, other):
        assert plate_match_keys(plate) & plate_match_keys(other)


@settings(max_examples=1000, deadline=None)
@given(
    st.text(st.characters(codec=None, categories=None), max_size=120),
    st.sampled_from(["GB", "ES", "US", "ZZ", "xx"]),
)
def test_extraction_never_raises(text: str, region: str) -> None:
    for identifier in extract_identifiers(text, region):
        assert identifier.value


def test_a_word_left_beside_a_masked_phone_number_is_not_read_into_the_plate() -> None:
    found = extract_identifiers("07700 900123 or AB12 CDE", "GB")
    assert [(i.kind, i.value) for i in found] == [("phone", "+447700900123"), ("plate", "AB12CDE")]
