"""Knowing the chain works before anyone needs it (issue 21), wired into a running relay:

- the **welcome** (`relay.features.welcomer`): new members are told what the number is, what to
send, and
  how to reach SOS in one tap;
- **delivery-aware alerts** (`relay.features.delivery`): receipts say whose phone an alert reached;
  STATUS says so; a tier that reached no phone moves on;
- **practice drills** (`relay.features.drills`): DRILL, `peer-relay drill`, the rules' schedule.

`build` makes them; a `Chain` then says what the rest of the relay hands them: its `features`
(DRILL), `on_sent` (the outbox sender's hook), `receipt` (every phone receipt), `clock_stepped`
(the wall clock jumped), the background `tasks`, and — being the pipeline's `Hooks`
(`relay.features.base`) — which member messages the drills answer instead of the core (a reply to a
practice alert; a plain ACK from someone with no real alert to answer: a real alert always
wins) and the lines added to the core's replies. Those two run in the database thread, inside
the transaction of the message's decision; what they decide is `relay.core.drills` and
`relay.core.delivery`. What the chain needs of the relay around it is a `Host`
(`relay.features.delivery.host`); the supervisor hands the chain's parts to the constructors
of the sender and the pipeline.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import aiosqlite

from relay.core import intents
from relay.core.decide import Decision, Purpose
from relay.core.drills import practice_answered, real_first
from relay.core.lifecycle import is_open_alert
from relay.core.render import display
from relay.core.state import Kind, Recipient, Watch
from relay.core.targeting import Pointer, answerable
from relay.features.base import Feature, Handled
from relay.features.delivery import Tracker
from relay.features.delivery.host import Host
from relay.features.drills import Drills
from relay.features.welcomer import Welcomer
from relay.rules import Member
from relay.runtime.clock import Clock
from relay.signal.events import Incoming, IncomingKind, Receipt
from relay.store.deliveries import ALERT, DeliveryRepo
from relay.store.outbox import Pending
from relay.store.practice import PracticeRepo

if TYPE_CHECKING:
    from relay.runtime.desk import Desk

log = logging.getLogger(__name__)

Task = tuple[str, Callable[[], Awaitable[None]]]


def _answer(event: Incoming, intent: intents.Intent) -> bool:
    """A 1:1 answer (ACK, RESOLVED, a 👍, a quoting reply): what a practice answer can be."""
    return isinstance(intent, intents.Ack | intents.Resolved) and event.group_id is None


def _stamp(event: Incoming) -> int | None:
    """The relay message an answer quotes or reacts to (Signal's timestamp), if any."""
    return event.reaction_target if event.kind is IncomingKind.REACTION else event.quote_timestamp


class Chain:
    def __init__(self, desk: Host, tracker: Tracker, drills: Drills, welcomer: Welcomer) -> None:
        self.desk = desk
        self.tracker = tracker
        self.drills = drills
        self.welcomer = welcomer

    def tasks(self) -> list[Task]:
        """The background tasks to supervise: each sleeps until it has something to do."""
        return [
            ("deliveries", self.tracker.run),
            ("deliveries-recorded", self.tracker.record_queued),
            ("drills", self.drills.run),
            ("drill-requests", self.drills.watch_requests),
            ("welcome", self.welcomer.run),
        ]

    def features(self) -> list[Feature]:
        """The member commands the chain answers (DRILL)."""
        return [self.drills]

    def on_sent(self, results: Sequence[tuple[Pending, int]]) -> None:
        """The outbox sender's hook: what signal-cli accepted (never waits)."""
        self.tracker.sent_soon(results)

    async def receipt(self, event: Receipt) -> None:
        """A phone's receipt (the canary has its own look at every one)."""
        try:
            await self.tracker.receipt(event)
        except Exception:
            log.exception("recording a receipt failed")

    async def clock_stepped(self, conn: aiosqlite.Connection, step: timedelta) -> None:
        """The wall clock jumped (inside the transaction that moves the watches)."""
        await self.tracker.shift(conn, step)

    def rules_changed(self) -> None:
        """New rules are in force: welcome whoever is new; the drill schedule may have moved."""
        self.welcomer.poke()
        self.drills.wake.set()

    # --- the pipeline's Hooks ------------------------------------------------------------------

    async def settle(self, event: Incoming, intent: intents.Intent, at_alert: bool) -> None:
        """Before the decision, outside its transaction: an answer quoting or reacting to a
        relay message that was no real alert (`at_alert`) waits (briefly) for that message's
        send to be recorded — a buddy can answer a practice alert before the sender has
        recorded it."""
        stamp = _stamp(event)
        if not _answer(event, intent) or stamp is None or at_alert:
            return  # nothing to wait for; a real alert's: the core answers it
        await self.tracker.known(stamp)

    def before(
        self,
        conn: sqlite3.Connection,
        member: Member,
        event: Incoming,
        intent: intents.Intent,
        pointer: Pointer | None,
        alerts: list[Watch],
        now: datetime,
    ) -> Handled | None:
        """An answer that is a practice answer: it quotes or reacts to a practice message, or
        (plain ACK) its sender has open practice asks and no real alert she may answer."""
        if not isinstance(intent, intents.Ack | intents.Resolved) or event.group_id is not None:
            return None
        stamp = _stamp(event)
        at_alert = pointer is not None and pointer.watch is not None
        quoted = None
        asking = []
        real = False
        if stamp is not None:
            if not at_alert:
                quoted = self.drills.drill_of_stamp(conn, stamp)
        else:
            asking = self.drills.asking(conn, member.alias)
            admin = member.alias == self.desk.admin
            real = bool(asking) and bool(answerable(alerts, member.alias, admin=admin))
        ids = practice_answered(
            pointing=stamp is not None,
            at_alert=at_alert,
            quoted_drill=quoted,
            asking=asking,
            real_to_answer=real,
            name=intent.target,  # ACK alice, RESOLVED alice: her practice, if she asked
        )
        return None if ids is None else self.drills.answer(conn, member, ids, now)

    def after(
        self,
        conn: sqlite3.Connection,
        member: Member,
        event: Incoming,
        intent: intents.Intent,
        own: Watch | None,
        decision: Decision,
        now: datetime,
    ) -> Decision:
        lines: list[str] = []
        if isinstance(intent, intents.Ack):
            self._answer_proves_delivery(conn, member, decision, now)
        if isinstance(intent, intents.Status):
            # Never after her duress word: her phone shows what it would had she checked out.
            if own is not None and is_open_alert(own) and own.kind is not Kind.DURESS:
                lines = self.tracker.status_lines(conn, member.alias, own, now)
        elif _answer(event, intent) and self.drills.asking(conn, member.alias):
            real = real_first(decision.watches, member.alias)  # she is told it came first
            if real is not None:
                voice = self.drills.voice()
                lines = [voice.text(member.alias, "drill_real_first", who=display(real.member))]
        return appended(decision, Recipient.member(member.alias), lines)

    def _answer_proves_delivery(
        self, conn: sqlite3.Connection, member: Member, decision: Decision, now: datetime
    ) -> None:
        """Her ACK proves the alert reached her phone, receipt or not (STATUS shows it so)."""
        number = self.desk.address(Recipient.member(member.alias))
        for watch in decision.watches:
            if number is not None and watch.acked_by == member.alias:
                self.tracker.answered(conn, ALERT, watch.id, number, now)


def appended(decision: Decision, to: Recipient, lines: Sequence[str]) -> Decision:
    """`decision` with `lines` added to its (last) reply to `to`."""
    if not lines:
        return decision
    messages = list(decision.messages)
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        if message.purpose is Purpose.REPLY and message.to == to:
            text = "\n".join([message.text, *lines])
            messages[index] = replace(message, text=text)
            return replace(decision, messages=tuple(messages))
    return decision


def build(desk: Desk, data_dir: Path, clock: Clock) -> Chain:
    """Welcome, delivery tracking and drills for a relay's desk (nothing of it changed)."""
    tracker = Tracker(desk, DeliveryRepo(desk.sealer), clock)
    drills = Drills(desk, PracticeRepo(desk.sealer), tracker, clock, data_dir)
    return Chain(desk, tracker, drills, Welcomer(desk, clock))
