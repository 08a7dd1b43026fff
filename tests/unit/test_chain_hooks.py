"""The small pure helpers of relay.chain: which drills an answer names, and a line added to the
core's reply (never to another message, never to someone else's)."""

from __future__ import annotations

from relay.chain import appended
from relay.core.decide import Decision, Outgoing, Purpose
from relay.core.drills import AskedBy, Drill, named
from relay.core.state import Recipient
from relay.core.types import MemberAlias
from tests.unit.core_support import T0

ALICE, BOB = Recipient.member(MemberAlias("alice")), Recipient.member(MemberAlias("bob"))


def drill(member: str) -> Drill:
    return Drill(member, MemberAlias(member), "b", AskedBy.MEMBER, T0, None)


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
