"""A partner relay's public key as admins handle it: written out, read back, and fingerprinted.

A relay signs the warnings it sends to partner relays with its peer key
(`relay.crypto.seal.Sealer.peer_signing_key`). Its admin hands the public half to the partner's
admin, who pastes it into the rules (``peers.yaml``), in one form only:

    ed25519:<44 characters: standard base64, with its padding, of the 32-byte public key>

`decode_public` accepts exactly that form and nothing near it, so a key that was cut short,
retyped wrongly or copied with a character changed is refused when the rules are checked, not
discovered when the first warning fails its signature. The two admins then read the key's
`fingerprint` to each other (in person or on a call), as Signal users compare safety numbers: a
key swapped on the way gives another fingerprint.

Owns no secret: everything here is public data.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

PREFIX: Final = "ed25519:"
KEY_BYTES: Final = 32
ENCODED_CHARS: Final = 44
"""Standard base64 of 32 bytes: 43 characters and one ``=``."""
FINGERPRINT_GROUPS: Final = 6

# Never change: both admins' relays must compute the same digits for the same key.
_FINGERPRINT_LABEL: Final = b"peer-relay peer key fingerprint v1\x00"

# Edwards25519 (RFC 8032 §5.1): the field prime, the curve constant d and the group order L.
_P: Final = 2**255 - 19
_D: Final = (-121665 * pow(121666, _P - 2, _P)) % _P
_L: Final = 2**252 + 27742317777372353535851937790883648493
_SQRT_M1: Final = pow(2, (_P - 1) // 4, _P)


def encode_public(raw: bytes) -> str:
    """``ed25519:`` + standard base64 of the raw 32-byte public key (what `decode_public` reads)."""
    if len(raw) != KEY_BYTES:
        raise ValueError(f"an Ed25519 public key is {KEY_BYTES} bytes")
    return PREFIX + base64.b64encode(raw).decode("ascii")


def decode_public(text: str) -> bytes | None:
    """The raw 32-byte key written as `encode_public` writes it; None for anything else.

    Refused: another prefix (case included), spaces, another length, URL-safe or unpadded base64,
    base64 that does not read back to the same text (stray low bits in the last character), and
    32 bytes that are not a usable Ed25519 public key (see `_is_usable_point`).
    """
    if not isinstance(text, str) or not text.startswith(PREFIX):
        return None
    body = text[len(PREFIX) :]
    if len(body) != ENCODED_CHARS or not body.isascii():
        return None
    try:
        raw = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(raw) != KEY_BYTES or base64.b64encode(raw).decode("ascii") != body:
        return None
    if not _is_usable_point(raw):
        return None
    try:
        Ed25519PublicKey.from_public_bytes(raw)
    except ValueError:
        return None
    return raw


def fingerprint(raw: bytes) -> str:
    """Six groups of five digits that two admins read to each other to compare a key.

    SHA-256 of a labelled statement and the key; its first 30 bytes as six 5-byte big-endian
    numbers, each reduced mod 100000 (as Signal's safety numbers are built): "01234 56789 …".
    About 100 bits: no one can make a second key with the same digits.
    """
    if len(raw) != KEY_BYTES:
        raise ValueError(f"an Ed25519 public key is {KEY_BYTES} bytes")
    digest = hashlib.sha256(_FINGERPRINT_LABEL + raw).digest()
    groups = (
        int.from_bytes(digest[i * 5 : i * 5 + 5], "big") % 100000 for i in range(FINGERPRINT_GROUPS)
    )
    return " ".join(f"{group:05d}" for group in groups)


# ---- is it a key anyone could sign with? ------------------------------------------------------
#
# cryptography (OpenSSL) loads any 32 bytes as an Ed25519 public key and finds out only when a
# signature is checked. Worse, a few encodings load and *verify*: a point of small order (the
# identity, for one) accepts signatures that anybody can make without any private key. A partner
# key comes from another admin, by hand: it is checked here, with the decoding rules of RFC 8032
# §5.1.3, and must be a point of the prime-order group that honest keys always lie in. Public
# data only, so plain (variable-time) integer arithmetic is fine.


def _is_usable_point(raw: bytes) -> bool:
    point = _decode_point(raw)
    if point is None:
        return False
    x, y = point
    extended = (x, y, 1, (x * y) % _P)
    return not _is_identity(extended) and _is_identity(_multiply(extended, _L))


def _decode_point(raw: bytes) -> tuple[int, int] | None:
    encoded = int.from_bytes(raw, "little")
    sign = encoded >> 255
    y = encoded & ((1 << 255) - 1)
    if y >= _P:
        return None  # a non-canonical encoding of y
    u = (y * y - 1) % _P
    v = (_D * y * y + 1) % _P
    x = (u * pow(v, 3, _P) * pow(u * pow(v, 7, _P), (_P - 5) // 8, _P)) % _P
    check = (v * x * x) % _P
    if check == (-u) % _P:
        x = (x * _SQRT_M1) % _P
    elif check != u:
        return None  # no x for this y: not on the curve
    if x == 0 and sign:
        return None
    if x & 1 != sign:
        x = _P - x
    return x, y


# Points in extended coordinates (X, Y, Z, T), x = X/Z, y = Y/Z, xy = T/Z: no inversions, so
# checking a key takes about a millisecond rather than a tenth of a second.
_Extended = tuple[int, int, int, int]
_IDENTITY: Final[_Extended] = (0, 1, 1, 0)


def _is_identity(point: _Extended) -> bool:
    x, y, z, _ = point
    return x % _P == 0 and (y - z) % _P == 0


def _add(a: _Extended, b: _Extended) -> _Extended:
    # RFC 8032 §5.1.4's addition law; complete for edwards25519, so it doubles too.
    x1, y1, z1, t1 = a
    x2, y2, z2, t2 = b
    e1 = (y1 - x1) * (y2 - x2) % _P
    e2 = (y1 + x1) * (y2 + x2) % _P
    c = 2 * t1 * t2 * _D % _P
    d = 2 * z1 * z2 % _P
    e, f, g, h = e2 - e1, d - c, d + c, e2 + e1
    return e * f % _P, g * h % _P, f * g % _P, e * h % _P


def _multiply(point: _Extended, scalar: int) -> _Extended:
    result = _IDENTITY
    while scalar:
        if scalar & 1:
            result = _add(result, point)
        point = _add(point, point)
        scalar >>= 1
    return result
