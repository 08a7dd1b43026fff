"""The incident log's hash chain and signatures: the one definition the relay writes with and
`peer-relay verify` checks with. Pure functions; no key material beyond what is passed in.

An entry commits to three things (each entry's ``hash``)::

    content_sha256 = SHA-256(canonical {"photos": [...], "salt": s, "text": t})
    hash           = SHA-256(canonical {"at": "…Z", "content_sha256": …, "log": id,
                                        "prev": previous hash, "seq": n, "v": 1})

where ``at`` is the relay's clock (UTC, milliseconds), ``prev`` is the previous entry's hash (the
first entry's is `genesis` of the log id), and ``salt`` is 128 random bits kept inside the sealed
content: the digest on disk says nothing about a short text to someone guessing it, while an
export, which reveals the salt, lets anyone recompute it. Each photo is listed by its SHA-256.

Signatures (Ed25519, the relay's key) cover a labelled statement, so one kind can never stand in
for another: every entry signs ``{"count": n, "head": hash, "log": id}`` as it is added (so each
entry's hash is authenticated on its own, and a changed entry is named), and an export signs
``{"count", "exported_at", "first", "head", "log", "readable_sha256"}`` (so entries removed from
the end of an export, or its summary changed, are caught).

Canonical JSON: keys sorted, no spaces, UTF-8, non-ASCII kept (as `json.dumps` with
``sort_keys=True, separators=(",", ":"), ensure_ascii=False``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

VERSION: Final = 1
FORMAT: Final = "peer-relay incident log"
_GENESIS: Final = b"peer-relay/incident-log/genesis/v1\n"
_ENTRY_LABEL: Final = b"peer-relay/incident-log/entry/v1\n"
_EXPORT_LABEL: Final = b"peer-relay/incident-log/export/v1\n"


def canonical(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8", "surrogatepass"
    )


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def genesis(log_id: str) -> str:
    """The ``prev`` of a log's first entry: ties the chain to this log from its start."""
    return sha256_hex(_GENESIS + log_id.encode("utf-8"))


def stamp(moment: datetime) -> str:
    """The relay clock as the chain records it: ``2026-11-26T20:00:00.000Z``."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def photo_entry(sha256: str, content_type: str) -> dict[str, str]:
    return {"sha256": sha256, "type": content_type}


def content_digest(text: str, photos: Sequence[Mapping[str, str]], salt: str) -> str:
    return sha256_hex(canonical({"photos": [dict(p) for p in photos], "salt": salt, "text": text}))


def entry_hash(log_id: str, seq: int, at: str, prev: str, content_sha256: str) -> str:
    return sha256_hex(
        canonical(
            {
                "at": at,
                "content_sha256": content_sha256,
                "log": log_id,
                "prev": prev,
                "seq": seq,
                "v": VERSION,
            }
        )
    )


def entry_statement(log_id: str, seq: int, head: str) -> bytes:
    return _ENTRY_LABEL + canonical({"count": seq, "head": head, "log": log_id})


def export_statement(
    log_id: str, first: int, count: int, head: str, exported_at: str, readable_sha256: str
) -> bytes:
    return _EXPORT_LABEL + canonical(
        {
            "count": count,
            "exported_at": exported_at,
            "first": first,
            "head": head,
            "log": log_id,
            "readable_sha256": readable_sha256,
        }
    )


def sign(key: Ed25519PrivateKey, statement: bytes) -> bytes:
    return key.sign(statement)


def signed_by(public_key: bytes, statement: bytes, signature: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, statement)
    except (InvalidSignature, ValueError):
        return False
    return True


def fingerprint(public_key: bytes) -> str:
    """A relay key as people compare it: five groups of four hex digits of its SHA-256."""
    digest = sha256_hex(public_key)[:20]
    return " ".join(digest[i : i + 4] for i in range(0, 20, 4))
