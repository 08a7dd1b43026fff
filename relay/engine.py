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
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, cast

from relay.clock import Clock, step_of
from relay.core import intents
from relay.core.ages import render
from relay.core.commands import KeywordTable, parse
from relay.core.decide import (
    Context,
    Decision,
    Outgoing,
    Purpose,
    Unreached,
    on_mark,
    on_message,
    on_undeliverable,
)
from relay.core.notices import with_notice
from relay.core.photos import photos_along
from relay.core.render import Catalog, span
from relay.core.screened import screened_text, with_screening
from relay.core.state import Phase, Recipient, RecipientKind, Watch
from relay.core.targeting import Pointer, answerable
from relay.core.types import MemberAlias
from relay.crypto.seal import Sealer, new_row_key
from relay.features import (
    Feature,
    FeatureContext,
    Hooks,
    LegacyFeature,
    Write,
)
from relay.policy import RulesPolicy
from relay.rules import Member, Rules
from relay.signal.events import Event, Incoming, IncomingKind, Receipt, Send, UntrustedIdentity
from relay.store import seen
from relay.store.db import Database
from relay.store.outbox import OutboxRepo, Pending, Queued
from relay.store.times import hour_ms
from relay.store.watches import WatchRepo

if TYPE_CHECKING:
    import aiosqlite

    from relay.attachments import AttachmentVault
    from relay.runtime.alarm import Alarm
    from relay.runtime.handoff import Handoff

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
            seen.remember(conn, *self.seen)
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
        alarm: Alarm,
        handoff: Handoff,
        direct: Send,
        rules_for: Callable[[str], Rules],
        on_closed: Callable[[MemberAlias], None],
        vault: AttachmentVault | None,
        screener: Screener | None,
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
        self.alarm = alarm  # the timer's (relay.runtime.timers)
        self.handoff = handoff  # the sender's (relay.runtime.handoff)
        # Straight through Signal, past the outbox: for when the database cannot take a message.
        self.direct = direct
        self.on_closed = on_closed  # a live watch ended: rules it was kept for may go
        self.rules_for = rules_for  # the rules a member's live watch was started under
        self.strangers = 0
        self.known_numbers: dict[MemberAlias, str] = {}
        self.rules = rules
        self.features: dict[type, LegacyFeature] = {}
        self.pure: dict[type, Feature] = {}  # the new interface (issue 19)
        self.screener = screener
        self.vault = vault
        # Self-monitoring (relay.canary): receipts go to the canary; while it is degraded this
        # catalog key's line is added to check-in replies ("alerts may be delayed").
        self.on_receipt: Callable[[Receipt], Awaitable[None]] | None = None
        self.degraded_notice: str | None = None
        # Addresses signal-cli said no retry soon reaches (→ failure class); cleared by a send
        # that gets through. The core names nobody unreachable as "watching" her.
        self.unreachable: dict[str, str] = {}
        # Practice drills and delivery news (relay.chain): answers to practice alerts, lines
        # added to STATUS; and what must move when the wall clock jumps besides the watches.
        self.hooks: Hooks | None = None  # the pipeline's (relay.runtime.pipeline)
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
        rows = self.rows(decision, now, seen)  # sealed here, written in one trip
        if write is None:
            await self.db.write(rows.store)
        else:  # a feature's own writes use the async API: the same transaction, more trips
            async with self.db.transaction() as conn:
                await write(conn)
                await self.db.run(rows.store)
        self.applied(decision, len(rows.queued))

    def rows(self, decision: Decision, now: datetime, seen: bytes | None) -> _Rows:
        queued = [q for q in (self._queue(m) for m in decision.messages) if q is not None]
        return _Rows(
            watches=self.watches.rows(decision.watches),
            outbox=self.outbox.rows(queued, now),
            seen=(seen, hour_ms(now)) if seen is not None else None,
            queued=queued,
        )

    def applied(self, decision: Decision, queued: int) -> None:
        """After the commit: wake whoever has work from it."""
        if queued:
            self.handoff.poke()  # first: her reply must not wait behind the timer's pass
        if decision.watches:
            self.alarm.saved(decision.watches)
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
        if address is None:
            return "no address"
        outcome = await self.direct([address], render(message.text, self.clock.now()), [])
        return None if outcome.ok else outcome.failure or "unknown"

    def _lookup(
        self, alias: MemberAlias, tag: bytes, alerts: bool, conn: sqlite3.Connection
    ) -> tuple[bool, list[sqlite3.Row], list[sqlite3.Row]]:
        """Plain reads for both paths: was this envelope seen before; if not, her live watch and
        (when `alerts`) the live alerts she may be answering."""
        if seen.seen(conn, tag):
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
        await self.apply(decision, now, seen=tag)
        log.debug("decided a member's message")  # who, what and how many: see _log_plain

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

    def legacy(self, event: Event) -> bool:
        """Whether `event` still needs the old one-at-a-time path: a feature on the old
        interface (issue 19 removes this)."""
        if not isinstance(event, Incoming):
            return False
        member = self.identify(event)
        if member is None or event.kind in (IncomingKind.REMOTE_DELETE, IncomingKind.EDIT):
            return False
        intent = self._parse(member, event)
        return intent is not None and type(intent) in self.features

    async def stranger(self, event: Incoming) -> None:
        await self._stranger(event)

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
            self.handoff.poke()

    async def _untrusted(self, event: UntrustedIdentity) -> None:
        member = self.identify(event)
        who = member.alias if member is not None else None
        log.warning("undecryptable message (safety number changed) from %s", who or "a stranger")
        if who is not None:
            await self.notify_admin("safety_number_changed", who=who)

    # --- the wall clock ---------------------------------------------------------------------

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

    def wake_timer(self) -> None:
        """A full pass of the timer now: every due watch, the earliest deadline read again."""
        self.alarm.full_pass()

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
            unreached = Unreached(message.label, failure)
            await self.apply(on_undeliverable(self.context, watch, now, unreached), now)
        log.warning("alert #%d unreachable (%s); next tier alerted now", message.id, failure)
