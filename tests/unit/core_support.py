"""A small collective as plain data, and a driver that carries the pure core's decisions out the
way the runtime does (store the watches, keep what was sent) — for the safety and model tests.

Members: alice (buddies bob and carol), carol (bob, dana), dana (elena; has a check-in secret),
elena (alice, bob); bob answers only. fay is the admin and tier 2 of every ladder (after 10 min);
an SOS alerts both tiers at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from relay.core import intents
from relay.core.decide import (
    Context,
    Decision,
    Outgoing,
    Purpose,
    on_message,
    on_timer,
    on_undeliverable,
)
from relay.core.escalation import Tier
from relay.core.policy import MemberInfo, Timings
from relay.core.state import Kind, Phase, Recipient, Watch
from relay.core.targeting import Pointer, answerable
from relay.core.types import MemberAlias
from relay.locales import load_catalog

T0 = datetime(2026, 12, 1, 20, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)
ADMIN = MemberAlias("fay")
MEMBERS = tuple(MemberAlias(n) for n in ("alice", "bob", "carol", "dana", "elena", "fay"))
BUDDIES = {
    "alice": ("bob", "carol"),
    "carol": ("bob", "dana"),
    "dana": ("elena",),
    "elena": ("alice", "bob"),
}
SECRET = {"dana"}  # members with a check-in secret
TIMINGS = Timings(
    checkin=60 * MIN,
    checkin_max=12 * 60 * MIN,
    extend_max=120 * MIN,
    reminder_before=10 * MIN,
    grace=5 * MIN,
    escalate_after=10 * MIN,
    repeat_every=5 * MIN,
)
CATALOG = load_catalog()


@dataclass
class Collective:
    """The `Policy` protocol over the collective above."""

    default_language: str = "en"
    buddies: dict[str, tuple[str, ...]] = field(default_factory=lambda: dict(BUDDIES))

    def member(self, alias: MemberAlias) -> MemberInfo | None:
        if alias not in MEMBERS:
            return None
        return MemberInfo(alias, "en", "Europe/London")

    def timings(self, alias: MemberAlias) -> Timings:
        return TIMINGS

    def directory(self, language: str) -> Sequence[tuple[str, str, str]]:
        return [("Night line", "+12025550190", "someone to talk to")]

    def tiers(self, alias: MemberAlias, kind: Kind) -> Sequence[Tier]:
        tier1 = tuple(Recipient.member(MemberAlias(b)) for b in self.buddies.get(alias, ()))
        later = timedelta(0) if kind is Kind.SOS else 10 * MIN
        return [Tier(timedelta(0), tier1), Tier(later, (Recipient.member(ADMIN),))]


def context(policy: Collective | None = None) -> Context:
    return Context(policy or Collective(), CATALOG, "Europe/London", admin=ADMIN)


@dataclass(frozen=True)
class Sent:
    stamp: int  # what signal-cli would return: quotes and reactions point at it
    message: Outgoing


@dataclass
class Driver:
    """Carries decisions out like the runtime: watches by id, every message sent, a clock."""

    ctx: Context = field(default_factory=context)
    now: datetime = T0
    watches: dict[str, Watch] = field(default_factory=dict)
    sent: list[Sent] = field(default_factory=list)
    _ids: int = 0

    def own(self, alias: MemberAlias) -> Watch | None:
        found = [
            w for w in self.watches.values() if w.member == alias and w.phase is not Phase.CLOSED
        ]
        assert len(found) <= 1, found
        return found[0] if found else None

    def answering(self, alias: MemberAlias) -> list[Watch]:
        return answerable(list(self.watches.values()), alias, admin=alias == ADMIN)

    def apply(self, decision: Decision) -> Decision:
        for watch in decision.watches:
            self.watches[watch.id] = watch
        for message in decision.messages:
            self.sent.append(Sent(len(self.sent) + 1, message))
        return decision

    def say(
        self,
        alias: str,
        intent: intents.Intent,
        pointer: Pointer | None = None,
        said: str | None = None,
    ) -> Decision:
        who = MemberAlias(alias)
        self._ids += 1
        return self.apply(
            on_message(
                self.ctx,
                who,
                intent,
                self.own(who),
                self.answering(who),
                self.now,
                f"w{self._ids}",
                pointer=pointer,
                said=said,
            )
        )

    def pointer_to(self, stamp: int) -> Pointer:
        """What a quote of (or 👍 on) the message with this stamp points at (as the runtime)."""
        message = self.sent[stamp - 1].message
        if message.purpose is not Purpose.ALERT or message.watch_id is None:
            return Pointer(None)
        return Pointer(self.watches.get(message.watch_id))

    def to(self, alias: str, decision: Decision | None = None) -> list[Outgoing]:
        messages = decision.messages if decision else tuple(s.message for s in self.sent)
        return [m for m in messages if m.to == Recipient.member(MemberAlias(alias))]

    def texts(self, alias: str, decision: Decision | None = None) -> list[str]:
        return [m.text for m in self.to(alias, decision)]

    def advance(self, delta: timedelta) -> list[Decision]:
        """Time passes; the timer takes every due step (as `Timers.fire_due` does)."""
        self.now += delta
        done = []
        for _ in range(10):
            due = [
                w for w in self.watches.values() if w.next_at is not None and w.next_at <= self.now
            ]
            if not due:
                break
            for watch in due:
                done.append(self.apply(on_timer(self.ctx, watch, self.now)))
        return done

    def unreachable(self, alias: str) -> list[Decision]:
        """Sends to `alias` fail for good: the runtime marks her and tells each open alert."""
        gone = Recipient.member(MemberAlias(alias))
        self.ctx = replace(self.ctx, unreachable=self.ctx.unreachable | {gone})
        done = []
        for watch in list(self.watches.values()):
            if watch.phase is Phase.ALERTED and gone in watch.alerted:
                done.append(self.apply(on_undeliverable(self.ctx, watch, self.now)))
        return done

    def stamp_of(self, alias: str, contains: str) -> int:
        """The newest message to `alias` whose text contains `contains`."""
        to = Recipient.member(MemberAlias(alias))
        for sent in reversed(self.sent):
            if sent.message.to == to and contains in sent.message.text:
                return sent.stamp
        raise AssertionError(f"nothing to {alias} with {contains!r}")
