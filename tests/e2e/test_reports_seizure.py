"""The seizure canaries, extended to reports and incident logs: canary strings planted in a
report, its photo, a moderator's reason, a screening query, a log entry, its photo and an export
are nowhere in any file under the data directory (database, -wal, -shm, attachments), read byte
by byte without the key — while the key still opens every one of them, and the logs hold none."""

from __future__ import annotations

from pathlib import Path

import pytest

from relay.sim import InboundAttachment
from relay.store.incident_log import LogRepo
from relay.store.reports import ReportRepo
from tests.e2e.conftest import NUMBERS, Harness

REPORT_TEXT = "canary-report-T4 hit me, +44 7700 900321"
REPORT_PHOTO = b"\xff\xd8\xff canary-report-photo-V8"
PENDING = "canary-pending-K5 rude, @canary_handle_b2"
REASON = "canary-reason-R1"
QUERY = "@canary_query_q9"
LOG_TEXT = "canary-log-H6 he followed me home"
LOG_PHOTO = b"\xff\xd8\xff canary-log-photo-N3"
CANARIES = [
    b"canary-report-T4",
    b"canary-report-photo-V8",
    b"canary-pending-K5",
    b"canary_handle_b2",
    b"canary-reason-R1",
    b"canary_query_q9",
    b"canary-log-H6",
    b"canary-log-photo-N3",
    b"447700900321",
    b"7700 900321",
    b"followed me home",
]


def found_in(folder: Path) -> dict[str, list[str]]:
    """Which canaries any file under ``folder`` holds, as UTF-8 or UTF-16 bytes."""
    hits: dict[str, list[str]] = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        data = path.read_bytes()
        for canary in CANARIES:
            text = canary.decode()
            if canary in data or text.encode("utf-16-le") in data:
                hits.setdefault(path.name, []).append(text)
    return hits


async def test_no_canary_on_the_card_without_the_key(
    harness: Harness, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    await harness.says(
        "alice", f"REPORT {REPORT_TEXT}", attachments=[InboundAttachment(REPORT_PHOTO)]
    )
    await harness.to("carol", "Report #1 to review")
    await harness.says("carol", "APPROVE 1")
    await harness.to("alice", "Your report #1 was approved")
    await harness.says("bob", f"REPORT {PENDING}")
    await harness.to("carol", "Report #2 to review")
    await harness.says("carol", f"REJECT 2 {REASON}")
    await harness.to("bob", REASON)
    await harness.says("dana", f"CHECK {QUERY}")
    await harness.to("dana", "No warnings match")
    await harness.says("elena", f"LOG {LOG_TEXT}", attachments=[InboundAttachment(LOG_PHOTO)])
    await harness.to("elena", "entrada 1")
    await harness.says("elena", "EXPORT")
    export = await harness.to("elena", "Tu registro: 1 entrada")
    assert any(b"canary-log-H6" in a.data for a in export.attachments)  # it went out whole

    data_dir = tmp_path / "data"
    names = {p.name for p in data_dir.rglob("*") if p.is_file()}
    assert {"relay.db", "relay.db-wal", "relay.db-shm"} <= names  # the running relay's files
    assert len([n for n in names if n.endswith(".sealed")]) >= 5  # photos, export files, copies
    assert found_in(data_dir) == {}

    relay = harness.relay
    assert relay is not None and relay.desk is not None and relay.pipeline is not None
    desk, vault = relay.desk, relay.pipeline.vault
    shared = await ReportRepo(desk.db, desk.sealer).get(1)
    assert shared is not None and shared.text == REPORT_TEXT  # the key opens it
    assert shared.photos and vault is not None
    assert vault.open(shared.photos[0])[0] == REPORT_PHOTO
    (entry,) = await LogRepo(desk.db, desk.sealer).entries("elena")
    assert entry.text == LOG_TEXT and vault.open(entry.photos[0].key)[0] == LOG_PHOTO

    await harness.stop()
    assert found_in(data_dir) == {}  # nor after a clean stop (WAL checkpointed or not)
    assert "handled by ReportsFeature" in caplog.text  # the log was captured …
    assert [c for c in CANARIES if c.decode() in caplog.text] == []  # … and holds none
    # Nor who reported, screened or keeps a log: those lines never carry an alias.
    ours = [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith(("relay.features.reports", "relay.features.incidents"))
    ]
    assert ours and not [line for line in ours for alias in NUMBERS if alias in line]


def test_the_search_finds_a_canary_in_clear(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "relay.db-wal").write_bytes(
        b"\x00" * 10 + "canary-log-H6".encode("utf-16-le")
    )
    (tmp_path / "note.txt").write_bytes(b"xx canary-report-photo-V8 xx")
    assert found_in(tmp_path) == {
        "note.txt": ["canary-report-photo-V8"],
        "relay.db-wal": ["canary-log-H6"],
    }
