"""Reports through the feature with a real SQLite file, real rules from YAML and the real
catalogs: who is told what at each step (report, review, approval, CHECK, removal, withdrawal),
that no message names the reporter, what the store keeps, and that it keeps nothing readable."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import pytest
import yaml

from relay.core import intents
from relay.core.decide import Outgoing
from relay.core.identifiers import extract_identifiers
from relay.core.state import RecipientKind
from relay.core.types import MemberAlias
from relay.crypto.keys import MasterKey
from relay.crypto.seal import Sealer
from relay.features.base import Handled, Scope
from relay.features.reports import ReportsFeature, purge_expired, region_of, screen
from relay.features.reports.matching import all_tags, query_identifiers
from relay.features.reports.rekey import rekey
from relay.features.reports.reporting import Kept
from relay.features.reports.screening import ClientScreen, find
from relay.locales import load_catalog
from relay.rules import Member, Rules, load_rules
from relay.runtime.vault import AttachmentVault
from relay.signal.events import Incoming, IncomingKind
from relay.signal.transport import SignalTransport
from relay.store import reports
from relay.store.db import DB_NAME, Database
from relay.store.reports import NewReport, ReportRepo
from tests.unit.test_screening import MUST_MATCH, MUST_NOT_MATCH

SAMPLES = Path(__file__).resolve().parents[2] / "rules"
T0 = datetime(2026, 11, 26, 20, 0, tzinfo=UTC)
CATALOG = load_catalog()
CANARY = "canary-report-5Rq"
VIOLENT = f"{CANARY} he choked me. His number +44 7700 900123, drives AB12 CDE"


def rules_with(tmp_path: Path, **reports: object) -> Rules:
    """The sample rules with their ``reports:`` section replaced."""
    folder = tmp_path / "rules"
    shutil.copytree(SAMPLES, folder, dirs_exist_ok=True)
    collective = yaml.safe_load((folder / "collective.yaml").read_text())
    collective["reports"] = reports
    (folder / "collective.yaml").write_text(yaml.safe_dump(collective))
    return load_rules(folder, allow_placeholders=True)


@dataclass
class Desk:
    """The reports feature over one database, one key and one set of rules."""

    db: Database
    sealer: Sealer
    rules: Rules
    now: datetime = T0
    feature: ReportsFeature = field(default_factory=ReportsFeature)
    stamp: int = 0

    def member(self, alias: str) -> Member:
        found = self.rules.member(alias)
        assert found is not None
        return found

    async def says(self, alias: str, intent: intents.Intent) -> list[Outgoing]:
        (sent,) = await self.batch((alias, intent))
        return sent

    async def batch(self, *said: tuple[str, intents.Intent]) -> list[list[Outgoing]]:
        """Messages decided as the pipeline decides a batch: each enriched first, then all
        read, decided and written in one transaction, in order."""
        scope = Scope(self.sealer, self.rules, CATALOG, "Europe/London")
        steps = []
        for alias, intent in said:
            member = self.member(alias)
            self.stamp += 1
            event = Incoming(IncomingKind.MESSAGE, member.number, None, self.stamp, self.stamp)
            steps.append((member, intent, await self.feature.enrich(member, intent, event)))

        def work(conn: sqlite3.Connection) -> list[Handled]:
            done = []
            for member, intent, enriched in steps:
                handled = self.feature.handle(conn, scope, member, intent, enriched, self.now)
                if handled.writes is not None:
                    handled.writes(conn)
                done.append(handled)
            return done

        done = await self.db.write(work)
        for handled in done:
            if handled.after is not None:
                await handled.after()  # once committed, as the pipeline runs it
        return [list(h.decision.messages) for h in done]


def to(messages: list[Outgoing], address: str) -> list[str]:
    return [m.text for m in messages if m.to.address == address]


def group_posts(messages: list[Outgoing]) -> list[str]:
    return [m.text for m in messages if m.to.kind is RecipientKind.GROUP]


def names_nobody(messages: list[Outgoing], reporter: str) -> None:
    """The reporter appears in no message to anyone but herself."""
    for message in messages:
        if message.to.address != reporter:
            assert reporter not in message.text.lower(), message


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path)
    yield database
    await database.close()


@pytest.fixture
def desk_for(db: Database) -> Callable[[Rules], Desk]:
    sealer = Sealer(MasterKey.generate())
    return lambda rules: Desk(db, sealer, rules)


@pytest.fixture
def desk(desk_for: Callable[[Rules], Desk]) -> Desk:
    return desk_for(load_rules(SAMPLES, allow_placeholders=True))


async def test_report_review_approval_check_and_removal(desk: Desk) -> None:
    sent = await desk.says("alice", intents.Report(VIOLENT))
    assert to(sent, "alice") == [
        "📝 Got it — report #1. A moderator checks it before it's shared; your name is never "
        "shown. WITHDRAW 1 takes it back."
    ]
    (review,) = to(sent, "carol")  # the sample's only moderator
    assert "Report #1 to review (violent)" in review and CANARY in review
    assert "CHECK will match: +447700900123, AB12CDE" in review
    assert {m.to.address for m in sent} == {"alice", "carol"}
    names_nobody(sent, "alice")

    refused = await desk.says("bob", intents.Approve(1))
    assert to(refused, "bob") == ["Only moderators can approve or reject reports."]
    before = await desk.says("bob", intents.Check("+44 7700 900123"))
    assert "No warnings match" in to(before, "bob")[0]  # not shared yet

    approved = await desk.says("carol", intents.Approve(1))
    (post,) = group_posts(approved)  # night-shift is bound to a Signal group: one post
    assert "⚠️ Warning #1 (violent), reported 2026-11-26" in post
    assert "⚠️ Aviso #1 (violento), del 2026-11-26" in post  # elena reads Spanish
    assert CANARY in post
    (shared,) = to(approved, "carol")
    # The sample rules' partners both take a violent report: the moderator is told how to SHARE.
    assert shared.splitlines() == [
        "✅ Report #1 is shared with the night-shift group.",
        "Partner collectives that take warnings like this: bristol, leeds. Nothing goes to them "
        "unless you send SHARE 1 — or SHARE 1 and a summary in your own words (her words may say "
        "who she is).",
    ]
    assert to(approved, "alice") == [
        "✅ Your report #1 was approved and shared. Thank you for looking out for everyone 💜"
    ]
    names_nobody(approved, "alice")
    again = await desk.says("carol", intents.Approve(1))
    assert to(again, "carol") == ["Report #1 is already shared."]

    desk.now = T0 + timedelta(days=3)
    found = await desk.says("bob", intents.Check("+447700900123"))
    (answer,) = to(found, "bob")
    assert answer.startswith("⚠️ 1 warning matches:\n#1 · 2026-11-26 · violent — ")
    assert CANARY in answer and "alice" not in answer.lower()
    spanish = await desk.says("elena", intents.Check("ab12 cdf"))  # one slip, lower case
    assert "#1 · 2026-11-26 · violento" in to(spanish, "elena")[0]

    removed = await desk.says("carol", intents.Reject(1, "wrong client"))
    (retraction,) = group_posts(removed)
    assert "Warning #1 has been withdrawn — please disregard it." in retraction
    assert to(removed, "alice") == [
        "Your warning #1 was removed by a moderator.\nThe moderator said: wrong client"
    ]
    gone = await desk.says("bob", intents.Check("011 44 7700 900123"))
    assert "No warnings match" in to(gone, "bob")[0]
    late = await desk.says("carol", intents.Approve(1))
    assert to(late, "carol") == ["Report #1 was already removed."]

    actions = [action for _, action, _ in await ReportRepo(desk.db, desk.sealer).actions()]
    assert actions == ["submitted", "approved", "removed"]
    async with desk.db.conn.execute("SELECT count(*) FROM report_keys") as cur:
        assert (await cur.fetchone())[0] == 0  # the keys went with the report


async def test_a_batch_sees_what_its_earlier_messages_stored(desk: Desk) -> None:
    """Issue 19: one transaction for a batch — the second REPORT gets the next number, the
    author can withdraw it and the moderator approve the first before anything is committed."""
    first, second, withdrawn, approved = await desk.batch(
        ("alice", intents.Report(VIOLENT)),
        ("bob", intents.Report("no-show, @timewaster_99")),
        ("bob", intents.Withdraw(2)),
        ("carol", intents.Approve(1)),
    )
    assert "report #1" in to(first, "alice")[0] and "report #2" in to(second, "bob")[0]
    assert to(withdrawn, "bob") == ["Report #2 withdrawn and deleted."]
    (shared,) = to(approved, "carol")
    # The sample rules' partners both take a violent report: the moderator is told how to SHARE.
    assert shared.splitlines() == [
        "✅ Report #1 is shared with the night-shift group.",
        "Partner collectives that take warnings like this: bristol, leeds. Nothing goes to them "
        "unless you send SHARE 1 — or SHARE 1 and a summary in your own words (her words may say "
        "who she is).",
    ]
    actions = await ReportRepo(desk.db, desk.sealer).actions()
    assert [(n, a) for n, a, _ in actions] == [
        (1, "submitted"),
        (2, "submitted"),
        (2, "withdrawn"),
        (1, "approved"),
    ]


async def test_a_deleted_reports_photos_go_only_once_it_is_committed_gone(
    tmp_path: Path, desk: Desk
) -> None:
    """Her photo stays while any row names it: a WITHDRAW whose transaction rolls back (a batch
    that failed to commit) must leave report #1 with its photo, not naming a deleted file."""
    transport = SignalTransport("http://127.0.0.1:9", "+12025550100", 1.0)  # never called
    vault = AttachmentVault(tmp_path / "attachments", desk.sealer, transport)
    photo = vault.put(b"\xff\xd8 a photo of a silver van", "image/jpeg")
    feature = ReportsFeature(vault)
    scope = Scope(desk.sealer, desk.rules, CATALOG, "Europe/London")
    alice = desk.member("alice")

    def step(intent: intents.Intent, kept: Kept, conn: sqlite3.Connection) -> Handled:
        handled = feature.handle(conn, scope, alice, intent, kept, T0)
        assert handled.writes is not None
        handled.writes(conn)
        return handled

    await desk.db.write(partial(step, intents.Report("no-show, @timewaster_99"), Kept(1, (photo,))))

    def withdraw_then_fail(conn: sqlite3.Connection) -> None:
        step(intents.Withdraw(1), Kept(), conn)
        raise OSError("disk full")  # the batch's commit fails: everything rolls back

    with pytest.raises(OSError, match="disk full"):
        await desk.db.write(withdraw_then_fail)
    report = await ReportRepo(desk.db, desk.sealer).get(1)
    assert report is not None and report.photos == (photo,)
    assert vault.open(photo)[0].endswith(b"silver van")  # still there

    withdrawn = await desk.db.write(partial(step, intents.Withdraw(1), Kept()))
    assert await ReportRepo(desk.db, desk.sealer).get(1) is None
    assert withdrawn.after is not None
    await withdrawn.after()
    with pytest.raises(OSError):
        vault.open(photo)


async def test_check_finds_the_end_of_a_number_and_the_start_of_a_plate(desk: Desk) -> None:
    """Issue 16: CHECK 900123 and CHECK AB12 find +44 7700 900123 and AB12 CDE, say the match
    is partial, and nothing about them is stored in clear."""
    await desk.says("alice", intents.Report(VIOLENT))
    await desk.says("carol", intents.Approve(1))
    for query in ("900123", "900 123", "7700-900123", "AB12", "ab-12", "AB12C"):
        (answer,) = to(await desk.says("bob", intents.Check(query)), "bob")
        assert answer.startswith("⚠️ 1 warning matches:\n#1 · "), (query, answer)
        assert "Only part of it matches" in answer and "someone else" in answer, query
    for query in ("900124", "AB13", "12CDE"):
        (answer,) = to(await desk.says("bob", intents.Check(query)), "bob")
        assert "No warnings match" in answer, (query, answer)
    (whole,) = to(await desk.says("bob", intents.Check("+44 7700 900123")), "bob")
    assert "Only part" not in whole  # the whole number: no doubt to add


async def test_reports_stored_before_partial_keys_are_rekeyed_once(desk: Desk) -> None:
    await desk.says("alice", intents.Report(VIOLENT))
    await desk.says("carol", intents.Approve(1))
    assert await rekey(desk.db, desk.sealer) == 1  # a new database: version 1 until the first start
    # As a relay of before issue 16 stored it: the whole number and plate keys only.
    whole = all_tags(desk.sealer, extract_identifiers(VIOLENT, "GB"))
    async with desk.db.transaction() as conn:
        await conn.execute("DELETE FROM report_keys")
        await conn.executemany(
            "INSERT INTO report_keys (tag, number) VALUES (?, 1)", [(t,) for t in whole]
        )
        await conn.execute("DELETE FROM counters WHERE name = 'report_keys_version'")
    (before,) = to(await desk.says("bob", intents.Check("900123")), "bob")
    assert "No warnings match" in before
    assert await rekey(desk.db, desk.sealer) == 1
    assert await rekey(desk.db, desk.sealer) == 0  # once
    (after,) = to(await desk.says("bob", intents.Check("900123")), "bob")
    assert after.startswith("⚠️ 1 warning matches:")


async def test_severity_is_asked_for_and_rated(desk: Desk) -> None:
    sent = await desk.says("alice", intents.Report("weird vibe, number +44 7700 900555"))
    (reply,) = to(sent, "alice")
    assert "How serious was it? Reply REPORT 1" in reply
    assert "(not rated)" in to(sent, "carol")[0]
    rated = await desk.says("alice", intents.Report("2"))
    assert to(rated, "alice") == ["Thanks — report #1 is marked: unsafe."]
    report = await ReportRepo(desk.db, desk.sealer).get(1)
    assert report is not None and report.severity == 2
    nothing = await desk.says("alice", intents.Report("3"))  # nothing left unrated
    assert "To warn the others" in to(nothing, "alice")[0]
    empty = await desk.says("alice", intents.Report(None))
    assert "To warn the others" in to(empty, "alice")[0]


async def test_reject_pending_and_withdraw(desk: Desk) -> None:
    await desk.says("alice", intents.Report(VIOLENT))
    rejected = await desk.says("carol", intents.Reject(1, None))
    assert to(rejected, "alice") == ["Your report #1 wasn't shared, and it has been deleted."]
    assert group_posts(rejected) == []  # nothing was shared, so nothing to retract

    await desk.says("alice", intents.Report("no-show again, @timewaster_99"))
    not_hers = await desk.says("bob", intents.Withdraw(2))
    assert to(not_hers, "bob") == ["You have no report #2."]
    withdrawn = await desk.says("alice", intents.Withdraw(2))
    assert to(withdrawn, "alice") == ["Report #2 withdrawn and deleted."]
    assert to(withdrawn, "carol") == [
        "Report #2 was withdrawn by the member who sent it — nothing to review."
    ]
    late = await desk.says("carol", intents.Approve(2))
    assert to(late, "carol") == ["Report #2 was withdrawn by the member who sent it."]
    unknown = await desk.says("carol", intents.Approve(9))
    assert to(unknown, "carol") == ["There's no report #9."]

    # A shared warning withdrawn by its author is retracted where it was shared.
    await desk.says("alice", intents.Report(VIOLENT))
    await desk.says("carol", intents.Approve(3))
    retracted = await desk.says("alice", intents.Withdraw(3))
    assert "Warning #3 has been withdrawn" in group_posts(retracted)[0]
    names_nobody(retracted, "alice")

    actions = await ReportRepo(desk.db, desk.sealer).actions()
    assert [(n, a) for n, a, _ in actions] == [
        (1, "submitted"),
        (1, "rejected"),
        (2, "submitted"),
        (2, "withdrawn"),
        (3, "submitted"),
        (3, "approved"),
        (3, "withdrawn"),
    ]


async def test_direct_reports_reach_each_member_in_her_language(
    tmp_path: Path, desk_for: Callable[[Rules], Desk]
) -> None:
    desk = desk_for(rules_with(tmp_path, moderation="direct"))  # shared with every member
    sent = await desk.says("bob", intents.Report("stole my phone, +1 202 555 0188"))
    assert to(sent, "bob")[0].startswith("📝 Got it — report #1 is shared with 5 members.")
    assert "⚠️ Aviso #1 (inseguro)" in to(sent, "elena")[0]
    # Everyone gets it — the reporter too, so nobody stands out.
    assert {m.to.address for m in sent if "Warning #1" in m.text or "Aviso #1" in m.text} == {
        "alice",
        "bob",
        "carol",
        "dana",
        "elena",
    }
    names_nobody(sent, "bob")
    found = await desk.says("alice", intents.Check("(202) 555-0188"))
    assert "#1 · 2026-11-26 · unsafe — stole my phone" in to(found, "alice")[0]


async def test_a_moderators_own_report(tmp_path: Path, desk_for: Callable[[Rules], Desk]) -> None:
    desk = desk_for(load_rules(SAMPLES, allow_placeholders=True))
    sent = await desk.says("carol", intents.Report(VIOLENT))
    assert "Report #1 to review" in "\n".join(to(sent, "carol"))  # the only moderator
    approved = await desk.says("carol", intents.Approve(1))
    assert group_posts(approved)

    folder = tmp_path / "two-moderators"
    shutil.copytree(SAMPLES, folder)
    members = yaml.safe_load((folder / "members.yaml").read_text())
    members["members"]["dana"]["moderator"] = True
    (folder / "members.yaml").write_text(yaml.safe_dump(members))
    desk.rules = load_rules(folder, allow_placeholders=True)
    sent = await desk.says("carol", intents.Report(VIOLENT))
    assert to(sent, "dana") and not [t for t in to(sent, "carol") if "to review" in t]
    own = await desk.says("carol", intents.Approve(2))
    assert to(own, "carol") == ["Report #2 is yours, so another moderator needs to approve it."]
    by_dana = await desk.says("dana", intents.Approve(2))
    assert to(by_dana, "carol") == [
        "✅ Your report #2 was approved and shared. Thank you for looking out for everyone 💜"
    ]
    assert group_posts(by_dana)
    names_nobody(by_dana, "carol")


async def test_screening_table_through_the_store(db: Database) -> None:
    """The unit table again, through SQLite: stored tags, lookup, confirmation."""
    sealer = Sealer(MasterKey.generate())
    cases = [(*case, True) for case in MUST_MATCH] + [(*case, False) for case in MUST_NOT_MATCH]
    for number, (reported, reporter, looked_up, looker, expected) in enumerate(cases, start=1):
        report = NewReport(
            number=number,
            author=MemberAlias("alice"),
            text=f"violent guy {reported} stay away",
            identifiers=tuple(extract_identifiers(reported, reporter)),
            severity=3,
            status="approved",
            created_at=T0,
            expires_at=None,
        )
        await db.write(partial(_the_only_report, sealer, report))
        found = await db.run(
            partial(find, sealer=sealer, identifiers=query_identifiers(looked_up, looker), now=T0)
        )
        assert [m.number for m in found] == ([number] if expected else []), (reported, looked_up)


def _the_only_report(sealer: Sealer, report: NewReport, conn: sqlite3.Connection) -> None:
    conn.execute("DELETE FROM reports")
    reports.add(conn, sealer, report, all_tags(sealer, report.identifiers, index=True))


async def test_client_screening_warns_before_the_date(desk: Desk) -> None:
    await desk.says("alice", intents.Report(VIOLENT))
    await desk.says("carol", intents.Approve(1))
    bob = desk.member("bob")
    matches = await screen(desk.db, desk.sealer, "Mark, 07700 900123", "GB", T0)
    assert [(m.number, m.severity, m.kinds) for m in matches] == [(1, 3, ("phone",))]
    assert region_of(bob.number) == "US"
    client = ClientScreen(desk.sealer, CATALOG, "Europe/London")

    async def screener(member: Member, text: str) -> tuple[str, ...]:
        return await desk.db.run(lambda conn: client.screen(conn, member, text, T0))

    (warning,) = await screener(bob, "Mark +44 7700 900123, silver van AB12CDE")
    assert warning.startswith("⚠️ Careful — this client matches 1 warning from the collective:")
    assert await screener(bob, "Mark, +44 7700 900999") == ()
    elena = desk.member("elena")
    (spanish,) = await screener(elena, "+44 7700 900123")
    assert spanish.startswith("⚠️ Cuidado")


async def test_reports_expire_and_photos_go_with_them(
    tmp_path: Path, desk_for: Callable[[Rules], Desk]
) -> None:
    desk = desk_for(load_rules(SAMPLES, allow_placeholders=True))  # retention.reports: 52w
    await desk.says("alice", intents.Report(VIOLENT))
    await desk.says("carol", intents.Approve(1))
    assert await purge_expired(desk.db, T0 + timedelta(weeks=51), desk.rules) == 0
    assert await screen(desk.db, desk.sealer, "07700 900123", "GB", T0 + timedelta(weeks=51))
    # Past its expiry CHECK no longer shows it, even before the retention job runs.
    late = T0 + timedelta(weeks=52, seconds=1)
    assert await screen(desk.db, desk.sealer, "07700 900123", "GB", late) == []
    assert await purge_expired(desk.db, late, desk.rules) == 1
    actions = await ReportRepo(desk.db, desk.sealer).actions(1)
    hour = late.replace(minute=0, second=0, microsecond=0)  # the record keeps the hour only
    assert [(a, at) for _, a, at in actions][-1] == ("expired", hour)
    # A retention shortened in today's rules applies to older reports at once.
    await desk.says("alice", intents.Report(VIOLENT))
    shorter = load_rules(_with_retention(tmp_path, "4w"), allow_placeholders=True)
    assert await purge_expired(desk.db, late + timedelta(weeks=5), shorter) == 1


def _with_retention(tmp_path: Path, reports: str) -> Path:
    folder = tmp_path / "retention"
    shutil.copytree(SAMPLES, folder)
    collective = yaml.safe_load((folder / "collective.yaml").read_text())
    collective["retention"]["reports"] = reports
    (folder / "collective.yaml").write_text(yaml.safe_dump(collective))
    return folder


async def test_forgetting_the_author_keeps_the_warning_not_her(desk: Desk) -> None:
    await desk.says("alice", intents.Report(VIOLENT))
    await desk.says("carol", intents.Approve(1))
    await desk.says("alice", intents.Report("pending one, @someone_x"))
    repo = ReportRepo(desk.db, desk.sealer)
    async with desk.db.transaction() as conn:
        photos = await repo.forget_author(conn, "alice", T0)
    assert photos == []
    shared = await repo.get(1)
    assert shared is not None and shared.author is None and shared.status == "approved"
    assert await repo.get(2) is None  # not yet shared: deleted
    withdrawn = await desk.says("alice", intents.Withdraw(1))
    assert to(withdrawn, "alice") == ["You have no report #1."]
    assert await screen(desk.db, desk.sealer, "07700 900123", "GB", T0)


async def test_nothing_readable_on_disk(desk: Desk) -> None:
    await desk.says("alice", intents.Report(VIOLENT))
    await desk.says("carol", intents.Approve(1))
    await rekey(desk.db, desk.sealer)  # the partial keys too
    await desk.says("bob", intents.Report(f"{CANARY} pending, @canary_handle_77"))
    await desk.db.checkpoint()
    files = [p for p in desk.db.path.parent.iterdir() if p.name.startswith(DB_NAME)]
    raw = b"".join(p.read_bytes() for p in files)
    for secret in (
        CANARY,
        "07700",
        "447700900123",
        "900123",  # an ending, as the partial keys index it
        "AB12CDE",
        "AB12C",  # a start, likewise
        "AB12 CDE",
        "canary_handle",
        "alice",
        "bob",
        "choked",
    ):
        assert secret.encode() not in raw, secret
    # … while the key still opens every part of it.
    report = await ReportRepo(desk.db, desk.sealer).get(1)
    assert report is not None and CANARY in report.text and report.author == "alice"
