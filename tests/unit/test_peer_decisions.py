"""SHARE and a partner relay's messages, decided with no database: the sample rules (carol
moderates; bristol takes violent-and-the-like reports rated 2+, leeds takes every one it is sent
but sends nothing in), plain values for what the store would hold.

What is proven here: nothing leaves without a moderator's SHARE, and only to partners whose rules
take it, under their cap, once; a partner's warning is never passed on; what goes out is signed
for that partner and carries no author; a partner's warning reaches moderators, never members; a
retraction of a shared warning tells members to disregard it; a refusal reaches the admin."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from relay.core.builder import Decision
from relay.core.identifiers import Identifier
from relay.core.state import RecipientKind
from relay.core.types import MemberAlias
from relay.features.peers.payload import Retraction, Warning, decode, new_id
from relay.features.peers.post import PeerPost
from relay.features.peers.receiving import new_report, refused, retracted
from relay.features.peers.sharing import Candidate, decide
from relay.features.reports.decisions import Desk, partners_for
from relay.locales import load_catalog
from relay.rules import load_rules
from relay.store.reports import StoredReport

SAMPLES = Path(__file__).resolve().parents[2] / "rules"
RULES = load_rules(SAMPLES, allow_placeholders=True)
CATALOG = load_catalog()
T0 = datetime(2026, 11, 26, 20, 0, tzinfo=UTC)
OWN = "+12025550100"
KEY = Ed25519PrivateKey.generate()
POST = PeerPost(KEY, OWN)
BRISTOL = RULES.peers.partners["bristol"]
LEEDS = RULES.peers.partners["leeds"]
PUBLIC = KEY.public_key().public_bytes_raw()


def desk(alias: str | None) -> Desk:
    member = RULES.member(alias) if alias is not None else None
    return Desk(RULES, CATALOG, "Europe/London", member, T0)


def report(**changes: object) -> StoredReport:
    values: dict[str, object] = {
        "number": 4,
        "status": "approved",
        "severity": 3,
        "created_at": T0,
        "decided_at": T0,
        "expires_at": None,
        "author": MemberAlias("alice"),
        "text": "alice here: he choked me, +44 7700 900123",
        "identifiers": (Identifier("phone", "+447700900123"),),
        "categories": ("violence",),
    }
    values.update(changes)
    return StoredReport(**values)  # type: ignore[arg-type]


def to(decision: Decision, address: str) -> list[str]:
    return [m.text for m in decision.messages if m.to.address == address]


def partner_posts(decision: Decision) -> list[tuple[str, str]]:
    return [(m.to.address, m.text) for m in decision.messages if m.to.kind is RecipientKind.OUTSIDE]


def both() -> list[Candidate]:
    return [Candidate(BRISTOL, 0, False), Candidate(LEEDS, 0, False)]


def test_the_rules_say_which_partners_take_a_report() -> None:
    assert partners_for(RULES, report()) == ("bristol", "leeds")
    assert partners_for(RULES, report(severity=1)) == ("leeds",)
    assert partners_for(RULES, report(categories=("theft",))) == ("leeds",)
    assert partners_for(RULES, report(severity=None, categories=())) == ("leeds",)


def test_share_sends_a_signed_warning_with_her_summary_and_never_her_name() -> None:
    d = desk("carol")
    sent = decide(d, POST, 4, "tall man, choked a worker", report(), None, both())
    decision = d.done().decision
    assert [s.partner.label for s in sent] == ["bristol", "leeds"]
    (reply,) = to(decision, "carol")
    assert "Warning #4 is on its way to bristol, leeds" in reply
    posts = partner_posts(decision)
    assert [number for number, _ in posts] == [BRISTOL.number, LEEDS.number]
    for (number, text), item in zip(posts, sent, strict=True):
        message = decode(text, PUBLIC, OWN, number, date(2026, 11, 26))
        assert isinstance(message, Warning)
        assert message.id == item.wid and message.summary == "tall man, choked a worker"
        assert message.sender_name == "Night Owls"
        assert message.identifiers == (Identifier("phone", "+447700900123"),)
        assert message.severity == 3 and message.categories == ("violence",)
        assert message.reported == date(2026, 11, 23)  # T0's week (a Thursday's Monday)
        assert "alice" not in text.lower()
    # Signed for bristol: leeds's copy does not pass as bristol's (and the reverse).
    assert len({text for _, text in posts}) == 2
    # The author is not told who got it; no member but the moderator hears of it.
    assert to(decision, "alice") == []


def test_without_a_summary_her_words_go_as_approved() -> None:
    d = desk("carol")
    decide(d, POST, 4, "", report(), None, [Candidate(LEEDS, 0, False)])
    ((_, text),) = partner_posts(d.done().decision)
    message = decode(text, PUBLIC, OWN, LEEDS.number, date(2026, 11, 26))
    assert isinstance(message, Warning) and message.summary.startswith("alice here")


def test_share_refuses_what_must_not_leave() -> None:
    cases = [
        ("bob", report(), both(), "Only moderators can send warnings"),
        ("carol", None, both(), "There's no report #4."),
        ("carol", report(status="pending"), both(), "isn't approved yet"),
        ("carol", report(origin="bristol"), both(), "came from a partner collective"),
        ("carol", report(), [], "No partner collective takes a warning like #4"),
        ("carol", report(text=""), both(), "has no words to send"),
        ("carol", report(), [Candidate(LEEDS, 0, True)], "was already sent to leeds"),
        ("carol", report(text="x" * 1001), both(), "too long for partners"),
        # An identifier a partner would refuse (not in its normalised form): nothing goes.
        (
            "carol",
            report(identifiers=(Identifier("phone", "07700 900123"),)),
            both(),
            "can't be put into a message partners accept",
        ),
    ]
    for alias, stored, candidates, expected in cases:
        d = desk(alias)
        assert decide(d, POST, 4, "", stored, None, candidates) == []
        decision = d.done().decision
        assert partner_posts(decision) == [], expected
        (reply,) = to(decision, alias)
        assert expected in reply


def test_share_keeps_to_each_partners_daily_cap_and_sends_once() -> None:
    d = desk("carol")
    full = Candidate(BRISTOL, BRISTOL.daily_cap, False)
    sent = decide(d, POST, 4, "", report(), None, [full, Candidate(LEEDS, 3, True)])
    assert sent == []
    d = desk("carol")
    sent = decide(d, POST, 4, "", report(), None, [full, Candidate(LEEDS, 3, False)])
    assert [s.partner.label for s in sent] == ["leeds"]
    (reply,) = to(d.done().decision, "carol")
    assert "on its way to leeds" in reply and "Not sent to bristol today" in reply


def test_a_partners_warning_goes_to_the_moderators_never_to_members() -> None:
    d = desk(None)
    warning = Warning(
        id=new_id(),
        sender_name="Bristol Collective",
        severity=2,
        categories=("threats",),
        summary="threatened a worker",
        identifiers=(Identifier("plate", "AB12CDE"),),
        reported=date(2026, 11, 25),
        issued=date(2026, 11, 26),
    )
    new = new_report(d, BRISTOL, warning, 9)
    assert (new.author, new.status, new.origin, new.number) == (None, "pending", "bristol", 9)
    assert new.categories == ("threats",) and new.identifiers == warning.identifiers
    decision = d.done().decision
    assert {m.to.address for m in decision.messages} == {"carol"}
    (review,) = to(decision, "carol")
    assert "from the partner collective bristol" in review and "APPROVE 9" in review


def test_a_retraction_of_a_shared_warning_tells_members_to_disregard_it() -> None:
    d = desk(None)
    retracted(d, BRISTOL, 9, shared=True)
    decision = d.done().decision
    assert any("disregard" in m.text for m in decision.messages if m.to.address != "carol")
    assert any("withdrew its warning #9" in text for text in to(decision, "carol"))
    d = desk(None)
    retracted(d, BRISTOL, 9, shared=False)
    assert {m.to.address for m in d.done().decision.messages} == {"carol"}


def test_a_refusal_reaches_the_admin_with_its_reason() -> None:
    d = desk(None)
    refused(d, BRISTOL, "signature", MemberAlias("dana"))
    (told,) = to(d.done().decision, "dana")
    assert "partner relay bristol was refused" in told and "signature" in told


def test_a_retraction_is_signed_for_its_partner() -> None:
    wid = new_id()
    outgoing = POST.retraction(LEEDS, wid, date(2026, 11, 26))
    assert outgoing.to.address == LEEDS.number and outgoing.to.label == "leeds"
    message = decode(outgoing.text, PUBLIC, OWN, LEEDS.number, date(2026, 11, 26))
    assert message == Retraction(id=wid, issued=date(2026, 11, 26))


def test_without_moderators_the_admin_reviews_and_approves_a_partners_warning() -> None:
    from dataclasses import replace

    from relay.features.reports import decisions
    from relay.rules import ReportPolicy

    members = {alias: replace(member, moderator=False) for alias, member in RULES.members.items()}
    direct = replace(RULES, members=members, reports=ReportPolicy(moderation="direct"))
    assert direct.moderators == () and "dana" in direct.admins
    d = Desk(direct, CATALOG, "Europe/London", None, T0)
    warning = Warning(
        id=new_id(),
        sender_name="Bristol Collective",
        severity=3,
        categories=("violence",),
        summary="choked a worker",
        identifiers=(Identifier("phone", "+447700900123"),),
        reported=date(2026, 11, 23),
        issued=date(2026, 11, 26),
    )
    new_report(d, BRISTOL, warning, 9)
    assert {m.to.address for m in d.done().decision.messages} == {"dana"}
    pending = report(number=9, status="pending", author=None, origin="bristol")
    admin = direct.member("dana")
    assert admin is not None
    answer = decisions.approve(Desk(direct, CATALOG, "Europe/London", admin, T0), 9, pending, None)
    assert answer.change == decisions.Approve(9)
    bob = direct.member("bob")
    assert bob is not None
    refused_ = decisions.approve(Desk(direct, CATALOG, "Europe/London", bob, T0), 9, pending, None)
    assert refused_.change is None


def test_every_refusal_has_its_words_for_the_admin_in_every_language() -> None:
    from relay.features.peers.receiving import REASONS

    assert set(REASONS) >= {"signature", "version", "replay", "cap", "stale"}
    for language in ("en", "es", "fr", "pt"):
        for reason in REASONS:
            text = CATALOG.text(language, f"peer_reason_{reason}")
            assert text and f"peer_reason_{reason}" not in text, (language, reason)
