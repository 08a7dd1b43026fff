"""An SOS to several buddies is one request for everyone who reads the same text; a recipient
who cannot be reached never holds up the others (the sender splits or retries her alone)."""

from __future__ import annotations

from relay.sim import SendFailure
from tests.drills.conftest import InProcess
from tests.e2e.conftest import NUMBERS, write_env

QUIET = {
    "checkin": "20s",
    "reminder_before": "2s",
    "grace": "2s",
    "escalate_after": "1h",
    "repeat_every": "1h",
}
ENGLISH = {NUMBERS["bob"], NUMBERS["carol"], NUMBERS["dana"]}  # elena reads Spanish


async def test_one_request_for_the_same_alert_text(in_process: InProcess) -> None:
    write_env(in_process.config_path.parent, in_process.sim.service, QUIET)
    await in_process.start()
    await in_process.says("alice", "SOS")
    await in_process.settle()
    await in_process.sim.wait_for_sent(lambda s: s.reached(NUMBERS["elena"]), timeout=5)
    sos = [s for s in in_process.sim.sent if "SOS from Alice" in s.message and s.status == 201]
    together = [s for s in sos if len(s.recipients) > 1]
    assert len(together) == 1
    assert set(together[0].recipients) == ENGLISH
    assert set(together[0].delivered_to) == ENGLISH


async def test_one_untrusted_buddy_does_not_hold_up_the_others(in_process: InProcess) -> None:
    write_env(in_process.config_path.parent, in_process.sim.service, QUIET)
    await in_process.start()
    in_process.sim.faults.fail_sends(SendFailure.UNTRUSTED, recipients=[NUMBERS["carol"]])
    await in_process.says("alice", "SOS")
    first = await in_process.sim.wait_for_sent(lambda s: len(s.recipients) > 1, timeout=5)
    assert first.status == 201
    assert set(first.delivered_to) == ENGLISH - {NUMBERS["carol"]}
    assert first.errors  # carol's failure came back per recipient
    in_process.sim.faults.clear()
    retried = await in_process.sim.wait_for_sent(
        lambda s: s.recipients == [NUMBERS["carol"]] and s.status == 201, timeout=10
    )
    assert "SOS from Alice" in retried.message
    to_bob = [t for t in in_process.texts_to("bob") if "SOS from Alice" in t]
    assert len(to_bob) == 1  # her retry is hers alone


async def test_a_request_refused_whole_is_split(in_process: InProcess) -> None:
    write_env(in_process.config_path.parent, in_process.sim.service, QUIET)
    await in_process.start()
    # A direct recipient who is not registered fails the whole request (400), as on the server.
    in_process.sim.faults.fail_sends(SendFailure.UNREGISTERED, recipients=[NUMBERS["dana"]])
    await in_process.says("alice", "SOS")
    for member in ("bob", "carol"):
        alone = await in_process.sim.wait_for_sent(
            lambda s, m=member: s.recipients == [NUMBERS[m]] and s.status == 201, timeout=5
        )
        assert "SOS from Alice" in alone.message
