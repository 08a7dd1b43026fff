"""Retention on a real SQLite file with real rules from YAML: what goes when, what stays, and that
what went is gone from every file in the data directory — main file, WAL and vault alike.

Plain-text canaries are never on disk (everything is sealed), so the proof that a deleted row is
gone is its *sealed* bytes: present in the files before the purge, absent after it.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from relay.core.state import ClientNote, Kind, Phase, Pin, Watch
from relay.core.types import MemberAlias
from relay.crypto.keys import MasterKey
from relay.crypto.seal import Sealer
from relay.features.incidents.entries import fresh_head, new_entry
from relay.rules import Rules, load_rules
from relay.runtime.clock import wait_any
from relay.runtime.retention import ATTACHMENT_GRACE, SEEN_KEEP, SENT_CAP, RetentionJob, purge
from relay.runtime.vault import AttachmentVault
from relay.signal.transport import SignalTransport
from relay.sim import InboundAttachment, SignalSim
from relay.store import incident_log, reports
from relay.store.db import Database
from relay.store.outbox import OutboxRepo, Queued
from relay.store.reports import NewReport
from relay.store.times import to_ms
from relay.store.watches import WatchRepo

SAMPLES = Path(__file__).resolve().parents[2] / "rules"
T0 = datetime(2026, 11, 26, 20, 0, tzinfo=UTC)
ALICE, BOB, CAROL, DANA = (MemberAlias(a) for a in ("alice", "bob", "carol", "dana"))
BOB_NUMBER = "+12025550102"
STRANGER = "+12025550166"
NOTE = "canary-note-R7x Hotel Rex room 12"
CLIENT = "canary-client-R7x blue Audi, +44 7700 900123"
PHOTO = b"\xff\xd8\xff\xe0canary-photo-R7x" + bytes(range(256)) * 4


def write_rules(tmp_path: Path, **retention: str) -> Rules:
    """The sample rules with `retention` replacing the sample's periods (a real YAML file)."""
    folder = tmp_path / "rules"
    shutil.copytree(SAMPLES, folder)
    path = folder / "collective.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    doc["retention"] = {**doc["retention"], **retention}
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return load_rules(folder, allow_placeholders=True)


@dataclass
class Store:
    data: Path
    db: Database
    sealer: Sealer
    vault: AttachmentVault
    watches: WatchRepo
    outbox: OutboxRepo

    async def save(self, *watches: Watch) -> None:
        async with self.db.transaction() as conn:
            for watch in watches:
                await self.watches.save(conn, watch)

    async def queue(self, item: Queued, at: datetime, *, sent: bool, kept: bool = False) -> int:
        """Queue `item`; `sent`: and record it sent. `kept`: as a sent row an older release
        left (or one set aside as unreadable), which retention deletes after the messages
        period — a release with migration 006 deletes a sent row as it records it."""
        async with self.db.transaction() as conn:
            await self.outbox.add(conn, item, at)
            async with conn.execute("SELECT max(id) FROM outbox") as cur:
                row = await cur.fetchone()
        assert row is not None
        if sent and kept:
            async with self.db.transaction() as conn:
                await conn.execute(
                    "UPDATE outbox SET sent_at = ?, signal_timestamp = ?, watch_id = ? "
                    "WHERE id = ?",
                    (to_ms(at), to_ms(at), item.watch_id, row[0]),
                )
        elif sent:
            await self.outbox.mark_sent(int(row[0]), to_ms(at), at, item.watch_id)
        return int(row[0])

    async def ids(self, table: str, column: str = "id") -> set[object]:
        async with self.db.conn.execute(f"SELECT {column} FROM {table}") as cur:  # noqa: S608
            return {row[0] for row in await cur.fetchall()}

    async def blob(self, sql: str, *params: object) -> bytes:
        async with self.db.conn.execute(sql, params) as cur:
            row = await cur.fetchone()
        assert row is not None
        return bytes(row[0])

    def files_holding(self, needle: bytes) -> list[str]:
        """Every file under the data directory whose bytes contain `needle`."""
        return sorted(
            str(p.relative_to(self.data))
            for p in self.data.rglob("*")
            if p.is_file() and needle in p.read_bytes()
        )


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    sealer = Sealer(MasterKey.generate())
    db = await Database.open(data)
    transport = SignalTransport("127.0.0.1:9", "+12025550100", 1.0)  # never reached here
    vault = AttachmentVault(data / "attachments", sealer, transport)
    yield Store(data, db, sealer, vault, WatchRepo(db, sealer), OutboxRepo(db, sealer))
    await transport.close()
    await db.close()


def checkin(alias: MemberAlias, phase: Phase, *, closed: datetime | None, **more: object) -> Watch:
    watch = Watch(
        member=alias,
        kind=Kind.CHECKIN,
        phase=phase,
        started_at=T0 - timedelta(hours=1),
        deadline=T0,
        next_at=None if phase in (Phase.CLOSED, Phase.DRAFT) else T0 + timedelta(hours=1),
        closed_at=closed,
        id=f"w-{alias}-{phase}",
    )
    return watch.evolve(**more)


def tail(blob: bytes) -> bytes:
    """The last 32 bytes of a sealed value (ciphertext and tag): unique, and stored contiguously."""
    return blob[-32:]


# --- watches --------------------------------------------------------------------------------------


async def test_a_closed_checkin_goes_after_the_period_with_its_photo_and_leaves_no_trace(
    store: Store, tmp_path: Path
) -> None:
    rules = write_rules(tmp_path, checkins="2h", alerts="6h")
    photo = store.vault.put(PHOTO, "image/jpeg")
    date = checkin(
        ALICE,
        Phase.CLOSED,
        closed=T0,
        note=NOTE,
        client=(ClientNote(T0, CLIENT),),
        pins=(Pin(T0, 51.5, -0.12, "canary-place-R7x", "LOC 51.5,-0.12"),),
        photos=(photo,),
    )
    alert = checkin(BOB, Phase.CLOSED, closed=T0, note=NOTE, alert_started_at=T0)
    live = checkin(CAROL, Phase.ACTIVE, closed=None, note=NOTE)
    await store.save(date, alert, live)
    sent_alert = Queued(BOB_NUMBER, f"ALERT {NOTE}", "alert", date.id, "bob", (photo,))
    await store.queue(sent_alert, T0, sent=True, kept=True)
    sealed = tail(await store.blob("SELECT detail FROM watches WHERE id = ?", date.id))
    body = tail(await store.blob("SELECT body FROM outbox"))
    photo_file = tail((store.data / "attachments" / f"{photo}.sealed").read_bytes())
    assert store.files_holding(sealed) and store.files_holding(body)
    assert store.files_holding(photo_file) == [f"attachments/{photo}.sealed"]

    early = await purge(store.db, store.sealer, store.vault, rules, T0 + timedelta(minutes=119))
    # The sent alert went after an hour; the photo it carried stays with the check-in.
    assert (early.checkins, early.messages, early.photos) == (0, 1, 0)
    assert await store.ids("watches") == {date.id, alert.id, live.id}

    report = await purge(store.db, store.sealer, store.vault, rules, T0 + timedelta(minutes=121))

    assert (report.checkins, report.messages, report.photos, report.unreadable) == (1, 0, 1, 0)
    assert report.failures == [] and report.wal_bytes == 0
    assert await store.ids("watches") == {alert.id, live.id}  # an alert keeps for 6h
    assert await store.ids("outbox") == set()
    assert store.files_holding(sealed) == []
    assert store.files_holding(body) == []
    assert store.files_holding(photo_file) == []
    assert not (store.data / "attachments" / f"{photo}.sealed").exists()
    for canary in (NOTE, CLIENT, "canary-place-R7x"):
        assert store.files_holding(canary.encode()) == []

    later = await purge(
        store.db, store.sealer, store.vault, rules, T0 + timedelta(hours=6, minutes=1)
    )
    assert later.checkins == 1
    assert await store.ids("watches") == {live.id}  # a live check-in is never touched


async def test_the_checkpoint_is_what_takes_a_deleted_row_out_of_the_wal(
    store: Store, tmp_path: Path
) -> None:
    rules = write_rules(tmp_path, checkins="2h")
    date = checkin(ALICE, Phase.CLOSED, closed=T0, note=NOTE)
    await store.save(date)
    sealed = tail(await store.blob("SELECT detail FROM watches WHERE id = ?", date.id))
    async with store.db.transaction() as conn:
        await conn.execute("DELETE FROM watches WHERE id = ?", (date.id,))
    # Deleted, but the page that held it is still in the WAL: this is what a seizure would find.
    assert store.files_holding(sealed) == ["relay.db-wal"]

    report = await purge(store.db, store.sealer, store.vault, rules, T0)

    assert report.checkins == 0 and report.wal_bytes == 0
    assert store.files_holding(sealed) == []


async def test_a_draft_goes_after_the_period_counted_from_the_last_thing_she_added(
    store: Store, tmp_path: Path
) -> None:
    rules = write_rules(tmp_path, checkins="2h")
    draft = checkin(
        DANA,
        Phase.DRAFT,
        closed=None,
        client=(ClientNote(T0 - timedelta(hours=3), CLIENT), ClientNote(T0, CLIENT)),
    )
    await store.save(draft)

    kept = await purge(store.db, store.sealer, store.vault, rules, T0 + timedelta(minutes=119))
    gone = await purge(store.db, store.sealer, store.vault, rules, T0 + timedelta(minutes=121))

    assert (kept.checkins, gone.checkins) == (0, 1)
    assert await store.ids("watches") == set()


async def test_a_tampered_closed_watch_is_reported_and_deleted_by_age_alone(
    store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rules = write_rules(tmp_path, checkins="2h", alerts="6h")
    date = checkin(ALICE, Phase.CLOSED, closed=T0, note=NOTE)
    await store.save(date)
    blob = bytearray(await store.blob("SELECT detail FROM watches WHERE id = ?", date.id))
    blob[40] ^= 0x01  # one flipped bit in the ciphertext
    async with store.db.transaction() as conn:
        await conn.execute("UPDATE watches SET detail = ? WHERE id = ?", (bytes(blob), date.id))

    with caplog.at_level(logging.INFO, logger="relay"):
        first = await purge(store.db, store.sealer, store.vault, rules, T0 + timedelta(hours=3))
        second = await purge(store.db, store.sealer, store.vault, rules, T0 + timedelta(hours=7))

    # Unreadable: it may have been an alert, so it gets the longer period, and each pass says so.
    assert (first.unreadable, first.checkins) == (1, 0)
    assert (second.unreadable, second.checkins) == (1, 1)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("watches.detail" in w for w in warnings), warnings
    assert not any("canary" in r.getMessage() for r in caplog.records)


# --- messages and tags ----------------------------------------------------------------------------


async def test_sent_rows_left_by_an_older_release_go_after_an_hour_except_a_live_alerts(
    store: Store, tmp_path: Path
) -> None:
    rules = write_rules(tmp_path, messages="2d")  # the cap is shorter: it wins
    live = checkin(CAROL, Phase.ALERTED, closed=None, note=NOTE, alert_started_at=T0)
    await store.save(live)
    reply = await store.queue(
        Queued(BOB_NUMBER, "✅ Checked in", "reply"), T0, sent=True, kept=True
    )
    quoted = await store.queue(
        Queued(BOB_NUMBER, f"ALERT {NOTE}", "alert", live.id, "bob"), T0, sent=True, kept=True
    )
    waiting = await store.queue(Queued(BOB_NUMBER, f"ALERT {NOTE}", "alert"), T0, sent=False)
    async with store.db.transaction() as conn:
        await conn.execute(
            "INSERT INTO inbox_seen (tag, seen_at) VALUES (?, ?)", (b"t" * 32, to_ms(T0))
        )

    early = await purge(store.db, store.sealer, store.vault, rules, T0 + SENT_CAP)
    later = await purge(store.db, store.sealer, store.vault, rules, T0 + SENT_CAP * 2)
    assert (early.messages, later.messages) == (1, 0)  # at the cap (inclusive): the reply
    assert await store.ids("outbox") == {quoted, waiting}
    assert reply not in await store.ids("outbox")

    await store.save(live.evolve(phase=Phase.CLOSED, closed_at=T0 + SENT_CAP, next_at=None))
    closed = await purge(store.db, store.sealer, store.vault, rules, T0 + SENT_CAP * 2)
    assert closed.messages == 1  # the alert's buddy can no longer ACK it: its row goes
    assert await store.ids("outbox") == {waiting}  # unsent: retried until it goes

    assert await store.ids("inbox_seen", "tag") == {b"t" * 32}
    tags = await purge(store.db, store.sealer, store.vault, rules, T0 + SEEN_KEEP)
    assert tags.seen_tags == 1 and await store.ids("inbox_seen", "tag") == set()


async def test_a_sent_message_leaves_only_a_sealed_ref_until_its_watch_closes(
    store: Store, tmp_path: Path
) -> None:
    """Issue 17: a sent row goes as it is recorded sent; what a buddy's quote needs (which
    watch) stays, sealed under a keyed tag of Signal's timestamp, until the watch closes."""
    rules = write_rules(tmp_path)
    live = checkin(CAROL, Phase.ALERTED, closed=None, note=NOTE, alert_started_at=T0)
    await store.save(live)
    alert = await store.queue(
        Queued(BOB_NUMBER, f"ALERT {NOTE}", "alert", live.id, "bob"), T0, sent=True
    )
    await store.queue(Queued(BOB_NUMBER, "✅ Checked in", "reply"), T0, sent=True)
    assert alert not in await store.ids("outbox") and await store.ids("outbox") == set()
    assert await store.outbox.watch_for_signal_timestamp(to_ms(T0)) == live.id
    async with store.db.conn.execute("SELECT * FROM sent_refs") as cur:
        (ref,) = [tuple(row) for row in await cur.fetchall()]  # the reply was about no watch
    assert live.id.encode() not in b"".join(v for v in ref if isinstance(v, bytes))
    assert str(to_ms(T0)).encode() not in b"".join(v for v in ref if isinstance(v, bytes))

    kept = await purge(store.db, store.sealer, store.vault, rules, T0 + SENT_CAP * 3)
    assert kept.sent_refs == 0  # its alert is live: a buddy may still quote it
    await store.save(live.evolve(phase=Phase.CLOSED, closed_at=T0, next_at=None))
    gone = await purge(store.db, store.sealer, store.vault, rules, T0 + SENT_CAP * 3)
    assert gone.sent_refs == 1 and await store.ids("sent_refs", "tag") == set()
    assert await store.outbox.watch_for_signal_timestamp(to_ms(T0)) is None


async def test_a_shorter_messages_period_in_the_rules_is_obeyed(
    store: Store, tmp_path: Path
) -> None:
    rules = write_rules(tmp_path, messages="20m")
    await store.queue(Queued(BOB_NUMBER, "✅ Checked in", "reply"), T0, sent=True, kept=True)

    kept = await purge(store.db, store.sealer, store.vault, rules, T0 + timedelta(minutes=19))
    gone = await purge(store.db, store.sealer, store.vault, rules, T0 + timedelta(minutes=20))

    assert (kept.messages, gone.messages) == (0, 1)


async def test_a_file_an_unsent_message_still_carries_is_kept(store: Store, tmp_path: Path) -> None:
    rules = write_rules(tmp_path, checkins="2h")
    photo = store.vault.put(PHOTO, "image/jpeg")
    date = checkin(ALICE, Phase.CLOSED, closed=T0, photos=(photo,))
    await store.save(date)
    # A buddy's phone was unreachable for hours: the alert with the photo is still waiting.
    await store.queue(
        Queued(BOB_NUMBER, "ALERT", "alert", date.id, "bob", (photo,)), T0, sent=False
    )

    report = await purge(store.db, store.sealer, store.vault, rules, T0 + timedelta(hours=3))

    assert (report.checkins, report.photos) == (1, 0)
    assert store.vault.open(photo)[0] == PHOTO


# --- reports and incident logs (their own purges, called by the pass) -----------------------------


async def test_expired_reports_and_old_log_entries_go_in_the_same_pass(
    store: Store, tmp_path: Path
) -> None:
    rules = write_rules(tmp_path, reports="1d", incident_logs="2d")
    photo = store.vault.put(PHOTO, "image/jpeg")
    head = fresh_head()
    entry = new_entry(store.sealer, head, T0, "canary-log-R7x he followed me")
    report = NewReport(
        number=1,
        author=ALICE,
        text="canary-report-R7x",
        identifiers=(),
        severity=3,
        status="approved",
        created_at=T0,
        expires_at=T0 + timedelta(days=1),
        photos=(photo,),
    )

    def work(conn: sqlite3.Connection) -> None:
        reports.add(conn, store.sealer, report, ())
        incident_log.append(conn, store.sealer, "bob", head, entry)

    await store.db.write(work)
    report_blob = tail(await store.blob("SELECT body FROM reports"))
    entry_blob = tail(await store.blob("SELECT content FROM incident_entries"))

    kept = await purge(store.db, store.sealer, store.vault, rules, T0 + timedelta(hours=23))
    gone = await purge(store.db, store.sealer, store.vault, rules, T0 + timedelta(days=2, hours=1))

    assert (kept.reports, kept.log_entries) == (0, 0)
    assert (gone.reports, gone.log_entries) == (1, 1)
    assert await store.ids("reports", "number") == set()
    assert await store.ids("incident_entries", "seq") == set()
    assert not (store.data / "attachments" / f"{photo}.sealed").exists()
    assert store.files_holding(report_blob) == [] and store.files_holding(entry_blob) == []


# --- signal-cli's attachment folder ---------------------------------------------------------------


async def test_attachments_left_in_signal_clis_folder_are_deleted_after_the_grace(
    tmp_path: Path,
) -> None:
    async with SignalSim() as sim:
        # A stranger's photo: nobody will ever fetch it, so it would sit there in plain form.
        await sim.member_sends(STRANGER, "hi", attachments=[InboundAttachment(PHOTO)])
        assert len(sim.attachments) == 1
        sealer = Sealer(MasterKey.generate())
        db = await Database.open(tmp_path)
        transport = SignalTransport(sim.service, sim.account, 3.0)
        vault = AttachmentVault(tmp_path / "attachments", sealer, transport)
        rules = write_rules(tmp_path)
        job = RetentionJob(db, sealer, vault, lambda: rules, StepClock(T0))
        assert job.signal_cli is not None
        elapsed = [0.0]  # the monotonic clock the grace is measured on
        job.signal_cli.monotonic = lambda: elapsed[0]
        grace = ATTACHMENT_GRACE.total_seconds()
        try:
            first = await job.run_once()
            await sim.member_sends(STRANGER, "again", attachments=[InboundAttachment(PHOTO)])
            elapsed[0] = grace - 1
            second = await job.run_once()
            elapsed[0] = grace
            third = await job.run_once()
            assert (first.signal_cli_files, second.signal_cli_files) == (0, 0)
            assert third.signal_cli_files == 1  # the first; the second is not an hour old
            assert len(sim.attachments) == 1
            elapsed[0] = grace * 3
            assert (await job.run_once()).signal_cli_files == 1
            assert sim.attachments == {}
        finally:
            await transport.close()
            await db.close()


async def test_a_wall_clock_step_does_not_age_signal_clis_attachments(tmp_path: Path) -> None:
    """The relay's clock jumps a day (NTP after boot): a photo that just arrived stays."""
    async with SignalSim() as sim:
        await sim.member_sends(STRANGER, "hi", attachments=[InboundAttachment(PHOTO)])
        sealer = Sealer(MasterKey.generate())
        db = await Database.open(tmp_path)
        transport = SignalTransport(sim.service, sim.account, 3.0)
        clock = StepClock(T0)
        rules = write_rules(tmp_path)
        vault = AttachmentVault(tmp_path / "attachments", sealer, transport)
        job = RetentionJob(db, sealer, vault, lambda: rules, clock)
        try:
            await job.run_once()
            clock.moment = T0 + timedelta(days=1)
            assert (await job.run_once()).signal_cli_files == 0
            assert len(sim.attachments) == 1
        finally:
            await transport.close()
            await db.close()


async def test_signal_cli_unreachable_is_not_a_failed_pass(store: Store, tmp_path: Path) -> None:
    rules = write_rules(tmp_path)
    job = RetentionJob(store.db, store.sealer, store.vault, lambda: rules, StepClock(T0))
    report = await job.run_once()
    assert report.signal_cli_files == 0 and report.failures == []


# --- the schedule ---------------------------------------------------------------------------------


class StepClock:
    """Time moves only when the test says; `sleep_until` returns on a tick or the job's wake."""

    def __init__(self, now: datetime) -> None:
        self.moment = now
        self.napping = asyncio.Event()  # set each time the job goes (back) to sleep
        self._tick = asyncio.Event()

    def now(self) -> datetime:
        return self.moment

    async def sleep_until(self, moment: datetime | None, wake: asyncio.Event) -> None:
        self.napping.set()
        await wait_any((self._tick, wake))
        self._tick.clear()
        wake.clear()

    async def advance_to(self, moment: datetime) -> None:
        """Move time, wake the sleeper, and return once it is asleep again."""
        self.napping.clear()
        self.moment = moment
        self._tick.set()
        await asyncio.wait_for(self.napping.wait(), timeout=5)


async def test_the_job_purges_at_start_then_every_hour_and_on_request(
    store: Store, tmp_path: Path
) -> None:
    rules = write_rules(tmp_path, checkins="2h")
    await store.save(checkin(ALICE, Phase.CLOSED, closed=T0 - timedelta(hours=3)))
    await store.save(checkin(BOB, Phase.CLOSED, closed=T0 - timedelta(minutes=90)))
    clock = StepClock(T0)
    job = RetentionJob(
        store.db, store.sealer, store.vault, lambda: rules, clock, lock=asyncio.Lock()
    )
    task = asyncio.create_task(job.run())
    try:
        await asyncio.wait_for(clock.napping.wait(), timeout=5)
        assert job.passes == 1 and job.last is not None and job.last.checkins == 1  # at start

        await clock.advance_to(T0 + timedelta(minutes=59))
        assert job.passes == 1  # woke early (the clock wakes every minute): no pass

        await clock.advance_to(T0 + timedelta(minutes=60))
        assert job.passes == 2 and job.last is not None and job.last.checkins == 1  # bob's

        clock.napping.clear()
        job.soon()
        await asyncio.wait_for(clock.napping.wait(), timeout=5)
        assert job.passes == 3
        assert await store.ids("watches") == set()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
