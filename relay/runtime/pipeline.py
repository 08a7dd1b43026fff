"""The one way in: Signal events → plain values → one decide-and-commit per batch → the sender.

    take(events)                     on the event loop, a batch of 1 to 64 in arrival order
      1. route     a receipt → the receipt hook; an undecryptable message → the admin;
                   a partner relay's number → its inbox (`relay.features.peers.receiving`);
                   a number not in the rules → the stranger policy (`_stranger`)
      2. enrich    each member message → an `Inbound` (async I/O, no decision yet): who sent
                   it, what she asks, which alert her quote or reaction points at, her photos
                   kept in the vault, screening lines for client details, a feature's own I/O
      3. commit    under the decision lock, in the database thread, ONE transaction for the
                   batch (`_commit`): for each message, in a savepoint of its own —
                   seen before? → her live watch and the open alerts → decide (a practice
                   answer, a feature, or the core) → write the watches, the outbox rows, the
                   feature's rows and the envelope's de-duplication tag
      4. after     the sender is handed the replies that are first in their queues (same trip
                   as the durable commit); the timer hears of earlier deadlines; anyone whose
                   message could not be saved is told so straight through Signal

Nothing is sent before its commit is durable. A message that fails is rolled back alone (its
savepoint) and its sender told "not saved"; the rest of the batch commits. Each message sees
what the one before it wrote. Enrichment reads nothing a message of the same batch could
change (a pointer resolves to a watch id; the watch itself is read in step 3).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import partial
from typing import TYPE_CHECKING

from relay.core import intents
from relay.core.commands import KeywordTable, parse
from relay.core.decide import Context, Decision, Outgoing, Purpose, on_mark, on_message
from relay.core.notices import DEGRADED_NOTICE, with_notice
from relay.core.photos import photos_along
from relay.core.screened import screened_text, with_screening
from relay.core.state import Recipient, RecipientKind, Watch
from relay.core.targeting import Pointer, answerable
from relay.core.types import MemberAlias
from relay.crypto.seal import new_row_key
from relay.features.base import Feature, Handled, Hooks, Scope
from relay.features.peers.payload import looks_like_peer_message
from relay.rules import Member, Rules
from relay.signal.events import Event, Incoming, IncomingKind, Receipt, UntrustedIdentity
from relay.store import seen
from relay.store.db import FlushFailed, savepoint
from relay.store.outbox import OutboxRepo, Pending
from relay.store.times import hour_ms

if TYPE_CHECKING:
    from relay.features.peers.receiving import PartnerInbox
    from relay.features.reports.screening import ClientScreen
    from relay.runtime.desk import Desk, Written
    from relay.runtime.vault import AttachmentVault

log = logging.getLogger(__name__)

ACK_REACTIONS = frozenset({"👍", "👍🏻", "👍🏼", "👍🏽", "👍🏾", "👍🏿"})
_LOCATED = (intents.Loc, intents.CheckIn, intents.Extend, intents.Sos, intents.Duress)
_CHANGES = (IncomingKind.REMOTE_DELETE, IncomingKind.EDIT)


@dataclass(frozen=True, slots=True)
class Inbound:
    """A member's message, enriched: everything deciding it needs that is not in the database."""

    member: Member
    event: Incoming
    tag: bytes  # the envelope's de-duplication tag (keyed: the table holds no sender)
    intent: intents.Intent | None  # None: an edit or delete, or nothing for the relay
    quoted: bool = False  # it quotes or reacts to a message: `pointed` says which alert
    pointed: str | None = None  # the watch id of the alert it points at, if any
    photos: tuple[str, ...] = ()  # kept in the vault, to travel with her alert
    feature: Feature | None = None
    enriched: object = None  # the feature's own enrichment


@dataclass(slots=True)
class Outcome:
    """What committing one message did (filled in the database thread)."""

    repeated: bool = False
    decision: Decision | None = None  # None: rolled back (her message was not saved)
    written: list[Written] = field(default_factory=list)
    handled: Handled | None = None


ReceiptHook = Callable[[Receipt], Awaitable[None]]


class Pipeline:
    def __init__(
        self,
        desk: Desk,
        *,
        keywords: Callable[[Rules, str], KeywordTable],
        features: Sequence[Feature] = (),
        hooks: Hooks | None = None,
        screen: ClientScreen | None = None,
        vault: AttachmentVault | None = None,
        receipts: Sequence[ReceiptHook] = (),
        degraded: Callable[[], bool] = lambda: False,
        partners: PartnerInbox | None = None,
    ) -> None:
        self.desk = desk  # what is in force, the lock, the store, how a decision is committed
        self.keywords = keywords  # a member's language's command words, with the rules' aliases
        self.features = {claimed: f for f in features for claimed in f.claims}
        self.hooks = hooks  # practice drills and delivery news (relay.runtime.chain)
        self.screen = screen  # client details against the collective's warnings
        self.vault = vault  # where her photos are kept
        self.receipts = tuple(receipts)  # the canary's proof, the delivery tracker's news
        self.degraded = degraded  # the canary says alerts may not reach phones
        self.partners = partners  # partner relays' warnings and retractions
        self._unknown_partner_told: date | None = None

    def _notice(self) -> str | None:
        """The catalog key of the line added to replies that rely on alerts, while degraded."""
        return DEGRADED_NOTICE if self.degraded() else None

    async def take(self, events: Sequence[Event]) -> None:
        """Events in arrival order: members' messages are enriched, then decided and committed
        in one trip (a burst costs one commit, not one per message). A failure costs only its
        own message; its sender is told it was not saved."""
        batch: list[Inbound] = []
        for event in events:
            try:
                inbound = await self._route(event)
            except Exception:
                log.exception("reading an event failed")
                member = self.desk.identify(event) if isinstance(event, Incoming) else None
                if member is not None:
                    await self.desk.not_saved([member])
                continue
            if inbound is not None:
                batch.append(inbound)
        if batch:
            await self._decide(batch)

    # --- 1. route, 2. enrich ------------------------------------------------------------------

    async def _route(self, event: Event) -> Inbound | None:
        desk = self.desk
        if isinstance(event, Receipt):
            for hook in self.receipts:
                try:
                    await hook(event)
                except Exception:
                    log.exception("recording a receipt failed")
            return None
        if isinstance(event, UntrustedIdentity):
            await self._untrusted(event)
            return None
        member = desk.identify(event)
        if member is None:
            partner = desk.rules.partner_by_number(event.sender_number or "")
            if partner is not None and partner.accepts and self.partners is not None:
                await self.partners.take(partner, event)
            else:
                await self._stranger(event)
            return None
        return await self._enrich(member, event)

    async def _enrich(self, member: Member, event: Incoming) -> Inbound:
        desk = self.desk
        tag = desk.sealer.dedupe_tag(f"{event.sender}:{event.timestamp}:{event.kind}")
        if event.kind in _CHANGES:
            return Inbound(member, event, tag, None)
        intent, quoted = self._intent(member, event)
        pointed = None
        if quoted:
            stamp = event.reaction_target if event.kind is IncomingKind.REACTION else None
            pointed = await self._pointed(stamp or event.quote_timestamp)
            if self.hooks is not None and intent is not None:  # a practice alert's send
                await self.hooks.settle(event, intent, at_alert=pointed is not None)
        if intent is None:
            await self._discard_photos(event)
            return Inbound(member, event, tag, None)
        feature = self.features.get(type(intent))
        if feature is not None:
            enriched = await feature.enrich(member, intent, event)
            return Inbound(
                member, event, tag, intent, quoted, pointed, feature=feature, enriched=enriched
            )
        photos = await self._keep_photos(intent, event)
        return Inbound(member, event, tag, intent, quoted, pointed, photos)

    def _intent(self, member: Member, event: Incoming) -> tuple[intents.Intent | None, bool]:
        """What she asks, and whether it quotes or reacts to a message (an answer then acts
        on the alert that message was, or on nothing)."""
        if event.kind is IncomingKind.REACTION:
            if event.reaction_emoji in ACK_REACTIONS and not event.reaction_removed:
                return intents.Ack(), True
            return None, False
        intent = parse(
            event.text or "",
            self.keywords(self.desk.rules, member.language),
            duress_word=member.duress_word,
            checkin_secret=member.checkin_secret,
        )
        in_group = event.group_id is not None
        if event.quote_timestamp is not None and isinstance(
            intent, intents.Unknown | intents.Ack | intents.Resolved
        ):
            # A reply quoting an alert ("on my way") answers that alert, whoever else is in
            # danger; quoting anything else answers nothing (the core says so). Group chatter
            # quoting an alert is not an answer.
            if isinstance(intent, intents.Unknown):
                if in_group:
                    return None, False
                intent = intents.Ack()
            return intent, True
        if in_group and not isinstance(intent, intents.Ack | intents.Resolved):
            return None, False  # group chatter is not for the relay; answering would spam it
        return intent, False

    async def _pointed(self, signal_timestamp: int | None) -> str | None:
        """The watch id of the alert a quoted or reacted-to message was: only the alert message
        itself (or a repeat) points at an alert, never an all-clear or a reply."""
        if not signal_timestamp:
            return None
        return await self.desk.outbox.watch_for_signal_timestamp(signal_timestamp)

    async def _keep_photos(self, intent: intents.Intent, event: Incoming) -> tuple[str, ...]:
        """Photos she sent, with any command or alone: sealed into the vault, to travel with
        her alert (`relay.core.photos`). A location share's map snapshot is not kept: the
        coordinates say more, in fewer bytes."""
        vault = self.vault
        if vault is None or not event.attachments:
            return ()
        shared = intent.location if isinstance(intent, _LOCATED) else None
        if shared is not None and shared.source == "signal":
            await self._discard_photos(event)
            return ()
        return await vault.keep_all(event.attachments)

    async def _discard_photos(self, event: Incoming) -> None:
        """Attachments the relay does not keep: signal-cli's plaintext copy goes at once."""
        if self.vault is not None and event.attachments:
            await self.vault.discard(event.attachments)

    async def _stranger(self, event: Incoming) -> None:
        # Nothing about a stranger is stored but a count: no number, no text, no time.
        desk = self.desk
        await desk.db.bump_counter("strangers")
        log.info("message from a number not in the rules (ignored)")
        if looks_like_peer_message(event.text or "") and desk.rules.peers.partners:
            await self._unknown_partner()
        if desk.rules.strangers == "neutral" and event.sender_number:
            to = Recipient(RecipientKind.OUTSIDE, event.sender_number)
            text = desk.catalog.text("en", "stranger")
            await desk.apply(
                Decision(messages=(Outgoing(to, text, Purpose.REPLY),)), desk.clock.now()
            )

    async def _unknown_partner(self) -> None:
        """A partner relay's message from a number the rules do not name as one (or one that
        hides its number): the admin hears it once a day, so warnings are not lost unseen. Who
        sent it is not said: anyone can type the format."""
        today = self.desk.clock.now().date()
        if self._unknown_partner_told == today:
            return
        self._unknown_partner_told = today
        log.warning("a message in the partner-relay format from a number that is no partner")
        await self.desk.notify_admin("peer_unknown_sender")

    async def _untrusted(self, event: UntrustedIdentity) -> None:
        member = self.desk.identify(event)
        who = member.alias if member is not None else None
        log.warning("undecryptable message (safety number changed) from %s", who or "a stranger")
        if who is not None:
            await self.desk.notify_admin("safety_number_changed", who=who)

    # --- 3. commit, 4. after -------------------------------------------------------------------

    async def _decide(self, batch: list[Inbound]) -> None:
        desk = self.desk
        outcomes: list[Outcome] | None = None
        async with desk.lock:
            await desk.follow_clock()
            now = desk.clock.now()
            scope = Scope(desk.sealer, desk.rules, desk.catalog, desk.timezone)
            work = partial(self._commit, batch, desk.context, scope, self._notice(), now)
            handoff = desk.handoff
            ticket = handoff.ticket()
            try:
                if ticket is None:
                    outcomes = await desk.db.write(work)
                else:
                    # Her reply needs no look of the sender's: the same trip makes the commit
                    # durable and finds which of its messages are first in their queues.
                    decided, heads = await desk.db.write_then(work, _heads)
                    if heads:
                        handoff.offer(ticket, _pending(decided, heads, now))
                    outcomes = decided
            except FlushFailed:
                # Committed; only the disk's confirmation failed. The timer reads every
                # deadline again and the sender looks for itself (flushing again first), so
                # nothing committed waits on this trip's outcome.
                log.error("%d message(s) saved, but the disk did not confirm it", len(batch))
                desk.wake_timer()
                handoff.poke()
                return
            except Exception:
                log.exception("deciding %d message(s) failed", len(batch))
            if outcomes is not None:
                for outcome in outcomes:
                    if outcome.decision is not None:
                        desk.applied(outcome.decision, len(outcome.written))
                    if outcome.handled is not None and outcome.handled.after is not None:
                        await outcome.handled.after()  # e.g. FORGET's checkpoint
        if outcomes is None:  # rolled back: none of them was saved (told outside the lock)
            await desk.not_saved([item.member for item in batch])
            return
        for item, outcome in zip(batch, outcomes, strict=True):
            _log(item, outcome)
        unsaved = [i.member for i, o in zip(batch, outcomes, strict=True) if _unsaved(o)]
        if unsaved:
            await desk.not_saved(unsaved)

    def _commit(
        self,
        batch: list[Inbound],
        context: Context,
        scope: Scope,
        notice: str | None,
        now: datetime,
        conn: sqlite3.Connection,
    ) -> list[Outcome]:
        """In the database thread, inside one transaction: each message read, decided, written,
        in a savepoint of its own (one that fails is rolled back alone and logged)."""
        outcomes: list[Outcome] = []
        for item in batch:
            try:
                with savepoint(conn):
                    outcome = self._commit_one(item, context, scope, notice, now, conn)
            except Exception:
                log.exception("handling an event failed")
                outcome = Outcome()
            outcomes.append(outcome)
        return outcomes

    def _commit_one(
        self,
        item: Inbound,
        context: Context,
        scope: Scope,
        notice: str | None,
        now: datetime,
        conn: sqlite3.Connection,
    ) -> Outcome:
        desk = self.desk
        if seen.seen(conn, item.tag):
            return Outcome(repeated=True)
        alias = item.member.alias
        live = desk.watches.opened_here(conn, desk.watches.live_rows(conn, alias))
        own = live[0] if live else None
        if item.intent is None:
            # An edit or delete never cancels anything: someone else may hold her phone. It is
            # recorded on her live watch, where her buddies will see it in the alert.
            changed = own is not None and item.event.kind in _CHANGES
            mark = on_mark(own, _change(item.event), now) if own and changed else Decision()
            handled = Handled(mark)
        else:
            alerts = desk.watches.opened_here(conn, desk.watches.alert_rows(conn))
            handled = self._answer(item, own, alerts, context, scope, notice, now, conn)
        if handled.writes is not None:
            handled.writes(conn)
        written = desk.rows(handled.decision, now, None).store(conn)
        seen.remember(conn, item.tag, hour_ms(now))
        return Outcome(decision=handled.decision, written=written, handled=handled)

    def _answer(
        self,
        item: Inbound,
        own: Watch | None,
        alerts: list[Watch],
        context: Context,
        scope: Scope,
        notice: str | None,
        now: datetime,
        conn: sqlite3.Connection,
    ) -> Handled:
        """Her message decided: by the feature that claims it, else by the core — with her
        photos, the screening lines, and the degraded notice added."""
        desk, member, intent = self.desk, item.member, item.intent
        assert intent is not None  # noqa: S101 — `_commit_one` decides the rest
        pointer = None
        if item.quoted:
            pointer = Pointer(desk.watches.get_here(conn, item.pointed) if item.pointed else None)
        hooks = self.hooks
        if hooks is not None:
            early = hooks.before(conn, member, item.event, intent, pointer, alerts, now)
            if early is not None:  # a practice answer (relay.runtime.chain): never a real alert's
                return early
        if item.feature is not None:
            return item.feature.handle(conn, scope, member, intent, item.enriched, now)
        screening: tuple[str, ...] = ()
        client = screened_text(intent)
        if client is not None and self.screen is not None:  # sees a warning just approved
            screening = self.screen.screen(conn, member, client, now)
        new_id = new_row_key()
        decision = on_message(
            context,
            member.alias,
            intent,
            own,
            self._answerable(alerts, member.alias),
            now,
            new_id,
            photos=item.photos,
            notices=screening,
            pointer=pointer,
            said=item.event.text,
        )
        decision = photos_along(
            context, decision, member.alias, intent, own, item.photos, now, new_id
        )
        decision = with_screening(decision, member.alias, intent, screening)
        if notice is not None:  # the canary's "alerts may be delayed", while it is degraded
            line = desk.catalog.text(member.language, notice)
            decision = with_notice(decision, member.alias, intent, line)
        if hooks is not None:
            decision = hooks.after(conn, member, item.event, intent, own, decision, now)
        return Handled(decision)

    def _answerable(self, alerts: list[Watch], alias: MemberAlias) -> list[Watch]:
        """The open alerts she may answer: sent to her, or to the Signal group of a circle of
        hers; every open one for the admin."""
        groups = [c.group for c in self.desk.rules.circles_of(alias) if c.group is not None]
        return answerable(alerts, alias, admin=alias == self.desk.admin, groups=groups)


def _change(event: Incoming) -> str:
    """What an edit or remote delete did, as recorded on her watch."""
    return "deleted" if event.kind is IncomingKind.REMOTE_DELETE else "edited"


def _unsaved(outcome: Outcome) -> bool:
    return outcome.decision is None and not outcome.repeated


def _heads(conn: sqlite3.Connection, outcomes: list[Outcome]) -> set[int]:
    """Which of the messages just queued are first in line for their recipient."""
    written = [w for outcome in outcomes for w in outcome.written]
    return OutboxRepo.heads_among(conn, [(w.id, w.recipient_tag) for w in written])


def _pending(outcomes: list[Outcome], heads: set[int], now: datetime) -> list[Pending]:
    """The heads as the sender reads them — from what was just written, not unsealed again."""
    return [
        Pending(
            id=w.id,
            address=w.queued.address,
            text=w.queued.text,
            purpose=w.queued.purpose,
            watch_id=w.queued.watch_id,
            created_at=now,
            attempts=0,
            last_error=None,
            label=w.queued.label,
            attachments=w.queued.attachments,
            withheld=w.queued.withheld,
        )
        for outcome in outcomes
        for w in outcome.written
        if w.id in heads
    ]


def _log(item: Inbound, outcome: Outcome) -> None:
    """One line per message, saying nothing of who, which command or how many messages: a
    duress word is one reply and a few alerts, where the OUT it looks like is one reply."""
    if outcome.repeated:
        log.info("skipped a repeated envelope")
    elif outcome.decision is None:
        return  # logged with its traceback where it failed
    elif item.event.kind in _CHANGES:
        log.info("a member %s a message; recorded, nothing cancelled", _change(item.event))
    elif item.feature is not None:
        # No alias here: "alice: Report" in a journal would say who reported, and when.
        log.info("a %s handled by %s", type(item.intent).__name__, type(item.feature).__name__)
    else:
        log.debug("decided a member's message")
