"""End-to-end harness: the simulator on 127.0.0.1, the sample rules with short timings, a real
SQLite file and key, and the relay — in this event loop, or as a subprocess for crash tests."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from relay.config import load_config
from relay.crypto.keys import init_data_dir, load_key
from relay.crypto.seal import Sealer
from relay.rules import load_rules
from relay.runtime.logs import setup_logging
from relay.runtime.supervisor import Relay
from relay.sim import SignalSim
from relay.sim.records import SentMessage

REPO = Path(__file__).resolve().parents[2]
RELAY_NUMBER = "+12025550100"
NUMBERS = {
    "alice": "+12025550101",
    "bob": "+12025550102",
    "carol": "+12025550103",
    "dana": "+12025550104",
    "elena": "+12025550105",
}
STRANGER = "+12025550166"

FAST = {
    "checkin": "20s",
    "checkin_max": "12h",
    "extend_max": "4h",
    "reminder_before": "2s",
    "grace": "2s",
    "escalate_after": "4s",
    "repeat_every": "4s",
}


def write_env(
    tmp_path: Path,
    service: str,
    timings: dict[str, str] | None = None,
    *,
    welcome: bool = False,
    undelivered_after: str | None = None,
    socket: Path | None = None,
    **config: object,
) -> Path:
    """Sample rules (short timings), a data dir with a fresh key, and a config file.

    The sample's welcome is off unless `welcome` (tests that count every message a member gets
    would count two more), and so is `escalation.undelivered_after` unless given: the simulator
    sends no receipts by default, so every alert would look undelivered.

    With `socket`, the relay receives from signal-cli's JSON-RPC socket there (the simulator's
    `socket_path`, manual mode); without, over signal-cli-rest-api's WebSocket (the fallback)."""
    rules_dir = tmp_path / "rules"
    shutil.copytree(REPO / "rules", rules_dir)
    (rules_dir / "timings.yaml").write_text(yaml.safe_dump({"timings": timings or FAST}))
    (rules_dir / "welcome.yaml").write_text(yaml.safe_dump({"welcome": {"enabled": welcome}}))
    escalation = rules_dir / "escalation.yaml"
    line = f"  undelivered_after: {undelivered_after}\n" if undelivered_after else ""
    escalation.write_text(re.sub(r"(?m)^  undelivered_after: .*\n", line, escalation.read_text()))
    data_dir = tmp_path / "data"
    init_data_dir(data_dir)
    doc: dict[str, object] = {
        "signal": {
            "service": service,
            "number": RELAY_NUMBER,
            "request_timeout": "3s",
            **(
                {"receive": "socket", "socket": str(socket)}
                if socket is not None
                else {"receive": "websocket"}
            ),
        },
        "rules_dir": str(rules_dir),
        "data_dir": str(data_dir),
        "admin": "dana",
        "timezone": "Europe/London",
        "log_level": "INFO",
        "allow_placeholder_numbers": True,
        "outbox": {"retry_cap": "2s", "alert_undelivered_after": "30s"},
    }
    doc.update(config)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


@dataclass
class Harness:
    sim: SignalSim
    config_path: Path
    relay: Relay | None = None
    task: asyncio.Task[int] | None = None

    async def says(self, member: str, text: str, **kwargs: object) -> int:
        return await self.sim.member_sends(NUMBERS[member], text, **kwargs)  # type: ignore[arg-type]

    async def to(
        self,
        member: str,
        contains: str = "",
        *,
        since: int = 0,
        timeout: float = 5.0,
    ) -> SentMessage:
        """The first message to `member` (from index `since`) whose text contains `contains`."""
        number = NUMBERS.get(member, member)
        return await self.sim.wait_for_sent(
            lambda s: s.reached(number) and contains in s.message, since=since, timeout=timeout
        )

    def texts_to(self, member: str) -> list[str]:
        number = NUMBERS.get(member, member)
        return [s.message for s in self.sim.sent if s.reached(number)]

    def who(self, since: int = 0) -> list[str]:
        """Aliases (or raw addresses) of everyone a message was delivered to, in order."""
        by_number = {v: k for k, v in NUMBERS.items()}
        return [by_number.get(r, r) for s in self.sim.sent[since:] for r in s.delivered_to]

    def relay_for_restart(self) -> Relay:
        """A relay on this harness's config, not started (the test runs it)."""
        config = load_config(self.config_path)
        rules = load_rules(config.rules_dir, allow_placeholders=True)
        sealer = Sealer(load_key(config.data_dir))
        return Relay(config=config, rules=rules, sealer=sealer, install_signals=False)

    async def start(self) -> Relay:
        self.relay = self.relay_for_restart()
        self.task = asyncio.create_task(self.relay.run())
        ready = asyncio.create_task(self.relay.ready.wait())
        done, _ = await asyncio.wait({ready, self.task}, timeout=10, return_when="FIRST_COMPLETED")
        if self.task in done:
            ready.cancel()
            raise RuntimeError(f"relay exited at start with {self.task.result()}")
        await wait_receiving(self.sim, self.relay)
        return self.relay

    async def stop(self) -> int | None:
        if self.relay is None or self.task is None:
            return None
        self.relay.stop_event.set()
        code = await asyncio.wait_for(self.task, timeout=20)
        self.relay = None
        return code


async def wait_receiving(sim: SignalSim, relay: Relay, timeout: float = 10) -> None:
    """Until the relay listens: subscribed on signal-cli's socket, or its WebSocket connected."""
    if relay.config.signal.receive == "socket":
        await sim.wait_for_subscriber(timeout=timeout)
        async with asyncio.timeout(timeout):  # and the relay has read signal-cli's answer
            while relay.receiver is None or not relay.receiver.open:
                await asyncio.sleep(0.005)
    else:
        await sim.wait_for_client(timeout=timeout)


@pytest.fixture
def socket_path() -> Iterator[Path]:
    """A path for signal-cli's JSON-RPC socket, short enough for a UNIX socket (pytest's
    tmp_path can be longer than the 107 bytes a socket path may have)."""
    folder = Path(tempfile.mkdtemp(prefix="relay-sock-"))
    yield folder / "socket"
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
async def sim() -> AsyncIterator[SignalSim]:
    async with SignalSim(RELAY_NUMBER) as simulator:
        yield simulator


@pytest.fixture
async def manual_sim(socket_path: Path) -> AsyncIterator[SignalSim]:
    """The simulator as the Ansible role sets signal-cli up: manual receive mode, a socket."""
    async with SignalSim(RELAY_NUMBER, receive_mode="manual", socket_path=socket_path) as simulator:
        yield simulator


@pytest.fixture
async def socket_harness(
    manual_sim: SignalSim, socket_path: Path, tmp_path: Path
) -> AsyncIterator[Harness]:
    """The relay receiving from signal-cli's socket in manual mode (the deployed way)."""
    setup_logging("INFO")
    h = Harness(manual_sim, write_env(tmp_path, manual_sim.service, socket=socket_path))
    await h.start()
    yield h
    await h.stop()


@pytest.fixture
async def harness(sim: SignalSim, tmp_path: Path) -> AsyncIterator[Harness]:
    setup_logging("INFO")
    h = Harness(sim, write_env(tmp_path, sim.service))
    await h.start()
    yield h
    await h.stop()


@dataclass
class RelayProcess:
    """The relay as a child process (`python -m relay run`), so a test can kill -9 it."""

    config_path: Path
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "relay", "run", "--config", str(self.config_path)],
                stdout=log,
                stderr=log,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(timeout=10)

    def terminate(self) -> int:
        assert self.proc is not None
        self.proc.terminate()
        return self.proc.wait(timeout=15)


@pytest.fixture
def relay_process(tmp_path: Path) -> Iterator[Callable[[Path], RelayProcess]]:
    started: list[RelayProcess] = []

    def make(config_path: Path) -> RelayProcess:
        process = RelayProcess(config_path, tmp_path / "relay.log")
        started.append(process)
        return process

    yield make
    for process in started:
        if process.proc is not None and process.proc.poll() is None:
            process.proc.kill()
            process.proc.wait(timeout=10)
