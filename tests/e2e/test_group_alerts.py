"""A circle's Signal group gets no secrets unless its members check out (issue 17, finding 1).

The audit: an SOS with a group tier posted her coordinates and "Client: … +44 7700 900777" into
the group, delivered to a number not in the rules. Now, through the simulator's groups and the
whole relay: a group whose members are all in the rules and in the circle gets the full alert; one
with a stranger added gets who, what and how to answer — no note, place, coordinates, client
details or photos — the admin is told once which numbers do not belong, and whoever answers from
the group gets the details privately.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml

from relay.runtime.logs import setup_logging
from relay.sim import InboundAttachment, SignalSim
from relay.sim.directory import SimGroup
from relay.sim.records import SentMessage
from tests.e2e.conftest import NUMBERS, RELAY_NUMBER, STRANGER, Harness, write_env

NOTE = "cnry-group-note Hotel Rex room 12"
CLIENT = "cnry-group-client Tom +44 7700 900777"
LAT, LNG = "48.858370", "2.294481"
PHOTO = b"\xff\xd8\xff\xe0 cnry-group-photo"
SECRETS = ("cnry-group-note", "cnry-group-client", "900777", "48.85837", "2.294481", "Hotel Rex")


def _internal_id() -> str:
    return base64.b64encode(b"night-shift-circle-0123456789abc").decode()  # 32 bytes, as Signal


async def _desk(
    sim: SignalSim, tmp_path: Path, members: list[str], *, group_only: bool = False
) -> AsyncIterator[tuple[Harness, SimGroup]]:
    setup_logging("INFO")
    group = sim.add_group("Night shift", members, internal_id=_internal_id())
    config = write_env(tmp_path, sim.service)
    circles = tmp_path / "rules" / "circles.yaml"
    doc = yaml.safe_load(circles.read_text(encoding="utf-8"))
    doc["circles"]["night-shift"]["group"] = group.id
    circles.write_text(yaml.safe_dump(doc), encoding="utf-8")
    if group_only:  # SOS reaches the circle only through its group
        escalation = tmp_path / "rules" / "escalation.yaml"
        doc = yaml.safe_load(escalation.read_text(encoding="utf-8"))
        doc["escalation"]["sos"] = [{"groups": ["night-shift"]}]
        escalation.write_text(yaml.safe_dump(doc), encoding="utf-8")
    harness = Harness(sim, config)
    await harness.start()
    yield harness, group
    await harness.stop()


@pytest.fixture
async def clean_group(sim: SignalSim, tmp_path: Path) -> AsyncIterator[tuple[Harness, SimGroup]]:
    """The group holds the relay and exactly the circle's members."""
    async for desk in _desk(sim, tmp_path, [RELAY_NUMBER, *NUMBERS.values()]):
        yield desk


@pytest.fixture
async def stranger_in_group(
    sim: SignalSim, tmp_path: Path
) -> AsyncIterator[tuple[Harness, SimGroup]]:
    """The same, plus a number the rules do not know (an admin of the group added him)."""
    async for desk in _desk(sim, tmp_path, [RELAY_NUMBER, *NUMBERS.values(), STRANGER]):
        yield desk


@pytest.fixture
async def group_tier_only(
    sim: SignalSim, tmp_path: Path
) -> AsyncIterator[tuple[Harness, SimGroup]]:
    async for desk in _desk(
        sim, tmp_path, [RELAY_NUMBER, *NUMBERS.values(), STRANGER], group_only=True
    ):
        yield desk


async def _share_everything(h: Harness) -> None:
    await h.says("alice", f"IN 30m {NOTE}")
    await h.to("alice", "Checked in")
    await h.says("alice", f"CLIENT {CLIENT}", attachments=[InboundAttachment(PHOTO)])
    await h.to("alice", "Client details saved")
    since = len(h.sim.sent)
    await h.sim.member_shares_location(NUMBERS["alice"], LAT, LNG, place_name="Champ de Mars")
    await h.to("alice", "Location saved", since=since)


async def _group_post(h: Harness, group: SimGroup, since: int = 0) -> SentMessage:
    return await h.sim.wait_for_sent(lambda s: s.recipients == [group.id], since=since)


def _leaks(message: SentMessage) -> list[str]:
    found = [s for s in SECRETS if s in message.message]
    return found + (["photo"] if message.attachments else [])


async def test_a_group_of_circle_members_only_gets_the_whole_alert(
    clean_group: tuple[Harness, SimGroup],
) -> None:
    h, group = clean_group
    await _share_everything(h)
    await h.says("alice", "SOS")
    post = await _group_post(h, group)
    assert "SOS from Alice" in post.message
    assert NOTE in post.message and "900777" in post.message and post.attachments
    assert "privately" not in post.message
    assert not [t for t in h.texts_to("dana") if "Signal group" in t]  # nothing to tell


async def test_a_stranger_in_the_group_gets_who_and_how_never_the_details(
    stranger_in_group: tuple[Harness, SimGroup],
) -> None:
    h, group = stranger_in_group
    await _share_everything(h)
    await h.says("alice", "SOS")
    post = await _group_post(h, group)
    assert STRANGER in post.reached_ids  # delivered to him, as Signal would
    assert "SOS from Alice" in post.message and "ACK" in post.message
    assert "go privately to whoever answers" in post.message
    assert _leaks(post) == []
    bob = await h.to("bob", "SOS from Alice")  # her buddies still get everything, one by one
    assert NOTE in bob.message and "900777" in bob.message and bob.attachments
    notice = await h.to("dana", "Signal group of the circle night-shift")
    assert STRANGER in notice.message

    since = len(h.sim.sent)  # a second alert to the same group: no second notice
    await h.says("carol", "SOS")
    await _group_post(h, group, since)
    await h.to("carol", "Alert sent to", since=since)
    assert len([t for t in h.texts_to("dana") if "Signal group of the circle" in t]) == 1


async def test_whoever_answers_from_the_group_gets_the_details_privately(
    group_tier_only: tuple[Harness, SimGroup],
) -> None:
    h, group = group_tier_only
    await _share_everything(h)
    await h.says("alice", "SOS")
    post = await _group_post(h, group)
    assert _leaks(post) == [] and post.timestamp is not None
    assert not [s for s in h.sim.sent if s.recipients == [NUMBERS["elena"]]]  # only the group

    since = len(h.sim.sent)
    await h.sim.member_reacts(
        NUMBERS["elena"], to=post.timestamp, target_author=RELAY_NUMBER, group=group
    )
    details = await h.to("elena", "Hotel Rex", since=since)  # in Spanish, to her alone
    assert details.recipients == [NUMBERS["elena"]]
    assert "900777" in details.message and details.attachments
    await h.to("alice", "Elena", since=since)  # she is told who is coming

    since = len(h.sim.sent)  # the stranger answering gets nothing: he is not a member
    await h.sim.member_reacts(STRANGER, to=post.timestamp, target_author=RELAY_NUMBER, group=group)
    await h.says("bob", "STATUS")
    await h.to("bob", since=since)
    assert not [s for s in h.sim.sent[since:] if s.reached(STRANGER) and len(s.recipients) == 1]
