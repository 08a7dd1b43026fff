"""Properties of the member-command parser over generated text: it never raises, never falls back
on its internal guard, and reads what it is given back exactly."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from relay.core.commands import KeywordTable, load_default_keywords, parse
from relay.core.durations import parse_duration
from relay.core.intents import CheckIn, Unknown
from relay.core.normalize import strip_ends

DEFAULTS = load_default_keywords()
TABLES = [
    KeywordTable.build(language=language, defaults=DEFAULTS, aliases={"sos": ["🌹", "red rose"]})
    for language in sorted(DEFAULTS)
]
KEYWORDS = sorted({word for table in TABLES for c in DEFAULTS["en"] for word in table.words(c)})

# Every code point, surrogates and controls included: a str from Python can hold them.
ANY_CHAR = st.characters(codec=None, categories=None)
SPICE = st.sampled_from(
    [
        "\u200b",
        "\u200d",
        "\u200e",
        "\u202e",
        "\ufeff",
        "\ufffc",
        "\x00",
        "\n",
        "/",
        "!",
        "+",
        "?",
        "90",
        "1h30",
        "1:30",
        "#12",
        "%2C",
        "geo:",
        "https://maps.google.com/maps?q=",
        "°",
        "'",
    ]
)
MESSAGE = st.one_of(
    st.text(ANY_CHAR, max_size=200),
    st.builds(
        lambda keyword, parts: keyword + "".join(parts),
        st.sampled_from(KEYWORDS),
        st.lists(st.one_of(SPICE, st.text(ANY_CHAR, max_size=8)), max_size=8),
    ),
    st.lists(st.one_of(SPICE, st.sampled_from(KEYWORDS)), max_size=6).map(" ".join),
)


@settings(max_examples=5000, deadline=None)
@given(text=MESSAGE, table=st.sampled_from(TABLES), secret=st.none() | st.text(max_size=6))
def test_parse_never_raises(text: str, table: KeywordTable, secret: str | None) -> None:
    intent = parse(text, table, duress_word=secret, checkin_secret=secret)
    # The catch-all guard must not be what keeps this test green.
    assert intent != Unknown(reason="internal")


def plain_note(note: str) -> bool:
    """A note that does not continue the duration: not a number, not a unit word
    ("IN 1h30 minutes Hotel": "minutes" belongs to the duration)."""
    if not strip_ends(note) or note.strip()[0].isdigit():
        return False
    return parse_duration("1h 1 " + note.split()[0]) is None


NOTE = st.text(
    st.characters(categories=("L", "N", "P", "S", "Zs"), exclude_characters="\ufffc"),
    min_size=1,
    max_size=40,
).filter(plain_note)


@settings(max_examples=300, deadline=None)
@given(
    hours=st.integers(0, 23),
    minutes=st.integers(1, 59),
    note=NOTE,
    table=st.sampled_from(TABLES),
)
def test_a_check_in_reads_back_its_duration_and_note_exactly(
    hours: int, minutes: int, note: str, table: KeywordTable
) -> None:
    intent = parse(f"IN {hours}h{minutes:02d} {note}", table)
    assert isinstance(intent, CheckIn)
    assert intent.duration == timedelta(hours=hours, minutes=minutes)
    assert intent.note == strip_ends(note)
