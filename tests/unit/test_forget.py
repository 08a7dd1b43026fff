"""FORGET decided with plain values, no database: which answer (`step`), its text (`decide`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from relay.core.decide import Outgoing, Purpose
from relay.core.state import Kind, Phase, Recipient, Watch
from relay.core.types import MemberAlias
from relay.features.forget import CONFIRM_WITHIN, Step, decide, step
from relay.store.erasure import Hers

T0 = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)
ALICE = MemberAlias("alice")
ME = Recipient.member(ALICE)


def watch(
    kind: Kind = Kind.CHECKIN, phase: Phase = Phase.ACTIVE, cover_until: datetime | None = None
) -> Watch:
    deadline = T0 + timedelta(hours=1)
    return Watch(ALICE, kind, phase, T0, deadline, deadline, cover_until=cover_until)


def say(key: str, **params: object) -> str:
    return f"{key}{sorted(params.items())}" if params else key


ASKED = T0 - timedelta(minutes=2)


@pytest.mark.parametrize(
    ("own", "confirmed", "asked_at", "expected"),
    [
        (None, False, None, Step.ASK),
        (None, True, None, Step.ASK),  # YES with no question open only asks
        (None, True, ASKED, Step.ERASE),
        (None, True, T0 - CONFIRM_WITHIN - timedelta(seconds=1), Step.ASK),  # too late
        (None, False, ASKED, Step.ASK),  # FORGET again asks again
        (watch(phase=Phase.DRAFT), True, ASKED, Step.ERASE),  # a draft is not live
        (watch(phase=Phase.CLOSED), True, ASKED, Step.ERASE),
        (watch(), True, ASKED, Step.LIVE),
        (watch(Kind.SOS, Phase.ALERTED), True, ASKED, Step.LIVE),
        (watch(Kind.DURESS, Phase.ALERTED), False, None, Step.ASK),  # as after a real OUT
        (watch(Kind.DURESS, Phase.ALERTED), True, ASKED, Step.COVER),  # never ERASE
        (watch(Kind.DURESS, Phase.ACKED), True, ASKED, Step.COVER),
        # Her phone started a check-in since the duress word: it sees that check-in as live.
        (
            watch(Kind.DURESS, Phase.ALERTED, cover_until=T0 + timedelta(minutes=5)),
            True,
            ASKED,
            Step.LIVE,
        ),
        (
            watch(Kind.DURESS, Phase.ALERTED, cover_until=T0 - timedelta(minutes=5)),
            True,
            ASKED,
            Step.COVER,
        ),
    ],
)
def test_step(
    own: Watch | None, confirmed: bool, asked_at: datetime | None, expected: Step
) -> None:
    assert step(own, confirmed, asked_at, T0) is expected


def test_ask_opens_the_question_and_names_the_window() -> None:
    answer = decide(say, ME, Step.ASK, None, T0)
    assert answer.asked_at == T0
    assert answer.decision.messages == (Outgoing(ME, "forget_ask[('minutes', 10)]", Purpose.REPLY),)
    assert answer.decision.watches == ()


def test_live_refuses_and_closes_the_question() -> None:
    answer = decide(say, ME, Step.LIVE, None, T0)
    assert answer.asked_at is None
    assert [m.text for m in answer.decision.messages] == ["forget_live"]


def test_erase_counts_what_went_and_what_stays() -> None:
    hers = Hers(
        watches=["w1", "w2"],
        messages=[3],
        photos={"k1"},
        pending_reports=1,
        shared_reports=2,
        log_entries=0,
    )
    answer = decide(say, ME, Step.ERASE, hers, T0)
    assert answer.asked_at is None
    (reply,) = answer.decision.messages
    lines = reply.text.split("\n")
    assert lines[0].startswith("forget_done")
    for shown in (
        "forget_count_checkins[('count', 2)]",
        "forget_count_messages[('count', 1)]",
        "forget_count_photos[('count', 1)]",
        "forget_count_reports[('count', 1)]",
    ):
        assert shown in lines[0]
    assert "forget_count_log" not in lines[0]  # nothing to count: not named
    assert lines[1:] == ["forget_shared_reports[('count', 2)]", "forget_what_stays"]


def test_erase_with_nothing_stored_says_so() -> None:
    (reply,) = decide(say, ME, Step.ERASE, Hers(), T0).decision.messages
    assert "forget_count_none" in reply.text


def test_a_row_that_did_not_open_stops_it() -> None:
    (reply,) = decide(say, ME, Step.ERASE, None, T0).decision.messages
    assert reply.text == "forget_failed"


def test_cover_reads_as_erase_and_forwards_what_her_phone_sent() -> None:
    buddy = Recipient.member(MemberAlias("bob"))
    forward = (Outgoing(buddy, "she sent: forget yes", Purpose.ALERT),)
    hers = Hers(watches=["w1"])
    cover = decide(say, ME, Step.COVER, hers, T0, forward)
    erase = decide(say, ME, Step.ERASE, hers, T0)
    assert cover.decision.messages[0] == erase.decision.messages[0]  # her phone cannot tell
    assert cover.decision.messages[1:] == forward
