"""Two relays on one simulator (issue 20), end to end: what relay A sends relay B's number goes
out through A's `/v2/send` and arrives at relay B through B's own receive path; B, whose rules do
not name A, treats it as any stranger — a count, and nothing else stored or sent."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from relay.crypto.keys import load_key
from relay.crypto.seal import Sealer
from tests.e2e.chain_support import eventually
from tests.e2e.conftest import NUMBERS
from tests.e2e.two_relays import (
    RELAY_A,
    RELAY_B,
    MakeTwoRelays,
    Receive,
    RelaySide,
    two_relays_fixture,  # noqa: F401 -- the `two_relays` fixture
)

# Relay A's rules name relay B's number as an outside contact that every SOS alerts at once:
# the simplest real path for a message from A's account to B's.
ESCALATION_TO_B = """
escalation:
  missed:
    - buddies: true
  sos:
    - contacts: [night-owls]
  duress:
    - buddies: true
contacts:
  night-owls:
    number: "+1 202-555-0170"
    label: Night Owls relay
    language: en
"""

# A rules file only relay B has (a section the sample files merge with).
SPARE_CONTACT = """
contacts:
  spare-line:
    number: "+1 202-555-0191"
    label: Spare line
"""


def row_counts(side: RelaySide) -> dict[str, int]:
    """Rows per table in a side's database, read as a seizure would (the file itself)."""
    with sqlite3.connect(side.data_dir / "relay.db") as conn:
        tables = [
            name
            for (name,) in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        return {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in tables}  # noqa: S608 -- names from sqlite_master


@pytest.mark.parametrize("receive", ["socket", "websocket"])
async def test_relay_a_alerting_relay_b_makes_a_stranger_at_b(
    two_relays: MakeTwoRelays, receive: Receive
) -> None:
    pair = await two_relays(rules_a={"escalation.yaml": ESCALATION_TO_B}, receive=receive)
    a, b = pair.a, pair.b
    # B's start-up chore first: the welcomer tags every member it has met (no content).
    await eventually(lambda: row_counts(b).get("welcomed") == len(NUMBERS))
    before = row_counts(b)
    strangers_before = await b.counter("strangers")

    await a.says("alice", "SOS")
    alert = await a.to(RELAY_B, "SOS")
    # The simulator recorded it as relay A's send, delivered to relay B's account …
    assert alert.number == RELAY_A and alert.status == 201
    assert alert.delivered_to == [RELAY_B]
    assert "Alice" in alert.message
    await a.to("alice", "Alert sent to")  # and A told her who knows

    # … and relay B received it as a message from a number its rules do not name.
    await eventually_async(lambda: b.counter("strangers"), strangers_before + 1)
    assert b.running.receiver is not None and b.running.receiver.frames >= 1
    after = row_counts(b)
    changed = {t for t in after if after[t] != before.get(t)}
    assert changed <= {"counters"}, f"relay B stored more than a count: {sorted(changed)}"
    assert b.sends() == []  # strangers get silence (the sample rules)
    assert await a.counter("strangers") == 0  # nothing came back to A


async def eventually_async(
    read: Callable[[], Awaitable[int]], expected: int, timeout: float = 10.0
) -> None:
    """Until the async `read()` returns `expected`."""
    async with asyncio.timeout(timeout):
        while await read() != expected:
            await asyncio.sleep(0.05)


async def test_each_relay_has_its_own_account_folder_and_key(two_relays: MakeTwoRelays) -> None:
    pair = await two_relays(rules_b={"spare.yaml": SPARE_CONTACT})
    a, b = pair.a, pair.b
    assert (a.running.config.signal.number, b.running.config.signal.number) == (RELAY_A, RELAY_B)
    assert a.folder != b.folder and a.rules_dir != b.rules_dir and a.data_dir != b.data_dir
    assert len(a.public_key()) == len(b.public_key()) == 32
    assert a.public_key() != b.public_key()
    assert a.public_key() == Sealer(load_key(a.data_dir)).peer_public_key()
    # Not the incident-log key: a partner cannot link the collective to its exported logs.
    assert a.public_key() != Sealer(load_key(a.data_dir)).public_key_bytes()
    assert (b.rules_dir / "spare.yaml").read_text() == SPARE_CONTACT
    assert not (a.rules_dir / "spare.yaml").exists()
    # A member texting each relay is answered by that relay alone, from its own account.
    await a.says("alice", "IN 30m")
    await b.says("alice", "STATUS")
    await a.to("alice", "Checked in")
    status = await b.to("alice")
    assert "Checked in" not in status.message  # B knows nothing of her check-in at A
    assert all(s.number == RELAY_B for s in b.sends())
    assert {s.number for s in pair.sim.sent} == {RELAY_A, RELAY_B}
    await eventually(lambda: bool(a.texts_to("alice")) and bool(b.texts_to("alice")))


async def test_on_a_shared_on_start_socket_each_relay_reads_only_its_own_account(
    two_relays: MakeTwoRelays,
) -> None:
    # signal-cli in on-start mode writes every account's messages to every socket connection:
    # relay A must not read, let alone answer, what a member sends relay B.
    pair = await two_relays(receive_mode="on-start")
    a, b = pair.a, pair.b
    await b.says("alice", "STATUS")
    await b.to("alice", "No check-in running")
    await a.says("bob", "STATUS")  # A has handled everything before this too
    await a.to("bob", "No check-in running")
    assert a.texts_to("alice") == []
    assert [s.number for s in pair.sim.sent if s.reached(NUMBERS["alice"])] == [RELAY_B]


def test_rule_file_names_are_checked(tmp_path: Path) -> None:
    from tests.e2e.two_relays import write_rules

    with pytest.raises(ValueError, match="rules file name"):
        write_rules(tmp_path, {"../config.yaml": "x: 1"})
