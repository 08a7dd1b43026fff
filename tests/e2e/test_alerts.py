"""Alerts that reach a human: SOS, duress, secrets, locations, client details, the ladder, ACK by
reaction and quote, unreachable buddies, WHO and BUDDIES — in English and Spanish."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from relay.runtime.logs import setup_logging
from relay.sim import InboundAttachment, SignalSim
from relay.sim.faults import SendFailure
from tests.e2e.conftest import NUMBERS, Harness, write_env

SUPPORT_LINE = "+12025550190"
SAMPLE_GROUP = "group.c2FtcGxlLWdyb3VwLXJlcGxhY2UtbWU="


@pytest.fixture
async def ladder(sim: SignalSim, tmp_path: Path) -> AsyncIterator[Harness]:
    """The sample rules, with the night-shift circle bound to a group the simulator knows."""
    setup_logging("INFO")
    group = sim.add_group("Night shift", list(NUMBERS.values()), internal_id=_internal_id())
    config = write_env(tmp_path, sim.service)
    circles = tmp_path / "rules" / "circles.yaml"
    circles.write_text(circles.read_text().replace(SAMPLE_GROUP, group.id))
    h = Harness(sim, config)
    await h.start()
    yield h
    await h.stop()


def _internal_id() -> str:
    return base64.b64encode(b"night-shift-circle-0123456789ab").decode()[:43] + "="


def group_posts(h: Harness) -> list[str]:
    return [s.message for s in h.sim.sent if s.recipients[0].startswith("group.")]


async def test_sos_alerts_every_sos_tier_at_once_with_group_and_languages(ladder: Harness) -> None:
    await ladder.says("alice", "sos")
    reply = await ladder.to("alice", "Alert sent to")
    for member in ("bob", "carol", "dana"):
        assert "SOS from Alice" in (await ladder.to(member, "SOS")).message
    elena = await ladder.to("elena", "SOS")  # her circle; she reads Spanish
    assert "Alice" in elena.message and "SOS from" not in elena.message
    assert "Bob" in reply.message and "Elena" in reply.message
    await ladder.sim.wait_for_sent(lambda s: s.recipients[0].startswith("group."))
    assert any("SOS" in post for post in group_posts(ladder))
    assert SUPPORT_LINE not in ladder.who()  # tier 2 of SOS waits 10 minutes


async def test_spanish_member_gets_spanish_replies_and_keywords(harness: Harness) -> None:
    await harness.says("elena", "ENTRO 30 Hotel Sol")
    reply = await harness.to("elena", "30 min")
    assert "Check-in" not in reply.message.split()[0]
    await harness.says("elena", "MENÚ")  # a menu word: never an alarm ("ayuda" is the cry)
    help_text = await harness.to("elena", "SOS", since=1)
    assert "SOS" in help_text.message
    assert "dana" not in harness.who()  # nobody was alerted by MENÚ


async def test_duress_reply_is_byte_identical_to_out_and_buddies_get_a_silent_alert(
    harness: Harness,
) -> None:
    await harness.says("alice", "IN 30m")
    await harness.to("alice", "Checked in")
    mark = len(harness.sim.sent)
    await harness.says("alice", "OUT")
    normal = (await harness.to("alice", since=mark)).message

    await harness.says("alice", "IN 30m Hotel Rex")
    await harness.to("alice", "Checked in", since=mark + 1)
    mark = len(harness.sim.sent)
    await harness.says("alice", "Lemonade")
    duress = (await harness.to("alice", since=mark)).message
    assert duress.encode() == normal.encode()
    alert = await harness.to("bob", "SILENT ALERT", since=mark)
    assert "duress" in alert.message and "Hotel Rex" in alert.message
    assert "Bob is on it" not in " ".join(harness.texts_to("alice"))


async def test_out_without_the_secret_looks_normal_but_raises_a_silent_alert(
    harness: Harness,
) -> None:
    await harness.says("bob", "IN 30m")
    await harness.to("bob", "Checked in")
    mark = len(harness.sim.sent)
    await harness.says("bob", "OUT")
    reply = await harness.to("bob", since=mark)
    assert reply.message == "💜 Glad you're safe. Check-in closed."
    alert = await harness.to("alice", "without his secret word", since=mark)  # pronouns: he
    assert "Bob" in alert.message
    # With the secret, OUT closes the alert and tells everyone he is safe.
    mark = len(harness.sim.sent)
    await harness.says("bob", "OUT bluebird")
    await harness.to("alice", "Bob is safe", since=mark)


async def test_extend_pushes_the_deadline_and_status_shows_it(harness: Harness) -> None:
    await harness.says("alice", "IN 10m")
    await harness.to("alice", "Checked in")
    await harness.says("alice", "+30")
    extended = await harness.to("alice", "New end time")
    await harness.says("alice", "status")
    status = await harness.to("alice", "Check-in until")
    until = extended.message.split("New end time ")[1][:5]
    assert until in status.message and "Bob, Carol" in status.message


async def test_location_client_details_and_photo_ride_in_the_alert(harness: Harness) -> None:
    await harness.sim.member_shares_location(
        NUMBERS["alice"], 51.5014, -0.1419, place_name="Hotel Rex", address="1 Main St"
    )
    await harness.to("alice", "Location saved for your next check-in")
    photo = InboundAttachment(data=b"\xff\xd8\xffcanary-photo", content_type="image/jpeg")
    await harness.sim.member_sends(
        NUMBERS["alice"], "CLIENT Tom, blue Ford AB12 CDE", attachments=[photo]
    )
    await harness.to("alice", "Client details saved for your next check-in")
    await harness.says("alice", "IN 3s")
    alert = await harness.to("bob", "ALERT", timeout=10)
    assert "openstreetmap.org/?mlat=51.5014&mlon=-0.1419" in alert.message
    assert "Hotel Rex" in alert.message and "Tom, blue Ford AB12 CDE" in alert.message
    assert [a.data for a in alert.attachments] == [b"\xff\xd8\xffcanary-photo"]
    assert "ago" in alert.message  # the pin says how old it is


async def test_the_ladder_escalates_repeats_and_a_tier_two_ack_stops_it(ladder: Harness) -> None:
    await ladder.says("alice", "IN 2s")
    await ladder.to("bob", "ALERT", timeout=10)
    await ladder.to("carol", "ALERT")
    tier2 = await ladder.to("dana", "ALERT", timeout=10)  # her circle, after escalate_after
    assert "buddies haven't answered" in tier2.message
    await ladder.to("elena", "ALERTA", timeout=5)
    await ladder.to(SUPPORT_LINE, "ALERT", timeout=10)  # tier 3: the admin and the support line
    await ladder.to("bob", "Still nobody", timeout=10)  # repeats go to everyone alerted
    mark = len(ladder.sim.sent)
    await ladder.says("elena", "ack")
    await ladder.to("alice", "Elena is on it", since=mark)
    for member in ("bob", "carol", "dana"):
        await ladder.to(member, "Elena is on it for Alice", since=mark)
    await ladder.to(SUPPORT_LINE, "Elena", since=mark)


async def test_a_thumbs_up_reaction_to_the_alert_is_an_ack(harness: Harness) -> None:
    await harness.says("alice", "IN 2s")
    alert = await harness.to("carol", "ALERT", timeout=10)
    assert alert.timestamp is not None
    await harness.sim.member_reacts(NUMBERS["carol"], to=alert.timestamp, emoji="👍")
    await harness.to("alice", "Carol is on it")


async def test_a_reply_quoting_the_alert_is_an_ack(harness: Harness) -> None:
    await harness.says("alice", "IN 2s")
    alert = await harness.to("bob", "ALERT", timeout=10)
    assert alert.timestamp is not None
    await harness.sim.member_replies(NUMBERS["bob"], "omw", to=alert.timestamp)
    await harness.to("alice", "Bob is on it")


async def test_unreachable_buddy_moves_to_the_next_tier_now_and_tells_the_admin(
    harness: Harness,
) -> None:
    harness.sim.faults.fail_sends(SendFailure.UNREGISTERED, recipients=[NUMBERS["bob"]])
    await harness.says("alice", "IN 2s")
    await harness.to("carol", "ALERT", timeout=10)
    # Tier 2 is due 4 s after tier 1; it comes at once because bob cannot be reached.
    tier2 = await harness.to("dana", "ALERT", timeout=3)
    carol = await harness.to("carol", "ALERT")
    assert tier2.at - carol.at < 2000
    notice = await harness.to("dana", "could not be delivered to Bob", timeout=5)
    assert "Alice" in notice.message


async def test_who_and_buddies_answer_in_her_language(harness: Harness) -> None:
    await harness.says("alice", "WHO")
    who = await harness.to("alice", "Night support line")
    assert "+1 202-555-0190" in who.message or "+12025550190" in who.message
    await harness.says("alice", "BUDDIES")
    path = await harness.to("alice", "your alert goes to")
    assert "1. at once: Bob, Carol" in path.message and "Dana" in path.message
    await harness.says("elena", "WHO")
    assert "Línea de apoyo" in (await harness.to("elena", "Línea")).message


async def test_deleting_the_sos_cancels_nothing_and_buddies_learn_of_it(harness: Harness) -> None:
    ts = await harness.says("alice", "SOS")
    await harness.to("bob", "SOS from Alice")
    await harness.sim.member_deletes(NUMBERS["alice"], target=ts)
    repeat = await harness.to("bob", "Still nobody", timeout=10)
    assert repeat is not None
    assert harness.relay is not None and harness.relay.desk is not None
    watch = await harness.relay.desk.watches.live_for("alice")  # type: ignore[arg-type]
    assert watch is not None and [m.what for m in watch.marks] == ["deleted"]


async def test_a_map_snapshot_is_not_kept_and_signal_clis_copy_is_deleted(harness: Harness) -> None:
    await harness.sim.member_shares_location(NUMBERS["alice"], 51.5, -0.12, place_name="Rex")
    await harness.to("alice", "Location saved")
    assert harness.sim.attachments == {}  # the JPEG map snapshot was deleted from signal-cli
