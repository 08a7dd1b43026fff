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
from relay.locales import available_languages
from relay.runtime.desk import Desk
from relay.sim import InboundAttachment, SendFailure
from relay.store.incident_log import LogRepo
from relay.store.outbox import RECIPIENT_PURPOSE, Pending
from relay.store.reports import ReportRepo
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


async def hers(desk: Desk, alias: str) -> Hers:
    db, sealer = desk.db, desk.sealer

    async def count(sql: str, tag: bytes) -> int:
        async with db.conn.execute(sql, (tag,)) as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    # Closed watches carry random tags and reports a tag per row (issue 17): found with the key.
    watches = WatchRepo(db, sealer).opened(
        list(
            await db.conn.execute_fetchall(
                "SELECT id, phase, next_at, started_at, closed_at, detail FROM watches"
            )
        )
    )
    recipient = sealer.lookup(NUMBERS[alias], purpose=RECIPIENT_PURPOSE)
    return Hers(
        watches=len([w for w in await watches if w.member == alias]),
        messages_to_her=await count(
            "SELECT count(*) FROM outbox WHERE recipient_tag = ?", recipient
        ),
        reports=len(await ReportRepo(db, sealer).authored(db.conn, alias)),
        log_entries=await count(
            "SELECT count(*) FROM incident_entries WHERE owner_tag = ?",
            LogRepo(db, sealer).owner_tag(alias),
        ),
    )


def desk_of(harness: Harness) -> Desk:
    assert harness.relay is not None and harness.relay.desk is not None
    return harness.relay.desk


def vault_files(tmp_path: Path) -> set[str]:
    return {p.name for p in (tmp_path / "data" / "attachments").glob("*.sealed")}


async def test_forget_asks_then_deletes_her_rows_and_says_what_went(
    harness: Harness, tmp_path: Path
) -> None:
    desk = desk_of(harness)
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
    before = await hers(desk, "alice")
    assert (before.watches, before.reports, before.log_entries) == (1, 1, 1)
    assert before.messages_to_her == 0  # a sent message's row goes when it is sent (issue 17)

    since = len(harness.sim.sent)
    await harness.says("alice", "FORGET")
    ask = await harness.to("alice", "send FORGET YES within 10 min", since=since)
    assert "Your membership stays" in ask.message
    assert (await hers(desk, "alice")).watches == 1  # asking deletes nothing

    since = len(harness.sim.sent)
    await harness.says("alice", "forget yes")
    done = await harness.to("alice", "Done. Deleted", since=since)

    assert "check-ins and alerts: 1" in done.message
    assert "photos: 1" in done.message
    assert "pending reports: 1" in done.message
    assert "incident log entries: 1" in done.message
    assert "Your membership stays" in done.message
    after = await hers(desk, "alice")
    assert (after.watches, after.reports, after.log_entries) == (0, 0, 0)
    assert after.messages_to_her <= 1  # only the reply that says so (until retention takes it)
    assert vault_files(tmp_path) == set()
    assert (await hers(desk, "bob")).watches == 1  # nobody else's data moves

    since = len(harness.sim.sent)
    await harness.says("alice", "STATUS")  # still a member: the relay still answers her
    await harness.to("alice", "No check-in running", since=since)


async def test_nothing_is_deleted_while_her_checkin_is_live(harness: Harness) -> None:
    desk = desk_of(harness)
    await harness.says("alice", f"IN 20m {NOTE}")
    await harness.to("alice", "Checked in")
    for text in ("FORGET", "FORGET YES"):
        since = len(harness.sim.sent)
        await harness.says("alice", text)
        await harness.to("alice", "won't delete anything yet", since=since)
    assert (await hers(desk, "alice")).watches == 1
    since = len(harness.sim.sent)
    await harness.says("alice", "OUT")  # and the check-in still works as before
    await harness.to("alice", "Glad you're safe", since=since)


async def test_forget_yes_out_of_the_blue_only_asks(harness: Harness) -> None:
    desk = desk_of(harness)
    await harness.says("alice", "LOG canary-forget-blue-J3")
    await harness.to("alice", "Added to your log")
    since = len(harness.sim.sent)
    await harness.says("alice", "FORGET YES")
    await harness.to("alice", "send FORGET YES within", since=since)
    assert (await hers(desk, "alice")).log_entries == 1
    since = len(harness.sim.sent)
    await harness.says("alice", "FORGET YES")  # now it answers the question
    await harness.to("alice", "incident log entries: 1", since=since)
    assert (await hers(desk, "alice")).log_entries == 0


async def test_an_alert_on_its_way_to_her_as_a_buddy_still_arrives(harness: Harness) -> None:
    """Bob's SOS cannot reach Alice yet (her phone is unreachable); Alice's FORGET must not
    take Bob's alert out of the queue."""
    desk = desk_of(harness)
    alice = NUMBERS["alice"]
    to_alice = desk.sealer.lookup(alice, purpose=RECIPIENT_PURPOSE)
    queued = asyncio.Event()
    handoff = desk.handoff  # the sender's, shared with the pipeline (relay.runtime.handoff)
    poke, offer = handoff.poke, handoff.offer

    def poked() -> None:
        poke()
        queued.set()

    def offered(ticket: int | None, heads: list[Pending]) -> None:
        offer(ticket, heads)
        queued.set()

    # Every commit that queued messages pokes the sender or offers it what to send: tells us
    # each decision was committed.
    handoff.poke, handoff.offer = poked, offered  # type: ignore[method-assign]

    async def waiting_to_alice() -> list[str]:
        """Purposes and texts of the messages queued for her, in order."""
        async with desk.db.conn.execute(
            "SELECT purpose, row_key, body FROM outbox WHERE sent_at IS NULL "
            "AND recipient_tag = ? ORDER BY id",
            (to_alice,),
        ) as cur:
            rows = await cur.fetchall()
        texts = []
        for purpose, key, body in rows:
            text = desk.sealer.open_text(body, aad=aad_for("outbox", "body", key))
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
    await harness.to("elena", "Listo. Borré — nada más.", since=since)  # the question: gone


# --- the catalog ---------------------------------------------------------------------------------


@pytest.mark.parametrize("language", available_languages())
def test_privacy_catalog_matches_english(language: str) -> None:
    assert translation_problems("privacy.yaml", language) == []
    assert "FORGET" in rendered("privacy.yaml", language)["forget_ask"], language


def test_privacy_catalog_is_translated() -> None:
    for language in ("es", "fr", "pt"):
        assert untranslated("privacy.yaml", language) == [], language


async def test_forget_leaves_none_of_her_sealed_bytes_in_any_file_at_once(
    harness: Harness, tmp_path: Path
) -> None:
    """Issue 17, finding 3: right after `FORGET YES` — not at the next retention pass — none of
    her deleted sealed values is left in the database, its WAL or shm, byte for byte."""
    desk = desk_of(harness)
    for text, answer in (
        (f"IN 20m {NOTE}", "Checked in"),
        (f"CLIENT {CLIENT}", "Client details saved"),
        ("OUT", "Glad you're safe"),
        (f"LOG {LOG}", "Added to your log"),
        (f"REPORT {REPORT}", "report #1"),
        ("FORGET", "FORGET YES"),
    ):
        since = len(harness.sim.sent)
        await harness.says("alice", text)
        await harness.to("alice", answer, since=since)
    hers_now = await _sealed_values_of(desk, NUMBERS["alice"])
    assert len(hers_now) >= 4  # her watch, log entry, report, the messages to her …
    data = tmp_path / "data"
    assert _in_files(data, hers_now)  # written out, as the check below would find them

    since = len(harness.sim.sent)
    await harness.says("alice", "FORGET YES")
    await harness.to("alice", "Done. Deleted", since=since)
    left = _in_files(data, hers_now)
    for _ in range(50):  # the checkpoint follows the commit that the reply follows too
        if not left:
            break
        await asyncio.sleep(0.05)
        left = _in_files(data, hers_now)
    assert left == {}


async def _sealed_values_of(desk: Desk, number: str) -> list[bytes]:
    """Every sealed value that is hers: it names one of her canaries, or it belongs to a
    message addressed to her. The last 32 bytes of each (GCM tag and ciphertext: unique)."""
    sealer = desk.sealer

    def read(conn: object) -> list[tuple[str, str, list[tuple[object, ...]]]]:
        import sqlite3

        assert isinstance(conn, sqlite3.Connection)
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        out = []
        for table in tables:
            columns = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
            rows = conn.execute(f"SELECT * FROM {table}").fetchall()  # noqa: S608 — schema names
            out.append((table, ",".join(columns), [tuple(r) for r in rows]))
        return out

    found: list[bytes] = []
    for table, joined, rows in await desk.db.run(read):
        columns = joined.split(",")
        for row in rows:
            keys = [v for v in row if isinstance(v, str)]
            opened: list[tuple[bytes, bytes]] = []
            for column, value in zip(columns, row, strict=True):
                if not isinstance(value, bytes) or len(value) < 40:
                    continue
                for key in keys:
                    try:
                        plain = sealer.open(value, aad=aad_for(table, column, key))
                    except Exception:  # noqa: BLE001, S112 — not this row's key, try the next
                        continue
                    opened.append((value, plain))
                    break
            if any(b"canary-forget" in p or number.encode() in p for _, p in opened):
                found += [value[-32:] for value, _ in opened]
    return found


def _in_files(folder: Path, tails: list[bytes]) -> dict[str, int]:
    """File name → how many of `tails` it holds."""
    hits = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        data = path.read_bytes()
        count = sum(1 for tail in tails if tail in data)
        if count:
            hits[path.name] = count
    return hits
