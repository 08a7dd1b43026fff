"""The answers to REPORT, CHECK, APPROVE, REJECT and WITHDRAW, decided with no database: the
sample rules, plain values for what the store would hold, and the decision plus the change out.
Who is told what, and that nobody but the author ever reads her name beside a report."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from relay.core.builder import Decision, Outgoing, Purpose
from relay.core.identifiers import Identifier
from relay.core.state import RecipientKind
from relay.core.types import MemberAlias
from relay.features.reports import decisions
from relay.features.reports.decisions import Add, Approve, Delete, Desk, Rate
from relay.features.reports.screening import Match
from relay.locales import load_catalog
from relay.rules import ReportPolicy, Rules, load_rules
from relay.store.reports import Status, StoredReport

SAMPLES = Path(__file__).resolve().parents[2] / "rules"
RULES = load_rules(SAMPLES, allow_placeholders=True)  # carol moderates; night-shift has a group
DIRECT = dataclasses.replace(RULES, reports=ReportPolicy(moderation="direct"))
CATALOG = load_catalog()
T0 = datetime(2026, 11, 26, 20, 0, tzinfo=UTC)
TEXT = "he choked me. His number +44 7700 900123, drives AB12 CDE"


def desk(alias: str, rules: Rules = RULES, now: datetime = T0) -> Desk:
    member = rules.member(alias)
    assert member is not None
    return Desk(rules, CATALOG, "Europe/London", member, now)


def stored(
    number: int = 1,
    status: Status = "pending",
    author: str | None = "alice",
    photos: tuple[str, ...] = (),
    severity: int = 3,
    categories: tuple[str, ...] = (),
    origin: str | None = None,
) -> StoredReport:
    return StoredReport(
        number=number,
        status=status,
        severity=severity,
        categories=categories,
        origin=origin,
        created_at=T0,
        decided_at=None,
        expires_at=None,
        author=MemberAlias(author) if author is not None else None,
        text=TEXT,
        identifiers=(Identifier("phone", "+447700900123"),),
        photos=photos,
    )


def to(decision: Decision, address: str) -> list[str]:
    return [m.text for m in decision.messages if m.to.address == address]


def posts(decision: Decision) -> list[Outgoing]:
    return [m for m in decision.messages if m.to.kind is RecipientKind.GROUP]


def names_nobody(messages: Sequence[Outgoing], author: str) -> None:
    for message in messages:
        if message.to.address != author:
            assert author not in message.text.lower(), message


# --- REPORT ------------------------------------------------------------------------------------


def test_a_report_goes_to_the_moderator_and_is_stored_pending() -> None:
    answer = decisions.report(desk("alice"), TEXT, 1, ("photo-key",), 7)
    assert to(answer.decision, "alice") == [
        "📝 Got it — report #7. A moderator checks it before it's shared; your name is never "
        "shown. WITHDRAW 7 takes it back."
    ]
    (review,) = [m for m in answer.decision.messages if m.to.address == "carol"]
    assert "Report #7 to review (violent)" in review.text
    assert "CHECK will match: +447700900123, AB12CDE" in review.text
    assert review.attachments == ("photo-key",) and review.purpose is Purpose.NOTICE
    names_nobody(answer.decision.messages, "alice")
    assert isinstance(answer.change, Add)
    new = answer.change.report
    assert (new.number, new.author, new.status, new.severity) == (7, "alice", "pending", 3)
    assert new.photos == ("photo-key",) and new.created_at == T0
    assert new.expires_at == T0 + timedelta(weeks=52)  # the sample's retention.reports
    assert [i.kind for i in new.identifiers] == ["phone", "plate"]


def test_a_direct_report_reaches_every_member_at_once_in_her_language() -> None:
    answer = decisions.report(desk("bob", DIRECT), "stole my phone, +1 202 555 0188", 0, (), 1)
    assert to(answer.decision, "bob")[0].startswith(
        "📝 Got it — report #1 is shared with 5 members."
    )
    assert "⚠️ Aviso #1 (inseguro)" in to(answer.decision, "elena")[0]
    warned = {m.to.address for m in answer.decision.messages if "#1 (" in m.text}
    assert warned == {"alice", "bob", "carol", "dana", "elena"}  # her too: nobody stands out
    names_nobody(answer.decision.messages, "bob")
    assert isinstance(answer.change, Add) and answer.change.report.status == "approved"


def test_what_a_report_lacks_is_asked_for_and_lost_photos_are_counted() -> None:
    answer = decisions.report(desk("alice"), "weird vibe", 3, ("kept",), 2)
    (reply,) = to(answer.decision, "alice")
    assert "How serious was it? Reply REPORT 1" in reply
    assert reply.endswith("\n2 photos couldn't be saved.")  # two of her three
    assert "(not rated)" in to(answer.decision, "carol")[0]


def test_an_empty_report_is_told_how_and_stores_nothing() -> None:
    answer = decisions.report(desk("alice"), "", 0, (), 1)
    assert "To warn the others" in to(answer.decision, "alice")[0]
    assert answer.change is None and {m.to.address for m in answer.decision.messages} == {"alice"}


def test_report_with_a_number_rates_her_newest_unrated_report() -> None:
    assert decisions.rating("2", 0) == 2
    assert decisions.rating("2", 1) is None  # with photos: a new report, rated 2
    assert decisions.rating("he was rough", 0) is None
    rated = decisions.rate(desk("alice"), 2, 4)
    assert to(rated.decision, "alice") == ["Thanks — report #4 is marked: unsafe."]
    assert rated.change == Rate(4, 2)
    nothing = decisions.rate(desk("alice"), 2, None)
    assert "To warn the others" in to(nothing.decision, "alice")[0] and nothing.change is None


# --- CHECK -------------------------------------------------------------------------------------


def test_check_answers_with_the_matches_and_names_no_reporter() -> None:
    match = Match(1, 3, T0, "he choked me", ("phone_end",))
    found = decisions.check(desk("elena"), [match])
    (answer,) = to(found.decision, "elena")
    assert "#1 · 2026-11-26 · violento" in answer
    assert found.change is None and found.decision.messages[0].purpose is Purpose.REPLY
    none = decisions.check(desk("bob"), [])
    assert "No warnings match" in to(none.decision, "bob")[0]
    unreadable = decisions.unreadable(desk("bob"))
    assert to(unreadable.decision, "bob") and unreadable.change is None


# --- moderation --------------------------------------------------------------------------------


def test_only_moderators_approve_or_reject() -> None:
    for answer in (
        decisions.approve(desk("bob"), 1, stored(), None),
        decisions.reject(desk("bob"), 1, "", stored(), None),
    ):
        assert to(answer.decision, "bob") == ["Only moderators can approve or reject reports."]
        assert answer.change is None


def test_approval_shares_the_warning_and_tells_the_author() -> None:
    answer = decisions.approve(desk("carol"), 1, stored(photos=("p",)), None)
    (post,) = posts(answer.decision)
    assert "⚠️ Warning #1 (violent), reported 2026-11-26" in post.text
    assert "⚠️ Aviso #1 (violento), del 2026-11-26" in post.text  # elena reads Spanish
    assert post.attachments == ("p",)
    # The sample rules' leeds takes every report a moderator SHAREs; bristol (violence and
    # the like, rated 2 or more) does not take one with no category: only leeds is named.
    assert to(answer.decision, "carol") == [
        "✅ Report #1 is shared with the night-shift group.\n"
        "Partner collectives that take warnings like this: leeds. Nothing goes to them unless "
        "you send SHARE 1 — or SHARE 1 and a summary in your own words (her words may say who "
        "she is)."
    ]
    assert to(answer.decision, "alice") == [
        "✅ Your report #1 was approved and shared. Thank you for looking out for everyone 💜"
    ]
    names_nobody(answer.decision.messages, "alice")
    assert answer.change == Approve(1)


def test_approval_names_the_partners_whose_rules_take_it() -> None:
    violent = stored(severity=3, categories=("violence",))
    answer = decisions.approve(desk("carol"), 1, violent, None)
    (reply,) = to(answer.decision, "carol")
    assert "take warnings like this: bristol, leeds." in reply
    mild = stored(severity=1, categories=("violence",))
    (reply,) = to(decisions.approve(desk("carol"), 1, mild, None).decision, "carol")
    assert "like this: leeds." in reply  # bristol takes 2 and up
    from_partner = stored(severity=3, categories=("violence",), origin="bristol")
    (reply,) = to(decisions.approve(desk("carol"), 1, from_partner, None).decision, "carol")
    assert "SHARE" not in reply  # a partner's warning is never passed on
    again = decisions.approve(desk("carol"), 1, stored(status="approved"), None)
    assert to(again.decision, "carol") == ["Report #1 is already shared."]
    assert again.change is None


def test_a_moderator_cannot_approve_her_own_report_while_another_can() -> None:
    two = dataclasses.replace(
        RULES,
        members={
            **RULES.members,
            MemberAlias("dana"): dataclasses.replace(
                RULES.members[MemberAlias("dana")], moderator=True
            ),
        },
    )
    own = decisions.approve(desk("carol", two), 2, stored(2, author="carol"), None)
    assert to(own.decision, "carol") == [
        "Report #2 is yours, so another moderator needs to approve it."
    ]
    assert own.change is None
    alone = decisions.approve(desk("carol"), 2, stored(2, author="carol"), None)
    assert alone.change == Approve(2)  # the only moderator may


@pytest.mark.parametrize(
    ("last", "said"),
    [
        ("withdrawn", "Report #3 was withdrawn by the member who sent it."),
        ("removed", "Report #3 was already removed."),
        (None, "There's no report #3."),
    ],
)
def test_a_report_that_is_gone_says_why(last: str | None, said: str) -> None:
    answer = decisions.approve(desk("carol"), 3, None, last)
    assert to(answer.decision, "carol") == [said] and answer.change is None


def test_rejecting_a_shared_warning_retracts_it_and_deletes_its_photos() -> None:
    answer = decisions.reject(
        desk("carol"), 1, "wrong client", stored(status="approved", photos=("p",)), None
    )
    (retraction,) = posts(answer.decision)
    assert "Warning #1 has been withdrawn — please disregard it." in retraction.text
    assert to(answer.decision, "alice") == [
        "Your warning #1 was removed by a moderator.\nThe moderator said: wrong client"
    ]
    assert answer.change == Delete(1, "removed", ("p",))
    pending = decisions.reject(desk("carol"), 1, "", stored(), None)
    assert to(pending.decision, "alice") == [
        "Your report #1 wasn't shared, and it has been deleted."
    ]
    assert posts(pending.decision) == [] and pending.change == Delete(1, "rejected", ())


def test_withdraw_is_hers_alone() -> None:
    theirs = decisions.withdraw(desk("bob"), 2, stored(2), False)
    assert to(theirs.decision, "bob") == ["You have no report #2."] and theirs.change is None
    missing = decisions.withdraw(desk("bob"), 2, None, False)
    assert to(missing.decision, "bob") == ["You have no report #2."]  # the same words
    pending = decisions.withdraw(desk("alice"), 2, stored(2), True)
    assert to(pending.decision, "alice") == ["Report #2 withdrawn and deleted."]
    assert to(pending.decision, "carol") == [
        "Report #2 was withdrawn by the member who sent it — nothing to review."
    ]
    assert pending.change == Delete(2, "withdrawn", ())
    shared = decisions.withdraw(desk("alice"), 3, stored(3, status="approved"), True)
    assert "Warning #3 has been withdrawn" in posts(shared.decision)[0].text
    names_nobody(shared.decision.messages, "alice")
