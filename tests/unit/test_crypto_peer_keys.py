"""The relay's peer key and how admins write, read and compare partner keys (issue 20)."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given, settings
from hypothesis import strategies as st

from relay.crypto import MasterKey, Sealer
from relay.crypto.peer_keys import decode_public, encode_public, fingerprint

FIXED = Sealer(MasterKey(bytes(range(32))))


def raw_key() -> bytes:
    return Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


# ---- the peer key --------------------------------------------------------------------------------


def test_the_peer_key_is_pinned_to_the_master_key() -> None:
    # Produced once. If this fails, every partner's rules hold a key this relay no longer has.
    assert FIXED.peer_public_key().hex() == (
        "e252077fafd6bdd12cc2cca34031322c899ca9563a79b5793c84932243a076b2"
    )
    again = Sealer(MasterKey(bytes(range(32))))
    assert again.peer_public_key() == FIXED.peer_public_key()
    assert again.peer_signing_key().sign(b"m") == FIXED.peer_signing_key().sign(b"m")


def test_the_peer_key_is_not_the_incident_log_key() -> None:
    # A partner must not be able to tie the collective to incident logs its members export.
    for sealer in (FIXED, Sealer(MasterKey.generate())):
        assert sealer.peer_public_key() != sealer.public_key_bytes()
        signature = sealer.peer_signing_key().sign(b"warning")
        log_key = Ed25519PublicKey.from_public_bytes(sealer.public_key_bytes())
        with pytest.raises(InvalidSignature):
            log_key.verify(signature, b"warning")
    # The incident-log key itself is unchanged by the new derivation.
    assert FIXED.public_key_bytes().hex() == (
        "d44ddadce4bb9f962a18430c8fd5d045836193da38e7e8a19ec456711c61d727"
    )


def test_different_master_keys_give_different_peer_keys() -> None:
    assert Sealer(MasterKey.generate()).peer_public_key() != FIXED.peer_public_key()


def test_a_peer_signature_verifies_with_the_published_key() -> None:
    signature = FIXED.peer_signing_key().sign(b"statement")
    Ed25519PublicKey.from_public_bytes(FIXED.peer_public_key()).verify(signature, b"statement")


# ---- written form --------------------------------------------------------------------------------


def test_the_written_form() -> None:
    text = encode_public(FIXED.peer_public_key())
    assert text == "ed25519:4lIHf6/WvdEswsyjQDEyLImcqVY6ebV5PISTIkOgdrI="
    assert len(text) == len("ed25519:") + 44
    assert decode_public(text) == FIXED.peer_public_key()


@settings(max_examples=50, deadline=None)
@given(seed=st.binary(min_size=32, max_size=32))
def test_every_real_key_round_trips(seed: bytes) -> None:
    public = Ed25519PrivateKey.from_private_bytes(seed).public_key()
    raw = public.public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert decode_public(encode_public(raw)) == raw


def test_encode_refuses_a_wrong_length() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        encode_public(bytes(31))


GOOD = encode_public(FIXED.peer_public_key())
BODY = GOOD.removeprefix("ed25519:")


@pytest.mark.parametrize(
    "text",
    [
        "",
        BODY,  # no prefix
        "ED25519:" + BODY,  # the prefix is exact
        "ed25519 :" + BODY,
        "x25519:" + BODY,
        "ed25519: " + BODY,  # a space inside
        GOOD + " ",
        " " + GOOD,
        GOOD + "\n",
        GOOD[:-1],  # padding cut off
        GOOD[:-2] + "=",  # a character lost
        GOOD + "A",  # too long
        "ed25519:" + base64.b64encode(bytes(range(31))).decode(),  # 31 bytes
        "ed25519:" + base64.b64encode(bytes(range(33))).decode(),  # 33 bytes
        "ed25519:" + BODY.replace("/", "_").replace("+", "-"),  # URL-safe base64
        "ed25519:" + BODY[:10] + "*" + BODY[11:],  # not base64
        "ed25519:" + BODY[:10] + "é" + BODY[11:],
    ],
)
def test_anything_but_the_exact_form_is_refused(text: str) -> None:
    assert decode_public(text) is None


def test_non_canonical_base64_is_refused() -> None:
    # The 44th character carries 4 bits of the key and 2 that must be zero: setting them gives
    # base64 that decodes to the same bytes, but is not what `peer-relay identity` printed.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    index = alphabet.index(BODY[42])
    assert index % 4 == 0  # what a canonical encoder writes
    stray = alphabet[index | 1]
    text = "ed25519:" + BODY[:42] + stray + "="
    assert base64.b64decode(text.removeprefix("ed25519:")) == FIXED.peer_public_key()
    assert decode_public(text) is None


def test_not_a_string_is_refused() -> None:
    assert decode_public(None) is None  # type: ignore[arg-type]
    assert decode_public(FIXED.peer_public_key()) is None  # type: ignore[arg-type]


# Points that load in cryptography (it accepts any 32 bytes) but are no one's key: not on the
# curve, or of small or mixed order (the identity verifies signatures anybody can make).
_P = 2**255 - 19
NOT_KEYS = {
    "y = 2 (no x on the curve)": (2).to_bytes(32, "little"),
    "identity (0, 1)": (1).to_bytes(32, "little"),
    "(0, -1), order 2": (_P - 1).to_bytes(32, "little"),
    "y = 0, order 4": bytes(32),
    "order 8": bytes.fromhex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"),
    "y >= p (non-canonical)": (_P + 1).to_bytes(32, "little"),
    "all ones": b"\xff" * 32,
}


@pytest.mark.parametrize("raw", NOT_KEYS.values(), ids=NOT_KEYS.keys())
def test_a_point_that_is_not_a_key_is_refused(raw: bytes) -> None:
    Ed25519PublicKey.from_public_bytes(raw)  # cryptography alone would take it
    assert decode_public(encode_public(raw)) is None


def test_a_key_of_mixed_order_is_refused() -> None:
    # An honest key plus the point of order 2, (x, y) + (0, -1) = (-x, -y): on the curve, loads,
    # but no private key made it.
    raw = FIXED.peer_public_key()
    value = int.from_bytes(raw, "little")
    y, sign = value & ((1 << 255) - 1), value >> 255
    negated = ((_P - y) | ((1 - sign) << 255)).to_bytes(32, "little")  # -x flips x's sign bit
    assert decode_public(encode_public(negated)) is None


# ---- fingerprint ---------------------------------------------------------------------------------


def test_the_fingerprint_is_six_groups_of_five_digits_as_specified() -> None:
    raw = FIXED.peer_public_key()
    digest = hashlib.sha256(b"peer-relay peer key fingerprint v1\x00" + raw).digest()
    expected = " ".join(
        f"{int.from_bytes(digest[i : i + 5], 'big') % 100000:05d}" for i in range(0, 30, 5)
    )
    assert fingerprint(raw) == expected == "15715 15802 27654 54634 26905 22325"


def test_the_fingerprint_is_stable_and_tells_keys_apart() -> None:
    keys = [raw_key() for _ in range(50)]
    prints = [fingerprint(key) for key in keys]
    assert prints == [fingerprint(key) for key in keys]
    assert len(set(prints)) == len(keys)
    for text in prints:
        groups = text.split(" ")
        assert len(groups) == 6 and all(len(g) == 5 and g.isdigit() for g in groups)


def test_one_bit_changes_the_fingerprint() -> None:
    raw = FIXED.peer_public_key()
    assert fingerprint(bytes([raw[0] ^ 1]) + raw[1:]) != fingerprint(raw)


def test_the_fingerprint_refuses_a_wrong_length() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        fingerprint(bytes(31))
