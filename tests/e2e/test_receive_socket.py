"""Receiving from signal-cli's JSON-RPC socket in manual mode (config `signal.receive: socket`):
the relay subscribes only when it is ready, messages that arrive while it is away wait on Signal's
servers and are answered when it is back, it subscribes again after a drop, and it says so when
signal-cli is not in manual mode. The WebSocket fallback, side by side, loses what arrives while
the relay is away."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import pytest

from relay.admin.status import run_status
from relay.crypto.keys import MasterKey
from relay.crypto.seal import Sealer
from relay.signal.events import Event
from relay.signal.jsonrpc import NOT_MANUAL, SocketReceiver
from relay.sim import SignalSim
from relay.store.db import Database
from relay.store.inbox import InboxRepo
from tests.e2e.conftest import NUMBERS, RELAY_NUMBER, Harness, write_env


async def test_a_check_in_over_the_socket(socket_harness: Harness) -> None:
    await socket_harness.says("alice", "IN 30m Hotel Rex")
    reply = await socket_harness.to("alice", "Checked in")
    assert reply.delivered_to == [NUMBERS["alice"]]
    assert socket_harness.sim.stats.websocket_connections == 0  # nothing on the WebSocket


async def test_the_receiver_subscribes_only_once_the_relay_is_ready(
    manual_sim: SignalSim, socket_path: Path
) -> None:
    ready = asyncio.Event()
    queue: asyncio.Queue[Event] = asyncio.Queue()
    receiver = SocketReceiver(socket_path, manual_sim.service, RELAY_NUMBER, queue, ready)
    task = asyncio.create_task(receiver.run())
    try:
        await manual_sim.member_sends(NUMBERS["alice"], "IN 30m")
        await asyncio.sleep(0.3)
        # Not ready to commit: no subscription, so signal-cli took nothing off Signal's servers.
        assert manual_sim.stats.socket_subscriptions == 0
        assert manual_sim.stats.frames_on_server == 1
        ready.set()
        event = await asyncio.wait_for(queue.get(), 2)
        assert getattr(event, "text", None) == "IN 30m"
        assert receiver.open and manual_sim.stats.frames_on_server == 0
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await receiver.close()


@pytest.mark.parametrize("receive", ["socket", "websocket"])
async def test_messages_sent_while_the_relay_is_stopped(
    receive: str, socket_path: Path, tmp_path: Path
) -> None:
    """Manual mode: answered once it is back. The WebSocket fallback: lost, every one."""
    mode = "manual" if receive == "socket" else "on-start"
    async with SignalSim(RELAY_NUMBER, receive_mode=mode, socket_path=socket_path) as sim:
        config = write_env(tmp_path, sim.service, socket=socket_path if mode == "manual" else None)
        harness = Harness(sim, config)
        await harness.start()
        await harness.stop()
        since = len(sim.sent)
        for member in ("alice", "bob", "carol"):
            await harness.says(member, "STATUS")
        await harness.start()
        try:
            if receive == "socket":
                for member in ("alice", "bob", "carol"):
                    await harness.to(member, "No check-in running", since=since)
                assert sim.stats.frames_dropped_no_client == 0
            else:
                await asyncio.sleep(1)
                assert harness.who(since) == []
                assert sim.stats.frames_dropped_no_client == 3
        finally:
            await harness.stop()


async def test_it_subscribes_again_after_the_connection_drops_and_loses_nothing(
    socket_harness: Harness,
) -> None:
    sim = socket_harness.sim
    # signal-cli goes away for a moment (its socket too): the relay backs off and retries.
    await sim.signal_cli.stop()
    await sim.wait_for_no_subscriber()
    await socket_harness.says("alice", "STATUS")
    await socket_harness.says("bob", "STATUS")
    assert sim.stats.frames_on_server == 2
    await sim.signal_cli.start()
    await sim.wait_for_subscriber(timeout=10)
    await socket_harness.to("alice", "No check-in running", timeout=5)
    await socket_harness.to("bob", "No check-in running", timeout=5)
    assert sim.signal_cli.subscribe_calls == 2
    assert sim.stats.frames_dropped_no_client == 0


async def test_a_dropped_connection_is_subscribed_again_at_once(socket_harness: Harness) -> None:
    sim = socket_harness.sim
    assert await sim.signal_cli.drop_connections() == 1
    await sim.wait_for_subscriber(timeout=2)
    await socket_harness.says("alice", "STATUS")
    await socket_harness.to("alice", "No check-in running", timeout=2)


async def test_a_line_that_is_not_json_costs_only_itself(socket_harness: Harness) -> None:
    await socket_harness.sim.push_raw("{not json")
    await socket_harness.says("alice", "IN 30m")
    await socket_harness.to("alice", "Checked in", timeout=2)


async def test_a_daemon_in_on_start_mode_is_reported_and_nothing_is_doubled(
    socket_path: Path, tmp_path: Path
) -> None:
    async with SignalSim(RELAY_NUMBER, receive_mode="on-start", socket_path=socket_path) as sim:
        harness = Harness(sim, write_env(tmp_path, sim.service, socket=socket_path))
        relay = await harness.start()
        try:
            since = len(sim.sent)
            await harness.says("alice", "IN 30m")
            await harness.to("alice", "Checked in", since=since)
            await asyncio.sleep(0.5)
            # Delivered twice (its own subscription and the daemon's), answered once.
            assert sum(1 for s in sim.sent[since:] if "Checked in" in s.message) == 1
            assert relay.receiver is not None and relay.receiver.problem == NOT_MANUAL
            assert relay.watchdog is not None
            relay.watchdog.refresh()
            config = harness.config_path
            out = io.StringIO()
            code = await asyncio.to_thread(run_status, config, out)
            assert "PROBLEM — signal-cli is not in manual receive mode" in out.getvalue()
            assert code == 1
        finally:
            await harness.stop()


async def test_status_says_which_way_messages_come_in(
    socket_harness: Harness, tmp_path: Path
) -> None:
    relay = socket_harness.relay
    assert relay is not None and relay.watchdog is not None
    relay.watchdog.refresh()
    out = io.StringIO()
    code = await asyncio.to_thread(run_status, socket_harness.config_path, out)
    text = out.getvalue()
    assert "receive: signal-cli's JSON-RPC socket" in text
    assert "manual receive mode — messages wait on Signal's servers" in text
    assert "receive loop: subscribed" in text, text
    data = json.loads((relay.config.data_dir / "status.json").read_text())
    assert data["receive"]["via"] == "socket" and data["receive"]["open"] is True
    assert code == 0

    fallback = write_env(tmp_path / "fallback", socket_harness.sim.service)
    out = io.StringIO()
    await asyncio.to_thread(run_status, fallback, out)
    assert "WebSocket (fallback, signal.receive: websocket)" in out.getvalue()
    assert "are LOST" in out.getvalue()


async def test_status_fails_when_the_socket_is_missing(
    manual_sim: SignalSim, tmp_path: Path
) -> None:
    config = write_env(tmp_path, manual_sim.service, socket=tmp_path / "nowhere.sock")
    out = io.StringIO()
    code = await asyncio.to_thread(run_status, config, out)
    assert "receive: NO SOCKET at" in out.getvalue()
    assert code == 1


async def test_what_was_read_but_not_decided_is_decided_after_a_restart(
    manual_sim: SignalSim, socket_path: Path, tmp_path: Path
) -> None:
    """signal-cli acknowledged these to Signal before writing them: once read, the inbox is
    their only keeper until the processor has decided them."""
    db = await Database.open(tmp_path)
    inbox = InboxRepo(db, Sealer(MasterKey.generate()))
    try:
        ready = asyncio.Event()
        ready.set()
        queue: asyncio.Queue[Event] = asyncio.Queue()
        first = SocketReceiver(socket_path, manual_sim.service, RELAY_NUMBER, queue, ready, inbox)
        task = asyncio.create_task(first.run())
        for n in range(3):
            await manual_sim.member_sends(NUMBERS["alice"], f"message {n}")
        events = [await asyncio.wait_for(queue.get(), 2) for _ in range(3)]
        await first.handled(events[:1])  # the first was decided; the relay dies before the rest
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await first.close()
        assert len(await inbox.left()) == 2

        await manual_sim.wait_for_no_subscriber()
        await manual_sim.member_sends(NUMBERS["alice"], "message 3")  # waits on Signal's servers
        queue = asyncio.Queue()
        second = SocketReceiver(socket_path, manual_sim.service, RELAY_NUMBER, queue, ready, inbox)
        task = asyncio.create_task(second.run())
        again = [await asyncio.wait_for(queue.get(), 2) for _ in range(3)]
        # The two left over first, in order, then what waited on the server.
        assert [getattr(e, "text", None) for e in again] == ["message 1", "message 2", "message 3"]
        await second.handled(again)
        assert await inbox.left() == []
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await second.close()
    finally:
        await db.close()


async def test_an_envelope_longer_than_the_read_ahead_arrives_whole(
    socket_harness: Harness,
) -> None:
    note = "room 12 " * 20_000  # 160 kB: more than the receiver reads at once
    await socket_harness.says("alice", "IN 30m " + note)
    await socket_harness.to("alice", "", timeout=5)
    await socket_harness.says("bob", "STATUS")
    await socket_harness.to("bob", "No check-in running", timeout=5)


async def test_the_watchdog_pings_signal_cli_on_the_socket(socket_harness: Harness) -> None:
    relay = socket_harness.relay
    assert relay is not None and relay.receiver is not None
    latency = await relay.receiver.ping(2)
    assert latency is not None and latency < 2
    # signal-cli wedged: the connection stays open, nothing answers — a stall, not "away".
    socket_harness.sim.signal_cli.answering.clear()
    try:
        with pytest.raises(TimeoutError):
            await relay.receiver.ping(0.3)
    finally:
        socket_harness.sim.signal_cli.answering.set()
    assert await relay.receiver.ping(2) is not None
