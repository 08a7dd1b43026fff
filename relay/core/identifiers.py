"""Phone numbers, plates, emails and handles in client details, reports and screening queries.

Owns recognising them in free text and their normalised forms, so that the same client written
two ways (``07700 900123`` and ``+44 7700 900123``; ``ab12 cde`` and ``AB12-CDE``) is the same
value when the store keys it and when screening compares it. Also owns plate matching that
forgives one wrong character (`plates_match`, `plate_match_keys`). Pure functions, no I/O.

Normalised forms:

- phone: E.164 (``+447700900123``) via the ``phonenumbers`` library; a national number needs the
  member's region (``GB``). Accepted when the library calls it valid, or when it is a possible
  (not local-only) number of at least eight national digits: numbering plans change faster than
  the library's metadata, and a missed match on a dangerous client costs more than a spare one.
- plate: upper-case Latin letters and digits, 4–10 characters, at least one of each, spaces,
  dashes and dots removed; Cyrillic and Greek letters that look like Latin ones are read as
  Latin (plates in Bulgaria, Greece, Russia, Serbia, Ukraine use only those).
- email: lower-cased.
- handle: ``@name``, lower-cased (Instagram, Telegram, X, OnlyFans handles are case-blind).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Literal

import phonenumbers
from phonenumbers import Leniency, PhoneNumberMatcher, ValidationResult

from relay.core.durations import parse_duration
from relay.core.normalize import clean

IdentifierKind = Literal["phone", "plate", "email", "handle", "phone_end", "plate_start"]
"""``phone_end`` and ``plate_start`` are what a member types when she has only part of it (the
last six or more digits of a number, the start of a plate): screening queries only, never
stored as a report's identifier."""

MIN_PHONE_END = 6
"""Fewest trailing digits a CHECK may give: fewer match too many numbers to mean anything."""
MIN_PLATE_START = 4
"""Fewest leading characters of a plate a CHECK may give (e.g. ``XY34`` of ``XY34 ZZZ``)."""


@dataclass(frozen=True, slots=True)
class Identifier:
    """One normalised identifier found in text. The value stays out of ``repr``."""

    kind: IdentifierKind
    value: str = field(repr=False)


_MAX_TEXT = 20_000  # client details longer than this are not screened (and not expected)

_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63})+", re.ASCII)
_HANDLE = re.compile(r"(?<![\w@.])@([A-Za-z0-9_](?:[A-Za-z0-9_.]{0,28}[A-Za-z0-9_])?)")
_URL = re.compile(r"(?:https?://|www\.|geo:)\S+", re.IGNORECASE)
_DATE_LIKE = re.compile(r"\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}")

# Cyrillic and Greek capitals that plates use as Latin lookalikes.
_PLATE_LOOKALIKES = str.maketrans(
    {
        "А": "A",
        "В": "B",
        "Е": "E",
        "К": "K",
        "М": "M",
        "Н": "H",
        "О": "O",
        "Р": "P",
        "С": "C",
        "Т": "T",
        "У": "Y",
        "Х": "X",
        "І": "I",
        "Α": "A",
        "Β": "B",
        "Ε": "E",
        "Ζ": "Z",
        "Η": "H",
        "Ι": "I",
        "Κ": "K",
        "Μ": "M",
        "Ν": "N",
        "Ο": "O",
        "Ρ": "P",
        "Τ": "T",
        "Υ": "Y",
        "Χ": "X",
    }
)
_PLATE_SEPARATORS = str.maketrans("", "", " -.·\u00a0")
_PLATE = re.compile(r"[A-Z0-9]{4,10}")
_WORD_EDGES = ".,;:!?()[]{}\"'"
# Number + unit words that are not plates in client descriptions: "180cm", "85kg", "2nd",
# "10pm", "34dd", "200eur", "6ft2", "5k".
_NOT_A_PLATE = re.compile(
    r"\d+(?:[.,]\d+)?(?:cm|mm|km|kg|kgs|lb|lbs|ft|in|yo|yrs|st|nd|rd|th|am|pm|dd|eur|usd|gbp"
    r"|mph|kmh|k|x)"
    r"|\d+ft\d*|\d+x\d+|mp[34]|4x4",
    re.IGNORECASE,
)
# One wrong character is forgiven only on plates long enough for it to still say something.
_MIN_FUZZY_PLATE = 5
# O/0 and I/1 are confused when reading a plate at night; several countries leave them out.
_PLATE_SKELETON = str.maketrans({"O": "0", "I": "1"})


def _phone_ok(number: phonenumbers.PhoneNumber) -> bool:
    if phonenumbers.is_valid_number(number):
        return True
    reason = phonenumbers.is_possible_number_with_reason(number)
    return reason == ValidationResult.IS_POSSIBLE and len(str(number.national_number)) >= 8


def normalise_phone(text: str, default_region: str | None = None) -> str | None:
    """E.164 form of a phone number written any way, or ``None``.

    ``default_region`` (``"GB"``, ``"ES"`` …) reads national forms; without it only ``+…`` works.
    """
    text = clean(text)
    if not text.strip() or len(text) > 64:
        return None
    try:
        number = phonenumbers.parse(text, (default_region or "ZZ").upper())
    except phonenumbers.NumberParseException:
        return None
    if not _phone_ok(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_plate(text: str) -> str | None:
    """``"ab12 cde"`` → ``"AB12CDE"``; ``None`` unless 4–10 letters and digits with both kinds."""
    text = unicodedata.normalize("NFKC", clean(text)).upper().translate(_PLATE_LOOKALIKES)
    text = text.translate(_PLATE_SEPARATORS)
    if not _PLATE.fullmatch(text):
        return None
    if not any(ch.isdigit() for ch in text) or not any(ch.isalpha() for ch in text):
        return None
    return text


def _plausible_plate(word: str) -> str | None:
    if _NOT_A_PLATE.fullmatch(word) or parse_duration(word) is not None:
        return None
    return normalise_plate(word)


def _mask(text: str, spans: list[tuple[int, int]]) -> str:
    chars = list(text)
    for start, end in spans:
        chars[start:end] = " " * (end - start)
    return "".join(chars)


def _mixed(word: str) -> bool:
    return any(ch.isdigit() for ch in word) and any(ch.isalpha() for ch in word)


def _chunk(word: str) -> str | None:
    """A piece of a plate written with spaces: up to 3 letters, 5 digits, or 4 of both."""
    word = word.translate(_PLATE_SEPARATORS)
    if not word.isascii() or not word.isalnum() or _NOT_A_PLATE.fullmatch(word):
        return None
    letters = sum(ch.isalpha() for ch in word)
    digits = len(word) - letters
    if (digits == 0 and letters <= 3) or (letters == 0 and digits <= 5) or len(word) <= 4:
        return word
    return None


def _plates(text: str) -> list[str]:
    """Plates in free text: one word (``AB12CDE``, ``AB-123-CD``) or two to four chunks separated
    by spaces only (``AB12 CDE``, ``KA 01 AB 1234``, ``B-MW 1234``), in capitals, or in lower case
    when the first chunk mixes letters and digits (``ab12 cde``). Chunks never run across
    punctuation ("6ft2, 85kg").

    Known limit: in a message written all in capitals a short word before a plate may be read as
    part of it ("ME AB12 CDE"). A screening query holds only the plate and is read whole.
    """
    raw_words = text.split()
    whole = normalise_plate(text)
    # The whole text is one plate only when every word could be a piece of one, in one case:
    # "ab12 cde" is; "or AB12 CDE" (left after a phone number was masked) is not.
    one_case = all(w == w.upper() for w in raw_words) or all(w == w.lower() for w in raw_words)
    chunked = len(raw_words) == 1 or (one_case and all(_chunk(w) for w in raw_words))
    if whole is not None and len(raw_words) <= 4 and chunked:
        return [whole]
    words = [w.strip(_WORD_EDGES) for w in raw_words]
    # A chunk run stops at a word with punctuation after it ("AB12," ends the plate).
    breaks = [w.rstrip(_WORD_EDGES) != w or not w for w in raw_words]
    found: list[str] = []
    index = 0
    while index < len(words):
        taken = 0
        for size in (4, 3, 2):
            chunks = words[index : index + size]
            if len(chunks) < size or any(breaks[index : index + size - 1]):
                continue
            pieces = [_chunk(c) for c in chunks]
            if any(p is None for p in pieces):
                continue
            capitals = all(c == c.upper() for c in chunks)
            # In lower case only a run opened by a letters-and-digits chunk ("ab12 cde"), so
            # the word before it ("van ab12 cde") is not swallowed.
            lower_plate = all(c == c.lower() for c in chunks) and _mixed(chunks[0])
            plate = normalise_plate("".join(chunks)) if (capitals or lower_plate) else None
            if plate is not None and len(plate) >= 5:
                found.append(plate)
                taken = size
                break
        if not taken:
            plate = _plausible_plate(words[index])
            if plate is not None:
                found.append(plate)
            taken = 1
        index += taken
    return found


def extract_identifiers(text: str, default_region: str | None = None) -> list[Identifier]:
    """Every phone number, plate, email and handle in the text, normalised, in order, once each.

    Links are ignored (their digits are not phone numbers); emails are taken before handles so
    ``ana@example.org`` is not the handle ``@example``.
    """
    text = clean(text)[:_MAX_TEXT]
    found: list[Identifier] = []

    def add(kind: IdentifierKind, value: str) -> None:
        identifier = Identifier(kind, value)
        if identifier not in found:
            found.append(identifier)

    text = _mask(text, [m.span() for m in _URL.finditer(text)])
    emails = list(_EMAIL.finditer(text))
    for match in emails:
        add("email", match.group(0).lower())
    text = _mask(text, [m.span() for m in emails])
    handles = list(_HANDLE.finditer(text))
    for handle in handles:
        add("handle", "@" + handle.group(1).lower())
    text = _mask(text, [m.span() for m in handles])

    region = (default_region or "ZZ").upper()
    phone_spans: list[tuple[int, int]] = []
    try:
        matches = list(PhoneNumberMatcher(text, region, leniency=Leniency.POSSIBLE))
    except Exception:  # noqa: BLE001 - a library bug must not lose the other identifiers
        matches = []
    for phone in matches:
        if _DATE_LIKE.fullmatch(phone.raw_string.strip()) or not _phone_ok(phone.number):
            continue
        add("phone", phonenumbers.format_number(phone.number, phonenumbers.PhoneNumberFormat.E164))
        phone_spans.append((phone.start, phone.end))
    text = _mask(text, phone_spans)

    for plate in _plates(text):
        add("plate", plate)
    return found


def _skeleton(plate: str) -> str:
    normalised = normalise_plate(plate)
    value = normalised if normalised is not None else plate.upper().translate(_PLATE_SEPARATORS)
    return value.translate(_PLATE_SKELETON)


def plate_distance(a: str, b: str) -> int:
    """Edits between two plates: substitutions, insertions, deletions, adjacent swaps.

    Both are normalised first, and O/0 and I/1 count as the same character.
    """
    x, y = _skeleton(a), _skeleton(b)
    previous_previous: list[int] = []
    previous = list(range(len(y) + 1))
    for i in range(1, len(x) + 1):
        current = [i] + [0] * len(y)
        for j in range(1, len(y) + 1):
            cost = 0 if x[i - 1] == y[j - 1] else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and x[i - 1] == y[j - 2] and x[i - 2] == y[j - 1]:
                current[j] = min(current[j], previous_previous[j - 2] + 1)
        previous_previous, previous = previous, current
    return previous[len(y)]


def plates_match(a: str, b: str) -> bool:
    """Same plate, allowing one wrong, missing, extra or swapped character on plates of five
    characters or more (O/0 and I/1 always count as the same)."""
    distance = plate_distance(a, b)
    if distance == 0:
        return True
    shorter = min(len(_skeleton(a)), len(_skeleton(b)))
    return distance == 1 and shorter >= _MIN_FUZZY_PLATE


def plate_match_keys(plate: str) -> frozenset[str]:
    """Keys under which a store can index a plate so that a one-character slip still finds it.

    The plate's skeleton plus, for plates of five characters or more, every one-character
    deletion of it. If `plates_match(a, b)` then ``plate_match_keys(a) & plate_match_keys(b)`` is
    not empty, so keyed hashes of these keys find candidates without storing plates in clear;
    confirm a candidate with `plates_match` (sharing a key does not by itself mean a match).
    """
    skeleton = _skeleton(plate)
    keys = {skeleton}
    if len(skeleton) >= _MIN_FUZZY_PLATE:
        keys.update(skeleton[:i] + skeleton[i + 1 :] for i in range(len(skeleton)))
    return frozenset(keys)


def phone_ends(e164: str) -> frozenset[str]:
    """The endings of a number a member might type: its last 6, 7 … digits (not the whole)."""
    digits = e164.lstrip("+")
    return frozenset(digits[-k:] for k in range(MIN_PHONE_END, len(digits)))


def plate_starts(plate: str) -> frozenset[str]:
    """The starts of a plate a member might type: its first 4, 5 … characters (O/0 and I/1 as
    one), not the whole plate."""
    skeleton = _skeleton(plate)
    return frozenset(skeleton[:k] for k in range(MIN_PLATE_START, len(skeleton)))


_SEPARATORS = re.compile(r"[\s\-./()]+")


def phone_end_of(text: str) -> str | None:
    """The digits of a partial number as typed (``900 456``, ``0900-456``), leading zeros
    dropped (a trunk prefix is not part of the international number); None unless 6–15 digits."""
    digits = _SEPARATORS.sub("", clean(text)).removeprefix("+").lstrip("0")
    if not digits.isascii() or not digits.isdigit():
        return None
    return digits if MIN_PHONE_END <= len(digits) <= 15 else None


def plate_start_of(text: str) -> str | None:
    """A plate's start as typed (``XY34``, ``xy-34``), as compared: its skeleton."""
    plate = normalise_plate(text)
    return _skeleton(plate) if plate is not None and len(plate) >= MIN_PLATE_START else None


def plate_skeleton(plate: str) -> str:
    """A plate as compared: normalised, O as 0 and I as 1."""
    return _skeleton(plate)
