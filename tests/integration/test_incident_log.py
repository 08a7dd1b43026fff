"""Incident logs with a real SQLite file, a real attachment vault on disk and real export files:
LOG, EXPORT, `peer-relay verify` on the files as a member would save them — intact, and after
every kind of edit — plus retention, FORGET and the chain surviving a restart."""

from __future__ import annotations

import io
import json
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from relay.core import intents
from relay.core.decide import Outgoing
from relay.crypto.keys import MasterKey
from relay.crypto.seal import Sealer
from relay.exitcodes import EXIT_CHECK_FAILED, EXIT_OK, EXIT_USAGE
from relay.features.base import Handled, Scope
from relay.features.incidents import (
    IncidentLogFeature,
    fingerprint,
    purge_expired_entries,
    run_verify,
)
from relay.features.incidents.entries import fresh_head, new_entry
from relay.locales import load_catalog
from relay.rules import Rules, load_rules
from relay.runtime.vault import AttachmentVault
from relay.signal.events import Incoming, IncomingKind
from relay.signal.transport import SignalTransport
from relay.store.db import DB_NAME, Database
from relay.store.incident_log import LogRepo

SAMPLES = Path(__file__).resolve().parents[2] / "rules"
T0 = datetime(2026, 11, 26, 20, 0, tzinfo=UTC)
CATALOG = load_catalog()
CANARY = "canary-log-8Wd"


@dataclass
class Journal:
    db: Database
    sealer: Sealer
    vault: AttachmentVault
    rules: Rules
    now: datetime = T0
    stamp: int = 0

    @property
    def feature(self) -> IncidentLogFeature:
        return IncidentLogFeature(self.vault)

    async def says(self, alias: str, intent: intents.Intent) -> list[Outgoing]:
        (sent,) = await self.batch((alias, intent))
        return sent

    async def batch(self, *said: tuple[str, intents.Intent]) -> list[list[Outgoing]]:
        """Messages decided as the pipeline decides a batch: each enriched first, then all
        read, decided and written in one transaction, in order."""
        feature = self.feature
        scope = Scope(self.sealer, self.rules, CATALOG, "Europe/London")
        steps = []
        for alias, intent in said:
            member = self.rules.member(alias)
            assert member is not None
            self.stamp += 1
            event = Incoming(IncomingKind.MESSAGE, member.number, None, self.stamp, self.stamp)
            steps.append((member, intent, await feature.enrich(member, intent, event)))

        def work(conn: sqlite3.Connection) -> list[Handled]:
            done = []
            for member, intent, enriched in steps:
                handled = feature.handle(conn, scope, member, intent, enriched, self.now)
                if handled.writes is not None:
                    handled.writes(conn)
                done.append(handled)
            return done

        return [list(h.decision.messages) for h in await self.db.write(work)]

    async def log(self, alias: str, *texts: str, every: timedelta = timedelta(hours=1)) -> None:
        for text in texts:
            await self.says(alias, intents.Log(text))
            self.now += every

    async def export(self, alias: str, folder: Path) -> Path:
        """EXPORT, and save the files she receives into ``folder`` under their own names."""
        messages = await self.says(alias, intents.Export())
        folder.mkdir(parents=True, exist_ok=True)
        saved = None
        for message in messages:
            for key in message.attachments:
                data, content_type, name = self.vault.open(key)
                assert name is not None
                (folder / name).write_bytes(data)
                if content_type == "application/json":
                    saved = folder / name
        assert saved is not None
        return saved


@pytest.fixture
async def journal(tmp_path: Path) -> AsyncIterator[Journal]:
    db = await Database.open(tmp_path)
    sealer = Sealer(MasterKey.generate())
    transport = SignalTransport("http://127.0.0.1:9", "+12025550100", 1.0)  # never called
    vault = AttachmentVault(tmp_path / "attachments", sealer, transport)
    yield Journal(db, sealer, vault, load_rules(SAMPLES, allow_placeholders=True))
    await db.close()


def verify(path: Path) -> tuple[int, str]:
    out = io.StringIO()
    code = run_verify(path, out)
    return code, out.getvalue()


def edit(path: Path, change: Any) -> None:
    doc = json.loads(path.read_text(encoding="utf-8"))
    change(doc)
    path.write_text(json.dumps(doc, ensure_ascii=False, indent=2), encoding="utf-8")


async def test_log_then_export_then_verify(journal: Journal, tmp_path: Path) -> None:
    reply = await journal.says("alice", intents.Log(f"{CANARY} he grabbed my arm at the Rex"))
    assert [m.text for m in reply] == [
        "🔒 Added to your log — entry 1, 2026-11-26 15:00. Only you can see it. "
        "EXPORT sends you the whole log."
    ]
    assert {m.to.address for m in reply} == {"alice"}
    journal.now += timedelta(minutes=5)
    await journal.log("alice", "second note", "third note")
    path = await journal.export("alice", tmp_path / "phone")

    code, out = verify(path)
    key = fingerprint(journal.sealer.public_key_bytes())
    assert code == EXIT_OK
    assert out.splitlines()[0] == f"intact: 3 entries, signed by key {key}"
    assert "the readable copy incident-log-2026-11-26.txt matches" in out
    readable = (path.parent / "incident-log-2026-11-26.txt").read_text(encoding="utf-8")
    assert "Entry 1 — 2026-11-26 15:00 (America/New_York)" in readable
    assert f"{CANARY} he grabbed my arm at the Rex" in readable


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["entries"].pop(2), "an entry between 2 and 4 is missing"),
        (lambda d: d["entries"].pop(), "the last entry (5) is missing"),
        (lambda d: d["entries"].insert(1, d["entries"].pop(2)), "entries are out of order"),
        (lambda d: d["entries"][3].update(text="it was fine"), "entry 4 was changed"),
        (lambda d: d["entries"][0].update(at="2026-11-25T20:00:00.000Z"), "entry 1 was changed"),
    ],
)
async def test_every_edit_fails_verify_plainly(
    journal: Journal, tmp_path: Path, change: Any, message: str
) -> None:
    await journal.log("alice", *(f"note {n}" for n in range(1, 6)))
    path = await journal.export("alice", tmp_path / "phone")
    edit(path, change)
    code, out = verify(path)
    assert code == EXIT_CHECK_FAILED
    assert out.startswith(f"not intact: 1 problem(s) found in {path.name}\n")
    assert message in out


async def test_the_readable_copy_and_unreadable_files(journal: Journal, tmp_path: Path) -> None:
    await journal.log("alice", "one", "two")
    path = await journal.export("alice", tmp_path / "phone")
    readable = path.parent / "incident-log-2026-11-26.txt"
    readable.write_text(readable.read_text().replace("two", "too"))
    code, out = verify(path)
    assert (
        code == EXIT_CHECK_FAILED
        and "the readable copy incident-log-2026-11-26.txt was changed" in out
    )
    readable.unlink()
    code, out = verify(path)
    assert code == EXIT_OK and "not beside this file: not checked" in out

    code, out = verify(tmp_path / "nowhere.json")
    assert code == EXIT_USAGE and out.startswith("cannot read")
    (tmp_path / "notes.txt").write_text("hello")
    code, out = verify(tmp_path / "notes.txt")
    assert code == EXIT_CHECK_FAILED and "not a peer-relay incident log export" in out


async def test_the_chain_continues_after_a_restart_and_an_export(tmp_path: Path) -> None:
    sealer = Sealer(MasterKey.generate())
    rules = load_rules(SAMPLES, allow_placeholders=True)
    transport = SignalTransport("http://127.0.0.1:9", "+12025550100", 1.0)
    vault = AttachmentVault(tmp_path / "attachments", sealer, transport)
    db = await Database.open(tmp_path)
    first = Journal(db, sealer, vault, rules)
    await first.log("bob", "before the restart", "and again")
    await first.export("bob", tmp_path / "early")
    await db.close()

    db = await Database.open(tmp_path)
    again = Journal(db, sealer, vault, rules, now=first.now + timedelta(days=2))
    await again.log("bob", "after the restart")
    await again.log("alice", "her own log")  # another member's log is another chain
    path = await again.export("bob", tmp_path / "later")
    code, out = verify(path)
    assert code == EXIT_OK and out.startswith("intact: 3 entries"), out
    doc = json.loads(path.read_text())
    assert [e["text"] for e in doc["entries"]] == [
        "before the restart",
        "and again",
        "after the restart",
    ]
    await db.close()


async def test_a_batch_exports_the_entries_it_just_added(journal: Journal, tmp_path: Path) -> None:
    """Issue 19: LOG, LOG, EXPORT decided in one transaction — the second entry chains to the
    first, and the export holds both, before anything is committed."""
    one, two, export = await journal.batch(
        ("alice", intents.Log("first")),
        ("alice", intents.Log("second")),
        ("alice", intents.Export()),
    )
    assert "entry 1" in one[0].text and "entry 2" in two[0].text
    (files, *_) = export
    folder = tmp_path / "phone"
    folder.mkdir()
    for key in files.attachments:
        data, _, name = journal.vault.open(key)
        assert name is not None
        (folder / name).write_bytes(data)
    (document,) = folder.glob("*.json")
    code, out = verify(document)
    assert code == EXIT_OK and out.startswith("intact: 2 entries"), out


async def test_a_stale_head_cannot_fork_the_chain(journal: Journal) -> None:
    await journal.log("alice", "one")
    repo = LogRepo(journal.db, journal.sealer)
    head = await repo.head("alice")
    assert head is not None
    a = new_entry(journal.sealer, head, T0, "two")
    b = new_entry(journal.sealer, head, T0, "two, again")
    async with journal.db.transaction() as conn:
        await repo.append(conn, "alice", head, a)
    with pytest.raises(LookupError):
        async with journal.db.transaction() as conn:
            await repo.append(conn, "alice", head, b)
    assert [e.text for e in await repo.entries("alice")] == ["one", "two"]
    with pytest.raises(sqlite3.IntegrityError):  # a second "first" entry for the same log
        async with journal.db.transaction() as conn:
            await repo.append(
                conn, "alice", fresh_head(), new_entry(journal.sealer, fresh_head(), T0, "x")
            )


async def test_empty_log_and_usage(journal: Journal) -> None:
    (empty,) = await journal.says("dana", intents.Export())
    assert empty.text.startswith("Your log is empty.") and not empty.attachments
    (usage,) = await journal.says("elena", intents.Log(None))
    assert usage.text.startswith("Para añadir a tu registro privado: LOG")


async def test_retention_deletes_the_oldest_and_verify_says_so(
    journal: Journal, tmp_path: Path
) -> None:
    await journal.log("alice", "old one", "old two", every=timedelta(days=10))
    journal.now = T0 + timedelta(days=40)
    await journal.log("alice", "recent")
    folder = tmp_path / "rules"
    folder.mkdir()
    for source in SAMPLES.glob("*.yaml"):
        (folder / source.name).write_text(source.read_text())
    collective = yaml.safe_load((folder / "collective.yaml").read_text())
    collective["retention"]["incident_logs"] = "4w"
    (folder / "collective.yaml").write_text(yaml.safe_dump(collective))
    rules = load_rules(folder, allow_placeholders=True)

    assert await purge_expired_entries(journal.db, journal.sealer, journal.now, journal.rules) == 0
    assert await purge_expired_entries(journal.db, journal.sealer, journal.now, rules) == 2
    path = await journal.export("alice", tmp_path / "phone")
    code, out = verify(path)
    assert code == EXIT_OK, out
    assert out.startswith("intact: 1 entry") and "entries before 3 were deleted" in out


def vault_files(journal: Journal) -> set[str]:
    return {p.stem for p in journal.vault.folder.glob("*.sealed")}


async def test_forget_deletes_her_log_its_exports_and_only_hers(journal: Journal) -> None:
    await journal.log("alice", "mine")
    sent = await journal.says("alice", intents.Export())
    made = {key for message in sent for key in message.attachments}
    await journal.log("bob", "his")
    await journal.says("bob", intents.Export())
    assert made and made <= vault_files(journal)
    repo = LogRepo(journal.db, journal.sealer)
    async with journal.db.transaction() as conn:
        keys = await repo.forget(conn, "alice")
    assert set(keys) == made
    assert await repo.head("alice") is None and await repo.entries("alice") == []
    assert [e.text for e in await repo.entries("bob")] == ["his"]


async def test_export_files_leave_with_old_messages(journal: Journal) -> None:
    await journal.log("alice", "one")
    await journal.says("alice", intents.Export())
    before = vault_files(journal)
    assert len(before) == 2  # the readable copy and the JSON
    args = (journal.db, journal.sealer)
    assert (
        await purge_expired_entries(
            *args, journal.now + timedelta(days=1), journal.rules, journal.vault
        )
        == 0
    )
    assert vault_files(journal) == before  # the messages may still be waiting to go out
    await purge_expired_entries(
        *args, journal.now + timedelta(days=3), journal.rules, journal.vault
    )
    assert vault_files(journal) == set()  # retention.messages is 2d in the sample rules
    assert [e.text for e in await LogRepo(*args).entries("alice")] == ["one"]  # the log stays


async def test_nothing_readable_on_disk(journal: Journal, tmp_path: Path) -> None:
    await journal.log("alice", f"{CANARY} he hit me", f"{CANARY} second")
    await journal.says("alice", intents.Export())
    await journal.db.checkpoint()
    raw = b"".join(
        p.read_bytes()
        for p in [*journal.db.path.parent.iterdir(), *(tmp_path / "attachments").iterdir()]
        if p.is_file() and (p.name.startswith(DB_NAME) or p.suffix == ".sealed")
    )
    assert raw and CANARY.encode() not in raw and b"he hit me" not in raw
    assert b"2026-11-26" not in raw  # entry times are sealed too
