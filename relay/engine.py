"""The engine: turns events (a member's envelope, a timer) into decisions and carries them out.

For every event: load the watches it touches, ask the pure core to decide, then commit the new
watches, the queued messages and the envelope's de-duplication tag in one durable transaction —
only then is anything sent. One lock serialises decisions, so a timer and a member's message about
the same check-in never overwrite each other.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, cast

from relay.canary import with_notice
from relay.clock import Clock, has_stepped, step_of
from relay.core import intents
from relay.core.commands import KeywordTable, parse
from relay.core.decide import (
    Context,
    Decision,
    Outgoing,
    Purpose,
    on_mark,
    on_message,
    on_timer,
    on_undeliverable,
)
from relay.core.photos import photos_along
from relay.core.render import Catalog, display, span
from relay.core.screened import screened_text, with_screening
from relay.core.state import Phase, Recipient, RecipientKind, Watch
from relay.core.targeting import Pointer, answerable
from relay.core.types import MemberAlias
from relay.crypto.seal import Sealer, new_row_key
from relay.features import (
    Feature,
    FeatureContext,
    Handled,
    Hooks,
    LegacyFeature,
    Scope,
    Write,
)
from relay.logs import watch_ref
from relay.policy import RulesPolicy
from relay.rules import Member, Rules
from relay.signal.events import Event, Incoming, IncomingKind, Receipt, UntrustedIdentity
from relay.store.db import Database, FlushFailed
from relay.store.outbox import OutboxRepo, Pending, Queued
from relay.store.times import hour_ms
from relay.store.watches import WatchRepo

if TYPE_CHECKING:
    import aiosqlite

    from relay.attachments import AttachmentVault
    from relay.outbox import OutboxSender

log = logging.getLogger(__name__)

Screener = Callable[[Member, str, datetime], Awaitable[tuple[str, ...]]]
"""Client details → warning lines in her language (bad-client reports that match)."""

UNREACHABLE = frozenset(
    {
        "untrusted_keys",
        "unregistered",
        "recipient_identity_failure",
        "recipient_unregistered_failure",
    }
)
"""Send failures no retry soon fixes: an alert to that person must not wait for its tier's delay."""

TIMER_BATCH = 200  # due watches written per transaction (see fire_due)
TIMER_LOG_EACH = 20  # a pass with more due than this logs one line per batch, not per watch
_LOCATED = (intents.Loc, intents.CheckIn, intents.Extend, intents.Sos, intents.Duress)
ACK_REACTIONS = frozenset({"👍", "👍🏻", "👍🏼", "👍🏽", "👍🏾", "👍🏿"})


def _change(event: Incoming) -> str:
    """What an edit or remote delete did, as recorded on her watch."""
    return "deleted" if event.kind is IncomingKind.REMOTE_DELETE else "edited"


def _for_relay(event: Incoming, intent: intents.Intent) -> intents.Intent | None:
    if event.group_id is not None and not isinstance(intent, intents.Ack | intents.Resolved):
        return None  # group chatter is not for the relay; answering would spam the group
    return intent


def _heads(conn: sqlite3.Connection, outcomes: list[Outcome]) -> set[int]:
    """Which of the messages just queued are first in line for their recipient."""
    written = [w for outcome in outcomes if outcome is not None for w in outcome[1]]
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
        if outcome is not None
        for w in outcome[1]
        if w.id in heads
    ]


@dataclass(slots=True)
class _Plain:
    """A member's message decided in the database thread (`Engine.handle_many`)."""

    member: Member
    event: Incoming
    intent: intents.Intent | None  # None: an edit or delete, or nothing for the relay
    tag: bytes = b""
    repeated: bool = False
    after: Callable[[], Awaitable[None]] | None = None  # a practice answer's, once committed


@dataclass(frozen=True, slots=True)
class _Rows:
    """A decision sealed into rows, ready for one transaction."""

    watches: list[tuple[object, ...]]
    outbox: list[tuple[object, ...]]
    seen: tuple[bytes, int] | None
    queued: list[Queued]

    def store(self, conn: sqlite3.Connection) -> list[Written]:
        """Write; the messages queued, with their ids and recipient tags."""
        WatchRepo.store_rows(conn, self.watches)
        ids = OutboxRepo.store_rows(conn, self.outbox)
        if self.seen is not None:
            conn.execute("INSERT INTO inbox_seen (tag, seen_at) VALUES (?, ?)", self.seen)
        return [
            Written(i, row[1], q)
            for i, row, q in zip(ids, self.outbox, self.queued, strict=True)
            if i is not None  # folded into an unsent alert (OutboxRepo.store_rows)
        ]


@dataclass(frozen=True, slots=True)
class Written:
    id: int
    recipient_tag: object
    queued: Queued


Outcome = tuple[Decision, list[Written]] | None


class Engine:
    def __init__(
        self,
        db: Database,
        sealer: Sealer,
        clock: Clock,
        catalog: Catalog,
        keywords: Callable[[Rules, str], KeywordTable],
        rules: Rules,
        timezone: str,
        admin: MemberAlias | None,
    ) -> None:
        self.db = db
        self.sealer = sealer
        self.clock = clock
        self.catalog = catalog
        self.keywords = keywords
        self.timezone = timezone
        self.admin = admin
        self.watches = WatchRepo(db, sealer)
        self.outbox = OutboxRepo(db, sealer)
        self.lock = asyncio.Lock()
        self.timer_wake = asyncio.Event()
        # While the timer loop sleeps: until when (None: until woken). Saving a watch due
        # later than that needs no wake-up (it cost a lock and two queries per message); one
        # due sooner only moves the alarm (`_timer_sooner`), no pass over the database.
        self._timer_asleep = False
        self._timer_until: datetime | None = None
        self._timer_sooner: datetime | None = None
        self._timer_look = False  # wake for a full pass (a clock step, a test), not a new alarm
        # When the timer loop last made progress (monotonic): the watchdog's stall check
        # (`Relay.stalled`) tells a loop that hangs from one busy with a backlog after downtime.
        self.timer_progress = time.monotonic()
        self.on_queued: Callable[[], None] = lambda: None
        self.on_closed: Callable[[MemberAlias], None] = lambda alias: None
        self.rules_for: Callable[[str], Rules] = lambda alias: self.rules
        self.strangers = 0
        self.known_numbers: dict[MemberAlias, str] = {}
        self.rules = rules
        self.features: dict[type, LegacyFeature] = {}
        self.pure: dict[type, Feature] = {}  # the new interface (issue 19)
        self.screener: Screener | None = None
        self.vault: AttachmentVault | None = None
        self.sender: OutboxSender | None = None  # plain decisions hand it what is due
        # Self-monitoring (relay.canary): receipts go to the canary; while it is degraded this
        # catalog key's line is added to check-in replies ("alerts may be delayed").
        self.on_receipt: Callable[[Receipt], Awaitable[None]] | None = None
        self.degraded_notice: str | None = None
        # Addresses signal-cli said no retry soon reaches (→ failure class); cleared by a send
        # that gets through. The core names nobody unreachable as "watching" her.
        self.unreachable: dict[str, str] = {}
        # Practice drills and delivery news (relay.chain): answers to practice alerts, lines
        # added to STATUS; and what must move when the wall clock jumps besides the watches.
        self.chain: Hooks | None = None
        self.on_clock_step: list[Callable[[aiosqlite.Connection, timedelta], Awaitable[None]]] = []
        self.use_rules(rules)

    def add_feature(self, feature: Feature | LegacyFeature) -> None:
        for claimed in feature.claims:
            if hasattr(feature, "enrich"):  # until every feature has moved (issue 19)
                self.pure[claimed] = cast(Feature, feature)
            else:
                self.features[claimed] = feature

    def feature_context(self) -> FeatureContext:
        return FeatureContext(
            db=self.db,
            sealer=self.sealer,
            rules=self.rules,
            catalog=self.catalog,
            timezone=self.timezone,
            vault=self.vault,
        )

    # --- rules ----------------------------------------------------------------------------------

    def use_rules(self, rules: Rules) -> None:
        """New events use `rules`; members removed keep their number for their live watches."""
        self.rules = rules
        for alias, member in rules.members.items():
            self.known_numbers[alias] = member.number
        self._policy = RulesPolicy(rules, self.timezone, rules_for=self.rules_for)
        self._set_context()

    def _set_context(self) -> None:
        gone = set(
            Recipient.member(alias)
            for alias, number in self.known_numbers.items()
            if number in self.unreachable
        )
        for address in self.unreachable:  # an outside number, or a group (with or without prefix)
            gone |= {
                Recipient(RecipientKind.OUTSIDE, address),
                Recipient(RecipientKind.GROUP, address),
                Recipient(RecipientKind.GROUP, address.removeprefix("group.")),
            }
        self.context = Context(
            policy=self._policy,
            catalog=self.catalog,
            default_timezone=self.timezone,
            admin=self.admin,
            unreachable=frozenset(gone),
        )

    def mark_unreachable(self, address: str, failure: str) -> None:
        """signal-cli said a send to `address` cannot get through soon: nobody is told that
        person is watching until a send to them works again (`reached`)."""
        if self.unreachable.get(address) != failure:
            self.unreachable[address] = failure
            self._set_context()

    def reached(self, addresses: Iterable[str]) -> None:
        """Sends to `addresses` got through: they are reachable again."""
        back = [a for a in addresses if a in self.unreachable]
        for address in back:
            del self.unreachable[address]
        if back:
            self._set_context()

    def identify(self, event: Incoming | UntrustedIdentity) -> Member | None:
        member = None
        if event.sender_uuid:
            member = self.rules.member_by_uuid(event.sender_uuid)
        if member is None and event.sender_number:
            member = self.rules.member_by_number(event.sender_number)
        return member

    def address(self, to: Recipient) -> str | None:
        if to.kind is RecipientKind.MEMBER:
            return self.known_numbers.get(MemberAlias(to.address))
        if to.kind is RecipientKind.GROUP:
            return to.address if to.address.startswith("group.") else f"group.{to.address}"
        return to.address

    # --- carrying out a decision ------------------------------------------------------------

    async def apply(
        self,
        decision: Decision,
        now: datetime,
        seen: bytes | None = None,
        write: Write | None = None,
    ) -> None:
        rows = self._rows(decision, now, seen)  # sealed here, written in one trip
        if write is None:
            await self.db.write(rows.store)
        else:  # a feature's own writes use the async API: the same transaction, more trips
            async with self.db.transaction() as conn:
                await write(conn)
                await self.db.run(rows.store)
        self._applied(decision, len(rows.queued))

    def _rows(self, decision: Decision, now: datetime, seen: bytes | None) -> _Rows:
        queued = [q for q in (self._queue(m) for m in decision.messages) if q is not None]
        return _Rows(
            watches=self.watches.rows(decision.watches),
            outbox=self.outbox.rows(queued, now),
            seen=(seen, hour_ms(now)) if seen is not None else None,
            queued=queued,
        )

    def _applied(self, decision: Decision, queued: int) -> None:
        """After the commit: wake whoever has work from it."""
        if queued:
            self.on_queued()  # first: her reply must not wait behind the timer's pass
        if decision.watches:
            self._tell_timer(decision.watches)
        for watch in decision.watches:
            if watch.phase is Phase.CLOSED:
                self.on_closed(watch.member)

    def _queue(self, message: Outgoing) -> Queued | None:
        address = self.address(message.to)
        if address is None:
            log.error("no address for a %s recipient of a %s", message.to.kind, message.purpose)
            return None
        label = message.to.label or (
            message.to.address if message.to.kind is RecipientKind.MEMBER else ""
        )
        return Queued(
            address,
            message.text,
            message.purpose.value,
            message.watch_id,
            label,
            message.attachments,
            message.withheld,
            fold=message.repeat,
        )

    # --- inbound ---------------------------------------------------------------------------------

    async def handle_many(self, events: Sequence[Event]) -> None:
        """Events in arrival order. Runs of plain member messages (text, no photo, quote or
        feature) are decided and committed in one trip to the database thread: a burst costs
        one commit, not one per message. Anything else goes through `handle`, one at a time.
        A failure costs only its own event."""
        run: list[_Plain] = []
        for event in events:
            plain = self._plain(event)
            if plain is not None:
                run.append(plain)
                continue
            if run:
                await self._decide_plain(run)
                run = []
            try:
                await self.handle(event)
            except Exception:
                log.exception("handling an event failed")
                member = self.identify(event) if isinstance(event, Incoming) else None
                if member is not None:
                    await self.not_saved([member])
        if run:
            await self._decide_plain(run)

    def _plain(self, event: Event) -> _Plain | None:
        """The event, if deciding it needs nothing but her watches (no awaits on the way)."""
        if (
            not isinstance(event, Incoming)
            or event.attachments
            or event.quote_timestamp is not None
            or event.kind is IncomingKind.REACTION
        ):
            return None
        member = self.identify(event)
        if member is None:
            return None
        intent = None
        if event.kind not in (IncomingKind.REMOTE_DELETE, IncomingKind.EDIT):
            intent = self._parse(member, event)
            if type(intent) in self.features or type(intent) in self.pure:
                return None
            if intent is not None and screened_text(intent) and self.screener is not None:
                return None  # screening reads the reports: the general path
        return _Plain(member, event, intent)

    async def _decide_plain(self, run: list[_Plain]) -> None:
        outcomes: list[Outcome] | None = None
        async with self.lock:
            await self.follow_clock()
            now = self.clock.now()
            context, notice = self.context, self.degraded_notice
            for plain in run:
                plain.tag = self._seen_tag(plain.event)
            sender = self.sender
            ticket = sender.ticket() if sender is not None else None
            work = partial(self._decide_in_thread, run, context, notice, now)
            try:
                if sender is None or ticket is None:
                    outcomes = await self.db.write(work)
                else:
                    # Her reply needs no look of the sender's: the same trip makes the commit
                    # durable and finds which of its messages are first in their queues.
                    decided, heads = await self.db.write_then(work, _heads)
                    if heads:
                        sender.offer(ticket, _pending(decided, heads, now))
                    outcomes = decided
            except FlushFailed:
                # Committed; only the disk's confirmation failed. The timer reads every
                # deadline again and the sender looks for itself (flushing again first), so
                # nothing committed waits on this trip's outcome.
                log.error("%d message(s) saved, but the disk did not confirm it", len(run))
                self.wake_timer()
                self.on_queued()
                return
            except Exception:
                log.exception("deciding %d message(s) failed", len(run))
        if outcomes is None:  # rolled back: none of them was saved (told outside the lock)
            await self.not_saved([plain.member for plain in run])
            return
        unsaved = []
        for plain, outcome in zip(run, outcomes, strict=True):
            if outcome is None:
                if plain.repeated:
                    self._log_plain(plain, Decision())
                else:
                    unsaved.append(plain.member)  # her event failed alone (logged)
                continue
            decision, written = outcome
            self._applied(decision, len(written))
            if plain.after is not None:
                await plain.after()
            self._log_plain(plain, decision)
        if unsaved:
            await self.not_saved(unsaved)

    def _decide_in_thread(
        self,
        run: list[_Plain],
        context: Context,
        notice: str | None,
        now: datetime,
        conn: sqlite3.Connection,
    ) -> list[Outcome]:
        """In the database thread, inside one transaction: each event read, decided, written.

        Each event in a savepoint of its own, so one that fails is rolled back alone (and
        logged) while the rest commit; the next event sees the one before it."""
        outcomes: list[Outcome] = []
        for plain in run:
            conn.execute("SAVEPOINT plain")
            try:
                outcome = self._decide_one(plain, context, notice, now, conn)
            except Exception:
                conn.execute("ROLLBACK TO plain")
                log.exception("handling an event failed")
                outcome = None
            conn.execute("RELEASE plain")
            outcomes.append(outcome)
        return outcomes

    def _decide_one(
        self,
        plain: _Plain,
        context: Context,
        notice: str | None,
        now: datetime,
        conn: sqlite3.Connection,
    ) -> Outcome:
        tag, alias, intent = plain.tag, plain.member.alias, plain.intent
        seen, own_rows, alert_rows = self._lookup(alias, tag, intent is not None, conn)
        if seen:
            plain.repeated = True
            return None
        live = self.watches.opened_here(conn, own_rows)
        own = live[0] if live else None
        if intent is None and plain.event.kind in (IncomingKind.REMOTE_DELETE, IncomingKind.EDIT):
            what = _change(plain.event)
            decision = on_mark(own, what, now) if own is not None else Decision()
        elif intent is None:
            decision = Decision()
        else:
            alerts = self.watches.opened_here(conn, alert_rows)
            chain = self.chain
            early = None
            if chain is not None:
                early = chain.before(conn, plain.member, plain.event, intent, None, alerts, now)
            if early is not None:  # a practice answer (relay.chain): never a real alert's
                if early.writes is not None:
                    early.writes(conn)
                plain.after = early.after
                return early.decision, self._rows(early.decision, now, tag).store(conn)
            decision = on_message(
                context,
                alias,
                intent,
                own,
                self._sent_to(alerts, alias),
                now,
                new_row_key(),
                said=plain.event.text,
            )
            decision = self._noticed(decision, plain.member, intent, notice)
            if chain is not None:
                decision = chain.after(conn, plain.member, plain.event, intent, own, decision, now)
        rows = self._rows(decision, now, tag)
        return decision, rows.store(conn)

    async def not_saved(self, members: Iterable[Member]) -> None:
        """Tell each that her message was not saved, straight through Signal: the database
        just failed her, and silence would let her believe a check-in is running."""
        for member in {m.alias: m for m in members}.values():
            text = self.catalog.text(member.language, "not_saved")
            try:
                failure = await self.send_now(
                    Outgoing(Recipient.member(member.alias), text, Purpose.REPLY)
                )
            except Exception as exc:  # noqa: BLE001 — best effort; the failure is logged above
                failure = type(exc).__name__
            if failure is not None:
                log.warning(
                    "could not tell %s her message was not saved (%s)", member.alias, failure
                )

    async def send_now(self, message: Outgoing) -> str | None:
        """`message` straight through Signal, past the outbox, for when the database cannot take
        it: best effort, never retried. None once signal-cli accepted it, else why not."""
        address = self.address(message.to)
        if self.sender is None or address is None:
            return "no sender or address"
        outcome = await self.sender.send([address], message.text, [])
        return None if outcome.ok else outcome.failure or "unknown"

    def _lookup(
        self, alias: MemberAlias, tag: bytes, alerts: bool, conn: sqlite3.Connection
    ) -> tuple[bool, list[sqlite3.Row], list[sqlite3.Row]]:
        """Plain reads for both paths: was this envelope seen before; if not, her live watch and
        (when `alerts`) the live alerts she may be answering."""
        if conn.execute("SELECT 1 FROM inbox_seen WHERE tag = ?", (tag,)).fetchone():
            return True, [], []
        live_alerts = self.watches.alert_rows(conn) if alerts else []
        return False, self.watches.live_rows(conn, alias), live_alerts

    def _sent_to(self, alerts: list[Watch], alias: MemberAlias) -> list[Watch]:
        """The open alerts she may answer: sent to her, or to the Signal group of a circle of
        hers; every open one for the admin."""
        groups = [c.group for c in self.rules.circles_of(alias) if c.group is not None]
        return answerable(alerts, alias, admin=alias == self.admin, groups=groups)

    def _noticed(
        self, decision: Decision, member: Member, intent: intents.Intent, notice: str | None
    ) -> Decision:
        """Her reply with the canary's "alerts may be delayed" line, while it is degraded."""
        if notice is None:
            return decision
        line = self.catalog.text(member.language, notice)
        return with_notice(decision, member.alias, intent, line)

    def _seen_tag(self, event: Incoming) -> bytes:
        """The envelope's de-duplication tag (keyed: the table holds no sender)."""
        return self.sealer.dedupe_tag(f"{event.sender}:{event.timestamp}:{event.kind}")

    def _log_plain(self, plain: _Plain, decision: Decision) -> None:
        if plain.repeated:
            log.info("skipped a repeated envelope")
        elif plain.event.kind in (IncomingKind.REMOTE_DELETE, IncomingKind.EDIT):
            log.info("a member %s a message; recorded, nothing cancelled", _change(plain.event))
        else:
            # Nothing of who, which command or how many messages: a duress word is one reply
            # and a few alerts, where the OUT it looks like is one reply.
            log.debug("decided a member's message")

    async def handle(self, event: Event) -> None:
        if isinstance(event, Receipt):
            if self.on_receipt is not None:
                await self.on_receipt(event)
            return
        if isinstance(event, UntrustedIdentity):
            await self._untrusted(event)
            return
        member = self.identify(event)
        if member is None:
            await self._stranger(event)
            return
        async with self.lock:
            await self._member_event(member, event)

    async def _member_event(self, member: Member, event: Incoming) -> None:
        await self.follow_clock()
        now = self.clock.now()
        tag = self._seen_tag(event)
        seen, own, alerts = await self._read(member.alias, tag)
        if seen:
            log.info("skipped a repeated envelope")
            return
        if event.kind in (IncomingKind.REMOTE_DELETE, IncomingKind.EDIT):
            # An edit or delete never cancels anything: someone else may hold her phone. It is
            # recorded on her live watch, where her buddies will see it in the alert.
            what = _change(event)
            decision = on_mark(own, what, now) if own is not None else Decision()
            await self.apply(decision, now, seen=tag)
            log.info("a member %s a message; recorded, nothing cancelled", what)
            return
        intent, pointer = await self._intent(member, event)
        if intent is None:
            await self._discard_photos(event)
            await self.apply(Decision(), now, seen=tag)
            return
        chain = self.chain
        if chain is not None:
            await chain.settle(event, intent, pointer)

            def practice(conn: sqlite3.Connection) -> tuple[Handled, list[Written]] | None:
                early = chain.before(conn, member, event, intent, pointer, alerts, now)
                if early is None:
                    return None
                if early.writes is not None:
                    early.writes(conn)
                return early, self._rows(early.decision, now, tag).store(conn)

            answered = await self.db.write(practice)
            if answered is not None:  # a practice answer (relay.chain): never a real alert's
                early, written = answered
                self._applied(early.decision, len(written))
                if early.after is not None:
                    await early.after()
                return
        pure = self.pure.get(type(intent))
        if pure is not None:
            await self._featured(pure, member, intent, event, now, tag)
            return
        feature = self.features.get(type(intent))
        if feature is not None:
            result = await feature.handle(self.feature_context(), member, intent, event, now)
            await self.apply(result.decision, now, seen=tag, write=result.write)
            if result.after is not None:
                await result.after()  # e.g. FORGET's checkpoint: once her rows are committed gone
            # No alias here: "alice: Report" in a journal would say who reported, and when.
            log.info("a %s handled by %s", type(intent).__name__, type(feature).__name__)
            return
        photos = await self._keep_photos(intent, event)
        notices: tuple[str, ...] = ()
        screened = screened_text(intent)
        if screened is not None and self.screener is not None:
            notices = await self.screener(member, screened, now)
        new_id = new_row_key()
        decision = on_message(
            self.context,
            member.alias,
            intent,
            own,
            self._sent_to(alerts, member.alias),
            now,
            new_id,
            photos=photos,
            notices=notices,
            pointer=pointer,
            said=event.text,
        )
        decision = photos_along(
            self.context, decision, member.alias, intent, own, photos, now, new_id
        )
        decision = with_screening(decision, member.alias, intent, notices)
        decision = self._noticed(decision, member, intent, self.degraded_notice)
        if chain is None:
            await self.apply(decision, now, seen=tag)
        else:

            def decided(conn: sqlite3.Connection) -> tuple[Decision, list[Written]]:
                final = chain.after(conn, member, event, intent, own, decision, now)
                return final, self._rows(final, now, tag).store(conn)

            decision, written = await self.db.write(decided)
            self._applied(decision, len(written))
        log.debug("decided a member's message")  # who, what and how many: see _log_plain

    async def _featured(
        self,
        feature: Feature,
        member: Member,
        intent: intents.Intent,
        event: Incoming,
        now: datetime,
        tag: bytes,
    ) -> None:
        """A feature's message: enriched, then read, decided and written in one transaction."""
        enriched = await feature.enrich(member, intent, event)
        scope = Scope(self.sealer, self.rules, self.catalog, self.timezone)

        def work(conn: sqlite3.Connection) -> tuple[Handled, list[Written]]:
            handled = feature.handle(conn, scope, member, intent, enriched, now)
            if handled.writes is not None:
                handled.writes(conn)
            return handled, self._rows(handled.decision, now, tag).store(conn)

        handled, written = await self.db.write(work)
        self._applied(handled.decision, len(written))
        if handled.after is not None:
            await handled.after()
        log.info("a %s handled by %s", type(intent).__name__, type(feature).__name__)

    async def _read(self, alias: MemberAlias, tag: bytes) -> tuple[bool, Watch | None, list[Watch]]:
        """In one trip: was this envelope seen before, her live watch, and the live alerts."""

        seen, own_rows, alert_rows = await self.db.run(partial(self._lookup, alias, tag, True))
        own = await self.watches.opened(own_rows)
        return seen, own[0] if own else None, await self.watches.opened(alert_rows)

    async def _keep_photos(self, intent: intents.Intent, event: Incoming) -> tuple[str, ...]:
        """Photos she sent, with any command or alone: sealed into the vault, to travel with her
        alert (`relay.core.photos`). A location share's map snapshot is not kept: the
        coordinates say more, in fewer bytes."""
        if self.vault is None or not event.attachments:
            return ()
        shared = intent if isinstance(intent, _LOCATED) else None
        if (
            shared is not None
            and shared.location is not None
            and shared.location.source == "signal"
        ):
            await self._discard_photos(event)  # a location share's map snapshot
            return ()
        return await self.vault.keep_all(event.attachments)

    async def _discard_photos(self, event: Incoming) -> None:
        """Attachments the relay does not keep: signal-cli's plaintext copy goes at once."""
        if self.vault is not None and event.attachments:
            await self.vault.discard(event.attachments)

    async def _intent(
        self, member: Member, event: Incoming
    ) -> tuple[intents.Intent | None, Pointer | None]:
        """What she asks, and what her quote or reaction points at (an answer acts on that)."""
        if event.kind is IncomingKind.REACTION:
            if event.reaction_emoji in ACK_REACTIONS and not event.reaction_removed:
                return intents.Ack(), await self._pointer(event.reaction_target)
            return None, None
        intent = self._words(member, event)
        quoting = event.quote_timestamp is not None
        if quoting and isinstance(intent, intents.Unknown | intents.Ack | intents.Resolved):
            # A reply quoting an alert ("on my way") answers that alert, whoever else is in
            # danger; quoting anything else answers nothing (the core says so).
            pointer = await self._pointer(event.quote_timestamp)
            if isinstance(intent, intents.Unknown):
                if event.group_id is not None:
                    return None, None  # group chatter quoting an alert is not an answer
                intent = intents.Ack()
            return _for_relay(event, intent), pointer
        return _for_relay(event, intent), None

    def _parse(self, member: Member, event: Incoming) -> intents.Intent | None:
        """Her text → what she asks, when neither a quote nor a reaction is involved (pure)."""
        return _for_relay(event, self._words(member, event))

    def _words(self, member: Member, event: Incoming) -> intents.Intent:
        return parse(
            event.text or "",
            self.keywords(self.rules, member.language),
            duress_word=member.duress_word,
            checkin_secret=member.checkin_secret,
        )

    async def _pointer(self, signal_timestamp: int | None) -> Pointer:
        """The alert a quoted or reacted-to message was (any phase), or none: only the alert
        message itself (or a repeat) points at an alert, never an all-clear or a reply."""
        if not signal_timestamp:
            return Pointer(None)
        found = await self.outbox.watch_for_signal_timestamp(signal_timestamp)
        return Pointer(await self.watches.get(found) if found else None)

    async def _stranger(self, event: Incoming) -> None:
        # Nothing about a stranger is stored but a count: no number, no text, no time.
        self.strangers += 1
        await self.db.bump_counter("strangers")
        log.info("message from a number not in the rules (ignored)")
        if getattr(self.rules, "strangers", "silence") == "neutral" and event.sender_number:
            text = self.catalog.text("en", "stranger")
            async with self.db.transaction() as conn:
                await self.outbox.add(
                    conn, Queued(event.sender_number, text, "reply"), self.clock.now()
                )
            self.on_queued()

    async def _untrusted(self, event: UntrustedIdentity) -> None:
        member = self.identify(event)
        who = member.alias if member is not None else None
        log.warning("undecryptable message (safety number changed) from %s", who or "a stranger")
        if who is not None:
            await self.notify_admin("safety_number_changed", who=who)

    # --- timers ----------------------------------------------------------------------------------

    async def fire_due(self) -> int:
        """Take every due step of every watch; return how many watches moved.

        The due watches are listed first (ids only), then read, decided and written
        `TIMER_BATCH` at a time: after a restart with thousands overdue, the first alerts are
        queued (and handed to the sender) without waiting for every other watch to be read, or
        for one commit per watch. Each watch due at the start of the pass is decided once.
        """
        async with self.lock:
            await self.follow_clock()
            now = self.clock.now()
            self.timer_progress = time.monotonic()
            due = await self.watches.due_ids(now)
            for start in range(0, len(due), TIMER_BATCH):
                chunk = await self.watches.by_ids(due[start : start + TIMER_BATCH])
                decisions = [on_timer(self.context, watch, now) for watch in chunk]
                await self.apply(
                    Decision(
                        watches=tuple(w for d in decisions for w in d.watches),
                        messages=tuple(m for d in decisions for m in d.messages),
                    ),
                    now,
                )
                self.timer_progress = time.monotonic()
                self._log_timers(chunk, now, backlog=len(due) > TIMER_LOG_EACH)
            return len(due)

    def _log_timers(self, watches: list[Watch], now: datetime, *, backlog: bool) -> None:
        """One line per watch, or — for a backlog (after downtime) — one line per batch."""
        if backlog:
            oldest = min((w.next_at for w in watches if w.next_at is not None), default=now)
            log.info(
                "timers for %d overdue watch(es), up to %s late", len(watches), span(now - oldest)
            )
        level = logging.DEBUG if backlog else logging.INFO
        if not log.isEnabledFor(level):
            return
        for watch in watches:
            late = now - watch.next_at if watch.next_at else None
            log.log(
                level,
                "timer for watch %s (%s)%s",
                watch_ref(self.sealer, watch.id),
                watch.phase,
                f", {span(late)} late" if late and late.total_seconds() > 30 else "",
            )

    async def follow_clock(self) -> None:
        """If the wall clock jumped, move every live deadline with it (call under the lock).

        A jump is not time passing: her check-in still ends the same number of minutes after
        IN — neither early (the clock stepped forward) nor hours late (it stepped back).
        """
        step = step_of(self.clock)
        if not step:
            return
        async with self.db.transaction() as conn:
            moved = await self.watches.shift(conn, step)
            await self.outbox.shift(conn, step)
            for shift in self.on_clock_step:
                await shift(conn, step)
        log.warning(
            "the wall clock jumped %s%s; moved %d live watch(es) with it",
            "+" if step > timedelta(0) else "-",
            span(abs(step)),
            moved,
        )
        self.wake_timer()

    def _tell_timer(self, watches: tuple[Watch, ...]) -> None:
        if not self._timer_asleep:
            return  # it will read the earliest deadline again before it sleeps
        until = self._timer_until
        sooner = min((w.next_at for w in watches if w.next_at is not None), default=None)
        if sooner is None or (until is not None and sooner >= until):
            return
        if self._timer_sooner is None or sooner < self._timer_sooner:
            self._timer_sooner = sooner
        self.timer_wake.set()

    def wake_timer(self) -> None:
        """A full pass now: every due watch, the earliest deadline read again."""
        self._timer_look = True
        self.timer_wake.set()

    async def run_timers(self) -> None:
        while True:
            self._timer_asleep = False
            await self.fire_due()
            nxt = await self.watches.next_wake()
            while True:
                self._timer_asleep, self._timer_until = True, nxt
                self._timer_sooner, self._timer_look = None, False
                await self.clock.sleep_until(nxt, self.timer_wake)
                sooner = self._timer_sooner
                if (
                    self._timer_look
                    or sooner is None
                    or sooner <= self.clock.now()
                    or has_stepped(self.clock)
                ):
                    break  # due, stepped or asked: a full pass
                nxt = sooner  # only an earlier deadline, still ahead: set the alarm to it

    # --- the admin -------------------------------------------------------------------------------

    async def notify_admin(self, key: str, **params: object) -> None:
        notice = self.admin_notice(key, **params)
        if notice is not None:
            await self.apply(Decision(messages=(notice,)), self.clock.now())

    async def tell_admin(self, key: str, **params: object) -> None:
        """`notify_admin`; straight through Signal when the database refuses the notice (a full
        disk stops every write: this notice is the one that must get out without it)."""
        try:
            await self.notify_admin(key, **params)
        except sqlite3.Error:
            notice = self.admin_notice(key, **params)
            if notice is None:
                raise
            log.warning("the database refused a notice; sending it to the admin directly")
            failure = await self.send_now(notice)
            if failure is not None:
                raise RuntimeError(f"the direct notice failed ({failure})") from None

    def admin_notice(self, key: str, **params: object) -> Outgoing | None:
        """The catalog's `key` for the admin, in her language (None: no admin configured)."""
        if self.admin is None:
            return None
        to = Recipient(RecipientKind.MEMBER, self.admin, self.admin)
        language = self.context.policy.member(self.admin)
        text = self.catalog.text(language.language if language else "en", key, **params)
        return Outgoing(to, text, Purpose.NOTICE)

    async def alert_failed(self, message: Pending, failure: str) -> None:
        """The outbox could not deliver an alert: if no retry will fix it soon, escalate now."""
        if failure not in UNREACHABLE:
            return
        self.mark_unreachable(message.address, failure)
        if message.attempts > 0 or message.watch_id is None:
            return
        async with self.lock:
            watch = await self.watches.get(message.watch_id)
            if watch is None:
                return
            now = self.clock.now()
            await self.apply(on_undeliverable(self.context, watch, now), now)
        log.warning("alert #%d unreachable (%s); next tier alerted now", message.id, failure)
        await self.notify_admin(
            "undeliverable_next_tier",
            who=display(watch.member),
            recipient=display(message.label) or "someone",
            reason=failure.replace("_", " "),
        )
