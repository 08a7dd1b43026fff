"""Warnings between collectives, end to end (issue 20): two relays on one simulator, each with
its own account, key, database and rules naming the other as a partner.

A member's report at relay A is approved by A's moderator and SHAREd; it reaches relay B's number
as one signed message, becomes a pending report for B's moderator (never straight to members),
is approved there, and CHECK at B matches it — "a partner collective reported it". The author's
WITHDRAW at A sends a signed retraction that removes it at B. Everything a partner's number may
send that is not a valid, fresh, first, under-the-cap warning is refused with nothing stored and
the admin told once; a message in the format from a number that is not a partner is a stranger's.
B's database, read as a seizure would, holds none of A's identifiers in plaintext.
"""

from __future__ import annotations

import asyncio
import io
import sqlite3
from collections.abc import Mapping
from datetime import UTC, datetime

from relay.admin.status import run_status
from relay.core.identifiers import Identifier
from relay.crypto.keys import load_key
from relay.crypto.seal import Sealer
from relay.features.peers.payload import Retraction, Warning, encode, new_id
from tests.e2e.chain_support import eventually
from tests.e2e.conftest import NUMBERS, STRANGER
from tests.e2e.two_relays import (
    RELAY_A,
    RELAY_B,
    Keys,
    MakeTwoRelays,
    RelaySide,
    TwoRelays,
    two_relays_fixture,  # noqa: F401 -- the `two_relays` fixture
)

REPORT = "REPORT he choked me and took the money back. Number +44 7700 900123, car AB12 CDE"
SECRET_BITS = ("447700900123", "7700 900123", "AB12CDE", "AB12 CDE", "choked", "tall man")


def peers_a(keys: Keys) -> Mapping[str, str]:
    return {
        "peers.yaml": f"""
peers:
  name: Night Owls
  partners:
    harbour:
      number: "{RELAY_B}"
      key: "{keys.b}"
      send: {{}}
"""
    }


def peers_b(keys: Keys, cap: int = 20) -> Mapping[str, str]:
    return {
        "peers.yaml": f"""
peers:
  name: Harbour Collective
  partners:
    owls:
      number: "{RELAY_A}"
      key: "{keys.a}"
      daily_cap: {cap}
"""
    }


async def pair_of(two_relays: MakeTwoRelays, cap: int = 20) -> TwoRelays:
    return await two_relays(rules_a=peers_a, rules_b=lambda keys: peers_b(keys, cap))


def reports_in(side: RelaySide) -> int:
    with sqlite3.connect(side.data_dir / "relay.db") as conn:
        return int(conn.execute("SELECT count(*) FROM reports").fetchone()[0])


def signed_by_a(pair: TwoRelays, text: str = "tall man, choked a worker", **kw: object) -> str:
    """A warning as relay A would send it to B (A's own peer key), made here."""
    key = Sealer(load_key(pair.a.data_dir)).peer_signing_key()
    today = datetime.now(UTC).date()
    warning = Warning(
        id=str(kw.get("id") or new_id()),
        sender_name="Night Owls",
        severity=3,
        categories=("violence",),
        summary=text,
        identifiers=(Identifier("phone", "+447700900123"),),
        reported=today,
        issued=today,
    )
    return encode(warning, key, RELAY_A, RELAY_B)


async def share_from_a(pair: TwoRelays) -> int:
    """alice reports at A, carol approves and SHAREs it; returns the report's number at A."""
    a = pair.a
    await a.says("alice", REPORT)
    review = await a.to("carol", "to review")
    number = int(review.message.split("#", 1)[1].split(" ", 1)[0])
    await a.says("carol", f"APPROVE {number}")
    approved = await a.to("carol", f"Report #{number} is shared")
    assert "take warnings like this: harbour" in approved.message
    await a.says("carol", f"SHARE {number} tall man, choked a worker, took the money back")
    await a.to("carol", "on its way to harbour")
    return number


async def test_a_warning_crosses_is_moderated_screened_and_retracted(
    two_relays: MakeTwoRelays,
) -> None:
    pair = await pair_of(two_relays)
    a, b = pair.a, pair.b
    number = await share_from_a(pair)

    # One signed message from A's account to B's number, naming nobody.
    (sent,) = [s for s in a.sends() if s.reached(RELAY_B)]
    assert sent.message.startswith("PEER-RELAY/1 ")
    assert "alice" not in sent.message.lower() and NUMBERS["alice"] not in sent.message

    # At B: pending, for B's moderator only; members hear nothing yet.
    review = await b.to("carol", "from the partner collective owls")
    assert "tall man, choked a worker" in review.message
    assert "CHECK will match: +447700900123" in review.message
    local = int(review.message.split("#", 1)[1].split(" ", 1)[0])
    assert b.texts_to("bob") == []
    await b.says("bob", "CHECK +44 7700 900123")
    assert "No warnings match" in (await b.to("bob", "match")).message

    # B's moderator approves: CHECK at B now matches it, saying a partner reported it.
    await b.says("carol", f"APPROVE {local}")
    approved = await b.to("carol", f"Report #{local} is shared")
    assert "SHARE" not in approved.message  # a partner's warning is never passed on
    await b.says("carol", f"SHARE {local}")
    await b.to("carol", "came from a partner collective")
    assert [s for s in b.sends() if s.reached(RELAY_A)] == []
    mark = len(pair.sim.sent)
    await b.says("bob", "CHECK 07700 900123")
    found = await b.to("bob", "a partner collective reported it: owls", since=mark)
    assert "tall man" in found.message
    # The auto-screen of client details matches it too.
    mark = len(pair.sim.sent)
    await b.says("bob", "CLIENT Tom, +44 7700 900123")
    screened = await b.to("bob", "Careful", since=mark)
    assert "a partner collective reported it: owls" in screened.message

    # Nothing of A's identifiers or words lies in B's database in plaintext (a seizure).
    await b.running.desk.db.checkpoint()
    for path in b.data_dir.glob("relay.db*"):
        raw = path.read_bytes()
        for bit in SECRET_BITS:
            assert bit.encode() not in raw, (path.name, bit)

    # alice withdraws at A: a signed retraction; B removes it and tells members to disregard.
    mark = len(pair.sim.sent)
    await a.says("alice", f"WITHDRAW {number}")
    await a.to("alice", f"Warning #{number} withdrawn")
    retraction = await a.to(RELAY_B, "PEER-RELAY/1", since=mark)
    assert retraction.message != sent.message
    await b.to("carol", f"withdrew its warning #{local}", since=mark)
    await eventually(lambda: reports_in(b) == 0)
    mark = len(pair.sim.sent)
    await b.says("bob", "CHECK +44 7700 900123")
    assert "No warnings match" in (await b.to("bob", "match", since=mark)).message


async def test_refusals_store_nothing_and_tell_the_admin_once(two_relays: MakeTwoRelays) -> None:
    pair = await pair_of(two_relays, cap=2)
    sim, b = pair.sim, pair.b

    async def from_a(text: str) -> None:
        await sim.member_sends(RELAY_A, text, account=RELAY_B)

    good = signed_by_a(pair)
    forged = encode(
        Warning(
            id=new_id(),
            sender_name="Night Owls",
            severity=3,
            categories=("violence",),
            summary="a false warning",
            identifiers=(Identifier("phone", "+447700900999"),),
            reported=datetime.now(UTC).date(),
            issued=datetime.now(UTC).date(),
        ),
        Sealer(load_key(b.data_dir)).peer_signing_key(),  # not A's key
        RELAY_A,
        RELAY_B,
    )
    head, _, rest = good.partition(" ")
    refusals = [
        forged,  # signature
        "hello from the owls' phone",  # malformed
        "PEER-RELAY/2 " + rest,  # unknown version
        head + " " + "A" * 7000,  # oversized
        good.replace(good[-10], "B" if good[-10] != "B" else "C"),  # altered: signature
    ]
    for text in refusals:
        await from_a(text)
    await from_a(good)  # the one valid warning
    await b.to("carol", "from the partner collective owls")
    await from_a(good)  # the same warning again: a replay
    await from_a(signed_by_a(pair, "second"))  # the cap is 2
    await from_a(signed_by_a(pair, "third"))  # over the cap
    mark = len(sim.sent)
    await b.says("bob", "STATUS")  # B has handled everything before this
    await b.to("bob", "", since=mark)

    assert reports_in(b) == 2  # the valid one and the second; nothing refused was kept
    reviews = [t for t in b.texts_to("carol") if "from the partner collective owls" in t]
    assert len(reviews) == 2 and "a false warning" not in "".join(b.texts_to("carol"))
    told = [t for t in b.texts_to("dana") if "was refused" in t]
    assert len(told) == 1 and "signature" in told[0]  # the first refusal of the day, once

    with sqlite3.connect(b.data_dir / "relay.db") as conn:
        refused = conn.execute("SELECT sum(count) FROM peer_days WHERE what = 'refused'")
        assert refused.fetchone()[0] == len(refusals) + 2  # + the replay and the third

    # What the admin reads with `peer-relay status`: today's counts, by the partner's label.
    out = io.StringIO()
    await asyncio.to_thread(run_status, b.config_path, out)
    line = f"partner owls today (UTC): 0 sent, 2 taken, {len(refusals) + 2} refused"
    assert line in out.getvalue().splitlines()


async def test_a_stranger_in_the_format_is_a_stranger(two_relays: MakeTwoRelays) -> None:
    pair = await pair_of(two_relays)
    b = pair.b
    strangers = await b.counter("strangers")
    await pair.sim.member_sends(STRANGER, signed_by_a(pair), account=RELAY_B)
    # A's own relay with its number hidden (Signal's phone-number privacy): not recognised
    # either — but the admin hears, once a day, so a partner's warnings are not lost unseen.
    hidden = pair.sim.uuid_of(RELAY_A)
    await pair.sim.member_sends(
        RELAY_A, signed_by_a(pair), account=RELAY_B, uuid=hidden, hide_number=True
    )
    mark = len(pair.sim.sent)
    await b.says("bob", "STATUS")  # B has handled everything before this
    await b.to("bob", "", since=mark)
    assert await b.counter("strangers") == strangers + 2
    assert reports_in(b) == 0
    assert b.texts_to("carol") == []
    (told,) = b.texts_to("dana")
    assert "partner-relay format came from a number that is not a partner" in told
    assert STRANGER not in told and RELAY_A not in told


async def test_a_retraction_of_what_was_never_taken_changes_nothing(
    two_relays: MakeTwoRelays,
) -> None:
    pair = await pair_of(two_relays)
    key = Sealer(load_key(pair.a.data_dir)).peer_signing_key()
    today = datetime.now(UTC).date()
    text = encode(Retraction(id=new_id(), issued=today), key, RELAY_A, RELAY_B)
    await pair.sim.member_sends(RELAY_A, text, account=RELAY_B)
    mark = len(pair.sim.sent)
    await pair.b.says("bob", "STATUS")
    await pair.b.to("bob", "", since=mark)
    assert reports_in(pair.b) == 0
    assert pair.b.texts_to("carol") == [] and pair.b.texts_to("dana") == []


async def test_removing_a_partner_stops_both_directions(two_relays: MakeTwoRelays) -> None:
    pair = await pair_of(two_relays)
    a, b = pair.a, pair.b
    number = await share_from_a(pair)
    review = await b.to("carol", "from the partner collective owls")
    local = int(review.message.split("#", 1)[1].split(" ", 1)[0])

    # B's admin removes A from B's rules (and A keeps B): B takes nothing more from A.
    (b.rules_dir / "peers.yaml").write_text("peers:\n  name: Harbour Collective\n")
    await b.to("dana", "New rules loaded", timeout=10)
    strangers = await b.counter("strangers")
    await pair.sim.member_sends(RELAY_A, signed_by_a(pair), account=RELAY_B)
    mark = len(pair.sim.sent)
    await b.says("bob", "STATUS")
    await b.to("bob", "", since=mark)
    assert await b.counter("strangers") == strangers + 1
    assert reports_in(b) == 1  # what A sent before stays (per B's retention), nothing more

    # A removes B: SHARE finds no partner, and a withdrawal sends B no retraction.
    (a.rules_dir / "peers.yaml").write_text("peers:\n  name: Night Owls\n")
    await a.to("dana", "New rules loaded", timeout=10)
    mark = len(pair.sim.sent)
    await a.says("carol", f"SHARE {number}")
    await a.to("carol", "no partner collectives", since=mark)
    await a.says("alice", f"WITHDRAW {number}")
    await a.to("alice", f"Warning #{number} withdrawn", since=mark)
    assert [s for s in a.sends(mark) if s.reached(RELAY_B)] == []
    assert f"#{local}" in review.message
