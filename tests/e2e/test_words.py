"""Issue 16 end to end: the relay through the real signalbot library against the simulator.

A Spanish member's cry for help alerts her buddy; a photo sent with SOS, or alone during a
check-in, reaches the buddy with the alert; a near-miss of OUT asks and ends nothing; the buddy in
London reads alice's (New York) times labelled both ways; a number in an IN note is screened.
"""

from __future__ import annotations

from relay.sim import InboundAttachment
from tests.e2e.conftest import NUMBERS, Harness

PHOTO = InboundAttachment(data=b"\xff\xd8\xffwords-photo", content_type="image/jpeg")


async def test_a_cry_for_help_in_spanish_alerts_her_buddy(harness: Harness) -> None:
    await harness.says("elena", "¡socorro!")
    alert = await harness.to("dana", "SOS", timeout=10)
    assert "Elena" in alert.message
    reply = await harness.to("elena", "Alerta enviada")
    assert "OUT" in reply.message


async def test_a_photo_sent_with_sos_goes_with_the_alert(harness: Harness) -> None:
    await harness.sim.member_sends(NUMBERS["alice"], "SOS he has a knife", attachments=[PHOTO])
    alert = await harness.to("bob", "SOS from Alice", timeout=10)
    assert [a.data for a in alert.attachments] == [PHOTO.data]
    assert "he has a knife" in alert.message and "1 photo attached" in alert.message
    reply = await harness.to("alice", "Alert sent")
    assert "Photo sent to everyone your alert reached" in reply.message
    # Her time (New York) labelled for bob, who reads London time.
    assert "your time /" in alert.message and "in New York" in alert.message


async def test_a_photo_alone_during_a_check_in_is_kept_and_travels(harness: Harness) -> None:
    await harness.says("alice", "IN 3s")
    await harness.to("alice", "Checked in")
    mark = len(harness.sim.sent)
    await harness.sim.member_sends(NUMBERS["alice"], "", attachments=[PHOTO])
    kept = await harness.to("alice", "Photo kept", since=mark)
    assert "didn't get that" not in kept.message
    alert = await harness.to("bob", "ALERT", timeout=10)
    assert [a.data for a in alert.attachments] == [PHOTO.data]


async def test_a_near_miss_of_out_asks_and_ends_nothing(harness: Harness) -> None:
    await harness.says("alice", "IN 10m")
    await harness.to("alice", "Checked in")
    await harness.says("alice", "OTU")
    asked = await harness.to("alice", "Did you mean OUT?")
    assert "\n" not in asked.message  # one line, never the menu
    await harness.says("alice", "STATUS")
    status = await harness.to("alice", "Check-in until")
    assert "left" in status.message  # still running
    await harness.says("alice", "SOSS")
    guessed = await harness.to("alice", "That looks like SOS")
    assert "reply OUT if it was a mistake" in guessed.message
    await harness.to("bob", "SOS from Alice", timeout=10)
