"""Warnings between collectives (issue 20): one relay sends an approved bad-client report to a
partner collective's relay, signed; the partner's moderators review it like a local report.

- `payload` — the signed message itself (`Warning`, `Retraction`, `encode`, `decode`, `Refused`):
  pure, strict, the one place that says what a partner may send;
- `categories` — the kinds of harm a report names (`CATEGORIES`, `categories_of`), which a
  partner's ``send`` rules filter on.

Sending (SHARE, retractions), receiving (the pipeline route) and the store's records of both are
the feature's other modules.
"""

from relay.features.peers.categories import CATEGORIES, categories_of
from relay.features.peers.payload import (
    PeerMessage,
    Refused,
    Retraction,
    Warning,
    decode,
    encode,
    looks_like_peer_message,
    new_id,
)

__all__ = [
    "CATEGORIES",
    "PeerMessage",
    "Refused",
    "Retraction",
    "Warning",
    "categories_of",
    "decode",
    "encode",
    "looks_like_peer_message",
    "new_id",
]
