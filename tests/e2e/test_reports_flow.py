"""Bad-client warnings end to end, through signalbot and the simulator: a report with a photo,
moderation, the warning posted in the circle's Signal group, CHECK, and the warning a member gets
when her CLIENT details match — and no message to anyone but the reporter ever names her."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml

from relay.runtime.logs import setup_logging
from relay.sim import InboundAttachment, SignalSim, SimGroup
from tests.e2e.conftest import NUMBERS, Harness, write_env

PHOTO = b"\xff\xd8\xff\xe0 a photo of a silver van"
REPORT = "REPORT he choked me at the Rex. +44 7700 900123, silver van AB12 CDE"


@pytest.fixture
async def desk(sim: SignalSim, tmp_path: Path) -> AsyncIterator[tuple[Harness, SimGroup]]:
    """The sample rules, with the night-shift circle bound to a group the simulator knows."""
    setup_logging("INFO")
    config = write_env(tmp_path, sim.service)
    group = sim.add_group("night-shift", list(NUMBERS.values()))
    circles = tmp_path / "rules" / "circles.yaml"
    doc = yaml.safe_load(circles.read_text())
    doc["circles"]["night-shift"]["group"] = group.id
    circles.write_text(yaml.safe_dump(doc))
    harness = Harness(sim, config)
    relay = await harness.start()
    desk = relay.desk
    assert desk is not None
    yield harness, group
    await harness.stop()


def never_names_the_reporter(sim: SignalSim, reporter: str) -> None:
    number = NUMBERS[reporter]
    for sent in sim.sent:
        if sent.recipients == [number] or (sent.reached(number) and len(sent.recipients) == 1):
            continue  # her own chat
        text = sent.message.lower()
        assert reporter not in text and number not in text and number[2:] not in text, sent


async def test_report_moderation_broadcast_check_and_client_warning(
    desk: tuple[Harness, SimGroup],
) -> None:
    harness, group = desk
    sim = harness.sim
    await harness.says("alice", REPORT, attachments=[InboundAttachment(PHOTO)])
    received = await harness.to("alice", "Got it — report #1")
    assert "WITHDRAW 1" in received.message
    review = await harness.to("carol", "Report #1 to review (violent)")
    assert "AB12CDE" in review.message and "+447700900123" in review.message
    assert [a.data for a in review.attachments] == [PHOTO]  # the moderator sees the photo
    assert "bob" not in harness.who() and "elena" not in harness.who()  # nothing shared yet

    mark = len(sim.sent)
    await harness.says("carol", "approve 1")
    post = await sim.wait_for_sent(lambda s: s.recipients == [group.id], since=mark)
    assert "⚠️ Warning #1 (violent)" in post.message and "⚠️ Aviso #1 (violento)" in post.message
    assert "he choked me at the Rex" in post.message
    assert [a.data for a in post.attachments] == [PHOTO]
    assert post.delivered
    await harness.to("carol", "Report #1 is shared with the night-shift group", since=mark)
    await harness.to("alice", "Your report #1 was approved and shared", since=mark)

    await harness.says("bob", "CHECK +44 7700 900123")
    found = await harness.to("bob", "1 warning matches")
    assert "#1 · " in found.message and "violent — he choked me at the Rex" in found.message
    await harness.says("elena", "revisar ab12cdf")  # her own word for CHECK; one letter off
    await harness.to("elena", "Coincide 1 aviso")
    await harness.says("dana", "CHECK +44 7700 900999")
    await harness.to("dana", "No warnings match")

    await harness.says("bob", "CLIENT Mark, +44 7700 900123, said he'd pick me up")
    warned = await harness.to("bob", "Careful — this client matches 1 warning from")
    assert "he choked me at the Rex" in warned.message
    await harness.says("dana", "CLIENT Tom +44 7700 900555")
    quiet = await harness.to("dana", "Client details saved")
    assert "Careful" not in quiet.message

    never_names_the_reporter(sim, "alice")


async def test_withdrawn_warning_is_retracted_in_the_group(
    desk: tuple[Harness, SimGroup],
) -> None:
    harness, group = desk
    await harness.says("alice", "REPORT creepy questions about my address, @smooth_tony")
    await harness.to("alice", "How serious was it?")
    await harness.says("alice", "REPORT 2")
    await harness.to("alice", "report #1 is marked: unsafe")
    await harness.says("carol", "APPROVE 1")
    await harness.sim.wait_for_sent(lambda s: s.recipients == [group.id])
    await harness.says("bob", "check smooth_tony")
    await harness.to("bob", "unsafe — creepy questions")

    mark = len(harness.sim.sent)
    await harness.says("bob", "WITHDRAW 1")  # not his
    await harness.to("bob", "You have no report #1", since=mark)
    await harness.says("alice", "withdraw 1")
    retraction = await harness.sim.wait_for_sent(
        lambda s: s.recipients == [group.id] and "withdrawn" in s.message, since=mark
    )
    assert "Warning #1 has been withdrawn" in retraction.message
    await harness.to("alice", "Warning #1 withdrawn and deleted", since=mark)
    await harness.says("bob", "check @smooth_tony")
    await harness.to("bob", "No warnings match", since=mark)
    never_names_the_reporter(harness.sim, "alice")
