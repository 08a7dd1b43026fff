"""The desk: what is in force, the one decision lock, and how a decision is carried out.

Shared by everything that decides — the inbound pipeline (`relay.runtime.pipeline`), the timer
(`relay.runtime.timers`) and the background tasks of the chain (drills, delivery, the welcome):
the rules and the core's `Context` (who is unreachable included), members' addresses, the lock
that serialises decisions (a timer and a member's message about the same check-in never
overwrite each other), and `apply`/`rows`: a decision sealed into rows and committed in one
durable transaction — only then is anything sent (the sender is woken through the hand-off).
Also what must reach the admin or a member when the database fails them (`tell_admin`,
`not_saved`: straight through Signal), a wall-clock jump (`follow_clock`), and an alert that
cannot be delivered (`alert_failed` → the core's `on_undeliverable`). It decides nothing itself.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING

from relay.core import intents
from relay.core.ages import render
from relay.core.decide import (
    Context,
    Decision,
    Outgoing,
    Purpose,
    Unreached,
    on_undeliverable,
)
from relay.core.render import Catalog, span
from relay.core.state import Phase, Recipient, RecipientKind
from relay.core.types import MemberAlias
from relay.crypto.seal import Sealer
from relay.features.base import (
    Write,
)
from relay.rules import Member, Rules
from relay.rules.core_policy import RulesPolicy
from relay.runtime.clock import Clock, step_of
from relay.signal.events import Incoming, IncomingKind, Send, UntrustedIdentity
from relay.store import seen
from relay.store.db import Database
from relay.store.deliveries import DeliveryRepo
from relay.store.outbox import OutboxRepo, Pending, Queued
from relay.store.times import hour_ms
from relay.store.watches import WatchRepo

if TYPE_CHECKING:
    from relay.runtime.alarm import Alarm
    from relay.runtime.handoff import Handoff

log = logging.getLogger(__name__)


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


class Desk:
    def __init__(
        self,
        db: Database,
        sealer: Sealer,
        clock: Clock,
        catalog: Catalog,
        rules: Rules,
        timezone: str,
        admin: MemberAlias | None,
        alarm: Alarm,
        handoff: Handoff,
        direct: Send,
        rules_for: Callable[[str], Rules],
        on_closed: Callable[[MemberAlias], None],
    ) -> None:
        self.db = db
        self.sealer = sealer
        self.clock = clock
        self.catalog = catalog
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
        self.known_numbers: dict[MemberAlias, str] = {}
        self.rules = rules
        # Addresses signal-cli said no retry soon reaches (→ failure class); cleared by a send
        # that gets through. The core names nobody unreachable as "watching" her.
        self.unreachable: dict[str, str] = {}
        self.use_rules(rules)

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

    # --- when the database fails her ------------------------------------------------------------

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
            await self.db.run(partial(DeliveryRepo.shift, delta=step))  # the delivery looks
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
