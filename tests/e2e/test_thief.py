"""What a thief learns from the database without the key (issue 17, finding 2).

A full scenario runs through the simulator and the relay as a subprocess — check-ins with notes
and client details, a check-out with a secret, an SOS, a duress word, ACK and RESOLVED, two
reports by one member (one approved), CHECK, LOG, FORGET — then the relay is killed (-9: the box
taken while it runs). As the thief, without the key, the test reads every table of the database
(its write-ahead log included: SQLite applies it on opening a copy) and the log's raw frames,
and asserts that nothing there links a report, a check-in or an alert to a member:

- no sent message is left in the outbox (the rows that tied a recipient to a watch, a purpose
  and a time are deleted as they are sent), and the write-ahead log holds no frames (emptied
  `outbox.wipe_after` after the last send, so old page images cannot be read either);
- no exact time is shared between two tables, and every time that is not a live deadline is
  kept to the hour;
- no tag (a keyed hash) appears on two rows, except where one member's incident log chains its
  own entries and where two reports name the same client (screening): closed check-ins and
  alerts carry random tags, and each report its own author tag;
- every sealed field is padded to a power-of-two size bucket, so lengths do not tell one alias
  or one text from another.

With the key, the author of each report is still found. docs/threat-model.md, "What a thief learns
from the database without the key", lists what this leaves and why.
"""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import yaml

from relay.crypto.keys import load_key
from relay.crypto.seal import OVERHEAD, PAD_MIN, Sealer
from relay.sim import SignalSim
from relay.store.db import DB_NAME, Database
from relay.store.reports import ReportRepo
from relay.store.times import HOUR_MS
from tests.e2e.conftest import NUMBERS, RELAY_NUMBER, RelayProcess, write_env

WAL_HEADER = 32
FRAME_HEADER = 24
YEAR_MS = 366 * 24 * HOUR_MS


async def run_scenario(sim: SignalSim, relay: RelayProcess) -> None:
    async def says(who: str, text: str, expect: str, to: str | None = None) -> None:
        number = NUMBERS[who]
        target = NUMBERS[to] if to else number
        since = len(sim.sent)
        await sim.member_sends(number, text)
        await sim.wait_for_sent(
            lambda s: s.reached(target) and expect in s.message, since=since, timeout=20
        )

    relay.start()
    await sim.wait_for_client(timeout=30)
    await says("alice", "IN 30m Hotel Rex room 12", "Checked in")
    await says("alice", "CLIENT Tom, +44 7700 900777", "Client details saved")
    await says("bob", "IN 30m", "Checked in")
    await says("bob", "OUT bluebird", "Glad you're safe")
    await says("carol", "SOS", "SOS from Carol", to="dana")
    await says("dana", "ACK carol", "on it")
    await says("dana", "RESOLVED", "closed")
    await says("alice", "lemonade", "SILENT ALERT", to="bob")  # her duress word
    await says("bob", "ACK alice", "on it")
    await says("bob", "RESOLVED", "closed")
    await says("elena", "REPORT rude, wouldn't pay, +44 7700 900123", "#1")
    await says("carol", "APPROVE 1", "Report #1")
    await says("elena", "REPORT followed me home +44 7700 900124", "#2")
    await says("dana", "CHECK +44 7700 900123", "match")
    await says("alice", "LOG he followed me to the car", "Added to your log")
    await says("carol", "FORGET", "FORGET YES")
    await says("carol", "FORGET YES", "Done")
    await asyncio.sleep(2.5)  # nothing left to send: the WAL is wiped after 1 s (config below)
    relay.kill9()


def wal_frames(wal: Path) -> int:
    """How many frames the write-ahead log holds (0 for none, or no file)."""
    if not wal.exists() or wal.stat().st_size < WAL_HEADER:
        return 0
    data = wal.read_bytes()
    page_size = int.from_bytes(data[8:12], "big")
    return (len(data) - WAL_HEADER) // (FRAME_HEADER + page_size)


def dump(data_dir: Path, work: Path) -> dict[str, list[dict[str, object]]]:
    """Every row of every table, as the thief's own SQLite reads a copy (WAL applied)."""
    copy = work / "seized"
    shutil.copytree(data_dir, copy)
    tables: dict[str, list[dict[str, object]]] = {}
    with sqlite3.connect(copy / DB_NAME) as con:
        con.row_factory = sqlite3.Row
        names = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for name in names:
            rows = con.execute(f"SELECT * FROM {name}").fetchall()  # noqa: S608 — schema names
            tables[name] = [dict(row) for row in rows]
    return tables


async def test_a_thief_without_the_key_links_nobody(
    sim: SignalSim, tmp_path: Path, relay_process: Callable[[Path], RelayProcess]
) -> None:
    config = write_env(
        tmp_path,
        sim.service,
        outbox={"retry_cap": "2s", "alert_undelivered_after": "30s", "wipe_after": "1s"},
    )
    group = sim.add_group("Night shift", [RELAY_NUMBER, *NUMBERS.values()])
    circles = tmp_path / "rules" / "circles.yaml"
    doc = yaml.safe_load(circles.read_text(encoding="utf-8"))
    doc["circles"]["night-shift"]["group"] = group.id  # SOS posts there: a group the sim knows
    circles.write_text(yaml.safe_dump(doc), encoding="utf-8")
    relay = relay_process(config)
    await run_scenario(sim, relay)
    data_dir = tmp_path / "data"
    sealer = Sealer(load_key(data_dir))
    key_id = bytes.fromhex(sealer.key_id)

    # The log of writes was emptied once everything was sent: no old page is left to read.
    assert wal_frames(data_dir / f"{DB_NAME}-wal") == 0

    tables = dump(data_dir, tmp_path)
    assert tables["outbox"] == []  # every message was sent, and a sent message leaves no row
    assert len(tables["sent_refs"]) >= 1 and len(tables["watches"]) >= 2  # carol forgot hers
    assert {w["phase"] for w in tables["watches"]} == {"closed"}

    # Times: none shared between tables; all but live deadlines to the hour.
    where: dict[int, set[str]] = defaultdict(set)
    exact: set[str] = set()
    now_ms = max(int(w["started_at"]) for w in tables["watches"])  # type: ignore[call-overload]
    for table, rows in tables.items():
        for row in rows:
            for column, value in row.items():
                a_time = isinstance(value, int) and abs(value - now_ms) < YEAR_MS * 2
                if a_time and value % HOUR_MS:
                    exact.add(f"{table}.{column}")
                    where[value].add(table)
    assert exact <= {"watches.next_at", "outbox.created_at", "outbox.next_attempt_at"}
    assert {v: t for v, t in where.items() if len(t) > 1} == {}

    # Tags: no keyed hash ties two rows together, but a log's own chain and a shared client.
    seen: dict[bytes, list[str]] = defaultdict(list)
    for table, rows in tables.items():
        for row in rows:
            for column, value in row.items():
                if isinstance(value, bytes) and len(value) == 32:
                    seen[value].append(f"{table}.{column}")
    repeated = {place for places in seen.values() if len(places) > 1 for place in places}
    assert repeated <= {
        "incident_logs.owner_tag",
        "incident_entries.owner_tag",
        "incident_exports.owner_tag",
    }, repeated
    authors = [r["author_tag"] for r in tables["reports"]]
    assert len(authors) == 2 and None not in authors and len(set(authors)) == 2  # one author

    # Sizes: every sealed field is in a power-of-two bucket; only exact-size blobs are seal()'s.
    for table, rows in tables.items():
        for row in rows:
            for column, value in row.items():
                if not isinstance(value, bytes) or value[1:5] != key_id:
                    continue
                if value[0] == 1:
                    assert f"{table}.{column}" == "key_check.sealed"
                    continue
                size = len(value) - OVERHEAD
                assert value[0] == 2 and size >= PAD_MIN and size & (size - 1) == 0, (
                    f"{table}.{column}: {len(value)} bytes"
                )

    # With the key, the author of each report is found — and only with it.
    db = await Database.open(tmp_path / "seized")
    try:
        repo = ReportRepo(db, sealer)
        assert [await repo.is_author(n, "elena") for n in (1, 2)] == [True, True]
        assert [await repo.is_author(n, "alice") for n in (1, 2)] == [False, False]
    finally:
        await db.close()
