"""A silent alarm stays silent in the logs (issue 17, finding 6): a whole duress scenario at DEBUG
— a check-in, her duress word, a plain OUT without her secret, someone else's SOS, ACK and
RESOLVED — and the relay's log (stdout and stderr, relay and libraries) never says duress, SOS,
a member's alias, the duress word or which watch is whose."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from relay.sim import SignalSim
from tests.e2e.conftest import NUMBERS, RelayProcess, write_env

ALIASES = tuple(NUMBERS)


async def test_a_duress_scenario_at_debug_says_nothing_of_the_alarm_or_whose(
    sim: SignalSim, tmp_path: Path, relay_process: Callable[[Path], RelayProcess]
) -> None:
    relay = relay_process(write_env(tmp_path, sim.service, log_level="DEBUG"))
    relay.start()
    await sim.wait_for_client(timeout=60)
    alice, bob, carol, dana = (NUMBERS[a] for a in ("alice", "bob", "carol", "dana"))

    async def says(number: str, text: str, expect: str, to: str | None = None) -> None:
        since = len(sim.sent)
        await sim.member_sends(number, text)
        target = to or number
        await sim.wait_for_sent(
            lambda s: s.reached(target) and expect in s.message, since=since, timeout=20
        )

    await says(alice, "IN 30m", "Checked in")
    await says(alice, "lemonade", "ALERT", to=bob)  # her duress word: bob is alerted, silently
    await says(bob, "IN 30m", "Checked in")
    await says(bob, "OUT", "ALERT", to=alice)  # no secret: a silent alert too
    await says(carol, "SOS", "SOS", to=dana)
    await says(dana, "ACK carol", "on it")
    await says(bob, "ACK alice", "on it")
    await says(bob, "RESOLVED alice", "closed")  # bob was sent carol's SOS too: he names one
    await says(NUMBERS["elena"], "IN 3s", "")  # a missed check-in: the timer's lines too
    await sim.wait_for_sent(lambda s: s.reached(dana) and "Elena" in s.message, timeout=30)
    relay.terminate()

    log = relay.log_path.read_text(encoding="utf-8", errors="replace")
    assert "relay ready" in log and " DEBUG " in log  # this run's log, at DEBUG
    assert "timer for watch" in log and "decided a member's message" in log  # lines it checks
    words = [
        "duress",
        "sos",
        "no_secret",
        "lemonade",
        "bluebird",
        "checkin_secret",
        *ALIASES,
    ]
    pattern = re.compile(rf"(?i)\b({'|'.join(words)})")
    lines = [line for line in log.splitlines() if pattern.search(line)]
    assert lines == [], "\n".join(lines[:20])
