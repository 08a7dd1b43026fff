"""A burst: messages that arrive together are decided in one database trip (relay.runtime.pipeline),
in arrival order, each seeing the one before it — and one that fails costs only itself."""

from __future__ import annotations

import sqlite3
from itertools import count

import pytest

from relay.core import decide
from relay.runtime import pipeline as pipeline_module
from relay.signal.events import Incoming, IncomingKind
from relay.store.db import DB_NAME
from tests.drills.conftest import InProcess
from tests.e2e.conftest import NUMBERS, write_env

TIMINGS = {
    "checkin": "2h",
    "reminder_before": "0",
    "grace": "5s",
    "escalate_after": "1h",
    "repeat_every": "1h",
}
_stamps = count(1_790_000_000_000)


def says(member: str, text: str) -> Incoming:
    return Incoming(
        kind=IncomingKind.MESSAGE,
        sender_number=NUMBERS[member],
        sender_uuid=None,
        timestamp=next(_stamps),
        server_timestamp=next(_stamps),
        text=text,
    )


async def test_a_burst_is_decided_in_order_each_message_seeing_the_last(
    in_process: InProcess,
) -> None:
    write_env(in_process.config_path.parent, in_process.sim.service, TIMINGS)
    relay = await in_process.start()
    assert relay.pipeline is not None
    first = says("alice", "IN 2h Hotel Rex")
    burst = [first, says("bob", "IN 1h Cinema"), first, says("alice", "OUT"), says("bob", "SOS")]
    await relay.pipeline.take(burst)
    await in_process.settle()
    # Decided is not yet sent: her queue holds two replies before the alert.
    alice = NUMBERS["alice"]
    await in_process.sim.wait_for_sent(lambda s: s.reached(alice) and "SOS from Bob" in s.message)

    to_alice = in_process.texts_to("alice")
    assert len([t for t in to_alice if "Checked in" in t]) == 1  # the repeat was skipped
    assert to_alice.index(next(t for t in to_alice if "Checked in" in t)) < len(to_alice) - 1
    assert any("SOS from Bob" in t for t in in_process.texts_to("alice"))
    with sqlite3.connect(in_process.data_dir / DB_NAME) as db:
        phases = sorted(row[0] for row in db.execute("SELECT phase FROM watches"))
        seen = db.execute("SELECT COUNT(*) FROM inbox_seen").fetchone()[0]
    # Alice's check-in closed by her OUT in the same trip; Bob's check-in became his SOS.
    assert phases == ["alerted", "closed"]
    assert seen == 4


async def test_one_message_that_fails_costs_only_itself(
    in_process: InProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_env(in_process.config_path.parent, in_process.sim.service, TIMINGS)
    relay = await in_process.start()
    assert relay.pipeline is not None

    def breaks_for_bob(context: object, member: str, *args: object, **kwargs: object) -> object:
        if member == "bob":
            raise RuntimeError("a bug in one decision")
        return decide.on_message(context, member, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(pipeline_module, "on_message", breaks_for_bob)
    await relay.pipeline.take(
        [says("alice", "IN 2h Hotel Rex"), says("bob", "IN 1h Cinema"), says("carol", "SOS")]
    )
    await in_process.settle()

    assert any("Checked in" in t for t in in_process.texts_to("alice"))
    assert any("SOS from Carol" in t for t in in_process.texts_to("alice"))
    to_bob = in_process.texts_to("bob")
    # Bob is told at once that his message was not saved (no check-in of his is running)…
    assert len([t for t in to_bob if "couldn't save" in t]) == 1
    # …and gets nothing else but Carol's SOS.
    assert all("SOS" in t or "couldn't save" in t for t in to_bob)
    with sqlite3.connect(in_process.data_dir / DB_NAME) as db:
        live = db.execute("SELECT COUNT(*) FROM watches WHERE phase != 'closed'").fetchone()[0]
        seen = db.execute("SELECT COUNT(*) FROM inbox_seen").fetchone()[0]
    assert live == 2  # alice's check-in and carol's SOS; bob's failed one left no half-write
    assert seen == 2  # bob's envelope was not marked seen: a redelivery is decided again
