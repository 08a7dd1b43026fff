"""systemd's watchdog against a real notify socket: the relay pings while its loops make progress
and stops as soon as its receive loop is wedged — here a receive WebSocket that stays open but on
which nothing moves any more (a frozen proxy between the relay and signal-cli-rest-api, as a
wedged docker-proxy or NAT entry would leave it). Also: the run lock and the status file."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from relay.exitcodes import EXIT_SOFTWARE
from relay.runtime import supervisor as daemon
from relay.runtime.logs import setup_logging
from relay.runtime.supervisor import Relay
from relay.runtime.watchdog import relay_running
from relay.sim import SignalSim
from tests.e2e.conftest import Harness, write_env

WATCHDOG_USEC = 2_000_000  # 2 s: the relay pings every second and waits a second for a pong


class Proxy:
    """A TCP proxy on 127.0.0.1 that can freeze receive WebSockets: connections stay open, and
    nothing is forwarded either way (so pings get no pong) until `thaw`."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.frozen = asyncio.Event()
        self.thawed = asyncio.Event()
        self.thawed.set()
        self.server: asyncio.Server | None = None
        self.tasks: set[asyncio.Task[None]] = set()
        self.writers: list[asyncio.StreamWriter] = []

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"127.0.0.1:{port}"

    def freeze(self) -> None:
        self.thawed.clear()

    def thaw(self) -> None:
        self.thawed.set()

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
        for writer in self.writers:
            writer.close()
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self.writers += [writer, up_writer]
        first = await reader.read(65536)
        freezable = first.startswith(b"GET /v1/receive/")
        up_writer.write(first)
        for src, dst in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pump(src, dst, freezable))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _pump(
        self, src: asyncio.StreamReader, dst: asyncio.StreamWriter, freezable: bool
    ) -> None:
        with contextlib.suppress(ConnectionError, asyncio.CancelledError):
            while True:
                if freezable:
                    await self.thawed.wait()
                data = await src.read(65536)
                if not data:
                    break
                if freezable:
                    await self.thawed.wait()  # what was read while freezing waits too
                dst.write(data)
                await dst.drain()
        with contextlib.suppress(OSError):
            dst.close()


class Systemd:
    """A notify socket as systemd offers it, in the abstract namespace (no path length limit)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        name = f"peer-relay-watchdog-{secrets.token_hex(6)}"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + name)
        self.sock.setblocking(False)
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        monkeypatch.setenv("WATCHDOG_USEC", str(WATCHDOG_USEC))
        monkeypatch.delenv("WATCHDOG_PID", raising=False)
        self.states: list[str] = []

    async def next_state(self, wanted: Callable[[str], bool], timeout: float = 10.0) -> str:
        """The next state line, from now on, that matches."""
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(timeout):
            while True:
                data = await loop.sock_recv(self.sock, 4096)
                for state in data.decode().split("\n"):
                    self.states.append(state)
                    if wanted(state):
                        return state

    async def states_for(self, seconds: float) -> list[str]:
        """Every state line that arrives in the next `seconds` (to show one does NOT)."""
        seen: list[str] = []
        with contextlib.suppress(TimeoutError):
            await self.next_state(lambda s: bool(seen.append(s)), timeout=seconds)
        return seen


@pytest.fixture
def systemd(monkeypatch: pytest.MonkeyPatch) -> Iterator[Systemd]:
    notify = Systemd(monkeypatch)
    yield notify
    notify.sock.close()


@pytest.fixture
async def proxied(sim: SignalSim, tmp_path: Path) -> AsyncIterator[tuple[Harness, Proxy]]:
    setup_logging("INFO")
    proxy = Proxy(sim.port)
    service = await proxy.start()
    harness = Harness(sim, write_env(tmp_path, service))
    yield harness, proxy
    proxy.thaw()
    await harness.stop()
    await proxy.close()


async def test_watchdog_stops_when_the_receive_loop_is_wedged_and_resumes_after(
    proxied: tuple[Harness, Proxy], systemd: Systemd
) -> None:
    harness, proxy = proxied
    await harness.start()
    await systemd.next_state(lambda s: s == "READY=1")
    await systemd.next_state(lambda s: s == "WATCHDOG=1")
    await systemd.next_state(lambda s: s == "WATCHDOG=1")

    proxy.freeze()
    stalled = await systemd.next_state(lambda s: s.startswith("STATUS=stalled"))
    assert "receiver" in stalled
    # Two pings' worth of time without a single keep-alive: systemd would now kill and restart.
    assert "WATCHDOG=1" not in await systemd.states_for(2 * WATCHDOG_USEC / 1e6)
    assert harness.relay is not None
    data_dir = harness.relay.config.data_dir
    assert json.loads((data_dir / "status.json").read_text())["stalled"].startswith("receiver")

    proxy.thaw()
    await systemd.next_state(lambda s: s == "WATCHDOG=1")
    await systemd.next_state(lambda s: s.startswith("STATUS=relaying"))
    status = json.loads((data_dir / "status.json").read_text())
    assert status["stalled"] is None and status["receive"]["open"] is True


async def test_a_second_relay_on_the_same_data_directory_refuses_to_start(
    harness: Harness,
) -> None:
    assert harness.relay is not None
    config = harness.relay.config
    assert relay_running(config.data_dir)
    second = Relay(
        config=config,
        rules=harness.relay.rules,
        sealer=harness.relay.sealer,
        install_signals=False,
    )
    assert await second.run() == EXIT_SOFTWARE
    assert relay_running(config.data_dir)  # the first one still holds it
    await harness.stop()
    assert not relay_running(config.data_dir)


async def test_a_backlog_after_downtime_is_not_a_stall_but_a_timer_that_hangs_is(
    sim: SignalSim, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Deadlines that passed while the relay was off are overdue by more than the stall limit
    the moment it starts; that alone must not stop the watchdog's pings (systemd would kill
    the relay while it works through them). A timer loop that makes no progress must."""
    monkeypatch.setattr(daemon, "STALL_AFTER", 1.0)
    setup_logging("INFO")
    harness = Harness(sim, write_env(tmp_path, sim.service))
    await harness.start()
    await harness.says("alice", "IN 5s Hotel Rex")
    await harness.to("alice", "Checked in")
    await harness.stop()
    await asyncio.sleep(5 + 2 + 1.5)  # off past her deadline and grace, and the stall limit

    first = harness.relay_for_restart()
    task = asyncio.create_task(first.run())
    while first.desk is None:  # the timer loop starts after the desk exists
        await asyncio.sleep(0)
    async with first.desk.lock:  # the timer's first pass waits for this
        await asyncio.wait_for(first.ready.wait(), timeout=10)
        assert await first.stalled() is None  # overdue since before the start: not a stall
        await asyncio.sleep(1.3)
        assert await first.stalled() == "timers"  # no progress for longer than the limit
    await harness.to("bob", "ALERT", timeout=5)
    assert await first.stalled() is None
    first.stop_event.set()
    assert await asyncio.wait_for(task, timeout=20) == 0
