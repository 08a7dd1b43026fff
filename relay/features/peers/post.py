"""The signed messages this relay sends its partner relays: a warning, or its retraction.

Each is one Signal text to the partner relay's number (`relay.features.peers.payload` signs it
with this relay's peer key, for that partner's number alone) and goes through the outbox like
every other message: durable, retried, in order. What a warning carries is exactly what the
payload holds — never who reported it, never a member's name or number.
"""

from __future__ import annotations

from datetime import date, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from relay.core.builder import Outgoing, Purpose
from relay.core.state import Recipient, RecipientKind
from relay.features.peers.payload import (
    PeerMessage,
    Retraction,
    Warning,
    encode,
    looks_like_peer_message,
)
from relay.rules.model import Partner, Rules
from relay.store.reports import StoredReport


class PeerPost:
    """Builds this relay's signed messages (``own_number``: its Signal number, as partners'
    rules name it)."""

    def __init__(self, key: Ed25519PrivateKey, own_number: str) -> None:
        self._key = key
        self.own_number = own_number

    def warning(
        self,
        partner: Partner,
        report: StoredReport,
        summary: str,
        wid: str,
        today: date,
        name: str,
    ) -> Outgoing:
        """Report ``report`` for ``partner``, with ``summary`` as approved for sharing, from
        the collective ``name`` (the rules' ``peers.name``)."""
        message = Warning(
            id=wid,
            sender_name=name,
            severity=report.severity,
            categories=tuple(sorted(set(report.categories))) or ("other",),
            summary=summary,
            identifiers=report.identifiers,
            reported=week_of(report.created_at.date()),
            issued=today,
        )
        return self._to(partner, message)

    def retraction(self, partner: Partner, wid: str, today: date) -> Outgoing:
        return self._to(partner, Retraction(id=wid, issued=today))

    def _to(self, partner: Partner, message: PeerMessage) -> Outgoing:
        text = encode(message, self._key, self.own_number, partner.number)
        to = Recipient(RecipientKind.OUTSIDE, partner.number, label=partner.label)
        return Outgoing(to, text, Purpose.NOTICE)


def week_of(day: date) -> date:
    """The Monday of ``day``'s week: all a partner learns of when a report was made (the exact
    day, next to a partner's own knowledge of who worked when, could point to her)."""
    return day - timedelta(days=day.weekday())


def still_wanted(rules: Rules, address: str, text: str) -> bool:
    """Whether a queued message may still go: one to a partner relay only while the rules name
    that partner (removing a partner stops both directions, what was queued for it included)."""
    return not looks_like_peer_message(text) or rules.partner_by_number(address) is not None
