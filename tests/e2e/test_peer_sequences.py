"""A partner relay's messages in random orders, against a model of what relay B must hold.

Each seed plays a sequence of what relay A's number can send relay B — new warnings, the same
warning again (a replay), retractions of warnings sent before (taken, refused or already gone),
retractions of ids never sent, forgeries — interleaved with B's moderator approving or rejecting
what waits. After every step B has handled (a STATUS round trip), its database must hold exactly
the warnings the model says (pending or approved), no refused message may have left a report,
the day's counts must match, and the admin must have been told of refusals at most once.
Sequences, not examples: the orders the e2e tests in `test_peer_warnings.py` do not try.
"""

from __future__ import annotations

import random
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from relay.core.identifiers import Identifier
from relay.crypto.keys import load_key
from relay.crypto.seal import Sealer
from relay.features.peers.payload import Retraction, Warning, encode, new_id
from tests.e2e.test_peer_warnings import pair_of
from tests.e2e.two_relays import (
    RELAY_A,
    RELAY_B,
    MakeTwoRelays,
    TwoRelays,
    two_relays_fixture,  # noqa: F401 -- the `two_relays` fixture
)

CAP = 4
STEPS = 14


@dataclass
class Model:
    """What B must hold: warning id → its local report number and status, or gone."""

    held: dict[str, tuple[int, str]] = field(default_factory=dict)  # id → (number, status)
    sent: list[str] = field(default_factory=list)  # every id A's number sent, in order
    refused: int = 0
    accepted: int = 0
    next_number: int = 1


class Partner:
    """Relay A's number, as a test drives it: real signatures with A's own peer key."""

    def __init__(self, pair: TwoRelays) -> None:
        self.pair = pair
        self.key = Sealer(load_key(pair.a.data_dir)).peer_signing_key()
        self.today = datetime.now(UTC).date()

    def warning(self, wid: str, n: int) -> str:
        message = Warning(
            id=wid,
            sender_name="Night Owls",
            severity=2,
            categories=("threats",),
            summary=f"client number {n} threatened a worker",
            identifiers=(Identifier("plate", f"AB{n:02d}CDE"),),
            reported=self.today,
            issued=self.today,
        )
        return encode(message, self.key, RELAY_A, RELAY_B)

    def retraction(self, wid: str) -> str:
        return encode(Retraction(id=wid, issued=self.today), self.key, RELAY_A, RELAY_B)

    async def send(self, text: str) -> None:
        await self.pair.sim.member_sends(RELAY_A, text, account=RELAY_B)


def held_at_b(pair: TwoRelays) -> dict[int, str]:
    with sqlite3.connect(pair.b.data_dir / "relay.db") as conn:
        rows = conn.execute("SELECT number, status FROM reports").fetchall()
    return {int(number): str(status) for number, status in rows}


def counted(pair: TwoRelays, what: str) -> int:
    with sqlite3.connect(pair.b.data_dir / "relay.db") as conn:
        row = conn.execute("SELECT sum(count) FROM peer_days WHERE what = ?", (what,)).fetchone()
    return int(row[0] or 0)


async def settled(pair: TwoRelays) -> None:
    """B has handled everything sent to it before this (its replies are in order)."""
    mark = len(pair.sim.sent)
    await pair.b.says("bob", "STATUS")
    await pair.b.to("bob", "", since=mark)


@pytest.mark.parametrize("seed", range(4))
async def test_random_sequences_keep_b_to_the_model(two_relays: MakeTwoRelays, seed: int) -> None:
    rng = random.Random(seed)
    pair = await pair_of(two_relays, cap=CAP)
    a = Partner(pair)
    model = Model()
    for step in range(STEPS):
        move = rng.choice(["new", "new", "replay", "retract", "unknown", "forged", "moderate"])
        if move == "replay" and model.sent:
            await a.send(a.warning(rng.choice(model.sent), step))
            model.refused += 1
        elif move == "retract" and model.sent:
            wid = rng.choice(model.sent)
            await a.send(a.retraction(wid))
            model.held.pop(wid, None)  # taken or not, it is gone (or never was)
        elif move == "unknown":
            await a.send(a.retraction(new_id()))  # valid, signed, about nothing: no change
        elif move == "forged":
            forger = Sealer(load_key(pair.b.data_dir)).peer_signing_key()
            today = a.today
            text = encode(
                Retraction(id=rng.choice(model.sent) if model.sent else new_id(), issued=today),
                forger,
                RELAY_A,
                RELAY_B,
            )
            await a.send(text)  # a forged retraction must not delete anything
            model.refused += 1
        elif move == "moderate" and any(s == "pending" for _, s in model.held.values()):
            wid, (number, _) = next((w, h) for w, h in model.held.items() if h[1] == "pending")
            if rng.random() < 0.5:
                await pair.b.says("carol", f"APPROVE {number}")
                model.held[wid] = (number, "approved")
            else:
                await pair.b.says("carol", f"REJECT {number}")
                del model.held[wid]
        else:
            wid = new_id()
            await a.send(a.warning(wid, step))
            model.sent.append(wid)
            if model.accepted < CAP:
                model.accepted += 1
                model.held[wid] = (model.next_number, "pending")
                model.next_number += 1
            else:
                model.refused += 1
        await settled(pair)
        expected = {number: status for number, status in model.held.values()}
        assert held_at_b(pair) == expected, (seed, step, move)
        assert counted(pair, "accepted") == model.accepted, (seed, step, move)
        assert counted(pair, "refused") == model.refused, (seed, step, move)
        told = [t for t in pair.b.texts_to("dana") if "was refused" in t]
        assert len(told) == (1 if model.refused else 0), (seed, step, move)
    # Members heard only of what a moderator approved: one broadcast each, never a refusal.
    assert all("was refused" not in t for t in pair.b.texts_to("bob"))
