"""Sealing at rest: every sensitive field and attachment the relay stores, and every lookup tag.

A `Sealer` is made from the `MasterKey` and derives one sub-key per job with HKDF-SHA256 (distinct
``info`` strings), so a value sealed for one job can never be opened, or matched, by another:

- **fields** (notes, client details, locations, incident text …): AES-256-GCM;
- **attachments** (photos): AES-256-GCM under their own key, written atomically, mode 0600;
- **lookups** (screened client numbers and plates, member identifiers): HMAC-SHA256, one key per
  purpose, so equal inputs match within a purpose and nowhere else;
- **dedupe** (inbound sender + timestamp): HMAC-SHA256 under its own key;
- **signing** (incident logs): an Ed25519 key whose seed is derived from the master key, so the
  public key is stable across restarts and needs no file of its own;
- **peer signing** (warnings to partner relays, issue 20): another Ed25519 key, derived the same
  way under its own label, so a partner holding this collective's peer key cannot tell that an
  incident log a member exports elsewhere was signed by the same relay.

Sealed blob layout::

    version (1 byte) | key id (4 bytes) | nonce (12 bytes) | ciphertext | GCM tag (16 bytes)

Version 1 (`seal`: backups, the rules cache, the key check) encrypts the plaintext as it is.
Version 2 (`seal_text`, `seal_json`: every field the store keeps) pads it first to a size bucket —
``0x80`` then zeros, up to the next power of two, at least `PAD_MIN` bytes — so a blob's length says
which bucket its value fell in, not how long an alias, a note or a message is (issue 17: sealed
outbox payloads of one kind differed by the length of the alias in them). The padding is inside
the encryption and the version byte is authenticated, so neither can be changed unnoticed.

The key id is derived from the master key, so a blob sealed under another key is recognised as such
(and a later key rotation can pick the right key). The version and key id are authenticated along
with the caller's associated data (``aad``), which binds a blob to the table, column and row it was
sealed for: a blob copied into another row or column does not open. Use `aad_for` to build it.

Errors (`TamperedError`) name only the table and column, never contents, keys or row ids.
"""

from __future__ import annotations

import hmac
import json
import os
import re
import secrets
from pathlib import Path
from typing import Final, TypeAlias

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from relay.crypto.files import write_private_file
from relay.crypto.keys import MasterKey

JsonValue: TypeAlias = dict[str, "JsonValue"] | list["JsonValue"] | str | int | float | bool | None

BLOB_VERSION: Final = 1
PADDED_VERSION: Final = 2
PAD_MIN: Final = 64
"""The smallest padded size: a reply, an address or a short note all look alike."""
KEY_ID_BYTES: Final = 4
NONCE_BYTES: Final = 12
TAG_BYTES: Final = 16
HEADER_BYTES: Final = 1 + KEY_ID_BYTES
OVERHEAD: Final = HEADER_BYTES + NONCE_BYTES + TAG_BYTES
"""Bytes a sealed blob adds to its plaintext (33)."""

# HKDF ``info`` labels. Changing one makes all derived from it unreadable: never edit, only add.
_INFO_PREFIX: Final = b"peer-relay/v1/"
_INFO_KEY_ID: Final = _INFO_PREFIX + b"key-id"
_INFO_SEAL: Final = _INFO_PREFIX + b"seal"
_INFO_ATTACHMENT: Final = _INFO_PREFIX + b"attachment"
_INFO_LOOKUP: Final = _INFO_PREFIX + b"lookup/"
_INFO_DEDUPE: Final = _INFO_PREFIX + b"dedupe"
_INFO_SIGNING: Final = _INFO_PREFIX + b"signing-seed"
_INFO_PEER_SIGNING: Final = _INFO_PREFIX + b"peer-signing-seed"

_NAME_RE: Final = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_ROW_KEY_RE: Final = re.compile(r"[A-Za-z0-9_-]{1,128}")
_PURPOSE_RE: Final = re.compile(r"[a-z0-9][a-z0-9_.-]{0,62}")
# What aad_for builds, parsed back so errors can say where a blob lived.
_AAD_RE: Final = re.compile(r"([a-z_][a-z0-9_]*)\.([a-z_][a-z0-9_]*)/[A-Za-z0-9_-]+")


class TamperedError(Exception):
    """A sealed value failed to open: changed, moved, truncated, or sealed under another key.

    ``where`` is ``table.column`` when the aad came from `aad_for`, else ``"a sealed value"``.
    """

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}")
        self.where = where
        self.problem = problem


def aad_for(table: str, column: str, row_key: str) -> str:
    """The associated data binding a sealed value to ``table.column`` of the row ``row_key``.

    ``row_key`` is a random per-row id the store chooses before the insert (see `new_row_key`);
    autoincrement ids are unknown until after it. Names are checked so two different places can
    never produce the same string.
    """
    if not _NAME_RE.fullmatch(table):
        raise ValueError("aad_for: table must be a lower-case identifier")
    if not _NAME_RE.fullmatch(column):
        raise ValueError("aad_for: column must be a lower-case identifier")
    if not _ROW_KEY_RE.fullmatch(row_key):
        raise ValueError("aad_for: row_key must be 1-128 characters of [A-Za-z0-9_-]")
    return f"{table}.{column}/{row_key}"


def new_row_key() -> str:
    """A fresh random row key (128 bits, URL-safe base64) for `aad_for`."""
    return secrets.token_urlsafe(16)


def _where(aad: str) -> str:
    # Only the table and column: the row key is random but ties a blob to a row, so keep it out.
    match = _AAD_RE.fullmatch(aad)
    return f"{match.group(1)}.{match.group(2)}" if match else "a sealed value"


def _utf8(text: str) -> bytes:
    # Lone surrogates (JSON from Signal may carry them) are kept rather than refused: a member's
    # message must never fail to store, or to be looked up, because of one odd character.
    return text.encode("utf-8", "surrogatepass")


def padded_size(length: int) -> int:
    """The bucket a plaintext of `length` bytes is padded to (its marker byte included)."""
    size = PAD_MIN
    while size < length + 1:
        size *= 2
    return size


def pad(plaintext: bytes) -> bytes:
    """``plaintext`` + ``0x80`` + zeros up to `padded_size` (ISO/IEC 7816-4 padding)."""
    return plaintext + b"\x80" + bytes(padded_size(len(plaintext)) - len(plaintext) - 1)


def unpad(padded: bytes) -> bytes | None:
    """Undo `pad`; None if ``padded`` does not end as `pad` leaves it."""
    end = len(padded.rstrip(b"\0"))
    if end == 0 or padded[end - 1] != 0x80:
        return None
    return padded[: end - 1]


def _hkdf(ikm: bytes, info: bytes, length: int = 32) -> bytes:
    # No salt: the input is already 256 uniformly random bits, which is what HKDF's extract step
    # would otherwise have to produce (RFC 5869 §3.1).
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info).derive(ikm)


class Sealer:
    """Seals, opens, tags and signs with sub-keys of one master key. Cheap to share; thread-safe."""

    def __init__(self, master: MasterKey) -> None:
        ikm = master.secret_bytes()
        self._key_id = _hkdf(ikm, _INFO_KEY_ID, KEY_ID_BYTES)
        self._header = bytes([BLOB_VERSION]) + self._key_id
        self._padded_header = bytes([PADDED_VERSION]) + self._key_id
        self._fields = AESGCM(_hkdf(ikm, _INFO_SEAL))
        self._attachments = AESGCM(_hkdf(ikm, _INFO_ATTACHMENT))
        self._lookup_root = _hkdf(ikm, _INFO_LOOKUP)
        self._lookup_keys: dict[str, bytes] = {}
        self._dedupe_key = _hkdf(ikm, _INFO_DEDUPE)
        self._signing = Ed25519PrivateKey.from_private_bytes(_hkdf(ikm, _INFO_SIGNING))
        self._peer_signing = Ed25519PrivateKey.from_private_bytes(_hkdf(ikm, _INFO_PEER_SIGNING))

    def __repr__(self) -> str:
        return f"Sealer(key_id={self._key_id.hex()})"

    @property
    def key_id(self) -> str:
        """The key's public fingerprint (8 hex digits) as written in every blob; safe to log."""
        return self._key_id.hex()

    # -- fields -----------------------------------------------------------------------------------

    def seal(self, plaintext: bytes, *, aad: str) -> bytes:
        """Encrypt and authenticate ``plaintext`` for the place ``aad`` names."""
        return self._seal(self._fields, plaintext, aad)

    def open(self, blob: bytes, *, aad: str) -> bytes:
        """Return the plaintext of a blob from `seal`; `TamperedError` if it is not authentic."""
        return self._open(self._fields, blob, aad)

    def seal_text(self, text: str, *, aad: str) -> bytes:
        """`seal` for text (UTF-8, lone surrogates kept), padded to its size bucket."""
        return self._seal(self._fields, pad(_utf8(text)), aad, PADDED_VERSION)

    def open_text(self, blob: bytes, *, aad: str) -> str:
        """`open` for a blob from `seal_text`."""
        data = self.open(blob, aad=aad)
        try:
            return data.decode("utf-8", "surrogatepass")
        except UnicodeDecodeError:
            # Authentic but not text: sealed with seal(), opened as text. The decode error would
            # quote a byte of the plaintext, so it is not chained.
            raise TamperedError(_where(aad), "sealed value is not UTF-8 text") from None

    def seal_json(self, value: object, *, aad: str) -> bytes:
        """`seal` for a JSON-serialisable value (compact, UTF-8, keys sorted).

        Typed ``object`` because dict invariance would make callers annotate every literal;
        `json.dumps` raises `TypeError` (naming only the type) for anything it cannot encode.
        """
        encoded = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        return self.seal_text(encoded, aad=aad)

    def open_json(self, blob: bytes, *, aad: str) -> JsonValue:
        """`open` for a blob from `seal_json`."""
        text = self.open_text(blob, aad=aad)
        try:
            value: JsonValue = json.loads(text)
        except json.JSONDecodeError:
            # The decode error carries the whole document; do not chain it.
            raise TamperedError(_where(aad), "sealed value is not JSON") from None
        return value

    # -- attachments ------------------------------------------------------------------------------

    def seal_file(self, src_bytes: bytes, dest: Path, *, aad: str) -> None:
        """Seal an attachment into ``dest`` (mode 0600), atomically: a crash leaves the old file
        or the new one, never part of one. The caller deletes signal-cli's plaintext copy after.
        """
        write_private_file(dest, self._seal(self._attachments, src_bytes, aad), overwrite=True)

    def open_file(self, path: Path, *, aad: str) -> bytes:
        """Read and open an attachment written by `seal_file`."""
        return self._open(self._attachments, path.read_bytes(), aad)

    # -- lookups ----------------------------------------------------------------------------------

    def lookup(self, value: str, *, purpose: str) -> bytes:
        """A keyed HMAC-SHA256 tag of ``value`` (32 bytes) under ``purpose``'s own sub-key.

        Deterministic, so the store can index and compare tags without holding the value; the
        same value under another purpose gives an unrelated tag. Normalise ``value`` first (E.164
        number, upper-case plate without spaces …): this function does not.
        ``purpose`` is a short lower-case label such as ``client-phone`` or ``plate``.
        """
        key = self._lookup_keys.get(purpose)
        if key is None:
            if not _PURPOSE_RE.fullmatch(purpose):
                raise ValueError("lookup: purpose must be a short lower-case label")
            key = _hkdf(self._lookup_root, purpose.encode("ascii"))
            self._lookup_keys[purpose] = key
        return hmac.digest(key, _utf8(value), "sha256")

    def dedupe_tag(self, value: str) -> bytes:
        """A keyed HMAC-SHA256 tag (32 bytes) for inbound de-duplication, e.g. of
        ``f"{sender_uuid}:{timestamp}"``, so the dedupe table holds no sender identifiers.
        """
        return hmac.digest(self._dedupe_key, _utf8(value), "sha256")

    # -- signing ----------------------------------------------------------------------------------

    def signing_key(self) -> Ed25519PrivateKey:
        """The relay's Ed25519 key for incident logs; the same for the same master key."""
        return self._signing

    def public_key_bytes(self) -> bytes:
        """The raw 32-byte Ed25519 public key that `peer-relay verify` checks signatures with."""
        return self._signing.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    def peer_signing_key(self) -> Ed25519PrivateKey:
        """The relay's Ed25519 key for warnings to partner relays; the same for the same master
        key, and unrelated to `signing_key` (a partner cannot link the two)."""
        return self._peer_signing

    def peer_public_key(self) -> bytes:
        """The raw 32-byte public half of `peer_signing_key`: what `peer-relay identity` shows
        and partners put in their rules (`relay.crypto.peer_keys.encode_public`)."""
        return self._peer_signing.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    # -- the blob format --------------------------------------------------------------------------

    def _seal(self, aead: AESGCM, plaintext: bytes, aad: str, version: int = BLOB_VERSION) -> bytes:
        # A fresh random nonce every time: 96 random bits make a repeat negligible for the number
        # of values a collective's relay will ever seal under one key (far below 2**32).
        header = self._padded_header if version == PADDED_VERSION else self._header
        nonce = os.urandom(NONCE_BYTES)
        sealed = aead.encrypt(nonce, plaintext, header + aad.encode("utf-8"))
        return header + nonce + sealed

    def _open(self, aead: AESGCM, blob: bytes, aad: str) -> bytes:
        where = _where(aad)
        if len(blob) < OVERHEAD:
            raise TamperedError(where, "sealed value is truncated")
        if blob[0] not in (BLOB_VERSION, PADDED_VERSION):
            raise TamperedError(where, "sealed value has an unknown format version")
        header = blob[:HEADER_BYTES]
        if header[1:] != self._key_id:
            raise TamperedError(where, "sealed value was sealed under a different key")
        nonce = blob[HEADER_BYTES : HEADER_BYTES + NONCE_BYTES]
        try:
            plain = aead.decrypt(
                nonce, blob[HEADER_BYTES + NONCE_BYTES :], header + aad.encode("utf-8")
            )
        except InvalidTag:
            raise TamperedError(
                where, "sealed value failed authentication (changed, moved or wrong key)"
            ) from None
        if header[0] == PADDED_VERSION:
            unpadded = unpad(plain)
            if unpadded is None:  # authentic, so only a bug could get here: say so, never guess
                raise TamperedError(where, "sealed value has broken padding")
            return unpadded
        return plain
