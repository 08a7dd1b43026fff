"""Model-based test of the alert state machine: random sequences of everyone's actions.

hypothesis drives the pure core (through `tests.unit.core_support.Driver`, which carries decisions
out as the runtime does) with IN, OUT, OUT with her secret, the duress word, EXTEND, SOS, STATUS,
locations, edits/deletes, ACK/RESOLVED by text, by name, by quote and by reaction, unreachable
recipients and clock moves, across five members whose buddies overlap. After every step the
safety invariants are checked against a small reference model:

- duress never ends, nor shows on her phone, except through ``OUT <secret>`` or someone alerted
  (or the admin) resolving it;
- "she is safe" is only told after a valid check-out;
- an answer touches only the alert it targets, and only by someone who was sent it;
- no alert is lost: a deadline past its grace is alerted; every open alert is acknowledged, or
  still escalating/repeating, or its member and the admin were told nobody can get it;
- caps hold; every member message gets exactly one reply; nobody hears of an alert she was not
  sent.

CI runs at least 2,000 examples; ``HYPOTHESIS_PROFILE=long`` runs 50,000.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from relay.core import intents
from relay.core.decide import Decision, Purpose, on_mark
from relay.core.lifecycle import is_open_alert
from relay.core.locations import Location
from relay.core.state import Kind, Phase, Recipient, Watch
from relay.core.types import MemberAlias
from tests.unit.core_support import ADMIN, CATALOG, MIN, SECRET, TIMINGS, Driver

LONG = os.environ.get("HYPOTHESIS_PROFILE") == "long"
EXAMPLES = 50_000 if LONG else 2_000

OWNERS = ("alice", "carol", "dana", "elena")  # members with buddies
EVERYONE = ("alice", "bob", "carol", "dana", "elena", "fay")
NAMES = (*EVERYONE, "omw", "zed")  # what may follow ACK: members, a word, nobody known


def _fixed(key: str) -> str:
    """A catalog template's longest stretch of fixed text: every rendering contains it."""
    chunks = re.split(r"\{[^}]*\}", CATALOG.messages["en"][key])
    return max(chunks, key=len)


NEVER_ON_HER_PHONE_UNDER_DURESS = tuple(
    _fixed(key)
    for key in (
        "status_alerted",
        "alert_open_known",
        "alert_open_nobody",
        "ack_to_member",
        "resolved_to_member",
        "alert_nobody",
        "status_acked_by",
        "status_not_acked",
    )
)


@dataclass
class Step:
    actor: str | None
    action: str
    before: dict[str, Watch]
    decision: Decision = field(default_factory=Decision)
    expected: str | None = None  # the watch id an answer must act on (None: none)
    answer: bool = False


class Relay(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.d = Driver()
        self.duress: set[str] = set()  # the reference model: members whose duress alert is open

    # --- helpers ---------------------------------------------------------------------------

    def _begin(self, actor: str | None, action: str) -> Step:
        return Step(actor, action, dict(self.d.watches))

    def _own(self, alias: str) -> Watch | None:
        return self.d.own(MemberAlias(alias))

    def _member(self, alias: str, intent: intents.Intent, action: str, said: str) -> None:
        step = self._begin(alias, action)
        own = self._own(alias)
        if isinstance(intent, intents.Duress) or (
            isinstance(intent, intents.CheckOut)
            and intent.verified is False
            and own is not None
            and own.live
        ):
            self.duress.add(alias)
        step.decision = self.d.say(alias, intent, said=said)
        if isinstance(intent, intents.CheckOut) and intent.verified:
            self.duress.discard(alias)
        self._check(step)

    def _expected(
        self, buddy: str, pointer_watch: Watch | None, pointed: bool, name: str | None
    ) -> str | None:
        """The reference targeting: quote/reaction, else name, else her only open alert."""
        mine = [
            w
            for w in self.d.watches.values()
            if is_open_alert(w)
            and w.member != buddy
            and (buddy == ADMIN or Recipient.member(MemberAlias(buddy)) in w.alerted)
        ]
        if pointed:
            if pointer_watch is not None and any(w.id == pointer_watch.id for w in mine):
                return pointer_watch.id
            return None
        if name is not None:
            named = [w for w in mine if w.member == name]
            if named:
                return named[0].id
            if name in EVERYONE:
                return None
        return mine[0].id if len(mine) == 1 else None

    def _answer(
        self, buddy: str, intent: intents.Intent, stamp: int | None, name: str | None
    ) -> None:
        step = self._begin(buddy, "resolve" if isinstance(intent, intents.Resolved) else "ack")
        pointer = self.d.pointer_to(stamp) if stamp is not None else None
        pointed = pointer.watch if pointer else None
        step.expected = self._expected(buddy, pointed, pointer is not None, name)
        step.answer = True
        target = self.d.watches.get(step.expected) if step.expected else None
        step.decision = self.d.say(buddy, intent, pointer=pointer)
        after = self.d.watches.get(step.expected) if step.expected else None
        if (
            isinstance(intent, intents.Resolved)
            and target is not None
            and after is not None
            and after.phase is Phase.CLOSED
        ):
            self.duress.discard(target.member)
        self._check(step)

    # --- member actions --------------------------------------------------------------------

    @rule(who=st.sampled_from(OWNERS), minutes=st.one_of(st.none(), st.integers(1, 1000)))
    def check_in(self, who: str, minutes: int | None) -> None:
        duration = None if minutes is None else minutes * MIN
        self._member(who, intents.CheckIn(duration, None), "in", f"IN {minutes or ''}")

    @rule(who=st.sampled_from(OWNERS))
    def check_out(self, who: str) -> None:
        verified = False if who in SECRET else None
        self._member(who, intents.CheckOut(verified=verified), "out", "OUT")

    @rule(who=st.sampled_from(sorted(SECRET)))
    def check_out_with_secret(self, who: str) -> None:
        self._member(who, intents.CheckOut(verified=True), "out_secret", "OUT secret")

    @rule(who=st.sampled_from(OWNERS))
    def duress_word(self, who: str) -> None:
        self._member(who, intents.Duress(), "duress", "pineapple")

    @rule(who=st.sampled_from(OWNERS), minutes=st.one_of(st.none(), st.integers(1, 400)))
    def extend(self, who: str, minutes: int | None) -> None:
        duration = None if minutes is None else minutes * MIN
        self._member(who, intents.Extend(duration), "extend", f"+{minutes or ''}")

    @rule(who=st.sampled_from(OWNERS))
    def sos(self, who: str) -> None:
        self._member(who, intents.Sos(), "sos", "SOS")

    @rule(who=st.sampled_from(EVERYONE), which=st.sampled_from(("status", "help", "buddies")))
    def ask(self, who: str, which: str) -> None:
        intent = {"status": intents.Status(), "help": intents.Help(), "buddies": intents.Buddies()}
        self._member(who, intent[which], which, which.upper())

    @rule(who=st.sampled_from(OWNERS))
    def location(self, who: str) -> None:
        place = Location(51.5, -0.12, None, "coordinates", "LOC 51.5,-0.12")
        self._member(who, intents.Loc(place), "loc", "LOC 51.5,-0.12")

    @rule(who=st.sampled_from(OWNERS), what=st.sampled_from(("deleted", "edited")))
    def edit_or_delete(self, who: str, what: str) -> None:
        step = self._begin(who, "mark")
        own = self._own(who)
        if own is not None:
            step.decision = self.d.apply(on_mark(own, what, self.d.now))
        self._check(step)

    # --- answers ---------------------------------------------------------------------------

    @rule(buddy=st.sampled_from(EVERYONE), name=st.one_of(st.none(), st.sampled_from(NAMES)))
    def ack(self, buddy: str, name: str | None) -> None:
        self._answer(buddy, intents.Ack(target=name), None, name)

    @rule(buddy=st.sampled_from(EVERYONE), name=st.one_of(st.none(), st.sampled_from(NAMES)))
    def resolve(self, buddy: str, name: str | None) -> None:
        self._answer(buddy, intents.Resolved(target=name), None, name)

    @precondition(lambda self: bool(self.d.sent))
    @rule(data=st.data(), resolve=st.booleans())
    def quote_or_react(self, data: st.DataObject, resolve: bool) -> None:
        """A buddy quotes (or 👍s) any message she was sent; RESOLVED quoting, or ACK."""
        got = [s for s in self.d.sent if s.message.to.address in EVERYONE]
        if not got:
            return
        sent = data.draw(st.sampled_from(got))
        buddy = sent.message.to.address
        intent: intents.Intent = intents.Resolved() if resolve else intents.Ack()
        self._answer(buddy, intent, sent.stamp, None)

    # --- the world -------------------------------------------------------------------------

    @rule(who=st.sampled_from(EVERYONE))
    def unreachable(self, who: str) -> None:
        step = self._begin(None, "undeliverable")
        for decision in self.d.unreachable(who):
            step.decision = Decision(
                step.decision.watches + decision.watches, step.decision.messages + decision.messages
            )
        self._check(step)

    @rule(seconds=st.integers(1, 4 * 3600))
    def time_passes(self, seconds: int) -> None:
        step = self._begin(None, "timer")
        for decision in self.d.advance(timedelta(seconds=seconds)):
            step.decision = Decision(
                step.decision.watches + decision.watches, step.decision.messages + decision.messages
            )
        self._check(step)

    # --- what must hold after every step ---------------------------------------------------

    def _check(self, step: Step) -> None:
        d = self.d
        messages = step.decision.messages
        # Duress stays on, and never shows on her phone.
        for alias in self.duress:
            own = self._own(alias)
            assert own is not None and own.kind is Kind.DURESS and own.live, (alias, own)
            for message in d.to(alias, step.decision):
                assert not any(p in message.text for p in NEVER_ON_HER_PHONE_UNDER_DURESS), message
        # "Safe" only after a valid check-out by her.
        safe = [m for m in messages if m.purpose is Purpose.NOTICE and " is safe" in m.text]
        if safe:
            assert step.action in ("out", "out_secret"), (step.action, safe)
            was = next(w for w in step.before.values() if w.member == step.actor and w.live)
            assert was.kind is not Kind.DURESS or step.action == "out_secret"
        # An answer changes at most the alert it targets, and only if she was sent it.
        if step.answer:
            changed = {
                w.id
                for w in step.decision.watches
                if step.before.get(w.id) is None or step.before[w.id].phase is not w.phase
            }
            assert changed <= ({step.expected} if step.expected else set()), (changed, step)
        # Exactly one reply to whoever sent a message.
        if step.actor is not None and step.action != "mark":
            replies = [
                m
                for m in messages
                if m.purpose is Purpose.REPLY and m.to == Recipient.member(MemberAlias(step.actor))
            ]
            assert len(replies) == 1, (step.action, replies)
        # Nobody hears of an alert she was not sent (the admin's "nobody reached" aside).
        for message in messages:
            watch = d.watches.get(message.watch_id or "")
            if watch is None or message.purpose not in (Purpose.ALERT, Purpose.NOTICE):
                continue
            if message.to in (Recipient.member(watch.member), Recipient.member(ADMIN)):
                continue
            assert message.to in watch.alerted, (message, watch.alerted)

    @invariant()
    def no_alert_is_lost_and_caps_hold(self) -> None:
        d = self.d
        for watch in d.watches.values():
            if watch.phase in (Phase.ACTIVE, Phase.DUE):
                assert watch.kind is Kind.CHECKIN
                assert d.now < watch.deadline + TIMINGS.grace, watch
                assert watch.deadline - watch.started_at <= TIMINGS.checkin_max
            if watch.phase is Phase.ALERTED:
                assert watch.next_at is not None or watch.told_nobody, watch
            if watch.cover_until is not None and watch.live:
                assert watch.cover_until - d.now <= TIMINGS.checkin_max


TestRelay = Relay.TestCase
TestRelay.settings = settings(
    max_examples=EXAMPLES,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
