"""SHARE n [summary]: a moderator sends an approved report to the partner collectives.

Nothing leaves the collective by itself: a report's words may say who she is, so a moderator
chooses to send it, and may give a summary in her own words instead of the report's text. It goes,
signed, to each partner whose `send` rules take it (severity, categories), under that partner's
daily cap, once per partner; never a warning that came from a partner (no loops, no laundering).
The answer is decided by `decide` (pure); `SharingFeature.handle` reads what it needs and writes
what was shared (so a later WITHDRAW or REJECT sends the retractions).
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass
from datetime import datetime

from relay.core import intents
from relay.core.builder import p
from relay.core.normalize import clean, strip_ends
from relay.features.base import Handled, Scope
from relay.features.peers.payload import MAX_SUMMARY, new_id
from relay.features.peers.post import PeerPost
from relay.features.reports.decisions import Desk, partners_for, tell_gone
from relay.rules import Member
from relay.rules.model import Partner
from relay.store import peers, reports
from relay.store.reports import StoredReport

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Candidate:
    """A partner the rules would send this report to, and what the store says about it."""

    partner: Partner
    sent_today: int
    already: bool


@dataclass(frozen=True)
class Sent:
    partner: Partner
    wid: str


def decide(
    desk: Desk,
    post: PeerPost,
    number: int,
    summary: str,
    stored: StoredReport | None,
    last: str | None,
    candidates: list[Candidate],
) -> list[Sent]:
    """Who gets report ``number`` now; the moderator's answer is added to ``desk``."""
    member = desk.member
    if not (member.moderator or member.admin):
        desk.reply(p("share_not_moderator"))
        return []
    if stored is None:
        tell_gone(desk, number, last)
        return []
    if stored.origin is not None:  # a partner's warning: never passed on
        desk.reply(p("share_from_partner", number=number))
        return []
    if stored.status != "approved":
        desk.reply(p("share_not_approved", number=number))
        return []
    if not any(partner.sends for partner in desk.rules.peers.partners.values()):
        desk.reply(p("share_no_partners"))
        return []
    if not candidates:
        desk.reply(p("share_none_take", number=number))
        return []
    text = summary or stored.text
    if not text:
        desk.reply(p("share_needs_summary", number=number))
        return []
    if len(text) > MAX_SUMMARY:
        desk.reply(p("share_too_long", number=number, limit=MAX_SUMMARY))
        return []
    new = [c for c in candidates if not c.already]
    if not new:
        names = ", ".join(c.partner.label for c in candidates)
        desk.reply(p("share_already", number=number, partners=names))
        return []
    going = [c for c in new if c.sent_today < c.partner.daily_cap]
    capped = [c.partner.label for c in new if c.sent_today >= c.partner.daily_cap]
    sent = [Sent(c.partner, new_id()) for c in going]
    name = desk.rules.peers.name or ""
    try:
        signed = [post.warning(s.partner, stored, text, s.wid, desk.now.date(), name) for s in sent]
    except ValueError:
        # Something in it a partner would refuse (a character it may not carry): nothing goes.
        desk.reply(p("share_unsendable", number=number))
        return []
    names = ", ".join(s.partner.label for s in sent)
    parts = [p("share_sent", number=number, partners=names)] if sent else []
    if capped:
        parts.append(p("share_capped", number=number, partners=", ".join(capped)))
    desk.reply(*parts)
    if sent:
        desk.tell_reviewers(stored, p("share_sent_other", number=number, partners=names))
    desk.b.messages.extend(signed)
    return sent


class SharingFeature:
    """Claims SHARE; `post` signs what it sends."""

    claims: tuple[type, ...] = (intents.Share,)

    def __init__(self, post: PeerPost) -> None:
        self.post = post

    async def enrich(self, member: Member, intent: intents.Intent, event: object) -> None:
        return None

    def handle(
        self,
        conn: sqlite3.Connection,
        scope: Scope,
        member: Member,
        intent: intents.Intent,
        enriched: object,
        now: datetime,
    ) -> Handled:
        desk = Desk(scope.rules, scope.catalog, scope.timezone, member, now)
        if not isinstance(intent, intents.Share):
            return Handled(desk.done().decision)
        number = intent.number
        summary = strip_ends(clean(intent.summary or ""))
        stored = reports.get(conn, scope.sealer, number)
        last = reports.last_action(conn, number) if stored is None else None
        candidates = []
        if stored is not None:
            went = {partner for partner, _ in peers.shared_with(conn, scope.sealer, number)}
            for label in partners_for(scope.rules, stored):
                partner = scope.rules.peers.partners[label]
                today = peers.count(conn, scope.sealer, partner.number, "sent", now)
                candidates.append(Candidate(partner, today, partner.number in went))
        sent = decide(desk, self.post, number, summary, stored, last, candidates)
        if sent:
            log.info("report #%d shared with %d partner relay(s)", number, len(sent))
        sealer = scope.sealer

        def writes(conn: sqlite3.Connection) -> None:
            for item in sent:
                peers.shared(conn, sealer, number, item.partner.number, item.wid)
                peers.bump(conn, sealer, item.partner.number, "sent", now)

        return Handled(desk.done().decision, writes if sent else None)
