"""FORGET through the simulator and the whole relay: she is asked, then her rows go (checked in
the database and the vault) and she is told what went; a live check-in is never dropped; alerts
on their way to her as a buddy still arrive; her language's words work; privacy.yaml matches
English in every language."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import pytest

from relay.crypto.seal import aad_for
from relay.engine import Engine
from relay.forget import OUTBOX_RECIPIENT_PURPOSE
from relay.incidents.store import LogRepo
from relay.locales import available_languages
from relay.reports.store import ReportRepo
from relay.sim import InboundAttachment, SendFailure
from relay.store.watches import WatchRepo
from tests.catalog_checks import rendered, translation_problems, untranslated
from tests.e2e.conftest import NUMBERS, Harness

NOTE = "canary-forget-note-J3 Hotel Rex"
CLIENT = "canary-forget-client-J3 Tom, +44 7700 900456"
PHOTO = b"\xff\xd8\xff\xe0 canary-forget-photo-J3"
LOG = "canary-forget-log-J3 he followed me"
REPORT = "canary-forget-report-J3 rude, +44 7700 900789"


@dataclass(frozen=True)
class Hers:
    """Rows the store holds for one member, counted the way the store finds them."""

    watches: int
    messages_to_her: int
    reports: int
    log_entries: int


async def hers(engine: Engine, alias: str) -> Hers:
    db, sealer = engine.db, engine.sealer

    async def count(sql: str, tag: bytes) -> int:
        async with db.conn.execute(sql, (tag,)) as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    watches = WatchRepo(db, sealer)
    recipient = sealer.lookup(NUMBERS[alias], purpose=OUTBOX_RECIPIENT_PURPOSE)
    return Hers(
        watches=await count(
            "SELECT count(*) FROM watches WHERE member_tag = ?", watches.member_tag(alias)
        ),
        messages_to_her=await count(
            "SELECT count(*) FROM outbox WHERE recipient_tag = ?", recipient
        ),
        reports=await count(
            "SELECT count(*) FROM reports WHERE author_tag = ?",
            ReportRepo(db, sealer).author_tag(alias),
        ),
        log_entries=await count(
            "SELECT count(*) FROM incident_entries WHERE owner_tag = ?",
            LogRepo(db, sealer).owner_tag(alias),
        ),
    )


def engine_of(harness: Harness) -> Engine:
    assert harness.relay is not None and harness.relay.engine is not None
    return harness.relay.engine


def vault_files(tmp_path: Path) -> set[str]:
    return {p.name for p in (tmp_path / "data" / "attachments").glob("*.sealed")}


async def test_forget_asks_then_deletes_her_rows_and_says_what_went(
    harness: Harness, tmp_path: Path
) -> None:
    engine = engine_of(harness)
    await harness.says("alice", f"IN 20m {NOTE}")
    await harness.to("alice", "Checked in")
    await harness.says("alice", f"CLIENT {CLIENT}", attachments=[InboundAttachment(PHOTO)])
    await harness.to("alice", "Client details saved")
    await harness.says("alice", "OUT")
    await harness.to("alice", "Glad you're safe")
    await harness.says("alice", f"LOG {LOG}")
    await harness.to("alice", "Added to your log")
    await harness.says("alice", f"REPORT {REPORT}")
    await harness.to("alice", "report #1")
    await harness.says("bob", "IN 20m bob's own date")
    await harness.to("bob", "Checked in")
    photos = vault_files(tmp_path)
    assert len(photos) == 1
    before = await hers(engine, "alice")
    assert (before.watches, before.reports, before.log_entries) == (1, 1, 1)
    assert before.messages_to_her >= 5

    since = len(harness.sim.sent)
    await harness.says("alice", "FORGET")
    ask = await harness.to("alice", "send FORGET YES within 10 min", since=since)
    assert "Your membership stays" in ask.message
    assert (await hers(engine, "alice")).watches == 1  # asking deletes nothing

    since = len(harness.sim.sent)
    await harness.says("alice", "forget yes")
    done = await harness.to("alice", "Done. Deleted", since=since)

    assert "check-ins and alerts: 1" in done.message
    assert "photos: 1" in done.message
    assert "pending reports: 1" in done.message
    assert "incident log entries: 1" in done.message
    assert "Your membership stays" in done.message
    after = await hers(engine, "alice")
    assert (after.watches, after.reports, after.log_entries) == (0, 0, 0)
    assert after.messages_to_her <= 1  # only the reply that says so (until retention takes it)
    assert vault_files(tmp_path) == set()
    assert (await hers(engine, "bob")).watches == 1  # nobody else's data moves

    since = len(harness.sim.sent)
    await harness.says("alice", "STATUS")  # still a member: the relay still answers her
    await harness.to("alice", "No check-in running", since=since)


async def test_nothing_is_deleted_while_her_checkin_is_live(harness: Harness) -> None:
    engine = engine_of(harness)
    await harness.says("alice", f"IN 20m {NOTE}")
    await harness.to("alice", "Checked in")
    for text in ("FORGET", "FORGET YES"):
        since = len(harness.sim.sent)
        await harness.says("alice", text)
        await harness.to("alice", "won't delete anything yet", since=since)
    assert (await hers(engine, "alice")).watches == 1
    since = len(harness.sim.sent)
    await harness.says("alice", "OUT")  # and the check-in still works as before
    await harness.to("alice", "Glad you're safe", since=since)


async def test_forget_yes_out_of_the_blue_only_asks(harness: Harness) -> None:
    engine = engine_of(harness)
    await harness.says("alice", "LOG canary-forget-blue-J3")
    await harness.to("alice", "Added to your log")
    since = len(harness.sim.sent)
    await harness.says("alice", "FORGET YES")
    await harness.to("alice", "send FORGET YES within", since=since)
    assert (await hers(engine, "alice")).log_entries == 1
    since = len(harness.sim.sent)
    await harness.says("alice", "FORGET YES")  # now it answers the question
    await harness.to("alice", "incident log entries: 1", since=since)
    assert (await hers(engine, "alice")).log_entries == 0


async def test_an_alert_on_its_way_to_her_as_a_buddy_still_arrives(harness: Harness) -> None:
    """Bob's SOS cannot reach Alice yet (her phone is unreachable); Alice's FORGET must not
    take Bob's alert out of the queue."""
    engine = engine_of(harness)
    alice = NUMBERS["alice"]
    to_alice = engine.sealer.lookup(alice, purpose=OUTBOX_RECIPIENT_PURPOSE)
    queued = asyncio.Event()
    poke = engine.on_queued

    def spy() -> None:
        poke()
        queued.set()

    engine.on_queued = spy  # the engine's own hook: tells us each decision was committed

    async def waiting_to_alice() -> list[str]:
        """Purposes and texts of the messages queued for her, in order."""
        async with engine.db.conn.execute(
            "SELECT purpose, row_key, body FROM outbox WHERE sent_at IS NULL "
            "AND recipient_tag = ? ORDER BY id",
            (to_alice,),
        ) as cur:
            rows = await cur.fetchall()
        texts = []
        for purpose, key, body in rows:
            text = engine.sealer.open_text(body, aad=aad_for("outbox", "body", key))
            texts.append(f"{purpose}: {text}")
        return texts

    rule = harness.sim.faults.fail_sends(SendFailure.NETWORK, recipients=[alice])
    await harness.says("bob", "SOS canary-forget-sos-J3")
    await harness.to("bob", "Alert sent")
    sos = "alert: 🆘 SOS from Bob"
    alerts = [m for m in await waiting_to_alice() if m.startswith(sos)]
    assert alerts
    await harness.says("alice", "FORGET")
    await harness.says("alice", "FORGET YES")
    for _ in range(20):  # each commit pokes `queued`; bob's alert repeats every few seconds
        if any(m.startswith("reply: 🗑️ Done") for m in await waiting_to_alice()):
            break
        queued.clear()
        await asyncio.wait_for(queued.wait(), timeout=5)
    waiting = await waiting_to_alice()
    # Bob's alerts wait for her phone as before; of her own, only the answer is left (the
    # question was hers too, and went unsent).
    assert [m for m in waiting if m.startswith(sos)] == alerts
    assert [m.split(" ", 2)[1] for m in waiting if m.startswith("reply")] == ["🗑️"]

    harness.sim.faults.rules.remove(rule)
    await harness.to("alice", "SOS from Bob", timeout=10)
    await harness.to("alice", "Done", timeout=10)


async def test_her_language_words_confirm(harness: Harness) -> None:
    since = len(harness.sim.sent)
    await harness.says("elena", "OLVIDAR")
    await harness.to("elena", "OLVIDAR SÍ", since=since)
    since = len(harness.sim.sent)
    await harness.says("elena", "olvidar sí")
    await harness.to("elena", "Listo. Borré — mensajes: 1.", since=since)  # the question


# --- the catalog ---------------------------------------------------------------------------------


@pytest.mark.parametrize("language", available_languages())
def test_privacy_catalog_matches_english(language: str) -> None:
    assert translation_problems("privacy.yaml", language) == []
    assert "FORGET" in rendered("privacy.yaml", language)["forget_ask"], language


def test_privacy_catalog_is_translated() -> None:
    for language in ("es", "fr", "pt"):
        assert untranslated("privacy.yaml", language) == [], language
