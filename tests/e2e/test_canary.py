"""The end-to-end canary against the simulator: a signal-cli that answers health but delivers
nothing is noticed, the admin is told by every path, members checking in are told alerts may be
delayed, and the first receipt afterwards ends it.

The simulator sends delivery receipts as phones do (`delivery_receipts=True`); its `stuck` fault
keeps `/v1/health` at 204 and `/v2/send` at 201 while nothing reaches anyone and inbound frames
wait. Short canary timings come from the config (`canary.every` …), never from sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import socket
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import aiohttp
import pytest

from relay.exitcodes import EXIT_CHECK_FAILED, EXIT_CONFIG
from relay.runtime.logs import setup_logging
from relay.sim import SignalSim
from relay.sim.records import SentMessage
from tests.e2e.conftest import NUMBERS, RELAY_NUMBER, Harness, write_env

SILENT = "no phone has confirmed getting my messages"
UNREACHABLE = "I can't reach Signal"
RECOVERED = "reaching phones again"
DELAYED = "alerts may be delayed"
PROBE = "Relay check"


class Notifications:
    """A stand-in for systemd's notify socket (abstract namespace: no path length limit)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        name = f"peer-relay-canary-{secrets.token_hex(6)}"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + name)
        self.sock.setblocking(False)
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        monkeypatch.delenv("WATCHDOG_USEC", raising=False)
        self.seen: list[str] = []

    async def canary_is(self, harness: Harness, state: str, timeout: float = 15.0) -> str:
        """Wait until the relay's canary is in `state` (each change sends a STATUS= line, which
        wakes this up); return the last STATUS= line, which must say so."""
        assert harness.relay is not None and harness.relay.canary is not None
        canary = harness.relay.canary
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(timeout):
            while canary.report().state != state:
                self.seen.extend((await loop.sock_recv(self.sock, 4096)).decode().split("\n"))
        with contextlib.suppress(BlockingIOError):
            while True:  # what was sent with the change, and since
                self.seen.extend(self.sock.recv(4096).decode().split("\n"))
        return next(line for line in reversed(self.seen) if line.startswith("STATUS="))


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def notifications(monkeypatch: pytest.MonkeyPatch) -> Iterator[Notifications]:
    notes = Notifications(monkeypatch)
    yield notes
    notes.sock.close()


@pytest.fixture
def records() -> Iterator[Records]:
    handler = Records()
    logger = logging.getLogger("relay")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


@pytest.fixture
async def phones() -> AsyncIterator[SignalSim]:
    """The simulator with phones that send delivery receipts back."""
    async with SignalSim(RELAY_NUMBER, delivery_receipts=True) as simulator:
        yield simulator


async def started(sim: SignalSim, tmp_path: Path, **canary: object) -> Harness:
    setup_logging("INFO")
    harness = Harness(sim, write_env(tmp_path, sim.service, canary=canary))
    await harness.start()
    return harness


async def peer_relay(*args: str) -> tuple[int, str]:
    """The command line in its own process, while this loop keeps serving the relay."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "relay",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode is not None
    return proc.returncode, out.decode()


def to_dana(text: str) -> Callable[[SentMessage], bool]:
    return lambda s: NUMBERS["dana"] in s.recipients and text in s.message


def status_file(harness: Harness) -> dict[str, object]:
    assert harness.relay is not None
    path = harness.relay.config.data_dir / "status.json"
    assert path.stat().st_mode & 0o777 == 0o600
    data = json.loads(path.read_text())
    assert isinstance(data, dict)
    return data


async def test_a_quiet_relay_probes_the_admin_and_the_receipt_proves_delivery(
    phones: SignalSim, tmp_path: Path, notifications: Notifications
) -> None:
    harness = await started(phones, tmp_path, every="1s", timeout="5s")
    try:
        probe = await phones.wait_for_sent(to_dana(PROBE), timeout=10)
        assert probe.delivered
        assert "delivery proved" in await notifications.canary_is(harness, "ok")
        assert harness.relay is not None and harness.relay.canary is not None
        report = harness.relay.canary.report()
        assert report.state == "ok" and report.last_ok_at is not None
        # Probes are all the admin got: nobody was warned of anything.
        assert all(PROBE in s.message for s in phones.sent if NUMBERS["dana"] in s.recipients)
    finally:
        await harness.stop()


async def test_members_own_replies_are_the_probes_while_she_is_active(
    phones: SignalSim, tmp_path: Path, notifications: Notifications
) -> None:
    # `every` is long: only alice's reply (and its receipt) can prove delivery here.
    harness = await started(phones, tmp_path, every="1h", timeout="5s")
    try:
        await harness.says("alice", "IN 30m")
        reply = await harness.to("alice", "Checked in")
        assert DELAYED not in reply.message
        assert "delivery proved" in await notifications.canary_is(harness, "ok")
        assert not any(PROBE in s.message for s in phones.sent)
    finally:
        await harness.stop()


async def test_stuck_signal_cli_is_noticed_and_the_admin_and_members_are_told(
    phones: SignalSim, tmp_path: Path, notifications: Notifications, records: Records
) -> None:
    harness = await started(phones, tmp_path, every="4s", timeout="1s", misses=2)
    try:
        assert "delivery proved" in await notifications.canary_is(harness, "ok")
        async with aiohttp.ClientSession() as http:
            phones.faults.stuck = True
            async with http.get(f"{phones.base_url}/v1/health") as resp:
                assert resp.status == 204  # the health check sees nothing wrong

        # Probes go unanswered: after two misses in a row the relay says so everywhere.
        assert DELAYED in await notifications.canary_is(harness, "degraded")
        told = await phones.wait_for_sent(to_dana(SILENT), timeout=5)
        assert not told.delivered  # sent, accepted, lost: hence the other paths
        errors = [r for r in records.records if r.levelno >= logging.ERROR]
        assert any("not reaching phones" in r.getMessage() for r in errors)
        state = status_file(harness)
        assert state["canary"]["state"] == "degraded"  # type: ignore[index]
        assert state["canary"]["reason"] == "no_receipt"  # type: ignore[index]
        code, shown = await peer_relay("status", "--config", str(harness.config_path))
        assert code == EXIT_CHECK_FAILED
        assert "end-to-end check: FAILING" in shown and "receive loop: connected" in shown

        # Alice checks in meanwhile; her message waits inside signal-cli until it moves again.
        since = len(phones.sent)
        await harness.says("alice", "IN 30m Hotel Rex")
        phones.faults.stuck = False
        reply = await harness.to("alice", "Checked in", since=since)
        assert DELAYED in reply.message
        assert reply.delivered

        # Her phone's receipt for that very reply proves delivery again: the admin hears it.
        back = await phones.wait_for_sent(to_dana(RECOVERED), since=since, timeout=5)
        assert back.delivered
        assert "delivery proved" in await notifications.canary_is(harness, "ok")
        assert status_file(harness)["canary"]["state"] == "ok"  # type: ignore[index]

        # Nothing above carried her words or a number into the log or the status file.
        logged = "\n".join(r.getMessage() for r in records.records)
        status_text = json.dumps(status_file(harness))
        for secret in ("Hotel Rex", NUMBERS["alice"], NUMBERS["dana"]):
            assert secret not in logged and secret not in status_text
        since = len(phones.sent)
        await harness.says("alice", "STATUS")
        assert DELAYED not in (await harness.to("alice", since=since)).message
    finally:
        await harness.stop()


async def test_sos_is_warned_and_a_duress_reply_still_looks_exactly_like_out(
    phones: SignalSim, tmp_path: Path, notifications: Notifications
) -> None:
    harness = await started(phones, tmp_path, every="2s", timeout="1s", misses=1)
    try:
        assert "delivery proved" in await notifications.canary_is(harness, "ok")
        phones.faults.stuck = True
        assert DELAYED in await notifications.canary_is(harness, "degraded")
        # Both wait in signal-cli and arrive together, before any receipt can end the alarm.
        since = len(phones.sent)
        await harness.says("alice", "IN 30m")
        await harness.says("alice", "lemonade")  # her duress word
        await harness.says("bob", "SOS")
        phones.faults.stuck = False
        checked_in = await harness.to("alice", "Checked in", since=since)
        assert DELAYED in checked_in.message  # she may want to call someone herself
        duress = await harness.to("alice", "Glad you're safe", since=checked_in.index + 1)
        assert duress.message == "💜 Glad you're safe. Check-in closed."
        # Bob's own SOS reply carries the line (the alerts about him and alice do not).
        await harness.to("bob", DELAYED, since=since)
        assert not any(DELAYED in s.message for s in phones.sent[since:] if "ALERT" in s.message)
    finally:
        await harness.stop()


async def test_signal_unreachable_is_told_and_the_queued_notice_arrives_when_it_is_back(
    phones: SignalSim, tmp_path: Path, notifications: Notifications
) -> None:
    harness = await started(phones, tmp_path, every="1s", timeout="3s", misses=2)
    try:
        assert "delivery proved" in await notifications.canary_is(harness, "ok")
        await phones.refuse_connections()
        assert DELAYED in await notifications.canary_is(harness, "degraded")
        await phones.accept_connections()
        # The notice waited in the outbox; once delivered, its own receipt ends the alarm.
        told = await phones.wait_for_sent(
            lambda s: to_dana(UNREACHABLE)(s) and s.delivered, timeout=10
        )
        back = await phones.wait_for_sent(to_dana(RECOVERED), since=told.index, timeout=10)
        assert back.delivered
    finally:
        await harness.stop()


async def test_a_probe_recipient_who_is_not_a_member_stops_the_start(
    phones: SignalSim, tmp_path: Path
) -> None:
    config = write_env(tmp_path, phones.service, canary={"to": "nobody"})
    code, shown = await peer_relay("run", "--config", str(config))
    assert code == EXIT_CONFIG
    assert "canary.to: 'nobody' is not a member" in shown
