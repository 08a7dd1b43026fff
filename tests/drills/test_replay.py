"""Replay: one SOS envelope delivered 100 times, then edited and deleted: one state change."""

from __future__ import annotations

import sqlite3

from relay.store.db import DB_NAME
from tests.drills.conftest import InProcess
from tests.e2e.conftest import NUMBERS, write_env

QUIET = {  # no repeats or escalation during the drill: every alert counted is the SOS itself
    "checkin": "20s",
    "reminder_before": "2s",
    "grace": "2s",
    "escalate_after": "1h",
    "repeat_every": "1h",
}


async def test_one_sos_envelope_replayed_edited_and_deleted_changes_state_once(
    in_process: InProcess,
) -> None:
    write_env(in_process.config_path.parent, in_process.sim.service, QUIET)
    await in_process.start()
    sent_at = await in_process.says("alice", "SOS")
    for _ in range(99):
        await in_process.says("alice", "SOS", timestamp=sent_at)  # the same envelope again
    await in_process.sim.member_edits(NUMBERS["alice"], target=sent_at, text="sorry, mistake")
    await in_process.sim.member_deletes(NUMBERS["alice"], target=sent_at)
    await in_process.settle()

    sos_to = {m: [t for t in in_process.texts_to(m) if "SOS from Alice" in t] for m in NUMBERS}
    assert len(sos_to["bob"]) == 1
    assert len(sos_to["carol"]) == 1
    assert sos_to["alice"] == []
    assert len([t for t in in_process.texts_to("alice") if "Alert sent" in t]) == 1
    assert in_process.texts_to("alice")[-1:] == [in_process.texts_to("alice")[0]]  # nothing after

    with sqlite3.connect(in_process.data_dir / DB_NAME) as db:
        watches = db.execute("SELECT phase FROM watches").fetchall()
        seen = db.execute("SELECT COUNT(*) FROM inbox_seen").fetchone()[0]
    assert watches == [("alerted",)]  # the edit and the delete cancelled nothing
    assert seen == 3  # one tag for the SOS, one each for the edit and the delete
