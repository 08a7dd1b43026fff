"""The value types of rule files (durations, numbers, names, words …) as pydantic annotated types.

Each one converts what the admin typed, or fails with a message she can act on; none of the
messages quotes the value itself when it may be a phone number or a secret word. Each carries
the JSON Schema an editor uses to check the same thing as she types.
"""

from __future__ import annotations

import difflib
import re
import uuid
import zoneinfo
from datetime import timedelta
from functools import cache, lru_cache
from typing import Annotated, Any

import phonenumbers
from pydantic import AfterValidator, BeforeValidator, WithJsonSchema

from relay.core.report_categories import CATEGORIES
from relay.rules.rule_durations import parse_duration

NAME_PATTERN = r"^[a-z][a-z0-9_-]{0,31}$"
_NAME = re.compile(NAME_PATTERN)
LANGUAGE_PATTERN = r"^[a-z]{2,3}([-_][A-Za-z0-9]{2,8})?$"
_LANGUAGE = re.compile(LANGUAGE_PATTERN)
GROUP_PATTERN = r"^group\.[A-Za-z0-9+/=_-]{4,200}$"
_GROUP = re.compile(GROUP_PATTERN)
_UNIT = r"([wW]|[dD]|[hH]|[mM][iI][nN]|[mM]|[sS])"
DURATION_PATTERN = (
    rf"^\s*([0-9]+\s*{_UNIT}\s*)+$"  # 1h30m, 90s, 2 h
    r"|^\s*[0-9]+\s*$"  # 90 (minutes)
    r"|^\s*[0-9]+[hH][0-9]{1,2}\s*$"  # 1h30
    r"|^\s*[0-9]+:[0-5][0-9]\s*$"  # 1:30
)
MAX_WORD = 40


# ---- durations ---------------------------------------------------------------------------------


def _duration(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if isinstance(text, str):
        parsed = parse_duration(text)
        if parsed is not None:
            return parsed
    raise ValueError("not a duration: write e.g. 90s, 10m, 1h30m or 2h (a bare number is minutes)")


def _positive(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError("must be longer than zero")
    return value


_DURATION_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "string", "pattern": DURATION_PATTERN},
        {"type": "integer", "minimum": 0, "description": "minutes"},
    ],
    "description": "a duration: 90s, 10m, 1h30m, 2h, 7d; a bare number is minutes",
}

Duration = Annotated[timedelta, BeforeValidator(_duration), WithJsonSchema(_DURATION_SCHEMA)]
"""A duration of zero or more."""

PositiveDuration = Annotated[
    timedelta,
    BeforeValidator(_duration),
    AfterValidator(_positive),
    WithJsonSchema(_DURATION_SCHEMA),
]
"""A duration longer than zero."""


def _retention(value: Any) -> timedelta:
    # A bare number would be minutes: "reports: 30" deleting reports after half an hour is
    # never what an admin means, so retention needs a unit.
    if isinstance(value, int | str) and str(value).strip().isdigit():
        raise ValueError("write a unit, e.g. 30d (days) or 12h (hours)")
    return _positive(_duration(value))


_RETENTION_SCHEMA: dict[str, Any] = {
    "type": "string",
    "pattern": rf"^\s*([0-9]+\s*{_UNIT}\s*)+$",
    "description": "how long to keep it: 12h, 30d, 52w",
}

RetentionPeriod = Annotated[
    timedelta, BeforeValidator(_retention), WithJsonSchema(_RETENTION_SCHEMA)
]


def _retention_or_never(value: Any) -> timedelta | None:
    if value is None or (isinstance(value, str) and value.strip().lower() == "never"):
        return None
    return _retention(value)


RetentionOrNever = Annotated[
    timedelta | None,
    BeforeValidator(_retention_or_never),
    WithJsonSchema(
        {
            "anyOf": [_RETENTION_SCHEMA, {"const": "never"}],
            "description": "how long to keep it (30d, 52w), or never to keep it until deleted",
        }
    ),
]


# ---- phone numbers, Signal ids -----------------------------------------------------------------


@lru_cache(maxsize=16384)  # a reload re-reads every member's number; most are unchanged
def normalise_number(text: str) -> str | None:
    """``"+1 (202) 555-0101"`` → ``"+12025550101"``; None if it is not a valid number."""
    text = text.strip()
    if not text.startswith("+") or len(text) > 40:
        return None
    try:
        parsed = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        return None
    if parsed.extension or not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _phone(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError('write the number in quotes, with its country code: "+44 …"')
    if not value.strip().startswith("+"):
        raise ValueError("write the number with its country code, starting with +")
    normalised = normalise_number(value)
    if normalised is None:
        raise ValueError("not a valid phone number (check the digits and the country code)")
    return normalised


Phone = Annotated[
    str,
    BeforeValidator(_phone),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^\s*\+[0-9 ().-]{6,30}$",
            "description": 'an international number in quotes, e.g. "+44 7700 900123"',
        }
    ),
]
"""A phone number, normalised to E.164."""

_SHORT_NUMBER = re.compile(r"^[0-9][0-9 -]{1,12}$")


def _directory_number(value: Any) -> str:
    # A helpline may be a short local number ("116 123", "911") that is not E.164.
    if isinstance(value, str) and _SHORT_NUMBER.fullmatch(value.strip()):
        return value.strip()
    return _phone(value)


DirectoryNumber = Annotated[
    str,
    BeforeValidator(_directory_number),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^\s*(\+[0-9 ().-]{6,30}|[0-9][0-9 -]{1,12})\s*$",
            "description": 'an international number ("+44 …") or a short local one ("116 123")',
        }
    ),
]


def _signal_uuid(value: Any) -> str:
    if isinstance(value, str) and len(value) <= 64:
        try:
            return str(uuid.UUID(value.strip()))
        except ValueError:
            pass
    raise ValueError("not a Signal UUID (32 hex digits in groups of 8-4-4-4-12)")


SignalUuidField = Annotated[
    str,
    BeforeValidator(_signal_uuid),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?"
            r"[0-9a-fA-F]{12}$",
        }
    ),
]


def _group_id(value: Any) -> str:
    if isinstance(value, str) and _GROUP.fullmatch(value.strip()):
        return value.strip()
    raise ValueError("not a Signal group id (it starts with 'group.'; copy it from the relay)")


GroupIdField = Annotated[
    str, BeforeValidator(_group_id), WithJsonSchema({"type": "string", "pattern": GROUP_PATTERN})
]


# ---- names, languages, zones, words -----------------------------------------------------------


def _name(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("expected a name")
    if _NAME.fullmatch(value):
        return value
    lowered = value.strip().lower()
    if _NAME.fullmatch(lowered):
        raise ValueError(f"write names in lower case: '{lowered}'")
    raise ValueError(
        "a name is lower-case letters, digits, '-' or '_', starting with a letter (at most 32)"
    )


Name = Annotated[
    str, BeforeValidator(_name), WithJsonSchema({"type": "string", "pattern": NAME_PATTERN})
]
"""A member alias, circle or contact name: ``alice``, ``night-shift``."""


def _name_ref(value: Any) -> str:
    # References are checked against the names that exist (with "did you mean"), not here.
    if isinstance(value, str) and value.strip():
        return value.strip()
    raise ValueError("expected a name")


NameRef = Annotated[
    str, BeforeValidator(_name_ref), WithJsonSchema({"type": "string", "pattern": NAME_PATTERN})
]


def _as_list(value: Any) -> Any:
    # "buddies: bob" means the one-item list; an empty "buddies:" means none.
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return value


NameList = Annotated[
    list[NameRef],
    BeforeValidator(_as_list),
    WithJsonSchema({"type": "array", "items": {"type": "string", "pattern": NAME_PATTERN}}),
]


def _language(value: Any) -> str:
    if isinstance(value, str) and _LANGUAGE.fullmatch(value.strip()):
        return value.strip()
    raise ValueError("a language code like en, es, pt or fr")


LanguageField = Annotated[
    str,
    BeforeValidator(_language),
    WithJsonSchema({"type": "string", "pattern": LANGUAGE_PATTERN}),
]


@cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _timezone(value: Any) -> str:
    if isinstance(value, str) and value.strip() in _zones():
        return value.strip()
    raise ValueError("not a known time zone: write it like Europe/London or America/New_York")


TimezoneField = Annotated[
    str,
    BeforeValidator(_timezone),
    WithJsonSchema({"type": "string", "description": "an IANA time zone, e.g. Europe/London"}),
]


def _word(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or not value.strip().isprintable():
        raise ValueError("expected a word")
    if len(value) > MAX_WORD or "\n" in value.strip():
        raise ValueError(f"a word of at most {MAX_WORD} characters on one line")
    return value.strip()


Word = Annotated[
    str,
    BeforeValidator(_word),
    WithJsonSchema({"type": "string", "minLength": 1, "maxLength": MAX_WORD}),
]
"""A keyword, duress word or check-in secret."""

WordList = Annotated[
    list[Word],
    BeforeValidator(_as_list),
    WithJsonSchema(
        {"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": MAX_WORD}}
    ),
]


def _text(value: Any) -> str:
    if isinstance(value, str) and value.strip() and len(value) <= 200:
        return value.strip()
    raise ValueError("expected a short text (at most 200 characters)")


Text = Annotated[
    str,
    BeforeValidator(_text),
    WithJsonSchema({"type": "string", "minLength": 1, "maxLength": 200}),
]


def _paragraph(value: Any) -> str:
    if isinstance(value, str) and value.strip() and len(value) <= 1000:
        return value.strip()
    raise ValueError("expected a text of at most 1000 characters")


Paragraph = Annotated[
    str,
    BeforeValidator(_paragraph),
    WithJsonSchema({"type": "string", "minLength": 1, "maxLength": 1000}),
]
"""A few lines of the collective's own words (the welcome's extra lines)."""

CLOCK_TIME_PATTERN = r"^([01]?[0-9]|2[0-3]):[0-5][0-9]$"
_CLOCK_TIME = re.compile(CLOCK_TIME_PATTERN)


def _clock_time(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 1440:
        # YAML 1.1 reads an unquoted 18:00 as the sexagesimal number 1080.
        return f"{value // 60:02d}:{value % 60:02d}"
    if isinstance(value, str) and _CLOCK_TIME.fullmatch(value.strip()):
        hours, minutes = value.strip().split(":")
        return f"{int(hours):02d}:{minutes}"
    raise ValueError('expected a time of day as HH:MM, e.g. "18:00"')


ClockTime = Annotated[
    str,
    BeforeValidator(_clock_time),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": CLOCK_TIME_PATTERN},
                {"type": "integer", "minimum": 0, "maximum": 1439},
            ],
            "description": 'a time of day, HH:MM ("18:00")',
        }
    ),
]
"""A time of day, ``HH:MM`` (24 h)."""


# ---- partner relays (peers:) -------------------------------------------------------------------

MAX_COLLECTIVE_NAME = 80
PEER_KEY_PATTERN = r"^ed25519:[A-Za-z0-9+/]{43}=$"


def _collective_name(value: Any) -> str:
    # Sent with every warning and shown to the partner's moderators: one printable line.
    text = value.strip() if isinstance(value, str) else ""
    if text and text.isprintable() and len(text) <= MAX_COLLECTIVE_NAME:
        return text
    raise ValueError(f"expected a name on one line (at most {MAX_COLLECTIVE_NAME} characters)")


CollectiveName = Annotated[
    str,
    BeforeValidator(_collective_name),
    WithJsonSchema({"type": "string", "minLength": 1, "maxLength": MAX_COLLECTIVE_NAME}),
]
"""How partner collectives see this one: ``Night Owls``."""


def _peer_key_text(value: Any) -> str:
    # Only the type here: whether it is a key is checked with the other partners' keys
    # (relay.rules.crosscheck), so one message says what is wrong with it.
    if isinstance(value, str):
        return value
    raise ValueError("write the key as `peer-relay identity` prints it: ed25519:…")


PeerKeyText = Annotated[
    str,
    BeforeValidator(_peer_key_text),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": PEER_KEY_PATTERN,
            "description": "the partner relay's key, exactly as its `peer-relay identity` "
            "prints it: ed25519: and 44 characters",
        }
    ),
]


def _severity(value: Any) -> int:
    # Rule files keep every scalar as text (relay.rules.source): "2" is what arrives.
    text = str(value).strip() if isinstance(value, int | str) and value is not True else ""
    if text in ("1", "2", "3"):
        return int(text)
    raise ValueError("expected a severity: 1 (time-waster), 2 (unsafe) or 3 (violent)")


ReportSeverity = Annotated[
    int,
    BeforeValidator(_severity),
    WithJsonSchema({"type": "integer", "minimum": 1, "maximum": 3}),
]


def _category(value: Any) -> str:
    if isinstance(value, str) and value.strip() in CATEGORIES:
        return value.strip()
    if isinstance(value, str):
        folded = value.strip().lower().replace("_", "-").replace(" ", "-")
        if folded in CATEGORIES:
            raise ValueError(f"write it as '{folded}'")
        close = difflib.get_close_matches(folded, CATEGORIES, n=1, cutoff=0.75)
        if close:
            raise ValueError(f"not a category (did you mean '{close[0]}'?)")
    raise ValueError(f"not a category: one of {', '.join(CATEGORIES)}")


Category = Annotated[
    str, BeforeValidator(_category), WithJsonSchema({"type": "string", "enum": list(CATEGORIES)})
]
"""A kind of bad-client report, from the closed set both partners' relays know."""


# ---- placeholders from the sample --------------------------------------------------------------

# North American 555-0100 … 555-0199 numbers are reserved for fiction in every area code: the
# sample rules use them, and a real member never has one.
_FICTIONAL_NUMBER = re.compile(r"^\+1[2-9][0-9]{2}55501[0-9]{2}$")
SAMPLE_GROUP_IDS = frozenset({"group.c2FtcGxlLWdyb3VwLXJlcGxhY2UtbWU="})
# The sample partners' keys in rules/peers.yaml: real Ed25519 keys whose private halves were
# thrown away, so nothing signed with them exists; a partner left with one would never verify.
SAMPLE_PEER_KEYS = frozenset(
    {
        "ed25519:7Unn+FYgj9tlCGlO0fmBdrywwcjq9dGBoNovfymscb0=",
        "ed25519:avsodMKuPOVwwDN+ECcZCRklaoCNUGdiqwZFjlkAI0Q=",
    }
)


def is_placeholder_number(number: str) -> bool:
    return bool(_FICTIONAL_NUMBER.fullmatch(number))


def is_placeholder_group(group_id: str) -> bool:
    return group_id in SAMPLE_GROUP_IDS


def is_placeholder_peer_key(key: str) -> bool:
    return key in SAMPLE_PEER_KEYS
