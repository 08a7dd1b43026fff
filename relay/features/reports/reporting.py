"""REPORT, CHECK, APPROVE, REJECT and WITHDRAW: bad-client warnings from report to broadcast.

A report is stored sealed with its screening keys; per the rules it goes to the moderators for
review (without the reporter's name) or straight to the members. An approved warning goes to the
audience the rules name (`relay.features.reports.audience`) in each reader's language, never saying
who
sent it. REJECT on a shared warning removes it, and the audience is told to disregard it; so is
the author's WITHDRAW. Every step is recorded without saying who took it.

The feature interface (`relay.features.base`): `enrich` keeps a report's photos in the vault;
`handle`, in the database thread, reads what the answer needs (`relay.store.reports`), decides
with `relay.features.reports.decisions` (pure) and returns the writes, which commit with the
messages.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING

from relay.core import intents
from relay.core.builder import Decision
from relay.core.normalize import clean, strip_ends
from relay.crypto.seal import Sealer
from relay.features.base import Handled, Scope, Writes
from relay.features.reports import decisions
from relay.features.reports.decisions import Add, Answer, Approve, Change, Delete, Desk, Rate
from relay.features.reports.matching import all_tags, query_identifiers, region_of
from relay.features.reports.screening import find
from relay.rules import Member
from relay.signal.events import Incoming
from relay.store import peers, reports

if TYPE_CHECKING:
    from relay.features.peers.post import PeerPost
    from relay.runtime.vault import AttachmentVault

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Kept:
    """What `enrich` did with her attachments: how many she sent, the vault keys of those kept."""

    sent: int = 0
    photos: tuple[str, ...] = ()


class ReportsFeature:
    """Claims REPORT, CHECK, APPROVE, REJECT and WITHDRAW. Without a vault, a report's photos
    are not kept (and she is told how many were lost)."""

    claims: tuple[type, ...] = (
        intents.Report,
        intents.Check,
        intents.Approve,
        intents.Reject,
        intents.Withdraw,
    )

    def __init__(self, vault: AttachmentVault | None = None, post: PeerPost | None = None) -> None:
        self.vault = vault
        self.post = post  # signs retractions to the partner relays a deleted report went to

    async def enrich(self, member: Member, intent: intents.Intent, event: Incoming) -> Kept:
        """A REPORT's photos, fetched and sealed into the vault before the transaction. With
        photos a REPORT is always a new report (``REPORT 3`` with photos: one rated 3)."""
        sent = len(event.attachments)
        if not isinstance(intent, intents.Report) or not sent or self.vault is None:
            return Kept(sent)
        return Kept(sent, await self.vault.keep_all(event.attachments))

    def handle(
        self,
        conn: sqlite3.Connection,
        scope: Scope,
        member: Member,
        intent: intents.Intent,
        enriched: object,
        now: datetime,
    ) -> Handled:
        kept = enriched if isinstance(enriched, Kept) else Kept()
        desk = Desk(scope.rules, scope.catalog, scope.timezone, member, now)
        answer = _decide(conn, scope.sealer, desk, intent, kept)
        change = answer.change
        decision = answer.decision
        if change is not None:
            # Never the alias beside a report number: the log must not say who did what.
            log.info("report #%d %s", change.number, _verb(change))
        if isinstance(change, Delete) and self.post is not None:
            decision = self._retract(conn, scope, change.number, decision, now)
        return Handled(decision, _writes(scope.sealer, change, now), self._after(change))

    def _retract(
        self, conn: sqlite3.Connection, scope: Scope, number: int, decision: Decision, now: datetime
    ) -> Decision:
        """A report SHARE sent is going: each partner it went to (still in the rules: one
        removed from them gets nothing more) gets a signed retraction, in the same commit."""
        post = self.post
        if post is None:
            return decision
        retractions = []
        for partner_number, wid in peers.shared_with(conn, scope.sealer, number):
            partner = scope.rules.partner_by_number(partner_number)
            if partner is not None:
                retractions.append(post.retraction(partner, wid, now.date()))
        if retractions:
            log.info("report #%d: %d retraction(s) to partner relays", number, len(retractions))
        return replace(decision, messages=(*decision.messages, *retractions))

    def _after(self, change: Change | None) -> Callable[[], Awaitable[None]] | None:
        """A deleted report's photo files go once its rows are committed gone (as retention
        does): a crash in between leaves a sealed file nobody names, never a report naming
        files that are no more — which deleting them inside a batch rolled back would."""
        vault = self.vault
        if not isinstance(change, Delete) or not change.photos or vault is None:
            return None
        photos = change.photos

        async def forget_photos() -> None:
            for key in photos:
                vault.forget(key)

        return forget_photos


def _writes(sealer: Sealer, change: Change | None, now: datetime) -> Writes | None:
    match change:
        case Add(report=new):
            tags = all_tags(sealer, new.identifiers, index=True)
            return lambda conn: reports.add(conn, sealer, new, tags)
        case Rate(number=number, severity=severity):
            return lambda conn: reports.rate(conn, number, severity, now)
        case Approve(number=number):
            return lambda conn: reports.approve(conn, number, now)
        case Delete(number=number, action=action):

            def delete(conn: sqlite3.Connection) -> None:
                reports.delete(conn, number, action, now)  # its photos: `after`, once committed

            return delete
    return None


def _decide(
    conn: sqlite3.Connection, sealer: Sealer, desk: Desk, intent: intents.Intent, kept: Kept
) -> Answer:
    """Read what the answer to ``intent`` needs, then decide
    (`relay.features.reports.decisions`)."""
    alias = desk.alias
    match intent:
        case intents.Report(text=raw):
            text = strip_ends(clean(raw or ""))
            severity = decisions.rating(text, kept.sent)
            if severity is not None:
                return decisions.rate(desk, severity, reports.newest_unrated(conn, sealer, alias))
            number = reports.next_number(conn)
            return decisions.report(desk, text, kept.sent, kept.photos, number)
        case intents.Check(query=query):
            identifiers = query_identifiers(query, region_of(desk.member.number))
            if not identifiers:
                return decisions.unreadable(desk)
            matches = find(conn, sealer, identifiers, desk.now)
            log.info("a CHECK of %d identifier(s): %d match(es)", len(identifiers), len(matches))
            return decisions.check(desk, matches)
        case intents.Approve(number=number):
            stored = reports.get(conn, sealer, number)
            last = reports.last_action(conn, number) if stored is None else None
            return decisions.approve(desk, number, stored, last)
        case intents.Reject(number=number, reason=reason):
            stored = reports.get(conn, sealer, number)
            last = reports.last_action(conn, number) if stored is None else None
            why = strip_ends(clean(reason or ""))
            return decisions.reject(desk, number, why, stored, last)
        case intents.Withdraw(number=number):
            stored = reports.get(conn, sealer, number)
            hers = stored is not None and reports.is_author(conn, sealer, number, alias)
            return decisions.withdraw(desk, number, stored, hers)
    return desk.done()


def _verb(change: Change) -> str:
    match change:
        case Add(report=new):
            return f"received ({new.status})"
        case Rate():
            return "rated"
        case Approve():
            return "approved"
        case Delete(action=action):
            return action
