"""Logs and stderr of a whole scenario at INFO hold no message text, note or phone number."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, ValidationError

from relay.runtime.logs import RedactingFormatter, redact_exception
from relay.sim import SignalSim
from relay.sim.envelopes import Malformed
from relay.sim.faults import SendFailure
from tests.e2e.conftest import NUMBERS, RELAY_NUMBER, STRANGER, RelayProcess, write_env

NOTE = "canary-note-Q7 Hotel Rex room 12"
STRANGER_TEXT = "canary-stranger-Z3 who is this"
CLIENT = "canary-client-K9 plate AB12CDE"


async def test_a_full_scenario_logs_nothing_personal(
    sim: SignalSim, tmp_path: Path, relay_process: Callable[[Path], RelayProcess]
) -> None:
    relay = relay_process(write_env(tmp_path, sim.service))
    relay.start()
    await sim.wait_for_client(timeout=60)
    alice, bob = NUMBERS["alice"], NUMBERS["bob"]

    await sim.member_sends(alice, f"IN 3s {NOTE}")
    await sim.member_sends(alice, f"CLIENT {CLIENT}")
    await sim.member_sends(STRANGER, STRANGER_TEXT)
    for kind in Malformed:
        await sim.push_malformed(kind, sender=alice)
    sim.faults.fail_sends(SendFailure.UNREGISTERED, count=2)  # error bodies quote the number
    await sim.wait_for_sent(lambda s: s.reached(bob) and "ALERT" in s.message, timeout=20)
    await sim.member_sends(bob, "ACK on my way canary-ack-M2")
    await sim.wait_for_sent(lambda s: s.reached(alice) and "Bob is on it" in s.message, timeout=10)
    await sim.member_sends(alice, "OUT")
    await sim.member_sends(alice, "x" * 5000 + "canary-long-P4")
    await asyncio.sleep(1)
    assert relay.terminate() == 0

    log = relay.log_path.read_text(encoding="utf-8", errors="replace")
    assert "relay ready" in log  # the log is really this run's
    secrets = [
        "canary-",
        "Hotel Rex",
        "AB12CDE",
        RELAY_NUMBER,
        STRANGER,
        *NUMBERS.values(),
        *(n.removeprefix("+") for n in NUMBERS.values()),
    ]
    found = [s for s in secrets if s in log]
    assert found == [], f"personal data in the log: {found}"


class _Model(BaseModel):
    count: int


def test_tracebacks_keep_types_and_places_not_messages() -> None:
    try:
        _Model.model_validate({"count": "canary-input-+12025550101"})
    except ValidationError as exc:
        try:
            raise RuntimeError("wrapped canary-wrapper") from exc
        except RuntimeError as outer:
            text = redact_exception(type(outer), outer, outer.__traceback__)
    assert "canary" not in text and "12025550101" not in text
    assert "ValidationError" in text and "RuntimeError" in text
    assert "test_log_hygiene.py" in text


def test_third_party_records_are_reduced_to_their_origin() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(RedactingFormatter("%(name)s: %(message)s"))
    logger = logging.getLogger("signalbot.test")
    logger.addHandler(handler)
    try:
        logger.warning("envelope %s", '{"message":"canary-envelope-+12025550101"}')
    finally:
        logger.removeHandler(handler)
    assert "canary" not in stream.getvalue()
    assert "signalbot.test" in stream.getvalue()
