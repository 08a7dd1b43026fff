"""What a partner relay sends this one: a warning for the moderators, a retraction, or a refusal.

The pipeline hands every message from a partner's number here (`relay.runtime.pipeline`); numbers
that are not partners — and partners the rules do not take warnings from — get the stranger
policy instead. In order:

1. the text is checked (`relay.features.peers.payload.decode`: size, version, the partner's
   signature over it *for this relay's number*, strict structure, dates) before anything is read
   from it; an envelope seen before (signal-cli delivers again after a crash) is dropped;
2. in the database thread, in one transaction: a warning id taken before is a replay; one over
   the partner's daily cap is refused; otherwise the warning becomes a *pending* report with the
   partner's label as its origin — re-keyed under this relay's own keyed tags, sealed, never
   straight to members — and goes to this collective's moderators (the admins when there is none)
   to APPROVE or REJECT. A retraction deletes the report its warning became (members who got it
   are told to disregard it) and tells the moderators;
3. a refusal stores nothing but a count; the admin is told of the first one of the day from that
   partner (what kind), not of each — a flood must not become one to her phone.

Nothing here logs a partner's label, a summary or an identifier: counts and kinds only.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Final, Literal, get_args

from relay.core.builder import Decision, p
from relay.core.types import MemberAlias
from relay.features.peers.payload import (
    PeerMessage,
    Reason,
    Refused,
    Retraction,
    Warning,
    decode,
)
from relay.features.reports.decisions import Desk
from relay.features.reports.matching import all_tags
from relay.rules.model import Partner
from relay.signal.events import Incoming, IncomingKind
from relay.store import peers, reports, seen
from relay.store.reports import NewReport

if TYPE_CHECKING:
    from relay.runtime.desk import Desk as RelayDesk
    from relay.runtime.desk import Written
    from relay.runtime.vault import AttachmentVault

log = logging.getLogger(__name__)

Refusal = Reason | Literal["replay", "cap"]
REASONS: Final[tuple[Refusal, ...]] = (*get_args(Reason), "replay", "cap")
"""Why a partner's message is refused; each has its words for the admin (``peer_reason_*``)."""


@dataclass(frozen=True)
class Outcome:
    """What one partner message did: its kind for the log, and the messages it queued."""

    kind: str  # "warning", "retraction", "refused:<reason>", "repeated", "ignored"
    decision: Decision


# --- deciding (pure: plain values in, messages and changes out) ---------------------------------


def new_report(desk: Desk, partner: Partner, warning: Warning, number: int) -> NewReport:
    """The pending report a partner's warning becomes here, sent to this collective's
    reviewers."""
    retention = desk.rules.retention.reports
    report = NewReport(
        number=number,
        author=None,
        text=warning.summary,
        identifiers=warning.identifiers,
        severity=warning.severity,
        status="pending",
        created_at=desk.now,
        expires_at=desk.now + retention if retention is not None else None,
        origin=partner.label,
        categories=warning.categories,
    )
    desk.review(report)
    return report


def retracted(desk: Desk, partner: Partner, number: int, shared: bool) -> None:
    """The partner withdrew the warning held here as report ``number``: members who got it are
    told to disregard it; its reviewers are told either way."""
    if shared:
        desk.retract(number)
    for moderator in desk.reviewers(None):
        desk.tell(moderator, p("peer_retracted", number=number, partner=partner.label))


def refused(desk: Desk, partner: Partner, reason: Refusal, admin: MemberAlias | None) -> None:
    """The first refusal of the day from this partner: the admin hears which kind."""
    if admin is None or desk.rules.member(admin) is None:
        return
    language = desk.language(admin)
    why = desk.catalog.text(language, f"peer_reason_{reason}")
    desk.tell(admin, p("peer_refused", partner=partner.label, reason=why))


# --- carrying it out ----------------------------------------------------------------------------


class PartnerInbox:
    """Takes partner relays' messages for this relay (``own_number``: its Signal number)."""

    def __init__(
        self, desk: RelayDesk, own_number: str, vault: AttachmentVault | None = None
    ) -> None:
        self.desk = desk
        self.own_number = own_number
        self.vault = vault

    async def take(self, partner: Partner, event: Incoming) -> Outcome:
        desk = self.desk
        if self.vault is not None and event.attachments:
            await self.vault.discard(event.attachments)  # a warning carries no files
        if event.kind is not IncomingKind.MESSAGE:
            return Outcome("ignored", Decision())  # a reaction, edit or delete: nothing to take
        now = desk.clock.now()
        message: PeerMessage | None = None
        reason: Refusal | None = None
        try:
            message = decode(
                event.text or "", partner.key, partner.number, self.own_number, now.date()
            )
        except Refused as refusal:
            reason = refusal.reason
        tag = desk.sealer.dedupe_tag(f"{event.sender}:{event.timestamp}:{event.kind}")
        async with desk.lock:
            work = partial(self._commit, partner, message, reason, tag, now)
            outcome, written = await desk.db.write(work)
            desk.applied(outcome.decision, len(written))
        log.info("a partner relay's message: %s", outcome.kind)
        return outcome

    def _commit(
        self,
        partner: Partner,
        message: PeerMessage | None,
        reason: Refusal | None,
        tag: bytes,
        now: datetime,
        conn: sqlite3.Connection,
    ) -> tuple[Outcome, Sequence[Written]]:
        desk = self.desk
        if seen.seen(conn, tag):
            return Outcome("repeated", Decision()), ()
        sealer = desk.sealer
        answer = Desk(desk.rules, desk.catalog, desk.timezone, None, now)
        kind = "refused"
        if isinstance(message, Warning):
            wid = peers.id_tag(sealer, partner.number, message.id)
            if peers.taken(conn, wid):
                reason = "replay"
            elif peers.count(conn, sealer, partner.number, "accepted", now) >= partner.daily_cap:
                reason = "cap"
            else:
                report = new_report(answer, partner, message, reports.next_number(conn))
                reports.add(conn, sealer, report, all_tags(sealer, report.identifiers, index=True))
                peers.take(conn, wid, now)
                peers.link(conn, wid, report.number)
                peers.bump(conn, sealer, partner.number, "accepted", now)
                kind = "warning"
        elif isinstance(message, Retraction):
            kind = "retraction"
            number = peers.held_as(conn, peers.id_tag(sealer, partner.number, message.id))
            stored = reports.get(conn, sealer, number) if number is not None else None
            if stored is not None:
                retracted(answer, partner, stored.number, stored.status == "approved")
                reports.delete(conn, stored.number, "retracted", now)
        if reason is not None:
            kind = f"refused:{reason}"
            peers.bump(conn, sealer, partner.number, "refused", now)
            if not peers.count(conn, sealer, partner.number, "told", now):
                peers.bump(conn, sealer, partner.number, "told", now)
                refused(answer, partner, reason, desk.admin)
        decision = answer.done().decision
        written = desk.rows(decision, now, tag).store(conn)
        return Outcome(kind, decision), written
