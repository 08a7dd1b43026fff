"""The seven sequences an audit found breaking the safety promises, on the pure core."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from relay.core import intents
from relay.core.decide import Decision, Unreached, on_undeliverable
from relay.core.state import Kind, Phase, Recipient, Watch
from relay.core.types import MemberAlias
from tests.unit.core_support import MIN, Driver

IN_5 = intents.CheckIn(5 * MIN, None)
OUT = intents.CheckOut()


def alert_of(d: Driver, alias: str) -> Watch:
    watch = d.own(MemberAlias(alias))
    assert watch is not None
    return watch


# 1. The phone's holder cannot cancel a duress alert -------------------------------------------


def test_a_plain_out_after_the_duress_word_closes_nothing_and_tells_nobody_she_is_safe() -> None:
    d = Driver()
    d.say("alice", IN_5)
    d.say("alice", intents.Duress())
    out = d.say("alice", OUT, said="OUT")
    watch = alert_of(d, "alice")
    assert watch.kind is Kind.DURESS and watch.phase is Phase.ALERTED
    assert not any("is safe" in t for t in d.texts("bob"))
    assert d.texts("alice", out) == ["💜 Noted — you had no check-in running."]
    # Bob and Carol hear what her phone sent, marked as after the duress word.
    assert any("after the duress word" in t and "OUT" in t for t in d.texts("bob", out))


def test_only_someone_alerted_the_admin_or_her_secret_ends_a_duress_alert() -> None:
    d = Driver()
    d.say("alice", intents.Duress())
    d.say("dana", intents.Resolved())  # never sent alice's alert
    assert alert_of(d, "alice").phase is Phase.ALERTED
    d.say("fay", intents.Resolved(), pointer=None)  # the admin may close any open alert
    assert d.own(MemberAlias("alice")) is None
    assert not any("closed your alert" in t for t in d.texts("alice"))


def test_out_with_her_secret_is_the_one_way_her_phone_ends_a_duress_alert() -> None:
    d = Driver()
    d.say("dana", intents.CheckIn(5 * MIN, None))
    d.say("dana", intents.CheckOut(verified=False))  # without the secret: a silent alert
    assert alert_of(d, "dana").kind is Kind.DURESS
    d.say("dana", intents.CheckOut(verified=False))
    assert alert_of(d, "dana").kind is Kind.DURESS
    d.say("dana", intents.CheckOut(verified=True))
    assert d.own(MemberAlias("dana")) is None
    assert any("is safe" in t for t in d.texts("elena"))


# 2. Duress is silent on her own phone ---------------------------------------------------------


def test_after_the_duress_word_her_phone_sees_what_a_real_check_out_shows() -> None:
    real, duress = Driver(), Driver()
    for d, word in ((real, OUT), (duress, intents.Duress())):
        d.say("alice", IN_5)
        d.say("alice", word)
    for intent in (
        intents.Status(),
        intents.CheckIn(60 * MIN, None),
        intents.Status(),
        intents.Extend(30 * MIN),
        intents.Help(),
        intents.Buddies(),
        OUT,
        intents.Status(),
        intents.Extend(None),
    ):
        assert real.texts("alice", real.say("alice", intent)) == duress.texts(
            "alice", duress.say("alice", intent)
        ), intent
    assert alert_of(duress, "alice").kind is Kind.DURESS


def test_nothing_about_the_alert_reaches_her_phone_after_the_duress_word() -> None:
    d = Driver()
    d.say("alice", intents.Duress())
    bob_stamp = d.stamp_of("bob", "SILENT ALERT")
    d.say("bob", intents.Ack(), pointer=d.pointer_to(bob_stamp))
    d.advance(30 * MIN)
    d.say("bob", intents.Resolved())
    assert d.texts("alice") == ["💜 Noted — you had no check-in running."]


# 3. A reaction or quote acts on exactly the alert it points at --------------------------------


def test_a_thumbs_up_on_an_all_clear_acts_on_nothing() -> None:
    d = Driver()
    d.say("carol", intents.Sos())
    d.say("alice", IN_5)
    d.advance(11 * MIN)  # alice's check-in alert fires
    d.say("alice", OUT)
    safe = d.stamp_of("bob", "Alice is safe")
    reply = d.say("bob", intents.Ack(), pointer=d.pointer_to(safe))
    assert alert_of(d, "carol").phase is Phase.ALERTED
    assert d.texts("bob", reply) == ["That message isn't an alert, so nothing was answered."]


def test_a_name_she_was_not_sent_acts_on_nothing() -> None:
    d = Driver()
    d.say("carol", intents.Sos())  # elena is not in carol's ladder
    d.say("alice", IN_5)
    d.advance(11 * MIN)  # alice's alert: bob and carol
    reply = d.say("elena", intents.Ack(target="alice"))
    assert alert_of(d, "alice").phase is Phase.ALERTED
    assert alert_of(d, "carol").phase is Phase.ALERTED
    assert d.texts("elena", reply) == [
        "That's not an open alert you were sent, so nothing was answered."
    ]


def test_a_quote_of_an_alert_acts_on_that_alert_only() -> None:
    d = Driver()
    d.say("carol", intents.Sos())
    d.say("alice", intents.Sos())
    carol = d.stamp_of("bob", "SOS from Carol")
    d.say("bob", intents.Ack(), pointer=d.pointer_to(carol))
    assert alert_of(d, "carol").phase is Phase.ACKED
    assert alert_of(d, "alice").phase is Phase.ALERTED


def test_two_open_alerts_and_no_pointer_ask_which() -> None:
    d = Driver()
    d.say("carol", intents.Sos())
    d.say("alice", intents.Sos())
    reply = d.say("bob", intents.Ack())
    assert alert_of(d, "carol").phase is Phase.ALERTED
    assert alert_of(d, "alice").phase is Phase.ALERTED
    (text,) = d.texts("bob", reply)
    assert text.startswith("Which alert?") and "Carol" in text and "Alice" in text


# 4. RESOLVED quoting one alert closes that one ------------------------------------------------


def test_resolved_quoting_an_alert_closes_that_alert() -> None:
    d = Driver()
    d.say("carol", intents.Sos())  # dana is carol's buddy
    d.say("elena", intents.Sos())  # dana is not elena's buddy, but fay (tier 2) is
    d.say("dana", intents.Sos())
    quoted = d.stamp_of("fay", "SOS from Carol")
    d.say("fay", intents.Resolved(), pointer=d.pointer_to(quoted))
    assert d.own(MemberAlias("carol")) is None
    assert alert_of(d, "elena").phase is Phase.ALERTED
    assert alert_of(d, "dana").phase is Phase.ALERTED


# 5. No false comfort --------------------------------------------------------------------------


def test_nobody_reachable_she_is_told_at_once_and_so_is_the_admin() -> None:
    d = Driver()
    for alias in ("bob", "carol", "fay"):
        d.unreachable(alias)
    started = d.say("alice", IN_5)
    (reply,) = d.texts("alice", started)
    assert "Nobody can get your alerts" in reply and "Night line" in reply
    assert "Watching: nobody yet" in reply
    d.advance(5 * MIN)
    assert any("Nobody can get your alerts" in t for t in d.texts("alice")[-1:])
    d.advance(6 * MIN)
    assert any("could not reach anyone" in t for t in d.texts("alice"))
    status = d.say("alice", intents.Status())
    assert "nobody could be reached" in d.texts("alice", status)[0]
    again = d.say("alice", intents.CheckIn(None, None))
    assert "nobody could be reached" in d.texts("alice", again)[0]


def test_a_member_with_no_buddies_is_never_promised_buddies() -> None:
    d = Driver()
    d.ctx.policy.buddies.pop("alice")  # type: ignore[attr-defined]
    d.unreachable("fay")
    d.say("alice", intents.CheckIn(5 * MIN, None))
    d.advance(5 * MIN)
    promises = ("alert your buddies", "buddies know", "buddies have been alerted", "I'll alert")
    assert not any(p in t for t in d.texts("alice") for p in promises), d.texts("alice")


def test_when_the_last_reachable_recipient_fails_she_and_the_admin_are_told() -> None:
    d = Driver()
    d.say("dana", intents.Sos())  # elena and fay at once
    d.unreachable("elena")
    assert not any("could not reach anyone" in t for t in d.texts("dana"))
    d.unreachable("fay")
    assert sum("could not reach anyone" in t for t in d.texts("dana")) == 1


def test_after_duress_nobody_reachable_is_told_to_the_admin_never_to_her_phone() -> None:
    d = Driver()
    d.unreachable("bob")
    d.unreachable("carol")
    d.say("alice", intents.Duress())
    d.unreachable("fay")
    assert d.texts("alice") == ["💜 Noted — you had no check-in running."]


# 6. Caps are caps; a second SOS joins the open alert ------------------------------------------


def test_repeated_extends_never_take_a_check_in_past_its_cap() -> None:
    d = Driver()
    d.say("alice", intents.CheckIn(11 * 60 * MIN, None))
    for _ in range(6):
        reply = d.say("alice", intents.Extend(120 * MIN))
    watch = alert_of(d, "alice")
    assert watch.deadline - watch.started_at == timedelta(hours=12)
    assert "up to 12h in all" in d.texts("alice", reply)[0]
    d.say("alice", intents.CheckIn(12 * 60 * MIN, None))  # a restart counts from the first IN
    watch = alert_of(d, "alice")
    assert watch.deadline - watch.started_at <= timedelta(hours=12)


def test_a_second_sos_joins_the_open_alert() -> None:
    d = Driver()
    d.say("alice", intents.Sos())
    before = len(d.texts("bob"))
    again = d.say("alice", intents.Sos(note="he has a knife"))
    bob = d.texts("bob", again)
    assert len(d.texts("bob")) == before + 1
    assert bob[0].startswith("🆘 Alice sent SOS again") and "he has a knife" in bob[0]
    assert len({w.id for w in d.watches.values()}) == 1


def test_sos_during_a_check_in_alert_joins_it() -> None:
    d = Driver()
    d.say("alice", IN_5)
    d.advance(11 * MIN)
    d.say("bob", intents.Ack())
    joined = d.say("alice", intents.Sos())
    watch = alert_of(d, "alice")
    assert watch.kind is Kind.SOS and watch.phase is Phase.ACKED and watch.acked_by == "bob"
    first = d.texts("bob", joined)[0]
    assert first.startswith("🆘 Alice sent SOS")


def test_resolved_naming_one_of_two_open_alerts_closes_that_one() -> None:
    d = Driver()
    d.say("carol", intents.Sos())
    d.say("alice", intents.Sos())
    d.say("bob", intents.Resolved(target="alice"))
    assert d.own(MemberAlias("alice")) is None
    assert alert_of(d, "carol").phase is Phase.ALERTED


def test_the_admin_hears_whom_an_alert_missed_only_when_the_next_tier_was_really_alerted() -> None:
    d = Driver()
    d.say("alice", IN_5)
    d.advance(11 * MIN)  # due, then alerted: bob and carol (tier 1)
    watch = d.own(MemberAlias("alice"))
    assert watch is not None and watch.phase is Phase.ALERTED and watch.tiers_alerted == 1
    d.ctx = replace(d.ctx, unreachable=d.ctx.unreachable | {Recipient.member(MemberAlias("bob"))})
    escalated = d.apply(on_undeliverable(d.ctx, watch, d.now, Unreached("bob", "untrusted_keys")))
    told = [t for t in _to_admin(escalated) if "could not be delivered to Bob" in t]
    assert told and "next tier was alerted" in told[0]
    # Every tier alerted already: a second miss escalates nothing, so the admin is not told
    # "the next tier was alerted" — that would be false comfort.
    again = d.own(MemberAlias("alice"))
    assert again is not None and again.tiers_alerted == 2
    missed = d.apply(on_undeliverable(d.ctx, again, d.now, Unreached("carol", "unregistered")))
    assert not any("next tier was alerted" in t for t in _to_admin(missed))


def _to_admin(decision: Decision) -> list[str]:
    return [m.text for m in decision.messages if m.to.address == "fay"]
