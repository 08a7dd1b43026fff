"""The pure decisions behind relay.runtime.chain's hooks: which practice drills an answer answers
(a real
alert always wins), which drills an answer names, the real alert she is told came first, and a
line added to the core's reply (never to another message, never to someone else's)."""

from __future__ import annotations

from relay.core.decide import Decision, Outgoing, Purpose
from relay.core.drills import Asked, AskedBy, Drill, named, practice_answered, real_first
from relay.core.state import Kind, Phase, Recipient, Watch
from relay.core.types import MemberAlias
from relay.runtime.chain import appended
from tests.unit.core_support import T0

ALICE, BOB = Recipient.member(MemberAlias("alice")), Recipient.member(MemberAlias("bob"))


def drill(member: str) -> Drill:
    asked = (Asked(MemberAlias("bob"), 1),)
    return Drill(member, MemberAlias(member), "b", AskedBy.MEMBER, T0, None, asked)


def watch(member: str, phase: Phase, acked_by: str | None = None) -> Watch:
    return Watch(
        id=f"w-{member}",
        member=MemberAlias(member),
        kind=Kind.CHECKIN,
        phase=phase,
        started_at=T0,
        deadline=T0,
        next_at=None,
        acked_by=MemberAlias(acked_by) if acked_by else None,
    )


def test_a_quote_of_a_practice_message_answers_that_drill_only() -> None:
    asking = [drill("alice"), drill("elena")]
    quoted = {"asking": asking, "real_to_answer": True, "name": None}
    # It quotes elena's practice: that one, even with a real alert she could answer.
    assert practice_answered(pointing=True, at_alert=False, quoted_drill="elena", **quoted) == [
        "elena"
    ]
    # It quotes a real alert, or something that was no practice: the core answers it.
    assert practice_answered(pointing=True, at_alert=True, quoted_drill=None, **quoted) is None
    assert practice_answered(pointing=True, at_alert=False, quoted_drill=None, **quoted) is None


def test_a_plain_answer_is_a_practice_answer_only_when_no_real_alert_waits_on_her() -> None:
    asking = [drill("alice"), drill("elena")]
    plain = {"pointing": False, "at_alert": False, "quoted_drill": None}
    assert practice_answered(**plain, asking=asking, real_to_answer=False, name=None) == [
        "alice",
        "elena",
    ]
    assert practice_answered(**plain, asking=asking, real_to_answer=False, name="elena") == [
        "elena"
    ]
    # A real alert always wins a plain ACK; no practice waiting: the core's too.
    assert practice_answered(**plain, asking=asking, real_to_answer=True, name=None) is None
    assert practice_answered(**plain, asking=[], real_to_answer=False, name=None) is None


def test_the_real_alert_she_took_or_closed_is_the_one_she_is_told_came_first() -> None:
    taken = watch("carol", Phase.ACKED, acked_by="bob")
    closed = watch("dana", Phase.CLOSED)
    someone_elses = watch("erin", Phase.ACKED, acked_by="fran")
    own = watch("bob", Phase.CLOSED)
    assert real_first([own, someone_elses, taken], "bob") == taken
    assert real_first([closed], "bob") == closed
    assert real_first([own, someone_elses], "bob") is None


def test_an_answer_naming_a_member_answers_her_practice_else_all() -> None:
    asking = [drill("alice"), drill("elena")]
    assert named(asking, "Elena") == [asking[1]]
    assert named(asking, None) == asking
    assert named(asking, "bob") == asking  # not one of theirs: all she was asked in


def test_lines_go_to_her_last_reply_only() -> None:
    decision = Decision(
        messages=(
            Outgoing(ALICE, "first", Purpose.REPLY),
            Outgoing(BOB, "to bob", Purpose.NOTICE),
            Outgoing(ALICE, "reply", Purpose.REPLY),
            Outgoing(ALICE, "notice", Purpose.NOTICE),
        )
    )
    changed = appended(decision, ALICE, ["📱 Bob: reached the phone 20:00"])
    assert [m.text for m in changed.messages] == [
        "first",
        "to bob",
        "reply\n📱 Bob: reached the phone 20:00",
        "notice",
    ]
    assert appended(decision, ALICE, []) is decision
    assert appended(Decision(), ALICE, ["x"]) == Decision()
