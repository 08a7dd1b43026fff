"""The seizure test (issue 5): a scenario through the simulator plants unique canaries as a
check-in note, client details, a typed address, a shared place and its coordinates, a client
photo, a report with its photo and an incident-log entry; then the relay is killed (-9: the box
seized while running, its WAL never checkpointed).

- Every file in the data directory (database, WAL, shm, vault, status and lock files) and the
  relay's whole log (stdout and stderr at INFO) is searched byte by byte for each canary — as
  UTF-8, UTF-16 and base64 — and for the members' phone numbers: none is found.
- With the key, every sealed value in every table and every vault file opens, and together they
  hold every canary: sealed, not lost.
- One flipped byte in a sealed field or a vault file is reported as tampering (naming only the
  table and column), never decrypted into garbage; the retention pass reports it too.
- After retention (the sample rules' periods passed), the check-in's rows, messages and photo
  are gone, their sealed bytes are in no file (WAL included), and the key no longer finds them.
"""

from __future__ import annotations

import base64
import logging
import re
import shutil
import sqlite3
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from relay.crypto.keys import load_key
from relay.crypto.seal import Sealer, TamperedError, aad_for
from relay.rules import load_rules
from relay.runtime.retention import purge
from relay.runtime.vault import AttachmentVault
from relay.signal.transport import SignalTransport
from relay.sim import InboundAttachment, SignalSim
from relay.store.db import DB_NAME, Database
from tests.e2e.conftest import NUMBERS, RelayProcess, write_env

NOTE = "cnry-note-Qw3r Hotel Rex room 12"
CLIENT = "cnry-client-Zx8v Tom, blue Audi"
ADDRESS = "cnry-address-Lk5m 221B Baker Street"
PLACE = "cnry-place-Hy6t"
LAT, LNG = "48.858370", "2.294481"
PHOTO = b"\xff\xd8\xff\xe0" + b"cnry-photo-Pn2b" + bytes(range(256))
REPORT = "cnry-report-Dg4s choked me"
REPORT_PHOTO = b"\xff\xd8\xff\xe0" + b"cnry-report-photo-Vb7c" + bytes(range(256))
LOG = "cnry-log-Mj9k he followed me home"

CANARIES = {
    "note": "cnry-note-Qw3r",
    "client": "cnry-client-Zx8v",
    "address": "cnry-address-Lk5m",
    "place": PLACE,
    "latitude": "48.85837",
    "longitude": "2.294481",
    "photo": "cnry-photo-Pn2b",
    "report": "cnry-report-Dg4s",
    "report photo": "cnry-report-photo-Vb7c",
    "log": "cnry-log-Mj9k",
}
CHECKIN_CANARIES = ("note", "client", "address", "place", "latitude", "longitude", "photo")
NUMBER_CANARIES = {alias: number.removeprefix("+1") for alias, number in NUMBERS.items()}
ROW_KEY = re.compile(r"[A-Za-z0-9_-]{1,128}")


def forms(text: str) -> list[bytes]:
    """How a canary could sit in a file: UTF-8, UTF-16 (both orders), base64 at any alignment."""
    raw = text.encode()
    found = [raw, text.encode("utf-16-le"), text.encode("utf-16-be")]
    for shift in range(3):
        # Characters touched by the bytes before the canary or after it differ; the rest not.
        encoded = base64.b64encode(b"\0" * shift + raw)
        start = -(-shift * 4 // 3)
        found += [encoded[start:-4], encoded[start:-4].replace(b"+", b"-").replace(b"/", b"_")]
    return found


def search(paths: Iterable[Path], canaries: dict[str, str]) -> dict[str, list[str]]:
    """Which canaries each file holds, in any of their `forms`."""
    hits: dict[str, list[str]] = {}
    for path in paths:
        data = path.read_bytes()
        for name, text in canaries.items():
            if any(form in data for form in forms(text)):
                hits.setdefault(path.name, []).append(name)
    return hits


def every_file(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def open_everything(data_dir: Path, sealer: Sealer) -> tuple[bytes, list[str]]:
    """Every sealed value in every table (opened with the associated data of its own row) and
    every vault file, as one corpus; and the places whose sealed values did not open."""
    key_id = bytes.fromhex(sealer.key_id)
    headers = (b"\x01" + key_id, b"\x02" + key_id)  # exact, and padded (the store's fields)
    corpus: list[bytes] = []
    unopened: list[str] = []
    with sqlite3.connect(data_dir / DB_NAME) as con:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            columns = [r[1] for r in con.execute(f"PRAGMA table_info({table})")]
            for row in con.execute(f"SELECT * FROM {table}"):  # noqa: S608 — names from the schema
                keys = [v for v in row if isinstance(v, str) and ROW_KEY.fullmatch(v)]
                for column, value in zip(columns, row, strict=True):
                    if not isinstance(value, bytes) or not value.startswith(headers):
                        continue
                    for key in keys:
                        try:
                            corpus.append(sealer.open(value, aad=aad_for(table, column, key)))
                            break
                        except (TamperedError, ValueError):
                            continue
                    else:
                        unopened.append(f"{table}.{column}")
    for path in sorted((data_dir / "attachments").glob("*.sealed")):
        corpus.append(sealer.open_file(path, aad=aad_for("attachments", "file", path.stem)))
    return b"\n".join(corpus), unopened


def tails(data_dir: Path, sql: str) -> list[bytes]:
    """The last 32 bytes of each sealed value the query selects (unique, stored contiguously)."""
    with sqlite3.connect(data_dir / DB_NAME) as con:
        return [bytes(row[0])[-32:] for row in con.execute(sql) if row[0] is not None]


async def run_scenario(sim: SignalSim, relay: RelayProcess) -> None:
    alice, bob, elena = NUMBERS["alice"], NUMBERS["bob"], NUMBERS["elena"]

    async def says(number: str, text: str, expect: str, **kwargs: object) -> None:
        since = len(sim.sent)
        await sim.member_sends(number, text, **kwargs)  # type: ignore[arg-type]
        await sim.wait_for_sent(
            lambda s: s.reached(number) and expect in s.message, since=since, timeout=20
        )

    relay.start()
    await sim.wait_for_client(timeout=20)
    await says(alice, f"IN 4s {NOTE}", "Checked in")
    await says(
        alice, f"CLIENT {CLIENT}", "Client details saved", attachments=[InboundAttachment(PHOTO)]
    )
    await says(alice, f"LOC {ADDRESS}", "Location saved")
    since = len(sim.sent)
    await sim.member_shares_location(alice, LAT, LNG, place_name=PLACE, address="Champ de Mars")
    await sim.wait_for_sent(
        lambda s: s.reached(alice) and "Location saved" in s.message, since=since
    )
    await says(elena, f"REPORT {REPORT}", "aviso #1", attachments=[InboundAttachment(REPORT_PHOTO)])
    await says(elena, f"LOG {LOG}", "entrada 1")
    alert = await sim.wait_for_sent(
        lambda s: s.reached(bob) and CANARIES["note"] in s.message, timeout=30
    )
    assert CANARIES["client"] in alert.message and PLACE in alert.message
    assert any(CANARIES["photo"].encode() in a.data for a in alert.attachments)
    await says(bob, "ACK", "on it for Alice")
    await says(alice, "OUT", "Glad you're safe")
    relay.kill9()


@pytest.fixture
async def seized(
    sim: SignalSim, tmp_path: Path, relay_process: Callable[[Path], RelayProcess]
) -> tuple[Path, Path]:
    """The data directory and the relay's log after the scenario and a kill -9."""
    relay = relay_process(write_env(tmp_path, sim.service))
    await run_scenario(sim, relay)
    return tmp_path / "data", relay.log_path


async def test_a_seized_box(
    seized: tuple[Path, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """One scenario (about 8 s), three looks at what it left: as seized, tampered with, and
    after retention (each on its own copy of the data directory)."""
    await nothing_readable_without_the_key(*seized)
    await tampering_is_reported_not_decrypted(seized[0], tmp_path, caplog)
    await retention_leaves_nothing_of_the_checkin(seized[0], tmp_path)


async def nothing_readable_without_the_key(data_dir: Path, log_path: Path) -> None:
    files = every_file(data_dir)
    names = {p.name for p in files}
    assert {"relay.db", "relay.db-wal", "relay.key"} <= names  # seized while running
    assert len([n for n in names if n.endswith(".sealed")]) >= 2  # the two photos
    assert "relay ready" in log_path.read_text(encoding="utf-8", errors="replace")

    assert search([*files, log_path], CANARIES) == {}
    assert search([*files, log_path], NUMBER_CANARIES) == {}

    corpus, unopened = open_everything(data_dir, Sealer(load_key(data_dir)))
    assert unopened == []
    assert [name for name, text in CANARIES.items() if text.encode() not in corpus] == []


def test_the_search_finds_each_form_it_looks_for(tmp_path: Path) -> None:
    """The search above can fail: each form, planted anywhere in a file, is found."""
    text = CANARIES["note"]
    for index, form in enumerate(forms(text)):
        path = tmp_path / f"file-{index}"
        path.write_bytes(b"\x00\x01" * index + form + b"\xfe")
        assert search([path], {"note": text}) == {path.name: ["note"]}
    planted = tmp_path / "b64"
    planted.write_bytes(b"xx" + base64.b64encode(b"!" + text.encode() + b"?") + b"yy")
    assert search([planted], {"note": text}) == {"b64": ["note"]}


async def tampering_is_reported_not_decrypted(
    seized: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data_dir = tmp_path / "tampered"
    shutil.copytree(seized, data_dir)
    sealer = Sealer(load_key(data_dir))
    with sqlite3.connect(data_dir / DB_NAME) as con:
        row_id, detail = con.execute("SELECT id, detail FROM watches").fetchone()
        flipped = bytearray(detail)
        flipped[len(flipped) // 2] ^= 0x80
        con.execute("UPDATE watches SET detail = ? WHERE id = ?", (bytes(flipped), row_id))
    with pytest.raises(TamperedError) as field_error:
        sealer.open(bytes(flipped), aad=aad_for("watches", "detail", row_id))
    assert str(field_error.value).startswith("watches.detail: ")
    photo = next((data_dir / "attachments").glob("*.sealed"))
    blob = bytearray(photo.read_bytes())
    blob[-20] ^= 0x01
    photo.write_bytes(bytes(blob))
    with pytest.raises(TamperedError) as file_error:
        sealer.open_file(photo, aad=aad_for("attachments", "file", photo.stem))
    assert str(file_error.value).startswith("attachments.file: ")
    for error in (field_error.value, file_error.value):
        assert not [name for name, text in CANARIES.items() if text in str(error)]

    rules = load_rules(tmp_path / "rules", allow_placeholders=True)
    db = await Database.open(data_dir)
    try:
        with caplog.at_level(logging.WARNING, logger="relay"):
            later = datetime.now(UTC) + rules.retention.checkins + timedelta(hours=1)
            report = await purge(db, sealer, None, rules, later)
    finally:
        await db.close()
    # Past the check-in period: it may have been an alert, so it waits for the longer one.
    assert (report.unreadable, report.checkins) == (1, 0)
    assert "watches.detail did not open" in caplog.text


async def retention_leaves_nothing_of_the_checkin(seized: Path, tmp_path: Path) -> None:
    data_dir = tmp_path / "later"
    shutil.copytree(seized, data_dir)
    sealer = Sealer(load_key(data_dir))
    sealed = tails(data_dir, "SELECT detail FROM watches")
    # Sent messages about it (alerts with her note, client, places). Messages still unsent when
    # the box was seized stay until they go: the relay sends them when it runs again.
    sealed += tails(data_dir, "SELECT body FROM outbox WHERE watch_id IS NOT NULL AND sent_at > 0")
    sealed += [p.read_bytes()[-32:] for p in (data_dir / "attachments").glob("*.sealed")]
    assert sealed and all(any(t in p.read_bytes() for p in every_file(data_dir)) for t in sealed)

    rules = load_rules(tmp_path / "rules", allow_placeholders=True)  # the sample's periods
    later = datetime.now(UTC) + rules.retention.alerts + timedelta(hours=1)
    transport = SignalTransport("127.0.0.1:9", NUMBERS["dana"], 1.0)  # deleting needs no call
    vault = AttachmentVault(data_dir / "attachments", sealer, transport)
    db = await Database.open(data_dir)
    try:
        report = await purge(db, sealer, vault, rules, later)
    finally:
        await db.close()
        await transport.close()

    assert report.checkins == 1 and report.photos == 1 and report.wal_bytes == 0
    assert report.failures == [] and report.unreadable == 0
    report_photo = [p for p in every_file(data_dir) if p.suffix == ".sealed"]
    leftovers = [t for t in sealed for p in every_file(data_dir) if t in p.read_bytes()]
    # Only the report's photo stays (reports keep 52 weeks), and nothing of the check-in.
    assert len(report_photo) == 1 and len(leftovers) == 1
    corpus, unopened = open_everything(data_dir, sealer)
    assert unopened == []
    assert [n for n in CHECKIN_CANARIES if CANARIES[n].encode() in corpus] == []
    assert CANARIES["report"].encode() in corpus and CANARIES["log"].encode() in corpus
