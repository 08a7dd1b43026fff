"""Knowing the chain works before anyone needs it (issue 21), wired into a running relay:

- the **welcome** (`relay.welcome`): new members are told what the number is, what to send, and
  how to reach SOS in one tap;
- **delivery-aware alerts** (`relay.delivery`): receipts say whose phone an alert reached;
  STATUS says so; a tier that reached no phone moves on;
- **practice drills** (`relay.drills`): DRILL, `peer-relay drill`, the rules' schedule.

`install` hooks them into the engine, the outbox sender and the receipt path, so the daemon
changes by a few lines. `Chain` is also the engine's `AnswerHooks`: which member messages the
drills answer instead of the core (a reply to a practice alert; a plain ACK from someone with no
real alert to answer — a real alert always wins), and the lines added to the core's replies.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from relay.clock import Clock
from relay.core import intents
from relay.core.decide import Decision, Purpose
from relay.core.drills import Drill
from relay.core.lifecycle import is_open_alert
from relay.core.render import display
from relay.core.state import Kind, Phase, Recipient, Watch
from relay.core.targeting import Pointer, answerable
from relay.delivery import DeliveryStore, Tracker
from relay.delivery.store import ALERT
from relay.drills import Drills, DrillStore
from relay.features import FeatureResult
from relay.rules import Member
from relay.signal.events import Incoming, IncomingKind, Receipt
from relay.welcome import Welcomer

if TYPE_CHECKING:
    from relay.engine import Engine
    from relay.outbox import OutboxSender

log = logging.getLogger(__name__)

Task = tuple[str, Callable[[], Awaitable[None]]]


class Chain:
    def __init__(
        self, engine: Engine, tracker: Tracker, drills: Drills, welcomer: Welcomer
    ) -> None:
        self.engine = engine
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

    def rules_changed(self) -> None:
        """New rules are in force: welcome whoever is new; the drill schedule may have moved."""
        self.welcomer.poke()
        self.drills.wake.set()

    # --- the engine's AnswerHooks ------------------------------------------------------------

    def general(self, member: Member, intent: intents.Intent) -> bool:
        if isinstance(intent, intents.Status):
            return True  # her STATUS may get lines about whom her alert reached (`after`)
        answer = isinstance(intent, intents.Ack | intents.Resolved)
        return answer and bool(self.drills.asking(member.alias))

    async def before(
        self,
        member: Member,
        event: Incoming,
        intent: intents.Intent,
        pointer: Pointer | None,
        alerts: list[Watch],
        now: datetime,
    ) -> FeatureResult | None:
        """An answer that is a practice answer: it quotes or reacts to a practice message, or
        (plain ACK) its sender has open practice asks and no real alert she may answer."""
        if not isinstance(intent, intents.Ack | intents.Resolved) or event.group_id is not None:
            return None
        reacting = event.kind is IncomingKind.REACTION
        stamp = event.reaction_target if reacting else event.quote_timestamp
        if stamp is not None:
            if pointer is not None and pointer.watch is not None:
                return None  # it points at a real alert: the core answers it
            drill_id = await self.drills.drill_of_stamp(stamp)
            if drill_id is None:
                return None  # a quote of a real alert, or of something else: the core decides
            return await self.drills.answer(member, [drill_id], now)
        asking = self.drills.asking(member.alias)
        if not asking:
            return None
        if answerable(alerts, member.alias, admin=member.alias == self.engine.admin):
            return None  # a real alert always wins a plain ACK (`after` tells her so)
        target = intent.target  # ACK alice, RESOLVED alice: her practice, if she asked
        return await self.drills.answer(member, [d.id for d in named(asking, target)], now)

    async def after(
        self,
        member: Member,
        event: Incoming,
        intent: intents.Intent,
        own: Watch | None,
        decision: Decision,
        now: datetime,
    ) -> Decision:
        lines: list[str] = []
        if isinstance(intent, intents.Ack):
            await self._answer_proves_delivery(member, decision, now)
        if isinstance(intent, intents.Status):
            # Never after her duress word: her phone shows what it would had she checked out.
            if own is not None and is_open_alert(own) and own.kind is not Kind.DURESS:
                lines = await self.tracker.status_lines(member.alias, own, now)
        elif self._practice_pending(member, event, intent):
            real = [
                w
                for w in decision.watches
                if w.member != member.alias
                and (w.acked_by == member.alias or w.phase is Phase.CLOSED)
            ]
            if real:
                voice = self.drills.voice()
                who = display(real[0].member)
                lines = [voice.text(member.alias, "drill_real_first", who=who)]
        return appended(decision, Recipient.member(member.alias), lines)

    async def _answer_proves_delivery(
        self, member: Member, decision: Decision, now: datetime
    ) -> None:
        """Her ACK proves the alert reached her phone, receipt or not (STATUS shows it so)."""
        number = self.engine.address(Recipient.member(member.alias))
        for watch in decision.watches:
            if number is not None and watch.acked_by == member.alias:
                await self.tracker.answered(ALERT, watch.id, number, now)

    def _practice_pending(self, member: Member, event: Incoming, intent: intents.Intent) -> bool:
        """A 1:1 answer from someone a practice alert still waits on."""
        answer = isinstance(intent, intents.Ack | intents.Resolved) and event.group_id is None
        return answer and bool(self.drills.asking(member.alias))


def named(drills: Sequence[Drill], name: str | None) -> list[Drill]:
    """The drills an answer names (``ACK alice``); all she was asked in when it names none."""
    if name:
        chosen = [d for d in drills if d.member.lower() == name.strip().lower()]
        if chosen:
            return chosen
    return list(drills)


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


def install(engine: Engine, sender: OutboxSender, data_dir: Path, clock: Clock) -> Chain:
    """Welcome, delivery tracking and drills, hooked into a relay's engine and sender."""
    tracker = Tracker(engine, DeliveryStore(engine.db, engine.sealer), clock)
    drills = Drills(engine, DrillStore(engine.db, engine.sealer), tracker, clock, data_dir)
    chain = Chain(engine, tracker, drills, Welcomer(engine, clock))
    engine.chain = chain
    engine.add_feature(drills)
    engine.on_clock_step.append(tracker.shift)
    sender.on_sent = tracker.sent_soon
    canary = engine.on_receipt  # the canary's, when it runs: every receipt goes to both

    async def receipt(event: Receipt) -> None:
        if canary is not None:
            await canary(event)
        try:
            await tracker.receipt(event)
        except Exception:
            log.exception("recording a receipt failed")

    engine.on_receipt = receipt
    return chain
