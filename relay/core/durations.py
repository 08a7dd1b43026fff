"""How long a member means: ``90``, ``1h30``, ``1:30``, ``2 h``, ``45 min``, ``two hours``.

Owns the duration grammar of ``IN`` and ``EXTEND`` (in English, Spanish, Portuguese and French),
the sane bounds a check-in may have, and the two tests the command parser needs to tell a note
from a time it could not read (`looks_like_time_attempt`, `mentions_time`). Pure functions that
never raise.

Grammar (after `relay.core.normalize.fold`: case and accents ignored):

- a bare whole number is minutes: ``90``; a bare decimal (``1.5``) is refused, because members
  mean hours as often as minutes by it;
- ``H:MM`` is hours and minutes: ``1:30``;
- components in the order hours, minutes, seconds, each a number and a unit, spaces optional:
  ``1h30m``, ``1 h 30 min``, ``1 hour and 30 minutes``, ``2 horas``, ``90s``, ``1,5h``;
  after hours a bare number is minutes: ``1h30``, ``2 h 15``; a decimal only in a lone
  component: ``1.5h``;
- a few number words: ``an hour``, ``half an hour``, ``two hours``, ``media hora``,
  ``une heure``, ``meia hora``, ``1 hora y media``.
"""

from __future__ import annotations

import re
from datetime import timedelta

from relay.core.normalize import fold

MAX_DURATION = timedelta(hours=24)
"""Longest check-in or extension the parser accepts. Longer is a typo (``99999h``) or a clock time
(French ``23h`` means 23:00) far more often than a real booking; she can always EXTEND. Rules may
set a lower cap."""

_HOUR_UNITS = ("hours", "hour", "hrs", "hr", "hs", "h", "horas", "hora", "heures", "heure")
_MINUTE_UNITS = (
    "minutes",
    "minute",
    "minutos",
    "minuto",
    "mins",
    "min",
    "mns",
    "mn",
    "m",
)
_SECOND_UNITS = (
    "seconds",
    "second",
    "secondes",
    "seconde",
    "segundos",
    "segundo",
    "secs",
    "sec",
    "segs",
    "seg",
    "s",
)

_NUMBER_WORDS: dict[str, int] = {
    # English
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "fifteen": 15,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "forty-five": 45,
    "fifty": 50,
    "sixty": 60,
    "ninety": 90,
    # Spanish
    "un": 1,
    "una": 1,
    "uno": 1,
    "dos": 2,
    "tres": 3,
    "cuatro": 4,
    "cinco": 5,
    "seis": 6,
    "siete": 7,
    "ocho": 8,
    "nueve": 9,
    "diez": 10,
    "once": 11,
    "doce": 12,
    "quince": 15,
    "veinte": 20,
    "treinta": 30,
    "cuarenta": 40,
    "noventa": 90,
    # Portuguese
    "um": 1,
    "uma": 1,
    "dois": 2,
    "duas": 2,
    "quatro": 4,
    "sete": 7,
    "oito": 8,
    "nove": 9,
    "dez": 10,
    "onze": 11,
    "doze": 12,
    "quinze": 15,
    "vinte": 20,
    "trinta": 30,
    "quarenta": 40,
    # French
    "une": 1,
    "deux": 2,
    "trois": 3,
    "quatre": 4,
    "cinq": 5,
    "sept": 7,
    "huit": 8,
    "neuf": 9,
    "douze": 12,
    "vingt": 20,
    "trente": 30,
    "quarante": 40,
}

_HALF_HOUR_PHRASES = frozenset(
    {
        "half an hour",
        "half hour",
        "half a hour",
        "media hora",
        "meia hora",
        "meia-hora",
        "une demi-heure",
        "une demi heure",
        "demi-heure",
        "demi heure",
    }
)

# "1 hour and a half", "1 hora y media", "uma hora e meia", "une heure et demie".
_AND_A_HALF = ("and a half", "y media", "e meia", "et demie", "et demi")

_CONNECTORS = r"(?:\s*(?:,|and|y|e|et)\s*|\s*)"


def _alternation(words: tuple[str, ...]) -> str:
    # Longest first so "hours" is not read as "h" + "ours".
    return "(?:" + "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)) + ")"


_NUM = r"\d{1,9}(?:[.,]\d{1,3})?"
_H = _alternation(_HOUR_UNITS) + r"\.?"
_M = _alternation(_MINUTE_UNITS) + r"\.?"
_S = _alternation(_SECOND_UNITS) + r"\.?"

_COMPONENTS = re.compile(
    rf"(?:(?P<h>{_NUM})\s*{_H})?"
    rf"{_CONNECTORS}"
    rf"(?:(?P<m>{_NUM})\s*{_M})?"
    rf"{_CONNECTORS}"
    rf"(?:(?P<s>{_NUM})\s*{_S})?"
)
_HOURS_THEN_BARE_MINUTES = re.compile(rf"(?P<h>\d{{1,9}})\s*{_H}\s*(?P<m>[0-5]?\d)")
_CLOCK_STYLE = re.compile(r"(?P<h>\d{1,3}):(?P<m>[0-5]\d)")
_BARE_MINUTES = re.compile(r"\d{1,9}")
_PRIME_MINUTES = re.compile(r"(?P<m>\d{1,4})'")  # "90'": a minutes mark, glued to its number

# Words that say "a time" without saying which: "IN soon" must be questioned, not started with
# a default the member never chose.
_VAGUE_TIME_WORDS = frozenset(
    {
        "soon",
        "soonish",
        "later",
        "awhile",
        "asap",
        "pronto",
        "luego",
        "rato",
        "ratito",
        "despues",
        "bientot",
        "tard",
        "tantot",
        "logo",
        "depois",
    }
)
_VAGUE_TIME_PHRASES = frozenset(
    {
        "a while",
        "a bit",
        "a little",
        "un rato",
        "mas tarde",
        "plus tard",
        "tout a l'heure",
        "mais tarde",
        "daqui a pouco",
        "um pouco",
        "en un rato",
    }
)

_UNIT_WORDS_IN_NOTES = frozenset(
    {"hour", "hours", "hr", "hrs", "hora", "horas", "heure", "heures", "min", "mins", "minutes"}
    | {"minute", "minuto", "minutos"}
)
# A number glued to an hour/minute unit or an am/pm, or a clock time: "2h", "23h30", "45min",
# "10:30", "5pm". A bare "5m" or "90s" is left alone: in a note it is metres or a decade.
_TIME_MENTION = re.compile(
    r"\d{1,9}(?:[.,]\d{1,3})?\s*(?:h\d{0,2}|hrs?|hours?|horas?|heures?|mins?|minutes?|minutos?|am|pm)"
    r"|\d{1,2}:[0-5]\d"
)


def _number(text: str) -> float:
    return float(text.replace(",", "."))


def _spell_out_numbers(text: str) -> str:
    """Replace number words by digits ("two hours" → "2 hours"); other words are kept."""
    words = text.split(" ")
    return " ".join(str(_NUMBER_WORDS[w]) if w in _NUMBER_WORDS else w for w in words)


def _canonical(text: str) -> str:
    text = " ".join(fold(text).split())
    return text.rstrip(".,;:!")


def parse_duration(text: str) -> timedelta | None:
    """Read a duration; ``None`` if it is not one. Never raises; does not apply bounds."""
    try:
        return _parse(_canonical(text))
    except (ValueError, OverflowError):
        return None


def _parse(text: str) -> timedelta | None:
    if not text or len(text) > 64:
        return None
    if _BARE_MINUTES.fullmatch(text):
        return timedelta(minutes=int(text))
    prime = _PRIME_MINUTES.fullmatch(text)
    if prime:
        return timedelta(minutes=int(prime["m"]))
    clock = _CLOCK_STYLE.fullmatch(text)
    if clock:
        return timedelta(hours=int(clock["h"]), minutes=int(clock["m"]))
    if text in _HALF_HOUR_PHRASES:
        return timedelta(minutes=30)
    for suffix in _AND_A_HALF:
        if text.endswith(" " + suffix):
            whole = _parse(text[: -len(suffix) - 1])
            if whole is None or whole % timedelta(hours=1) or not whole:
                return None
            return whole + timedelta(minutes=30)
    if not any(ch.isdigit() for ch in text):
        text = _spell_out_numbers(text)
        if not any(ch.isdigit() for ch in text):
            return None
    bare = _HOURS_THEN_BARE_MINUTES.fullmatch(text)
    if bare:
        return timedelta(hours=int(bare["h"]), minutes=int(bare["m"]))
    parts = _COMPONENTS.fullmatch(text)
    if not parts:
        return None
    values = {key: parts[key] for key in ("h", "m", "s") if parts[key] is not None}
    if not values:
        return None
    if "h" in values and "s" in values and "m" not in values:
        return None  # "1h30 second avenue": the 30 belongs to the hour, not to "second"
    decimals = [v for v in values.values() if "." in v or "," in v]
    if decimals and len(values) > 1:
        return None  # "1.5h30m" has no single reading
    return timedelta(
        hours=_number(values.get("h", "0")),
        minutes=_number(values.get("m", "0")),
        seconds=_number(values.get("s", "0")),
    )


def is_sane(duration: timedelta) -> bool:
    """Whether a parsed duration may start or extend a check-in: above zero, at most a day."""
    return timedelta(0) < duration <= MAX_DURATION


def looks_like_time_attempt(words: list[str]) -> bool:
    """Whether the first words of an argument try to say a time the grammar could not read.

    ``["soon"]``, ``["soon-ish"]``, ``["a", "while"]``, ``["90x"]``, ``["1.5"]``: yes.
    ``["hotel", "rex"]``, ``["221b"]`` (a street number): no. Words are folded.
    """
    if not words:
        return False
    first = words[0].strip(".,;:!?")
    if not first:
        return False
    if first.split("-")[0] in _VAGUE_TIME_WORDS or first in _VAGUE_TIME_WORDS:
        return True
    if " ".join(words[:2]) in _VAGUE_TIME_PHRASES or " ".join(words[:3]) in _VAGUE_TIME_PHRASES:
        return True
    if first[0] in "+-" and first[1:2].isdigit():
        return True  # "+30" after IN, "-5": a number she meant as a time
    if first[0] == "+" or first[0].isdigit():
        # Digits with only punctuation ("1.5", "90-120") or unit-like letters ("2hs!", "90mn.")
        # are a time she tried to write; a street number such as "221b" or "12bis" is a note.
        letters = "".join(ch for ch in first if ch.isalpha())
        return not letters or letters[0] in "hms"
    return False


def mentions_time(words: list[str]) -> bool:
    """Whether folded words mention a time anywhere ("Ritz 2h", "jusqu'à 23h", "at 10:30").

    Used when a check-in's time is not in first place: a silently wrong deadline is worse than
    asking once, so the parser answers BadArgument("in") and the member is told to put it first.
    """
    for word in words:
        stripped = word.strip(".,;:!?()")
        if stripped in _UNIT_WORDS_IN_NOTES or _TIME_MENTION.fullmatch(stripped):
            return True
    return False
