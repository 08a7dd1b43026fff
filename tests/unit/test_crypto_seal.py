"""Sealing at rest: round trips, tamper detection, lookups, attachments on disk and signing."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from hypothesis import given
from hypothesis import strategies as st

from relay.crypto import MasterKey, Sealer, TamperedError, aad_for, new_row_key
from relay.crypto.seal import OVERHEAD, PAD_MIN, pad, padded_size, unpad

# A fixed key, so the known-answer test below pins every derivation.
FIXED_KEY = MasterKey(bytes(range(32)))
SEALER = Sealer(FIXED_KEY)
NOTE_AAD = aad_for("checkins", "note", "r1")
SECRET_NOTE = "Hotel Rex room 12, client drives a blue van"


# -- the format is a promise to every database already written ------------------------------------


def test_known_answers_pin_the_derivations_and_the_blob_format() -> None:
    # These values were produced once and checked against a hand-written RFC 5869 HKDF, HMAC and
    # AES-GCM. If this test fails, a change has made every existing database unreadable.
    assert SEALER.key_id == "13c513b0"
    assert SEALER.lookup("+12025550101", purpose="client-phone").hex() == (
        "3c856f0b5fb8acd801fc15ea4b579626795a25642a11f2a774758c36eefa7857"
    )
    assert SEALER.dedupe_tag("abc:1").hex() == (
        "283d43ee8b5d815588317bf208f3e6b73f2cf814b5e7e0645b2dfaa7c89ce5ec"
    )
    assert SEALER.public_key_bytes().hex() == (
        "d44ddadce4bb9f962a18430c8fd5d045836193da38e7e8a19ec456711c61d727"
    )
    blob = bytes.fromhex(
        "0113c513b08aa3fdcacbd262b107e63020178810982f38c6159997210b2b1648"
        "e3b7788af52a959421beddf80ed523385a7f"
    )
    assert SEALER.open_text(blob, aad=aad_for("checkins", "note", "r1")) == "Hotel Rex room 12"


def test_blob_layout_version_key_id_nonce() -> None:
    blob = SEALER.seal(b"abc", aad=NOTE_AAD)
    assert len(blob) == 3 + OVERHEAD == 36
    assert blob[0] == 1
    assert blob[1:5].hex() == SEALER.key_id


# -- round trips -----------------------------------------------------------------------------------


@pytest.mark.parametrize("plaintext", [b"", b"x", b"\x00" * 1000, os.urandom(70_000)])
def test_bytes_round_trip(plaintext: bytes) -> None:
    blob = SEALER.seal(plaintext, aad=NOTE_AAD)
    assert SEALER.open(blob, aad=NOTE_AAD) == plaintext
    if len(plaintext) >= 16:  # a shorter one could turn up in random bytes by chance
        assert plaintext not in blob


def test_text_round_trip_keeps_every_character() -> None:
    text = "Hôtel Ré 🏨 номер 12\n«quote»"
    assert SEALER.open_text(SEALER.seal_text(text, aad=NOTE_AAD), aad=NOTE_AAD) == text


def test_text_with_a_lone_surrogate_round_trips() -> None:
    # json.loads accepts "\ud83d" alone; such text from an envelope must still store.
    text = "note \ud83d end"
    assert SEALER.open_text(SEALER.seal_text(text, aad=NOTE_AAD), aad=NOTE_AAD) == text
    assert SEALER.lookup(text, purpose="plate") != SEALER.lookup("note  end", purpose="plate")


def test_json_round_trip() -> None:
    value = {"name": "J.", "phones": ["+12025550199"], "plate": "AB12CDE", "age": 40, "ok": None}
    aad = aad_for("checkins", "client", new_row_key())
    assert SEALER.open_json(SEALER.seal_json(value, aad=aad), aad=aad) == value


def test_a_second_sealer_from_the_same_key_opens_what_the_first_sealed() -> None:
    blob = SEALER.seal_text(SECRET_NOTE, aad=NOTE_AAD)
    assert Sealer(MasterKey(bytes(range(32)))).open_text(blob, aad=NOTE_AAD) == SECRET_NOTE


@given(plaintext=st.binary(max_size=2048), aad=st.text(max_size=200))
def test_open_of_seal_is_identity(plaintext: bytes, aad: str) -> None:
    assert SEALER.open(SEALER.seal(plaintext, aad=aad), aad=aad) == plaintext


@given(text=st.text(max_size=500), other=st.text(max_size=50))
def test_text_round_trip_and_only_under_its_own_aad(text: str, other: str) -> None:
    blob = SEALER.seal_text(text, aad=NOTE_AAD)
    assert SEALER.open_text(blob, aad=NOTE_AAD) == text
    if other != NOTE_AAD:
        with pytest.raises(TamperedError):
            SEALER.open_text(blob, aad=other)


def test_nonces_never_repeat_over_many_seals() -> None:
    count = 20_000
    blobs = [SEALER.seal(b"same plaintext", aad=NOTE_AAD) for _ in range(count)]
    nonces = {blob[5:17] for blob in blobs}
    assert len(nonces) == count
    # Same plaintext, same place: still nothing in common an observer could match on.
    assert len({blob[17:] for blob in blobs}) == count


# -- tampering -------------------------------------------------------------------------------------


@pytest.mark.parametrize("mask", [0x01, 0x80, 0xFF])
def test_every_single_byte_flip_is_detected(mask: int) -> None:
    blob = SEALER.seal_text(SECRET_NOTE, aad=NOTE_AAD)
    for position in range(len(blob)):
        changed = bytearray(blob)
        changed[position] ^= mask
        with pytest.raises(TamperedError) as err:
            SEALER.open(bytes(changed), aad=NOTE_AAD)
        assert err.value.where == "checkins.note", position


def test_every_truncation_and_an_appended_byte_are_detected() -> None:
    blob = SEALER.seal_text(SECRET_NOTE, aad=NOTE_AAD)
    for length in range(len(blob)):
        with pytest.raises(TamperedError):
            SEALER.open(blob[:length], aad=NOTE_AAD)
    with pytest.raises(TamperedError):
        SEALER.open(blob + b"\x00", aad=NOTE_AAD)


@pytest.mark.parametrize(
    "moved_to",
    [
        aad_for("checkins", "note", "r2"),  # another row
        aad_for("checkins", "location", "r1"),  # another column of the same row
        aad_for("reports", "note", "r1"),  # another table
        "",
    ],
)
def test_blob_moved_elsewhere_does_not_open(moved_to: str) -> None:
    blob = SEALER.seal_text(SECRET_NOTE, aad=NOTE_AAD)
    with pytest.raises(TamperedError):
        SEALER.open(blob, aad=moved_to)


def test_tamper_error_names_table_and_column_only() -> None:
    row_key = new_row_key()
    aad = aad_for("checkins", "client", row_key)
    blob = bytearray(SEALER.seal_text(SECRET_NOTE, aad=aad))
    blob[-1] ^= 1

    with pytest.raises(TamperedError) as err:
        SEALER.open_text(bytes(blob), aad=aad)

    message = str(err.value)
    assert message.startswith("checkins.client: ")
    assert "\n" not in message
    for leaked in (row_key, "Hotel", SECRET_NOTE, FIXED_KEY.secret_bytes().hex(), SEALER.key_id):
        assert leaked not in message
    assert err.value.__cause__ is None
    assert err.value.__suppress_context__


def test_free_form_aad_is_not_quoted_in_errors() -> None:
    aad = "client +12025550199"
    with pytest.raises(TamperedError) as err:
        SEALER.open(b"\x01" + b"\x00" * 40, aad=aad)
    assert "+1202" not in str(err.value)
    assert err.value.where == "a sealed value"


def test_wrong_key_is_detected_and_named() -> None:
    blob = SEALER.seal_text(SECRET_NOTE, aad=NOTE_AAD)
    with pytest.raises(TamperedError, match="different key"):
        Sealer(MasterKey.generate()).open(blob, aad=NOTE_AAD)


def test_wrong_key_with_a_forged_key_id_still_fails() -> None:
    other = Sealer(MasterKey.generate())
    blob = bytearray(other.seal_text(SECRET_NOTE, aad=NOTE_AAD))
    blob[1:5] = bytes.fromhex(SEALER.key_id)
    with pytest.raises(TamperedError, match="failed authentication"):
        SEALER.open(bytes(blob), aad=NOTE_AAD)


def test_unknown_version_refused() -> None:
    blob = bytearray(SEALER.seal(b"x", aad=NOTE_AAD))
    blob[0] = 3
    with pytest.raises(TamperedError, match="unknown format version"):
        SEALER.open(bytes(blob), aad=NOTE_AAD)


def test_the_version_byte_is_authenticated_padded_or_not() -> None:
    for blob, other in (
        (SEALER.seal(b"x", aad=NOTE_AAD), 2),
        (SEALER.seal_text("x", aad=NOTE_AAD), 1),
    ):
        changed = bytes([other]) + blob[1:]
        with pytest.raises(TamperedError, match="failed authentication"):
            SEALER.open(changed, aad=NOTE_AAD)


def test_fields_are_padded_to_buckets_so_lengths_do_not_tell_aliases_or_texts_apart() -> None:
    """Issue 17: sealed outbox recipients were 68 bytes for "bob", 69 or 70 for the others."""
    lengths = {
        len(SEALER.seal_json({"label": alias, "to": f"+1202555010{i}"}, aad=NOTE_AAD))
        for i, alias in enumerate(("bob", "dana", "alice", "carol", "elena"))
    }
    assert lengths == {PAD_MIN + OVERHEAD}
    notes = {len(SEALER.seal_text("x" * n, aad=NOTE_AAD)) for n in range(64, 128)}
    assert notes == {128 + OVERHEAD}
    for n in (0, 1, 63, 64, 127, 128, 1000, 70_000):
        text = "é" * (n // 2) + "a" * (n % 2)
        blob = SEALER.seal_text(text, aad=NOTE_AAD)
        assert SEALER.open_text(blob, aad=NOTE_AAD) == text
        size = len(blob) - OVERHEAD
        assert size >= PAD_MIN and size & (size - 1) == 0  # a power of two
        assert size == padded_size(len(text.encode()))


@given(data=st.binary(max_size=3000))
def test_pad_and_unpad_are_inverse(data: bytes) -> None:
    padded = pad(data)
    assert len(padded) == padded_size(len(data)) and unpad(padded) == data
    assert unpad(bytes(len(padded))) is None  # no marker: not padding
    assert unpad(padded + b"\x01") is None  # something after the zeros


def test_authentic_bytes_opened_as_text_or_json_raise_without_quoting_them() -> None:
    blob = SEALER.seal(b"\xff\xfe secret", aad=NOTE_AAD)
    with pytest.raises(TamperedError, match="not UTF-8") as err:
        SEALER.open_text(blob, aad=NOTE_AAD)
    assert err.value.__suppress_context__

    blob = SEALER.seal_text("not json: Hotel Rex", aad=NOTE_AAD)
    with pytest.raises(TamperedError, match="not JSON") as err:
        SEALER.open_json(blob, aad=NOTE_AAD)
    assert "Hotel" not in str(err.value)
    assert err.value.__suppress_context__


# -- aad_for ---------------------------------------------------------------------------------------


def test_aad_for_shape_and_row_keys() -> None:
    assert aad_for("checkins", "note", "abc_-9") == "checkins.note/abc_-9"
    keys = {new_row_key() for _ in range(1000)}
    assert len(keys) == 1000
    for key in keys:
        aad_for("t", "c", key)  # every generated key is accepted


@pytest.mark.parametrize(
    ("table", "column", "row_key"),
    [
        ("Checkins", "note", "r"),
        ("check-ins", "note", "r"),
        ("checkins", "note.x", "r"),
        ("checkins", "", "r"),
        ("checkins", "note", ""),
        ("checkins", "note", "r/2"),
        ("checkins", "note", "r 2"),
        ("checkins", "note", "x" * 129),
    ],
)
def test_aad_for_rejects_ambiguous_parts(table: str, column: str, row_key: str) -> None:
    with pytest.raises(ValueError, match="aad_for"):
        aad_for(table, column, row_key)


# -- lookups ---------------------------------------------------------------------------------------


def test_lookup_is_deterministic_and_keyed() -> None:
    tag = SEALER.lookup("+12025550199", purpose="client-phone")
    assert len(tag) == 32
    assert Sealer(MasterKey(bytes(range(32)))).lookup("+12025550199", purpose="client-phone") == tag
    assert SEALER.lookup("+12025550198", purpose="client-phone") != tag
    assert Sealer(MasterKey.generate()).lookup("+12025550199", purpose="client-phone") != tag


def test_lookup_purposes_are_separate() -> None:
    value = "AB12CDE"
    tags = {
        SEALER.lookup(value, purpose=purpose)
        for purpose in ("client-phone", "plate", "member", "dedupe", "plate2")
    }
    tags.add(SEALER.dedupe_tag(value))
    assert len(tags) == 6


def test_lookup_does_not_normalise_for_the_caller() -> None:
    assert SEALER.lookup("ab12cde", purpose="plate") != SEALER.lookup("AB12CDE", purpose="plate")


@pytest.mark.parametrize("purpose", ["", "Plate", "client phone", "x/y", "-plate", "p" * 64])
def test_lookup_rejects_odd_purposes(purpose: str) -> None:
    with pytest.raises(ValueError, match="purpose"):
        SEALER.lookup("x", purpose=purpose)


def test_dedupe_tag_is_deterministic_and_keyed() -> None:
    tag = SEALER.dedupe_tag("uuid-1:1700000000000")
    assert SEALER.dedupe_tag("uuid-1:1700000000000") == tag
    assert SEALER.dedupe_tag("uuid-1:1700000000001") != tag
    assert Sealer(MasterKey.generate()).dedupe_tag("uuid-1:1700000000000") != tag


# -- attachments -----------------------------------------------------------------------------------


def test_file_round_trip_private_and_atomic(tmp_path: Path, open_umask: None) -> None:
    marker = b"\xff\xd8\xff\xe0 JPEG from a member's phone"
    photo = marker + os.urandom(300_000)
    dest = tmp_path / "a1.sealed"
    aad = aad_for("attachments", "file", "a1")

    SEALER.seal_file(photo, dest, aad=aad)

    assert stat.S_IMODE(dest.stat().st_mode) == 0o600
    assert marker not in dest.read_bytes()
    assert SEALER.open_file(dest, aad=aad) == photo
    assert [p.name for p in tmp_path.iterdir()] == ["a1.sealed"]


def test_file_seal_replaces_an_existing_file(tmp_path: Path) -> None:
    dest = tmp_path / "a1.sealed"
    aad = aad_for("attachments", "file", "a1")
    SEALER.seal_file(b"first", dest, aad=aad)
    SEALER.seal_file(b"second", dest, aad=aad)
    assert SEALER.open_file(dest, aad=aad) == b"second"
    assert [p.name for p in tmp_path.iterdir()] == ["a1.sealed"]


def test_tampered_or_moved_file_detected(tmp_path: Path) -> None:
    dest = tmp_path / "a1.sealed"
    aad = aad_for("attachments", "file", "a1")
    SEALER.seal_file(b"photo bytes", dest, aad=aad)

    with pytest.raises(TamperedError, match=r"^attachments\.file: "):
        SEALER.open_file(dest, aad=aad_for("attachments", "file", "a2"))

    data = bytearray(dest.read_bytes())
    data[20] ^= 1
    dest.write_bytes(bytes(data))
    with pytest.raises(TamperedError):
        SEALER.open_file(dest, aad=aad)


def test_fields_and_attachments_use_different_keys(tmp_path: Path) -> None:
    aad = aad_for("attachments", "file", "a1")
    dest = tmp_path / "a1.sealed"
    SEALER.seal_file(b"photo", dest, aad=aad)
    with pytest.raises(TamperedError):
        SEALER.open(dest.read_bytes(), aad=aad)

    (tmp_path / "field.sealed").write_bytes(SEALER.seal(b"note", aad=aad))
    with pytest.raises(TamperedError):
        SEALER.open_file(tmp_path / "field.sealed", aad=aad)


# -- signing ---------------------------------------------------------------------------------------


def test_signature_round_trip_with_the_published_public_key() -> None:
    entry = b'{"seq":1,"prev":"00","text_sealed":"..."}'
    signature = SEALER.signing_key().sign(entry)
    public = Ed25519PublicKey.from_public_bytes(SEALER.public_key_bytes())

    public.verify(signature, entry)  # raises if wrong
    with pytest.raises(InvalidSignature):
        public.verify(signature, entry + b" ")


def test_signing_key_is_stable_per_master_key_and_differs_across_keys() -> None:
    again = Sealer(MasterKey(bytes(range(32))))
    assert again.public_key_bytes() == SEALER.public_key_bytes()
    assert Sealer(MasterKey.generate()).public_key_bytes() != SEALER.public_key_bytes()
    # Ed25519 signatures are deterministic: same key and message, same signature.
    assert again.signing_key().sign(b"m") == SEALER.signing_key().sign(b"m")


def test_sealer_repr_shows_only_the_key_id() -> None:
    assert repr(SEALER) == "Sealer(key_id=13c513b0)"
