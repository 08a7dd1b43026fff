"""The signed message one relay sends another: a bad-client warning, or its retraction.

Pure: no I/O, no clock (``today`` is passed in). One Signal text message, ASCII::

    PEER-RELAY/1 <body>.<signature>

``body`` is unpadded base64url of the canonical JSON of the message (UTF-8, keys sorted, no
spaces, non-ASCII written as itself); ``signature`` is unpadded base64url of an Ed25519 signature
over ``b"peer-relay warning v1\\x00" + sender + b"\\x00" + recipient + b"\\x00" + body JSON``, the
numbers in E.164. Naming both numbers in what is signed means a warning signed for one partner
cannot be replayed to another, nor passed off as coming from another relay that holds the key.

`decode` trusts nothing it has not checked, in this order: size, header and version, base64, the
signature (before any JSON is parsed: text nobody signed is never parsed), then the JSON
strictly — exactly the keys of its type, the right types (``true`` is not a number), every bound,
no key twice, no NaN, each text free of control characters and trimmed, each identifier exactly as
`relay.core.identifiers` normalises it, real dates, and the body byte for byte the canonical form of
what was read — and last the dates (`STALE_AFTER`, `AHEAD_BY`). Anything else is `Refused`, whose
text is only its reason: it never quotes the message or a field, so it may be logged.

`encode` refuses (``ValueError``, naming the field, never its value) a message `decode` would not
accept, so nothing leaves that a partner would throw away.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Final, Literal, TypeAlias

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from relay.core.identifiers import (
    Identifier,
    IdentifierKind,
    extract_identifiers,
    normalise_phone,
    normalise_plate,
)
from relay.core.normalize import clean, strip_ends
from relay.core.report_categories import CATEGORIES

PREFIX: Final = "PEER-RELAY/"
"""What every peer message starts with, whatever its version (`looks_like_peer_message`)."""
VERSION: Final = 1
MAX_TEXT: Final = 2000
"""The whole message, in characters (it is ASCII, so bytes too). Signal carries a text body of
up to 2000 bytes; signal-cli sends a longer one as a long-text attachment and the receiving
signal-cli may cut the body at 2048 bytes (AsamK/signal-cli #1598, #1936): a signed message that
arrived cut would be refused. A long summary in other scripts can reach this before
`MAX_SUMMARY`: `encode` refuses it, and SHARE asks the moderator for a shorter one."""
MAX_SENDER_NAME: Final = 80
MAX_SUMMARY: Final = 1000
MAX_CATEGORIES: Final = 10
MAX_IDENTIFIERS: Final = 20
MAX_IDENTIFIER: Final = 100
SEVERITIES: Final = (1, 2, 3)
STALE_AFTER: Final = timedelta(days=45)
"""A message issued longer ago than this is refused: a replay of an old warning, or one that sat
in a queue so long that a moderator should hear it again from its sender instead."""
AHEAD_BY: Final = timedelta(days=2)
"""How far a message's date may be ahead of ours: time zones and a slow clock, not more."""
ID_BYTES: Final = 16
IDENTIFIER_KINDS: Final[tuple[IdentifierKind, ...]] = ("phone", "plate", "email", "handle")

_STATEMENT: Final = b"peer-relay warning v1\x00"
_SIGNATURE_BYTES: Final = 64
_HEADER: Final = re.compile(r"PEER-RELAY/([0-9]{1,9})( ?)")
_BASE64URL: Final = re.compile(r"[A-Za-z0-9_-]+")
_ID: Final = re.compile(r"[A-Za-z0-9_-]{22}")
_DATE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_WARNING_KEYS: Final = frozenset(
    {"v", "type", "id", "from", "severity", "categories", "summary", "identifiers"}
    | {"reported", "issued"}
)
_RETRACTION_KEYS: Final = frozenset({"v", "type", "id", "issued"})
_KEYS: Final = {"warning": _WARNING_KEYS, "retraction": _RETRACTION_KEYS}

Reason: TypeAlias = Literal["malformed", "version", "oversized", "signature", "stale"]


@dataclass(frozen=True)
class Warning:  # shadows the builtin (the design's name); this module never needs that one
    """A bad-client warning from a partner collective (or to one). The summary and identifiers
    stay out of ``repr``: they are client details."""

    id: str
    sender_name: str
    severity: int | None
    categories: tuple[str, ...]
    summary: str = field(repr=False)
    identifiers: tuple[Identifier, ...] = field(repr=False)
    reported: date
    issued: date


@dataclass(frozen=True)
class Retraction:
    """The undo of the warning with the same ``id`` from the same partner."""

    id: str
    issued: date


PeerMessage: TypeAlias = Warning | Retraction


class Refused(Exception):
    """A peer message this relay will not take. ``str`` and ``repr`` give only the reason;
    ``detail`` names the check that failed in fixed words, never a value from the message."""

    def __init__(self, reason: Reason, detail: str = "") -> None:
        super().__init__(reason)
        self.reason: Reason = reason
        self.detail = detail or reason

    def __str__(self) -> str:
        return self.reason

    def __repr__(self) -> str:
        return f"Refused({self.reason!r})"


def looks_like_peer_message(text: str) -> bool:
    """Whether ``text`` claims to be a peer message (of any version): decode it, do not read it."""
    return text.startswith(PREFIX)


def new_id() -> str:
    """A fresh warning id: 16 random bytes, 22 characters of base64url."""
    return _b64(secrets.token_bytes(ID_BYTES))


def encode(message: PeerMessage, key: Ed25519PrivateKey, sender: str, recipient: str) -> str:
    """The signed text of ``message`` from relay number ``sender`` to relay number ``recipient``.

    Raises ``ValueError`` (naming the field, never its value) when the message is one a partner
    would refuse, when a number is not a phone number, or when it does not fit in `MAX_TEXT`.
    """
    try:
        checked = _message(_body(message))
    except Refused as refused:
        problem = refused.detail
    else:
        problem = "" if checked == message else "not in its normalised form"
    if problem:
        raise ValueError(f"not a valid peer message: {problem}")
    ends = _numbers(sender, recipient)
    if ends is None:
        raise ValueError("the sender or recipient is not a phone number in international form")
    body = _canonical(_body(message))
    signature = key.sign(_statement(*ends, body))
    text = f"{PREFIX}{VERSION} {_b64(body)}.{_b64(signature)}"
    if len(text) > MAX_TEXT:
        raise ValueError("too long to send: shorten the summary or send fewer identifiers")
    return text


def decode(text: str, public_key: bytes, sender: str, recipient: str, today: date) -> PeerMessage:
    """The message in ``text``, signed with ``public_key`` by relay number ``sender`` for relay
    number ``recipient``, issued within `STALE_AFTER` before and `AHEAD_BY` after ``today``.

    Raises `Refused` and nothing else, whatever ``text`` holds.
    """
    if len(text) > MAX_TEXT:
        raise Refused("oversized", "longer than a peer message may be")
    header = _HEADER.match(text)
    if header is None:
        raise Refused("malformed", "no PEER-RELAY/<n> header")
    if header.group(1) != str(VERSION):
        raise Refused("version", "a version this relay does not speak")
    if not header.group(2):
        raise Refused("malformed", "no space after the header")
    body, signature = _parts(text[header.end() :])
    if not _verified(public_key, sender, recipient, body, signature):
        raise Refused("signature", "not signed by this partner for this relay")
    message = _message(_json(body))
    if _canonical(_body(message)) != body:
        raise Refused("malformed", "not the canonical JSON of its value")
    if message.issued < today - STALE_AFTER or message.issued > today + AHEAD_BY:
        raise Refused("stale", "issued too long ago or in the future")
    return message


# -- the envelope ---------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes | None:
    """Strict unpadded base64url: the alphabet only, and the one encoding of its bytes (a last
    character with stray low bits would decode to the same bytes: refused, not silently fixed)."""
    if not _BASE64URL.fullmatch(text):
        return None
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None
    return data if _b64(data) == text else None


def _parts(rest: str) -> tuple[bytes, bytes]:
    body_text, dot, signature_text = rest.partition(".")
    body = _unb64(body_text) if dot else None
    signature = _unb64(signature_text) if dot else None
    if body is None or signature is None:
        raise Refused("malformed", "not <base64url>.<base64url> after the header")
    return body, signature


def _numbers(sender: str, recipient: str) -> tuple[bytes, bytes] | None:
    ends = normalise_phone(sender), normalise_phone(recipient)
    if ends[0] is None or ends[1] is None:
        return None
    return ends[0].encode("ascii"), ends[1].encode("ascii")


def _statement(sender: bytes, recipient: bytes, body: bytes) -> bytes:
    return _STATEMENT + sender + b"\x00" + recipient + b"\x00" + body


def _verified(
    public_key: bytes, sender: str, recipient: str, body: bytes, signature: bytes
) -> bool:
    ends = _numbers(sender, recipient)
    if ends is None or len(signature) != _SIGNATURE_BYTES:
        return False
    try:
        # The rules only hold keys that load; a key that does not is refused like a bad signature
        # rather than raised, so that decode never fails any other way.
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, _statement(*ends, body))
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


# -- the JSON -------------------------------------------------------------------------------------


class _DuplicateKey(ValueError):
    pass


class _NotANumber(ValueError):
    pass


def _object(pairs: list[tuple[str, object]]) -> dict[str, object]:
    value = dict(pairs)
    if len(value) != len(pairs):
        raise _DuplicateKey
    return value


def _no_constant(_: str) -> object:
    raise _NotANumber


def _no_float(_: str) -> object:
    # No field holds a fraction; rejecting at parse time also keeps 1e400 (infinity) out.
    raise _NotANumber


def _json(body: bytes) -> object:
    detail = ""
    try:
        return json.loads(
            body.decode("utf-8"),
            object_pairs_hook=_object,
            parse_constant=_no_constant,
            parse_float=_no_float,
        )
    except _DuplicateKey:
        detail = "a key appears twice"
    except _NotANumber:
        detail = "a number that is not a whole number (NaN, Infinity, a fraction)"
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        detail = "not UTF-8 JSON"
    raise Refused("malformed", detail)


def _canonical(value: object) -> bytes:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def _body(message: PeerMessage) -> dict[str, object]:
    if isinstance(message, Retraction):
        return {
            "v": VERSION,
            "type": "retraction",
            "id": message.id,
            "issued": _iso(message.issued),
        }
    return {
        "v": VERSION,
        "type": "warning",
        "id": message.id,
        "from": message.sender_name,
        "severity": message.severity,
        "categories": list(message.categories),
        "summary": message.summary,
        "identifiers": [[i.kind, i.value] for i in message.identifiers],
        "reported": _iso(message.reported),
        "issued": _iso(message.issued),
    }


def _iso(day: object) -> object:
    # A datetime is a date too, but its isoformat is not a day: left for the check to refuse.
    return day.isoformat() if isinstance(day, date) else day


def _bad(detail: str) -> Refused:
    return Refused("malformed", detail)


def _message(value: object) -> PeerMessage:
    if not isinstance(value, dict):
        raise _bad("not a JSON object")
    kind = value.get("type")
    keys = _KEYS.get(kind) if isinstance(kind, str) else None
    if keys is None:
        raise _bad("type: not warning or retraction")
    if set(value) != keys:
        raise _bad("keys: missing or extra")
    version = value["v"]
    if type(version) is not int or version != VERSION:
        raise _bad("v: not 1")
    wid = _id(value["id"])
    issued = _day(value["issued"], "issued")
    if kind == "retraction":
        return Retraction(id=wid, issued=issued)
    reported = _day(value["reported"], "reported")
    if reported > issued:
        raise _bad("reported: after issued")
    return Warning(
        id=wid,
        sender_name=_line(value["from"]),
        severity=_severity(value["severity"]),
        categories=_categories(value["categories"]),
        summary=_summary(value["summary"]),
        identifiers=_identifiers(value["identifiers"]),
        reported=reported,
        issued=issued,
    )


def _id(value: object) -> str:
    if not isinstance(value, str) or not _ID.fullmatch(value) or _unb64(value) is None:
        raise _bad("id: not 22 characters of base64url")
    return value


def _day(value: object, name: str) -> date:
    day = None
    if isinstance(value, str) and _DATE.fullmatch(value):
        try:
            day = date.fromisoformat(value)
        except ValueError:
            day = None
    if day is None:
        raise _bad(f"{name}: not a real date as YYYY-MM-DD")
    return day


def _text_ok(value: str) -> bool:
    """Safe to show a moderator as it is: no control characters but newline and tab, nothing a
    parser would drop, no blank or invisible ends."""
    return bool(value) and clean(value) == value and strip_ends(value) == value


def _line(value: object) -> str:
    if (
        not isinstance(value, str)
        or not 1 <= len(value) <= MAX_SENDER_NAME
        or not _text_ok(value)
        or "\n" in value
        or "\t" in value
    ):
        raise _bad(f"from: not one trimmed line of 1 to {MAX_SENDER_NAME} characters")
    return value


def _summary(value: object) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_SUMMARY or not _text_ok(value):
        raise _bad(f"summary: not trimmed text of 1 to {MAX_SUMMARY} characters")
    return value


def _severity(value: object) -> int | None:
    if value is None:
        return None
    if type(value) is not int or value not in SEVERITIES:
        raise _bad("severity: not 1, 2, 3 or null")
    return value


def _categories(value: object) -> tuple[str, ...]:
    if (
        not isinstance(value, list)
        or len(value) > MAX_CATEGORIES
        or not all(isinstance(name, str) and name in CATEGORIES for name in value)
        or value != sorted(set(value))
    ):
        raise _bad("categories: not distinct known categories, sorted")
    return tuple(value)


def _identifiers(value: object) -> tuple[Identifier, ...]:
    if not isinstance(value, list) or len(value) > MAX_IDENTIFIERS:
        raise _bad(f"identifiers: not a list of at most {MAX_IDENTIFIERS}")
    found: list[Identifier] = []
    for item in value:
        identifier = _identifier(item)
        if identifier is None:
            raise _bad("identifiers: an item is not [kind, normalised value]")
        if identifier in found:
            raise _bad("identifiers: one appears twice")
        found.append(identifier)
    return tuple(found)


def _identifier(item: object) -> Identifier | None:
    if not isinstance(item, list) or len(item) != 2:
        return None
    kind, value = item
    if not isinstance(kind, str) or not isinstance(value, str):
        return None
    known = next((k for k in IDENTIFIER_KINDS if k == kind), None)
    if known is None or not 1 <= len(value) <= MAX_IDENTIFIER:
        return None
    # Normalised exactly as this relay normalises what members type, so the receiving relay's
    # keyed screening tags match: a value that comes back different is refused, not fixed.
    if known == "phone":
        normal = normalise_phone(value) == value
    elif known == "plate":
        normal = normalise_plate(value) == value
    else:
        normal = extract_identifiers(value) == [Identifier(known, value)]
    return Identifier(known, value) if normal else None
