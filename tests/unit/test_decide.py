"""The pure core: the check-in lifecycle with an injected clock, asserting who is told what."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from relay.core import intents
from relay.core.decide import Context, Decision, Purpose, on_message, on_timer
from relay.core.escalation import Tier
from relay.core.policy import MemberInfo, Timings
from relay.core.state import Kind, Phase, Recipient, RecipientKind, Watch
from relay.core.types import MemberAlias
from relay.locales import load_catalog

T0 = datetime(2026, 11, 26, 20, 0, tzinfo=UTC)
ALICE, BOB, CAROL, DANA = (MemberAlias(n) for n in ("alice", "bob", "carol", "dana"))
MIN = timedelta(minutes=1)


@dataclass
class FakePolicy:
    """The Policy protocol as plain data: alice's buddies are bob and carol, dana is tier 2."""

    default_language: str = "en"
    languages: dict[str, str] = field(default_factory=lambda: {"dana": "es"})
    timings_: Timings = field(
        default_factory=lambda: Timings(
            checkin=60 * MIN,
            checkin_max=12 * 60 * MIN,
            extend_max=120 * MIN,
            reminder_before=10 * MIN,
            grace=5 * MIN,
            escalate_after=10 * MIN,
            repeat_every=5 * MIN,
        )
    )
    buddies: dict[str, tuple[str, ...]] = field(
        default_factory=lambda: {"alice": ("bob", "carol"), "bob": ("alice",)}
    )

    def member(self, alias: MemberAlias) -> MemberInfo | None:
        if alias not in ("alice", "bob", "carol", "dana"):
            return None
        return MemberInfo(alias, self.languages.get(alias, "en"), "Europe/London")

    def timings(self, alias: MemberAlias) -> Timings:
        return self.timings_

    def directory(self, language: str) -> Sequence[tuple[str, str, str]]:
        return [("Night line", "+12025550190", "someone to talk to")]

    def tiers(self, alias: MemberAlias, kind: Kind) -> Sequence[Tier]:
        tier1 = tuple(Recipient.member(MemberAlias(b)) for b in self.buddies.get(alias, ()))
        if not tier1:
            return []
        return [Tier(timedelta(0), tier1), Tier(10 * MIN, (Recipient.member(DANA),))]


@pytest.fixture
def ctx() -> Context:
    return Context(FakePolicy(), load_catalog(), "Europe/London")


def to(decision: Decision, alias: str) -> list[str]:
    return [m.text for m in decision.messages if m.to == Recipient.member(MemberAlias(alias))]


def recipients(decision: Decision) -> set[str]:
    return {m.to.address for m in decision.messages}


def start(ctx: Context, note: str | None = "Hotel Rex room 12") -> Watch:
    d = on_message(ctx, ALICE, intents.CheckIn(90 * MIN, note), None, [], T0, "w1")
    (watch,) = d.watches
    return watch


def run_timers(ctx: Context, watch: Watch, until: datetime) -> tuple[Watch, list[Decision]]:
    """Fire the watch's timer at each of its wake-ups up to `until`, as the daemon would."""
    decisions = []
    while watch.next_at is not None and watch.next_at <= until:
        d = on_timer(ctx, watch, watch.next_at)
        decisions.append(d)
        (watch,) = d.watches
    return watch, decisions


def test_check_in_replies_with_end_time_watchers_and_how_to_end(ctx: Context) -> None:
    d = on_message(ctx, ALICE, intents.CheckIn(90 * MIN, "Hotel Rex"), None, [], T0, "w1")
    (watch,) = d.watches
    assert watch.deadline == T0 + 90 * MIN
    assert watch.next_at == T0 + 80 * MIN  # reminder first
    assert watch.note == "Hotel Rex"
    assert recipients(d) == {"alice"}
    (reply,) = to(d, "alice")
    assert "21:30" in reply  # 20:00 UTC + 90 min, shown in Europe/London (UTC in November)
    assert "Bob, Carol" in reply and "OUT" in reply


def test_full_lifecycle_reminder_due_alert_ack(ctx: Context) -> None:
    watch = start(ctx)
    watch, (reminder, due, alert) = run_timers(ctx, watch, T0 + 95 * MIN)
    assert recipients(reminder) == {"alice"} and "10 min left" in to(reminder, "alice")[0]
    assert recipients(due) == {"alice"} and "Are you OK?" in to(due, "alice")[0]
    assert watch.phase is Phase.ALERTED
    assert recipients(alert) == {"bob", "carol"}
    (bob_alert,) = to(alert, "bob")
    assert "Alice" in bob_alert and "Hotel Rex room 12" in bob_alert and "ACK" in bob_alert
    assert "late" not in bob_alert

    d = on_message(ctx, BOB, intents.Ack(), None, [watch], T0 + 96 * MIN, "x")
    (acked,) = d.watches
    assert acked.phase is Phase.ACKED and acked.acked_by == BOB and acked.next_at is None
    assert to(d, "alice") == ["💜 Bob is on it."]
    assert to(d, "carol") == ["Bob is on it for Alice."]
    assert "you're on it for Alice" in to(d, "bob")[0]


def test_out_before_alert_is_quiet(ctx: Context) -> None:
    watch = start(ctx)
    watch, _ = run_timers(ctx, watch, T0 + 91 * MIN)  # reminder and "are you OK?" sent
    assert watch.phase is Phase.DUE
    d = on_message(ctx, ALICE, intents.CheckOut(), watch, [], T0 + 92 * MIN, "x")
    assert recipients(d) == {"alice"}
    assert d.watches[0].phase is Phase.CLOSED and d.watches[0].next_at is None


def test_out_after_alert_tells_everyone_alerted(ctx: Context) -> None:
    watch = start(ctx)
    watch, _ = run_timers(ctx, watch, T0 + 95 * MIN)
    d = on_message(ctx, ALICE, intents.CheckOut(), watch, [], T0 + 97 * MIN, "x")
    assert recipients(d) == {"alice", "bob", "carol"}
    assert "Alice is safe" in to(d, "bob")[0]


def test_escalates_to_next_tier_then_repeats(ctx: Context) -> None:
    watch = start(ctx)
    watch, decisions = run_timers(ctx, watch, T0 + 95 * MIN + 10 * MIN)
    tier2 = decisions[-1]
    assert recipients(tier2) == {"dana"}
    (dana_alert,) = to(tier2, "dana")  # dana reads Spanish
    assert "ALERTA: Alice" in dana_alert and "compas de Alice aún no han respondido" in dana_alert
    watch, decisions = run_timers(ctx, watch, T0 + 95 * MIN + 15 * MIN)
    (repeat,) = decisions
    assert recipients(repeat) == {"bob", "carol", "dana"}
    assert all(m.purpose is Purpose.ALERT for m in repeat.messages)


def test_ack_by_tier_two_member_stops_escalation(ctx: Context) -> None:
    watch = start(ctx)
    watch, _ = run_timers(ctx, watch, T0 + 105 * MIN)
    d = on_message(ctx, DANA, intents.Ack(), None, [watch], T0 + 106 * MIN, "x")
    assert d.watches[0].next_at is None
    assert recipients(d) == {"alice", "bob", "carol", "dana"}


def test_restart_after_downtime_alerts_at_once_and_says_late(ctx: Context) -> None:
    watch = start(ctx)
    d = on_timer(ctx, watch, T0 + 3 * 60 * MIN)  # the relay was down for three hours
    (moved,) = d.watches
    assert moved.phase is Phase.ALERTED
    assert {"bob", "carol", "dana"} <= recipients(d)  # every overdue tier at once
    assert "late" in to(d, "bob")[0]
    assert "couldn't reach you" in to(d, "alice")[0]


def test_stale_timer_does_nothing(ctx: Context) -> None:
    watch = start(ctx)
    assert on_timer(ctx, watch, T0 + MIN) == Decision()
    closed = watch.evolve(phase=Phase.CLOSED, next_at=None)
    assert on_timer(ctx, closed, T0 + 200 * MIN) == Decision()


def test_ack_with_nothing_open_gets_a_reply(ctx: Context) -> None:
    d = on_message(ctx, BOB, intents.Ack(), None, [], T0, "x")
    assert recipients(d) == {"bob"} and not d.watches


def test_second_ack_is_told_who_took_it(ctx: Context) -> None:
    watch = start(ctx)
    watch, _ = run_timers(ctx, watch, T0 + 95 * MIN)
    acked = on_message(ctx, BOB, intents.Ack(), None, [watch], T0 + 96 * MIN, "x").watches[0]
    d = on_message(ctx, CAROL, intents.Ack(), None, [acked], T0 + 97 * MIN, "x")
    assert not d.watches
    assert to(d, "carol") == ["Bob is already on it for Alice. Thank you."]


def test_extend_moves_deadline_and_reschedules_reminder(ctx: Context) -> None:
    watch = start(ctx)
    d = on_message(ctx, ALICE, intents.Extend(30 * MIN), watch, [], T0 + 10 * MIN, "x")
    (moved,) = d.watches
    assert moved.deadline == T0 + 120 * MIN and moved.next_at == T0 + 110 * MIN


def test_extend_is_capped(ctx: Context) -> None:
    watch = start(ctx)
    d = on_message(ctx, ALICE, intents.Extend(10 * 60 * MIN), watch, [], T0, "x")
    assert d.watches[0].deadline == T0 + 90 * MIN + 120 * MIN
    assert "up to 2h" in to(d, "alice")[0]


def test_checkin_without_watchers_warns_her(ctx: Context) -> None:
    d = on_message(ctx, CAROL, intents.CheckIn(None, None), None, [], T0, "w")
    assert "Nobody can get your alerts" in to(d, "carol")[0]
    assert d.watches[0].deadline == T0 + 60 * MIN  # the rules' default length


def test_status_and_help_and_unknown_always_reply(ctx: Context) -> None:
    watch = start(ctx)
    for intent in (intents.Status(), intents.Help(), intents.Unknown(), intents.BadArgument("in")):
        d = on_message(ctx, ALICE, intent, watch, [], T0 + MIN, "x")
        assert recipients(d) == {"alice"} and not d.watches
    assert "SOS" in to(on_message(ctx, ALICE, intents.Help(), None, [], T0, "x"), "alice")[0]


def test_member_removed_from_rules_keeps_alert_path(ctx: Context) -> None:
    watch = start(ctx).evolve(member=MemberAlias("gone"))
    ctx.policy.buddies["gone"] = ("bob",)  # type: ignore[attr-defined]
    watch, decisions = run_timers(ctx, watch, T0 + 95 * MIN)
    assert watch.phase is Phase.ALERTED and "bob" in recipients(decisions[-1])


def test_group_recipient_in_tier_gets_alert(ctx: Context) -> None:
    group = Recipient(RecipientKind.GROUP, "group.abc", "night circle")

    class GroupPolicy(FakePolicy):
        def tiers(self, alias: MemberAlias, kind: Kind) -> Sequence[Tier]:
            return [Tier(timedelta(0), (Recipient.member(BOB), group))]

    gctx = Context(GroupPolicy(), ctx.catalog, "Europe/London")
    watch = start(gctx)
    watch, decisions = run_timers(gctx, watch, T0 + 95 * MIN)
    assert group in watch.alerted
    assert any(m.to == group for m in decisions[-1].messages)


def test_ack_with_words_that_name_nobody_answers_the_newest_alert(ctx: Context) -> None:
    watch = start(ctx)
    watch, _ = run_timers(ctx, watch, T0 + 95 * MIN)
    d = on_message(ctx, BOB, intents.Ack(target="on"), None, [watch], T0 + 96 * MIN, "x")
    assert d.watches[0].acked_by == BOB


def test_a_time_on_another_day_names_the_weekday_in_her_language(ctx: Context) -> None:
    """T0 is Thursday 20:00 in London; six hours on is Friday 02:00 — in her words, whatever
    the box's locale says."""
    for alias, expected in ((ALICE, "Fri 02:00"), (DANA, "vie 02:00")):
        d = on_message(ctx, alias, intents.CheckIn(6 * 60 * MIN, None), None, [], T0, "w")
        (reply,) = to(d, alias)
        assert expected in reply, (alias, reply)
