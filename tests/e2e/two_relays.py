"""Two relays on one simulator (issue 20): two collectives, each with its own config, data dir,
key, rules folder and Signal account, in one simulated signal-cli-rest-api container — so that
what one relay sends the other's number arrives there as Signal would deliver it.

    from tests.e2e.two_relays import two_relays_fixture  # noqa: F401 -- the fixture

    async def test_x(two_relays: MakeTwoRelays) -> None:
        pair = await two_relays(rules_a={"peers.yaml": PEERS_A}, rules_b={"peers.yaml": PEERS_B})
        await pair.a.says("alice", "REPORT …")           # alice texts relay A
        sent = await pair.a.to("carol", "approve")        # relay A's message to carol
        assert pair.b.sends() == []                        # what relay B sent so far

Each side is a `RelaySide` (a `tests.e2e.conftest.Harness` bound to its own account): `says`,
`to`, `texts_to` and `who` only see that relay's conversations. The same member numbers
(`NUMBERS`) exist on both sides: one phone can be a member of both collectives, or of one only,
as each side's rules say. Extra rule files (file name → YAML text) are written into a side's
rules folder before it starts, replacing a sample file of the same name: that is how a test
names the other relay as a partner (`peers:`), or as an outside contact.

Both relays receive the deployed way by default (signal-cli's socket in manual receive mode,
each subscribed for its own account), or over the WebSocket (`receive="websocket"`), or from a
socket in the stock on-start mode (`receive_mode="on-start"`: the daemon writes every account's
messages to every connection).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

import pytest
import yaml

from relay.crypto.keys import load_key
from relay.crypto.peer_keys import encode_public
from relay.crypto.seal import Sealer
from relay.runtime.logs import setup_logging
from relay.runtime.supervisor import Relay
from relay.sim import SignalSim
from relay.sim.records import SentMessage
from relay.sim.signalcli import ReceiveMode
from tests.e2e.conftest import NUMBERS, RELAY_NUMBER, Harness, write_env

RELAY_A = RELAY_NUMBER  # "+12025550100"
RELAY_B = "+12025550170"
"""The second relay's number: in the fictional range, no member's, contact's or stranger's."""

Receive = Literal["socket", "websocket"]

RuleFiles = Mapping[str, str] | Callable[["Keys"], Mapping[str, str]]
"""Extra rule files for one side: file name → YAML text, or a function of both relays' peer
keys giving them (a partner's `key:` is only known once its data dir exists)."""


@dataclass(frozen=True)
class Keys:
    """Both relays' peer public keys, as `peer-relay identity` prints them (``ed25519:…``)."""

    a: str
    b: str


def peer_public_key(sealer: Sealer) -> bytes:
    """The 32-byte Ed25519 public key a relay gives its partners (`peer-relay identity`)."""
    return sealer.peer_public_key()


@dataclass
class RelaySide(Harness):
    """One of the two relays: a harness bound to its own account and folder."""

    number: str = RELAY_A
    folder: Path = field(default_factory=Path)
    name: str = "a"

    @property
    def rules_dir(self) -> Path:
        return self.folder / "rules"

    @property
    def data_dir(self) -> Path:
        return self.folder / "data"

    @property
    def running(self) -> Relay:
        assert self.relay is not None, f"relay {self.name} is not running"
        return self.relay

    def public_key(self) -> bytes:
        """This relay's public key for partners (see `peer_public_key`)."""
        return peer_public_key(Sealer(load_key(self.data_dir)))

    async def says(self, member: str, text: str, **kwargs: object) -> int:
        """Member `member` (an alias of NUMBERS, or a number) texts this relay."""
        sender = NUMBERS.get(member, member)
        return await self.sim.member_sends(sender, text, account=self.number, **kwargs)  # type: ignore[arg-type]

    async def to(
        self,
        member: str,
        contains: str = "",
        *,
        since: int = 0,
        timeout: float = 5.0,
    ) -> SentMessage:
        """The first message THIS relay sent `member` (an alias, a number — e.g. the other
        relay's — or a UUID) from index `since` whose text contains `contains`."""
        number = NUMBERS.get(member, member)
        return await self.sim.wait_for_sent(
            lambda s: s.number == self.number and s.reached(number) and contains in s.message,
            since=since,
            timeout=timeout,
        )

    def sends(self, since: int = 0) -> list[SentMessage]:
        """Every `/v2/send` this relay made (from index `since` of the simulator's record)."""
        return [s for s in self.sim.sent[since:] if s.number == self.number]

    def texts_to(self, member: str) -> list[str]:
        number = NUMBERS.get(member, member)
        return [s.message for s in self.sends() if s.reached(number)]

    def who(self, since: int = 0) -> list[str]:
        by_number = {v: k for k, v in NUMBERS.items()}
        return [by_number.get(r, r) for s in self.sends(since) for r in s.delivered_to]

    async def counter(self, name: str) -> int:
        """A counter in this relay's database (e.g. "strangers")."""
        desk = self.running.desk
        assert desk is not None
        return await desk.db.counter(name)

    async def start(self) -> Relay:
        """Start the relay and wait until it receives for its own account."""
        self.relay = self.relay_for_restart()
        self.task = asyncio.create_task(self.relay.run())
        ready = asyncio.create_task(self.relay.ready.wait())
        done, _ = await asyncio.wait({ready, self.task}, timeout=10, return_when="FIRST_COMPLETED")
        if self.task in done:
            ready.cancel()
            raise RuntimeError(f"relay {self.name} exited at start with {self.task.result()}")
        relay = self.relay
        async with asyncio.timeout(10):
            if relay.config.signal.receive == "socket":
                # Subscribed (for its own account) and signal-cli's answer read.
                while relay.receiver is None or not relay.receiver.open:
                    await asyncio.sleep(0.005)
            else:
                await self.sim.wait_for_client(number=self.number)
        return relay


@dataclass
class TwoRelays:
    """Relay A (the simulator's default account) and relay B, on one simulator."""

    sim: SignalSim
    a: RelaySide
    b: RelaySide

    async def stop(self) -> None:
        await asyncio.gather(self.a.stop(), self.b.stop())


class MakeTwoRelays(Protocol):
    def __call__(
        self,
        *,
        rules_a: RuleFiles | None = None,
        rules_b: RuleFiles | None = None,
        receive: Receive = "socket",
        delivery_receipts: bool = False,
        timings: dict[str, str] | None = None,
        receive_mode: ReceiveMode = "manual",
    ) -> Awaitable[TwoRelays]: ...


def write_side(
    folder: Path,
    sim: SignalSim,
    number: str,
    *,
    socket: Path | None,
    timings: dict[str, str] | None,
) -> Path:
    """One relay's folder: the sample rules (short timings), a data dir with its own fresh
    key, and a config naming its own account. Returns the config path."""
    config_path = write_env(folder, sim.service, timings, socket=socket)
    doc = yaml.safe_load(config_path.read_text())
    doc["signal"]["number"] = number
    config_path.write_text(yaml.safe_dump(doc))
    return config_path


def write_rules(folder: Path, rules: Mapping[str, str]) -> None:
    """Extra rule files into a side's rules folder (replacing a sample file of that name)."""
    for name, text in rules.items():
        if Path(name).name != name or not name.endswith((".yaml", ".yml")):
            raise ValueError(f"a rules file name, like peers.yaml (got {name!r})")
        (folder / "rules" / name).write_text(text)


@dataclass
class _Maker:
    base: Path
    socket_path: Path
    made: list[TwoRelays] = field(default_factory=list)
    sims: list[SignalSim] = field(default_factory=list)

    async def __call__(
        self,
        *,
        rules_a: RuleFiles | None = None,
        rules_b: RuleFiles | None = None,
        receive: Receive = "socket",
        delivery_receipts: bool = False,
        timings: dict[str, str] | None = None,
        receive_mode: ReceiveMode = "manual",
    ) -> TwoRelays:
        if self.sims:
            raise RuntimeError("one pair of relays per test")
        setup_logging("INFO")
        socket = self.socket_path if receive == "socket" else None
        sim = SignalSim(
            RELAY_A,
            receive_mode=receive_mode if socket is not None else "on-start",
            socket_path=socket,
            delivery_receipts=delivery_receipts,
        )
        await sim.start()
        self.sims.append(sim)
        sim.add_account(RELAY_B, name="peer-relay")
        sides = []
        for name, number in (("a", RELAY_A), ("b", RELAY_B)):
            folder = self.base / f"relay-{name}"
            folder.mkdir()
            config = write_side(folder, sim, number, socket=socket, timings=timings)
            sides.append(RelaySide(sim, config, number=number, folder=folder, name=name))
        keys = Keys(*(encode_public(side.public_key()) for side in sides))
        for side, rules in zip(sides, (rules_a, rules_b), strict=True):
            files = rules(keys) if callable(rules) else rules
            write_rules(side.folder, files or {})
        pair = TwoRelays(sim, sides[0], sides[1])
        self.made.append(pair)
        await pair.a.start()
        await pair.b.start()
        return pair

    async def close(self) -> None:
        for pair in self.made:
            await pair.stop()
        for sim in self.sims:
            await sim.stop()


@pytest.fixture(name="two_relays")
async def two_relays_fixture(tmp_path: Path, socket_path: Path) -> AsyncIterator[MakeTwoRelays]:
    """`await two_relays(rules_a=…, rules_b=…, receive=…)`: both relays started on one
    simulator; stopped (and the simulator with them) after the test. Use it from a test module
    with `from tests.e2e.two_relays import two_relays_fixture  # noqa: F401`."""
    maker = _Maker(tmp_path, socket_path)
    try:
        yield maker
    finally:
        await maker.close()
