"""Rules edited under a running relay: valid edits apply without a restart, invalid ones are
refused with the file and line sent to the admin, and live check-ins keep their alert path."""

from __future__ import annotations

import re
from pathlib import Path

from relay.rules.compiled import CACHE_NAME, load_rules_cached
from tests.e2e.conftest import NUMBERS, Harness

FIONA = "+12025550106"


def rules_dir(h: Harness) -> Path:
    assert h.relay is not None
    return h.relay.config.rules_dir


def add_fiona(folder: Path) -> None:
    members = folder / "members.yaml"
    members.write_text(
        members.read_text() + '\n  fiona:\n    number: "+1 202-555-0106"\n    buddies: [dana]\n'
    )


async def test_a_valid_edit_applies_while_a_checkin_is_live_and_its_alert_fires(
    harness: Harness,
) -> None:
    await harness.says("alice", "IN 5s Hotel Rex")
    await harness.to("alice", "Checked in")
    await harness.sim.member_sends(FIONA, "IN 30m")  # not a member yet: silence
    add_fiona(rules_dir(harness))
    await harness.to("dana", "New rules loaded", timeout=10)  # dana is the admin
    await harness.sim.member_sends(FIONA, "IN 30m")
    reply = await harness.to(FIONA, "Checked in", timeout=5)
    assert "Dana" in reply.message
    assert len([s for s in harness.sim.sent if s.reached(FIONA)]) == 1  # the first was ignored
    alert = await harness.to("bob", "ALERT", timeout=15)
    assert "Hotel Rex" in alert.message


async def test_an_invalid_edit_is_refused_and_the_admin_gets_file_and_line(
    harness: Harness,
) -> None:
    members = rules_dir(harness) / "members.yaml"
    text = members.read_text()
    broken = text.replace("buddies: [bob]", "buddies: [bobb]")
    members.write_text(broken)
    line = broken.splitlines().index(next(ln for ln in broken.splitlines() if "[bobb]" in ln)) + 1
    notice = await harness.to("dana", "not loaded", timeout=10)
    assert re.search(rf"members\.yaml:{line}: .*bobb", notice.message), notice.message
    # The last good rules stay in force: alice's buddy is still bob.
    await harness.says("alice", "IN 30m")
    reply = await harness.to("alice", "Checked in")
    assert "Bob" in reply.message


async def test_removing_a_member_with_a_live_checkin_keeps_her_alert_path(
    harness: Harness,
) -> None:
    await harness.says("alice", "IN 5s Hotel Rex")
    await harness.to("alice", "Checked in")
    folder = rules_dir(harness)
    members = folder / "members.yaml"
    text = members.read_text()
    start = text.index("  alice:")
    end = text.index("  bob:")
    text = text[:start] + text[end:]
    text = text.replace("buddies: [alice]", "buddies: [carol]")
    members.write_text(text)
    circles = folder / "circles.yaml"
    circles.write_text(circles.read_text().replace("[alice, bob,", "[bob,"))
    loaded = await harness.to("dana", "New rules loaded", timeout=10)
    assert "4 members" in loaded.message
    alert = await harness.to("bob", "ALERT", timeout=15)  # bob was her buddy under the old rules
    assert "Hotel Rex" in alert.message
    await harness.to("carol", "ALERT")
    mark = len(harness.sim.sent)
    await harness.says("bob", "ACK")
    await harness.to(NUMBERS["alice"], "Bob is on it", since=mark)  # she is still reached


async def test_a_reload_deletes_the_sealed_copy_of_the_old_rules(harness: Harness) -> None:
    """The copy a start made (relay.rules.compiled) must not outlive the rules it copies."""
    assert harness.relay is not None
    cache = harness.relay.config.data_dir / CACHE_NAME
    load_rules_cached(rules_dir(harness), cache, harness.relay.sealer, allow_placeholders=True)
    assert cache.exists()
    add_fiona(rules_dir(harness))
    await harness.to("dana", "New rules loaded", timeout=10)
    assert not cache.exists()
