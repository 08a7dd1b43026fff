"""Making a log's next entry: timestamped by the relay clock, chained to the one before, signed.

The chain's definition is `relay.features.incidents.hashchain`; storing an entry is
`relay.store.incident_log`. Random parts (a log's id, each entry's salt) come from `secrets`, so
this is not pure: tests of the decisions hand in entries made here.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime

from relay.crypto.seal import Sealer
from relay.features.incidents import hashchain
from relay.store.incident_log import Entry, Head, Photo


def new_entry(
    sealer: Sealer,
    head: Head,
    now: datetime,
    text: str,
    photos: Sequence[Photo] = (),
) -> Entry:
    """The entry after ``head``: timestamped by the relay clock, chained, signed."""
    seq = head.seq + 1
    at = hashchain.stamp(now)
    salt = secrets.token_hex(16)
    listed = [hashchain.photo_entry(p.sha256, p.content_type) for p in photos]
    digest = hashchain.content_digest(text, listed, salt)
    entry_hash = hashchain.entry_hash(head.log_id, seq, at, head.hash, digest)
    signature = hashchain.sign(
        sealer.signing_key(), hashchain.entry_statement(head.log_id, seq, entry_hash)
    )
    return Entry(seq, at, text, salt, tuple(photos), head.hash, digest, entry_hash, signature)


def fresh_head() -> Head:
    """The head of a log that has no entry yet (its id is chosen now)."""
    log_id = secrets.token_hex(16)
    return Head(log_id=log_id, seq=0, hash=hashchain.genesis(log_id))
