"""The signed message between partner relays: what it round-trips, and everything it refuses.

Messages with one thing wrong are built here by hand (JSON bytes signed with the statement the
design gives, not with `encode`), so each refusal test proves the one check it names.
"""

from __future__ import annotations

import base64
import json
import re
import string
from datetime import date, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from relay.core.identifiers import Identifier, normalise_phone
from relay.core.normalize import clean, strip_ends
from relay.core.report_categories import CATEGORIES
from relay.features.peers.payload import (
    MAX_TEXT,
    Refused,
    Retraction,
    Warning,
    decode,
    encode,
    looks_like_peer_message,
    new_id,
)

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
PUBLIC = KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
OTHER_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
SENDER = "+447700900111"
RECIPIENT = "+447700900222"
SOMEONE_ELSE = "+447700900333"
TODAY = date(2026, 12, 7)
SUMMARY = "Tall man, grey van. Took the condom off and would not pay."
PHONE = "+447700900123"

WARNING = Warning(
    id="AAECAwQFBgcICQoLDA0ODw",
    sender_name="Night Owls",
    severity=2,
    categories=("non-payment", "stealthing"),
    summary=SUMMARY,
    identifiers=(Identifier("phone", PHONE), Identifier("plate", "AB12CDE")),
    reported=date(2026, 11, 30),
    issued=TODAY,
)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def canonical(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def signed(
    body: bytes,
    key: Ed25519PrivateKey = KEY,
    sender: str = SENDER,
    recipient: str = RECIPIENT,
    version: str = "1",
) -> str:
    """A message signed as the design says, built without `encode`."""
    statement = b"peer-relay warning v1\x00" + f"{sender}\x00{recipient}\x00".encode() + body
    return f"PEER-RELAY/{version} {b64(body)}.{b64(key.sign(statement))}"


def warning_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "v": 1,
        "type": "warning",
        "id": WARNING.id,
        "from": "Night Owls",
        "severity": 2,
        "categories": ["non-payment", "stealthing"],
        "summary": SUMMARY,
        "identifiers": [["phone", PHONE], ["plate", "AB12CDE"]],
        "reported": "2026-11-30",
        "issued": TODAY.isoformat(),
    }
    body.update(changes)
    return body


def open_(text: str, today: date = TODAY) -> Warning | Retraction:
    return decode(text, PUBLIC, SENDER, RECIPIENT, today)


def refusal(text: str, today: date = TODAY) -> Refused:
    with pytest.raises(Refused) as caught:
        open_(text, today)
    refused = caught.value
    # What may be logged: the reason, never the message or a field of it.
    for shown in (str(refused), repr(refused), refused.detail):
        for secret in (SUMMARY, PHONE, "7700", "Night Owls", "AB12CDE", WARNING.id, text[13:40]):
            assert not secret or secret not in shown
    assert str(refused) == refused.reason
    return refused


# ---- what it carries ---------------------------------------------------------------------------


def test_a_warning_round_trips_and_is_ascii() -> None:
    text = encode(WARNING, KEY, SENDER, RECIPIENT)
    assert text.isascii() and text.startswith("PEER-RELAY/1 ")
    assert open_(text) == WARNING


def test_numbers_are_compared_in_e164_whatever_their_spacing() -> None:
    text = encode(WARNING, KEY, "+44 7700 900111", "+44 (0)7700 900222")
    assert decode(text, PUBLIC, SENDER, "+44 7700 900 222", TODAY) == WARNING


def test_the_body_is_the_canonical_json_the_design_gives() -> None:
    text = encode(WARNING, KEY, SENDER, RECIPIENT)
    body = text.removeprefix("PEER-RELAY/1 ").split(".")[0]
    assert unb64(body) == canonical(warning_body())
    assert text == signed(canonical(warning_body()))  # Ed25519 is deterministic


def test_a_retraction_round_trips() -> None:
    retraction = Retraction(id=new_id(), issued=TODAY)
    text = encode(retraction, KEY, SENDER, RECIPIENT)
    assert open_(text) == retraction
    body = unb64(text.removeprefix("PEER-RELAY/1 ").split(".")[0])
    assert json.loads(body) == {
        "v": 1,
        "type": "retraction",
        "id": retraction.id,
        "issued": "2026-12-07",
    }


def test_the_summary_and_identifiers_stay_out_of_repr() -> None:
    assert SUMMARY not in repr(WARNING) and PHONE not in repr(WARNING)


def test_new_ids_are_22_characters_of_base64url_and_differ() -> None:
    ids = {new_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{22}", i) and len(unb64(i)) == 16 for i in ids)


def test_what_looks_like_a_peer_message() -> None:
    assert looks_like_peer_message("PEER-RELAY/1 abc.def")
    assert looks_like_peer_message("PEER-RELAY/7")
    assert not looks_like_peer_message("peer-relay/1 abc")
    assert not looks_like_peer_message(" PEER-RELAY/1 abc")
    assert not looks_like_peer_message("IN 90")


# ---- each refusal, with its reason -------------------------------------------------------------


def test_signed_with_another_key_is_refused_as_signature() -> None:
    assert refusal(signed(canonical(warning_body()), key=OTHER_KEY)).reason == "signature"


def test_signed_for_another_recipient_is_refused_as_signature() -> None:
    text = encode(WARNING, KEY, SENDER, SOMEONE_ELSE)
    assert refusal(text).reason == "signature"
    assert decode(text, PUBLIC, SENDER, SOMEONE_ELSE, TODAY) == WARNING


def test_signed_by_another_sender_number_is_refused_as_signature() -> None:
    # A partner's key signing as if from another number: a relay cannot pass its warnings off as
    # another's, even one whose key it holds.
    assert refusal(encode(WARNING, KEY, SOMEONE_ELSE, RECIPIENT)).reason == "signature"


def test_a_body_altered_after_signing_is_refused_as_signature() -> None:
    text = encode(WARNING, KEY, SENDER, RECIPIENT)
    body, signature = text.removeprefix("PEER-RELAY/1 ").split(".")
    altered = canonical(warning_body(severity=3))
    assert altered != unb64(body)
    assert refusal(f"PEER-RELAY/1 {b64(altered)}.{signature}").reason == "signature"


def test_the_signature_is_checked_before_the_json_is_read() -> None:
    # Garbage nobody signed: refused for its signature, so no parser ever saw it.
    assert refusal(signed(b"{{{ not json", key=OTHER_KEY)).reason == "signature"
    assert refusal(signed(b"{{{ not json")).reason == "malformed"


def test_a_signature_of_the_wrong_length_is_refused_as_signature() -> None:
    body, signature = encode(WARNING, KEY, SENDER, RECIPIENT).split(" ")[1].split(".")
    for cut in (unb64(signature)[:63], unb64(signature) + b"\x00", b""):
        assert refusal(f"PEER-RELAY/1 {body}.{b64(cut)}").reason == (
            "signature" if cut else "malformed"
        )


def test_an_unknown_version_is_refused_as_version() -> None:
    body = canonical(warning_body())
    assert refusal(signed(body, version="2")).reason == "version"
    assert refusal("PEER-RELAY/2 whatever a later version says").reason == "version"


@pytest.mark.parametrize(
    "text",
    [
        "PEER-RELAY/",
        "PEER-RELAY/1",
        "PEER-RELAY/1abc.def",
        "PEER-RELAY/x abc.def",
        "PEER-RELAY/1 ",
        "PEER-RELAY/1 abc",
        "PEER-RELAY/1 abc.",
        "PEER-RELAY/1 .abc",
        "PEER-RELAY/1 a.b.c",
        "PEER-RELAY/1 ab=.cd",
        "PEER-RELAY/1 ab+c.de/f",
        "PEER-RELAY/1 abc.def ",
        "PEER-RELAY/1  abc.def",
        "hello",
        "",
    ],
)
def test_a_broken_envelope_is_refused_as_malformed(text: str) -> None:
    assert refusal(text).reason == "malformed"


def test_base64_with_stray_bits_is_refused_as_malformed() -> None:
    # "AB" and "AC" decode to the same byte; only the canonical spelling is taken, so no one can
    # make a second text that carries the same signed message.
    text = encode(WARNING, KEY, SENDER, RECIPIENT)
    body, signature = text.removeprefix("PEER-RELAY/1 ").split(".")
    alphabet = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"
    last = alphabet.index(signature[-1])
    twin = signature[:-1] + alphabet[last + 1]
    assert unb64(twin) == unb64(signature)
    assert refusal(f"PEER-RELAY/1 {body}.{twin}").reason == "malformed"


def test_an_oversized_message_is_refused_before_anything_else() -> None:
    assert refusal("PEER-RELAY/1 " + "A" * (MAX_TEXT - 12)).reason == "oversized"
    assert refusal("x" * (MAX_TEXT + 1)).reason == "oversized"
    # A signed one too: the size is checked first.
    body = canonical(warning_body(summary="a" * 1000, identifiers=[]))
    big = signed(body + b" " * 4000)
    assert len(big) > MAX_TEXT
    assert refusal(big).reason == "oversized"


def test_a_stale_or_future_message_is_refused_as_stale() -> None:
    for issued, reported in (
        (TODAY - timedelta(days=46), "2026-10-01"),
        (TODAY + timedelta(3), None),
    ):
        body = canonical(warning_body(issued=issued.isoformat(), reported=reported or "2026-11-30"))
        assert refusal(signed(body)).reason == "stale"
    retraction = {"v": 1, "type": "retraction", "id": WARNING.id, "issued": "2026-10-22"}
    assert refusal(signed(canonical(retraction))).reason == "stale"


def test_the_edges_of_the_date_window_are_taken() -> None:
    for issued in (TODAY - timedelta(days=45), TODAY + timedelta(days=2)):
        body = canonical(warning_body(issued=issued.isoformat(), reported="2026-10-01"))
        assert open_(signed(body)).issued == issued


def test_duplicate_keys_are_refused() -> None:
    body = canonical(warning_body())
    doubled = body.replace(b'"severity":2', b'"severity":1,"severity":2')
    assert doubled != body
    refused = refusal(signed(doubled))
    assert (refused.reason, refused.detail) == ("malformed", "a key appears twice")


def test_an_extra_key_is_refused() -> None:
    refused = refusal(signed(canonical(warning_body(reporter="alice"))))
    assert (refused.reason, refused.detail) == ("malformed", "keys: missing or extra")


def test_a_missing_key_is_refused() -> None:
    body = warning_body()
    del body["reported"]
    assert refusal(signed(canonical(body))).detail == "keys: missing or extra"


def test_a_bool_for_severity_is_refused() -> None:
    refused = refusal(signed(canonical(warning_body(severity=True))))
    assert (refused.reason, refused.detail) == ("malformed", "severity: not 1, 2, 3 or null")
    # …and 1 itself is fine, as is no severity.
    assert open_(signed(canonical(warning_body(severity=1)))).severity == 1
    assert open_(signed(canonical(warning_body(severity=None)))).severity is None


@pytest.mark.parametrize("severity", [0, 4, -1, "2", [2]])
def test_other_severities_are_refused(severity: object) -> None:
    assert refusal(signed(canonical(warning_body(severity=severity)))).detail.startswith("severity")


def test_21_identifiers_are_refused_and_20_taken() -> None:
    phones = [["phone", f"+4477009001{n:02}"] for n in range(21)]
    assert all(normalise_phone(value) == value for _, value in phones)
    refused = refusal(signed(canonical(warning_body(identifiers=phones))))
    assert (refused.reason, refused.detail) == (
        "malformed",
        "identifiers: not a list of at most 20",
    )
    assert len(open_(signed(canonical(warning_body(identifiers=phones[:20])))).identifiers) == 20


def test_a_phone_number_not_in_e164_is_refused() -> None:
    for written in ("+44 7700 900123", "07700900123", "447700900123"):
        refused = refusal(signed(canonical(warning_body(identifiers=[["phone", written]]))))
        assert refused.detail == "identifiers: an item is not [kind, normalised value]"


@pytest.mark.parametrize(
    "item",
    [
        ["plate", "ab12cde"],
        ["plate", "AB12 CDE"],
        ["email", "Ana@Example.org"],
        ["handle", "@Ana"],
        ["handle", "ana"],
        ["phone_end", "900123"],
        ["plate_start", "AB12"],
        ["name", "Bob"],
        ["phone", PHONE, "extra"],
        ["phone"],
        "+447700900123",
        ["phone", 447700900123],
        ["email", "a" * 90 + "@example.org"],
    ],
)
def test_identifiers_not_as_this_relay_normalises_them_are_refused(item: object) -> None:
    refused = refusal(signed(canonical(warning_body(identifiers=[item]))))
    assert refused.detail == "identifiers: an item is not [kind, normalised value]"


def test_normalised_identifiers_of_every_kind_are_taken() -> None:
    items = [
        ["phone", PHONE],
        ["plate", "AB12CDE"],
        ["email", "ana@example.org"],
        ["handle", "@ana_b"],
    ]
    found = open_(signed(canonical(warning_body(identifiers=items)))).identifiers
    assert [[i.kind, i.value] for i in found] == items


def test_an_identifier_twice_is_refused() -> None:
    body = warning_body(identifiers=[["phone", PHONE], ["phone", PHONE]])
    assert refusal(signed(canonical(body))).detail == "identifiers: one appears twice"


@pytest.mark.parametrize(
    ("changes", "detail"),
    [
        ({"v": 2}, "v: not 1"),
        ({"v": True}, "v: not 1"),
        ({"type": "warnings"}, "type: not warning or retraction"),
        ({"type": ["warning"]}, "type: not warning or retraction"),
        ({"id": "short"}, "id: not 22 characters of base64url"),
        ({"id": "AAECAwQFBgcICQoLDA0OD/"}, "id: not 22 characters of base64url"),
        ({"id": "AAECAwQFBgcICQoLDA0ODx"}, "id: not 22 characters of base64url"),  # stray bits
        ({"from": ""}, "from: not one trimmed line of 1 to 80 characters"),
        ({"from": "x" * 81}, "from: not one trimmed line of 1 to 80 characters"),
        ({"from": "Night\nOwls"}, "from: not one trimmed line of 1 to 80 characters"),
        ({"from": " Night Owls"}, "from: not one trimmed line of 1 to 80 characters"),
        ({"from": 7}, "from: not one trimmed line of 1 to 80 characters"),
        ({"summary": ""}, "summary: not trimmed text of 1 to 1000 characters"),
        ({"summary": "x" * 1001}, "summary: not trimmed text of 1 to 1000 characters"),
        ({"summary": "bad\x1b[2Jclient"}, "summary: not trimmed text of 1 to 1000 characters"),
        ({"summary": "bad\rclient"}, "summary: not trimmed text of 1 to 1000 characters"),
        ({"summary": "bad client\u200b"}, "summary: not trimmed text of 1 to 1000 characters"),
        ({"summary": "bad\ud800client"}, "summary: not trimmed text of 1 to 1000 characters"),
        ({"summary": None}, "summary: not trimmed text of 1 to 1000 characters"),
        ({"categories": ["theft", "theft"]}, "categories: not distinct known categories, sorted"),
        (
            {"categories": ["violence", "theft"]},
            "categories: not distinct known categories, sorted",
        ),
        ({"categories": ["murder"]}, "categories: not distinct known categories, sorted"),
        ({"categories": "theft"}, "categories: not distinct known categories, sorted"),
        ({"identifiers": {"phone": PHONE}}, "identifiers: not a list of at most 20"),
        ({"reported": "2026-02-30"}, "reported: not a real date as YYYY-MM-DD"),
        ({"reported": "2026-11-30T00:00:00"}, "reported: not a real date as YYYY-MM-DD"),
        ({"reported": "20261130"}, "reported: not a real date as YYYY-MM-DD"),
        ({"reported": "2026-12-08"}, "reported: after issued"),
        ({"issued": "2026-W49-1"}, "issued: not a real date as YYYY-MM-DD"),
        ({"issued": 20261207}, "issued: not a real date as YYYY-MM-DD"),
    ],
)
def test_each_field_is_checked(changes: dict[str, object], detail: str) -> None:
    try:
        body = canonical(warning_body(**changes))
    except UnicodeEncodeError:  # a lone surrogate: JSON can still carry it escaped
        body = json.dumps(warning_body(**changes), sort_keys=True, separators=(",", ":")).encode()
    refused = refusal(signed(body))
    assert (refused.reason, refused.detail) == ("malformed", detail)


@pytest.mark.parametrize(
    "body",
    [
        json.dumps(warning_body(), sort_keys=True).encode(),  # spaces
        json.dumps(warning_body(summary="café"), sort_keys=True, separators=(",", ":")).encode(),
        json.dumps(warning_body(), separators=(",", ":")).encode(),  # keys not sorted
        canonical(warning_body()) + b"\n",
    ],
)
def test_json_that_is_not_canonical_is_refused(body: bytes) -> None:
    assert json.loads(body)  # valid JSON, and the same value
    refused = refusal(signed(body))
    assert (refused.reason, refused.detail) == ("malformed", "not the canonical JSON of its value")


@pytest.mark.parametrize("number", [b"NaN", b"Infinity", b"-Infinity", b"2.0", b"1e400"])
def test_nan_infinity_and_fractions_are_refused(number: bytes) -> None:
    body = canonical(warning_body()).replace(b'"severity":2', b'"severity":' + number)
    refused = refusal(signed(body))
    assert refused.detail == "a number that is not a whole number (NaN, Infinity, a fraction)"


@pytest.mark.parametrize(
    "body", [b"\xff\xfe", b"[" * 1000, b"null", b"[]", b'"warning"', b"1" * 1200]
)
def test_bodies_that_are_not_an_object_are_refused(body: bytes) -> None:
    assert refusal(signed(body)).reason == "malformed"


def test_a_retraction_with_warning_keys_is_refused() -> None:
    body = {"v": 1, "type": "retraction", "id": WARNING.id, "issued": "2026-12-07", "summary": "x"}
    assert refusal(signed(canonical(body))).detail == "keys: missing or extra"


def test_a_key_that_does_not_load_is_a_signature_refusal() -> None:
    text = encode(WARNING, KEY, SENDER, RECIPIENT)
    for key in (b"", b"\x00" * 31, b"\xff" * 32):
        with pytest.raises(Refused) as caught:
            decode(text, key, SENDER, RECIPIENT, TODAY)
        assert caught.value.reason == "signature"


def test_numbers_that_are_not_numbers_are_a_signature_refusal() -> None:
    text = encode(WARNING, KEY, SENDER, RECIPIENT)
    with pytest.raises(Refused) as caught:
        decode(text, PUBLIC, "not a number", RECIPIENT, TODAY)
    assert caught.value.reason == "signature"


# ---- encode refuses what a partner would ---------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"sender_name": ""}, "from"),
        ({"summary": "  padded  "}, "summary"),
        ({"summary": "x" * 1001}, "summary"),
        ({"summary": "line\r\nend"}, "summary"),
        ({"categories": ("stealthing", "non-payment")}, "categories"),
        ({"categories": ["non-payment"]}, "not in its normalised form"),
        ({"severity": 5}, "severity"),
        ({"identifiers": (Identifier("phone", "+44 7700 900123"),)}, "identifiers"),
        ({"identifiers": (Identifier("phone_end", "900123"),)}, "identifiers"),
        ({"id": "not-an-id"}, "id"),
        ({"reported": date(2026, 12, 8)}, "reported"),
    ],
)
def test_encode_refuses_a_message_a_partner_would_refuse(
    changes: dict[str, Any], field: str
) -> None:
    fields = {**WARNING.__dict__, **changes}
    with pytest.raises(ValueError, match=field) as caught:
        encode(Warning(**fields), KEY, SENDER, RECIPIENT)
    assert "+44 7700" not in str(caught.value) and "padded" not in str(caught.value)


def test_encode_refuses_a_number_that_is_not_one() -> None:
    with pytest.raises(ValueError, match="international form"):
        encode(WARNING, KEY, "07700 900111", RECIPIENT)


def test_encode_refuses_what_would_not_fit() -> None:
    emails = tuple(Identifier("email", f"{'a' * 40}{n}@example.org") for n in range(3))
    big = Warning(**{**WARNING.__dict__, "summary": "😡" * 1000, "identifiers": emails})
    assert open_(encode(Warning(**{**big.__dict__, "summary": "😡"}), KEY, SENDER, RECIPIENT))
    with pytest.raises(ValueError, match="too long"):
        encode(big, KEY, SENDER, RECIPIENT)


# ---- properties --------------------------------------------------------------------------------

ids = st.binary(min_size=16, max_size=16).map(b64)
_letters = st.characters(blacklist_categories=("Cs", "Cc"))
names = (
    st.text(_letters, min_size=1, max_size=80).map(strip_ends).filter(lambda s: 0 < len(s) <= 80)
)
summaries = (
    st.text(_letters | st.sampled_from("\n\t"), min_size=1, max_size=1000)
    .map(strip_ends)
    .filter(bool)
)
# (prefix, digits after it): UK, US, Spanish, French and Brazilian mobile numbers.
_phone_plans = (("+447700900", 3), ("+1202555", 4), ("+34612", 6), ("+33612", 6), ("+5511912", 6))
phones = st.builds(
    lambda plan, digits: normalise_phone(plan[0] + digits[: plan[1]]),
    st.sampled_from(_phone_plans),
    st.text("0123456789", min_size=6, max_size=6),
).filter(lambda value: value is not None)
plates = st.from_regex(r"[A-Z]{1,3}[0-9]{1,4}[A-Z]{0,3}", fullmatch=True).filter(
    lambda p: 4 <= len(p) <= 10
)
emails = st.from_regex(r"[a-z][a-z0-9]{0,19}@[a-z][a-z0-9]{0,19}\.[a-z]{2,6}", fullmatch=True)
handles = st.from_regex(r"@[a-z][a-z0-9_]{0,28}[a-z0-9]", fullmatch=True)
identifiers = st.one_of(
    phones.map(lambda v: Identifier("phone", str(v))),
    plates.map(lambda v: Identifier("plate", v)),
    emails.map(lambda v: Identifier("email", v)),
    handles.map(lambda v: Identifier("handle", v)),
)
issued_days = st.integers(min_value=-2, max_value=45).map(lambda back: TODAY - timedelta(back))


@st.composite
def warnings(draw: st.DrawFn) -> Warning:
    issued = draw(issued_days)
    return Warning(
        id=draw(ids),
        sender_name=draw(names),
        severity=draw(st.sampled_from((None, 1, 2, 3))),
        categories=tuple(sorted(draw(st.sets(st.sampled_from(CATEGORIES), max_size=10)))),
        summary=draw(summaries),
        identifiers=tuple(draw(st.lists(identifiers, max_size=20, unique=True))),
        reported=issued - timedelta(days=draw(st.integers(0, 3650))),
        issued=issued,
    )


retractions = st.builds(Retraction, id=ids, issued=issued_days)


def expected_length(message: Warning | Retraction) -> int:
    if isinstance(message, Retraction):
        body = {
            "v": 1,
            "type": "retraction",
            "id": message.id,
            "issued": message.issued.isoformat(),
        }
    else:
        body = {
            "v": 1,
            "type": "warning",
            "id": message.id,
            "from": message.sender_name,
            "severity": message.severity,
            "categories": list(message.categories),
            "summary": message.summary,
            "identifiers": [[i.kind, i.value] for i in message.identifiers],
            "reported": message.reported.isoformat(),
            "issued": message.issued.isoformat(),
        }
    return len("PEER-RELAY/1 ") + len(b64(canonical(body))) + 1 + 86


def assert_within_bounds(message: Warning | Retraction) -> None:
    """What any message decode returns must satisfy, checked without the module's own code."""
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", message.id)
    assert TODAY - timedelta(days=45) <= message.issued <= TODAY + timedelta(days=2)
    if isinstance(message, Retraction):
        return
    assert 1 <= len(message.sender_name) <= 80
    assert "\n" not in message.sender_name and clean(message.sender_name) == message.sender_name
    assert message.severity in (None, 1, 2, 3) and not isinstance(message.severity, bool)
    assert list(message.categories) == sorted(set(message.categories))
    assert set(message.categories) <= set(CATEGORIES)
    assert 1 <= len(message.summary) <= 1000 and clean(message.summary) == message.summary
    assert message.summary.strip()
    assert len(message.identifiers) <= 20 and len(set(message.identifiers)) == len(
        message.identifiers
    )
    for identifier in message.identifiers:
        assert identifier.kind in ("phone", "plate", "email", "handle")
        assert 1 <= len(identifier.value) <= 100
    assert message.reported <= message.issued


@given(st.one_of(warnings(), retractions))
@settings(max_examples=150, deadline=None)
def test_every_message_within_bounds_round_trips(message: Warning | Retraction) -> None:
    length = expected_length(message)
    if length > MAX_TEXT:
        with pytest.raises(ValueError, match="too long"):
            encode(message, KEY, SENDER, RECIPIENT)
        return
    text = encode(message, KEY, SENDER, RECIPIENT)
    assert len(text) == length and text.isascii()
    assert open_(text) == message


def decodes_or_refuses(text: str) -> None:
    """decode returns a message within bounds or raises Refused: nothing else, ever."""
    try:
        message = open_(text)
    except Refused as refused:
        assert refused.reason in ("malformed", "version", "oversized", "signature", "stale")
        return
    assert_within_bounds(message)


@given(st.text(max_size=200) | st.text(max_size=200).map(lambda s: "PEER-RELAY/" + s))
@settings(max_examples=300, deadline=None)
def test_decode_of_any_text_returns_or_refuses(text: str) -> None:
    decodes_or_refuses(text)


@given(st.binary(max_size=4400), st.binary(max_size=80))
@settings(max_examples=200, deadline=None)
def test_decode_of_any_base64_returns_or_refuses(body: bytes, signature: bytes) -> None:
    decodes_or_refuses(f"PEER-RELAY/1 {b64(body)}.{b64(signature)}")
    decodes_or_refuses(signed(body))  # the right signature: the JSON parser sees the bytes


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=30)
    | st.sampled_from(["warning", "retraction", PHONE, "AB12CDE", "2026-12-07", "theft"]),
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(
            st.sampled_from(sorted(warning_body())) | st.text(max_size=8), children, max_size=6
        )
    ),
    max_leaves=30,
)


@given(json_values)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_decode_of_any_signed_json_returns_or_refuses(value: object) -> None:
    raw = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    decodes_or_refuses(signed(raw.encode("utf-8", "surrogatepass")))
    decodes_or_refuses(signed(json.dumps(value).encode()))


@given(warnings(), st.sampled_from(sorted(warning_body())), json_values, st.booleans())
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_decode_of_a_warning_with_one_field_replaced_returns_or_refuses(
    message: Warning, key: str, value: object, drop: bool
) -> None:
    body = json.loads(encode_body(message))
    if drop:
        del body[key]
    else:
        body[key] = value
    raw = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    decodes_or_refuses(signed(raw.encode("utf-8", "surrogatepass")))


def encode_body(message: Warning) -> bytes:
    text = encode(
        Warning(**{**message.__dict__, "summary": message.summary[:200]}), KEY, SENDER, RECIPIENT
    )
    return unb64(text.removeprefix("PEER-RELAY/1 ").split(".")[0])


@given(
    st.one_of(warnings(), retractions),
    st.integers(min_value=0),
    st.sampled_from(["replace", "insert", "delete"]),
    st.characters(),
)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_decode_of_a_message_with_one_character_changed_returns_or_refuses(
    message: Warning | Retraction, where: int, how: str, char: str
) -> None:
    if isinstance(message, Warning):
        message = Warning(**{**message.__dict__, "summary": message.summary[:200]})
    text = encode(message, KEY, SENDER, RECIPIENT)
    at = where % len(text)
    if how == "replace":
        assume(text[at] != char)
        mutated = text[:at] + char + text[at + 1 :]
    elif how == "insert":
        mutated = text[:at] + char + text[at:]
    else:
        mutated = text[:at] + text[at + 1 :]
    try:
        decoded = open_(mutated)
    except Refused:
        return
    # Only a change that leaves the signed bytes as they were can still be taken.
    assert decoded == message
