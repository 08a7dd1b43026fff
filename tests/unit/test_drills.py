"""Practice drills in the pure core (relay.core.drills): who is asked, the rate limit, a real
alert winning, duress, answers, the report — and that no practice text in any language can be
taken for a real alert."""

from __future__ import annotations

from datetime import timedelta

import pytest

from relay.core.decide import Purpose
from relay.core.delivery import Reach
from relay.core.drills import (
    Asked,
    AskedBy,
    Drill,
    DrillSettings,
    DrillState,
    admin_report,
    answer,
    practice_list,
    report,
    start,
)
from relay.core.escalation import Tier
from relay.core.state import Kind, Phase, Recipient, RecipientKind, Watch
from relay.core.types import MemberAlias
from relay.core.voice import Voice
from relay.locales import available_languages
from tests.catalog_checks import shipped
from tests.unit.core_support import ADMIN, CATALOG, MIN, T0, Collective

ALICE, BOB, CAROL = MemberAlias("alice"), MemberAlias("bob"), MemberAlias("carol")
VOICE = Voice(Collective(), CATALOG, "Europe/London")
SETTINGS = DrillSettings(tiers=(1,), report_after=10 * MIN, min_interval=timedelta(days=1))


def tiers() -> list[Tier]:
    return list(Collective().tiers(ALICE, Kind.CHECKIN))  # bob, carol; then the admin


def begin(
    asked_by: AskedBy = AskedBy.MEMBER, watch: Watch | None = None, last: object = None
) -> tuple[Drill | None, list[tuple[str, str, Purpose]]]:
    outcome = start(
        VOICE,
        SETTINGS,
        ALICE,
        tiers(),
        T0,
        "d1",
        "b1",
        asked_by,
        last,
        watch,  # type: ignore[arg-type]
    )
    return outcome.drill, [(m.to.address, m.text, m.purpose) for m in outcome.messages]


def alert(kind: Kind) -> Watch:
    return Watch(ALICE, kind, Phase.ALERTED, T0, T0, None, alerted=(Recipient.member(BOB),), id="w")


def test_the_practice_goes_to_the_members_of_the_named_tiers_only() -> None:
    group = Recipient(RecipientKind.GROUP, "group.x", "night")
    outside = Recipient(RecipientKind.OUTSIDE, "+12025550190", "Night line")
    ladder = [
        Tier(timedelta(0), (Recipient.member(BOB), group, Recipient.member(ALICE))),
        Tier(10 * MIN, (Recipient.member(CAROL), outside, Recipient.member(BOB))),
    ]
    assert practice_list(ladder, (1,), ALICE) == (Asked(BOB, 1),)
    assert practice_list(ladder, (1, 2), ALICE) == (Asked(BOB, 1), Asked(CAROL, 2))
    assert practice_list(ladder, (3,), ALICE) == ()


def test_drill_sends_a_marked_practice_to_her_first_tier_and_tells_her_when_the_report_comes() -> (
    None
):
    drill, sent = begin()
    assert drill is not None and drill.report_at == T0 + 10 * MIN
    assert [a.alias for a in drill.asked] == [BOB, CAROL]
    practice = [(to, text) for to, text, purpose in sent if purpose is Purpose.DRILL]
    assert [to for to, _ in practice] == [BOB, CAROL]
    assert all(text.startswith("🧪 PRACTICE") and "Alice" in text for _, text in practice)
    (reply,) = [text for to, text, purpose in sent if to == ALICE]
    assert "Bob, Carol" in reply and "20:10" in reply
    assert not any(purpose is Purpose.ALERT for _, _, purpose in sent)


def test_her_own_drills_are_rate_limited_the_admins_are_not() -> None:
    drill, sent = begin(last=T0 - 2 * 60 * MIN)
    assert drill is None
    assert len(sent) == 1 and "The next one is possible from" in sent[0][1]
    drill, sent = begin(AskedBy.ADMIN, last=T0 - 2 * 60 * MIN)
    assert drill is not None and len(sent) == 3


def test_no_practice_while_her_real_alert_is_open() -> None:
    for kind in (Kind.CHECKIN, Kind.SOS):
        drill, sent = begin(watch=alert(kind))
        assert drill is None
        assert [(to, purpose) for to, _, purpose in sent] == [(ALICE, Purpose.REPLY)]
        assert "Your alert is open" in sent[0][1]
        assert begin(AskedBy.ADMIN, watch=alert(kind)) == (None, [])


def test_after_the_duress_word_her_phone_sees_a_normal_drill_and_nobody_is_asked() -> None:
    _, normal = begin()
    drill, sent = begin(watch=alert(Kind.DURESS))
    assert drill is not None and drill.cover
    assert sent == [m for m in normal if m[0] == ALICE]  # byte for byte what a drill answers
    assert not drill.waiting_on(BOB)
    assert begin(AskedBy.ADMIN, watch=alert(Kind.DURESS)) == (None, [])


def test_nobody_to_practise_with() -> None:
    policy = Collective(buddies={})
    voice = Voice(policy, CATALOG, "Europe/London")
    ladder = list(policy.tiers(ALICE, Kind.CHECKIN))
    own = start(voice, SETTINGS, ALICE, ladder, T0, "d", "b", AskedBy.MEMBER, None, None)
    assert own.drill is None and "nobody in your first tier" in own.messages[0].text
    admins = start(voice, SETTINGS, ALICE, ladder, T0, "d", "b", AskedBy.ADMIN, None, None)
    assert admins.drill is not None and admins.drill.asked == ()  # the admin hears of the gap


def test_answers_count_once_and_not_after_the_end() -> None:
    drill, _ = begin()
    assert drill is not None
    first = answer(VOICE, drill, BOB, T0 + timedelta(seconds=70))
    assert first.drill is not None and "answered in 1 min" in first.messages[0].text
    assert not first.drill.waiting_on(BOB) and first.drill.waiting_on(CAROL)
    again = answer(VOICE, first.drill, BOB, T0 + 5 * MIN)
    assert again.drill is None and "Already counted" in again.messages[0].text
    stranger = answer(VOICE, first.drill, MemberAlias("dana"), T0 + 5 * MIN)
    assert stranger.drill is None and "That practice is over" in stranger.messages[0].text
    over = answer(VOICE, Drill("d", ALICE, "b", AskedBy.MEMBER, T0, None, drill.asked,
                               DrillState.DONE), CAROL, T0)  # fmt: skip
    assert over.drill is None and "over" in over.messages[0].text


def test_the_report_says_per_person_on_the_phone_answered_how_fast() -> None:
    drill, _ = begin()
    assert drill is not None
    answered = answer(VOICE, drill, BOB, T0 + 2 * MIN).drill
    assert answered is not None
    reaches = {"bob": Reach("bob", False, 1, T0, T0 + timedelta(seconds=3))}
    result = report(VOICE, answered, reaches, T0 + 10 * MIN, None)
    assert result.drill.state is DrillState.DONE and result.drill.report_at is None
    assert not result.gap
    (message,) = result.messages
    assert message.to == Recipient.member(ALICE)
    lines = message.text.splitlines()
    assert lines[1] == "✅ Bob: answered after 2 min (on the phone 20:00)"
    assert lines[2].startswith("❌ Carol: the relay could not send it")
    assert lines[3].startswith("1 of 2 answered")


def test_a_report_with_nobody_answering_is_a_gap_for_the_admin() -> None:
    drill, _ = begin()
    assert drill is not None
    reaches = {
        "bob": Reach("bob", False, 1, T0, T0 + MIN, T0 + 2 * MIN),
        "carol": Reach("carol", False, 1, T0),
    }
    result = report(VOICE, drill, reaches, T0 + 10 * MIN, None)
    assert result.gap
    text = result.messages[0].text
    assert "⚠️ Bob: on the phone 20:01, read 20:02 — no answer" in text
    assert "❌ Carol: sent 20:00, never reached the phone" in text
    assert "Nobody answered" in text
    notice = admin_report(VOICE, ADMIN, [(drill, reaches)], T0 + 10 * MIN)
    assert notice is not None and notice.to == Recipient.member(ADMIN)
    assert "Alice" in notice.text and "never reached the phone" in notice.text
    assert admin_report(VOICE, ADMIN, [], T0) is None


def test_her_real_alert_ends_the_drill_quietly_except_after_duress() -> None:
    drill, _ = begin()
    assert drill is not None
    quiet = report(VOICE, drill, {}, T0 + 10 * MIN, alert(Kind.SOS))
    assert quiet.messages == () and not quiet.gap and quiet.drill.state is DrillState.DONE
    covered = report(VOICE, drill, {}, T0 + 10 * MIN, alert(Kind.DURESS))
    assert len(covered.messages) == 1  # her phone gets what it would have got


@pytest.mark.parametrize("language", available_languages())
def test_no_practice_text_can_be_taken_for_a_real_alert(language: str) -> None:
    drills, messages = shipped("drills.yaml", language), shipped("messages.yaml", language)
    real_openings = {
        str(messages[key]).split("{")[0].strip()
        for key in ("alert_missed", "alert_sos", "alert_duress", "alert_no_secret", "alert_repeat")
    }
    for key in ("drill_alert", "drill_answered", "drill_answered_again", "drill_over"):
        text = str(drills[key])
        assert text.startswith("🧪 "), (language, key)
        assert "🚨" not in text and "🆘" not in text, (language, key)
        assert not any(text.startswith(opening) for opening in real_openings), (language, key)
    practice = str(drills["drill_alert"])
    assert "ACK" in practice
    head = practice.split("—")[0]
    assert head.isupper() or head.upper() == head, (language, head)  # PRACTICE / SIMULACRO …
