"""The simulator's signal-cli daemon: its JSON-RPC socket, receive modes and Signal's server-side
queue, driven by a plain socket client and a real WebSocket (what the relay sees of each)."""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import websockets

from relay.sim import SignalSim

ACCOUNT = "+12025550100"
ALICE = "+12025550101"


@pytest.fixture
def socket_path() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="sim-sock-"))
    yield folder / "socket"
    shutil.rmtree(folder, ignore_errors=True)


class Client:
    """A line-by-line JSON-RPC client on the socket, like the relay's."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.ids = 0

    @classmethod
    async def connect(cls, path: Path) -> Client:
        reader, writer = await asyncio.open_unix_connection(path)
        return cls(reader, writer)

    async def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        self.ids += 1
        body: dict[str, Any] = {"jsonrpc": "2.0", "id": self.ids, "method": method}
        if params is not None:
            body["params"] = params
        self.writer.write(json.dumps(body).encode() + b"\n")
        while True:
            message = await self.next()
            if message.get("id") == self.ids:
                return message

    async def next(self, timeout: float = 2.0) -> dict[str, Any]:
        line = await asyncio.wait_for(self.reader.readline(), timeout)
        assert line, "the connection closed"
        message: dict[str, Any] = json.loads(line)
        return message

    async def nothing_for(self, seconds: float) -> bool:
        try:
            line = await asyncio.wait_for(self.reader.readline(), seconds)
        except TimeoutError:
            return True
        return not line

    def close(self) -> None:
        self.writer.close()


@pytest.fixture
async def manual(socket_path: Path) -> AsyncIterator[SignalSim]:
    async with SignalSim(ACCOUNT, receive_mode="manual", socket_path=socket_path) as sim:
        yield sim


@pytest.fixture
async def on_start(socket_path: Path) -> AsyncIterator[SignalSim]:
    async with SignalSim(ACCOUNT, receive_mode="on-start", socket_path=socket_path) as sim:
        yield sim


def texts(messages: list[dict[str, Any]]) -> list[str]:
    return [m["params"]["result"]["envelope"]["dataMessage"]["message"] for m in messages]


# -- manual mode --------------------------------------------------------------------------------


async def test_manual_mode_keeps_messages_on_the_server_until_someone_subscribes(
    manual: SignalSim, socket_path: Path
) -> None:
    client = await Client.connect(socket_path)
    await manual.member_sends(ALICE, "one")
    await manual.member_sends(ALICE, "two")
    # Connected but not subscribed: signal-cli receives nothing; Signal keeps both.
    assert await client.nothing_for(0.2)
    assert manual.stats.frames_on_server == 2

    answer = await client.call("subscribeReceive", {"account": ACCOUNT})
    subscription = answer["result"]
    assert isinstance(subscription, int) and "error" not in answer
    got = [await client.next(), await client.next()]
    assert texts(got) == ["one", "two"]  # in the order they were sent
    assert all(m["method"] == "receive" for m in got)
    assert all(m["params"]["subscription"] == subscription for m in got)
    assert all(m["params"]["result"]["account"] == ACCOUNT for m in got)
    assert manual.stats.frames_on_server == 0
    client.close()


async def test_a_closed_connection_ends_its_subscription_and_messages_wait_again(
    manual: SignalSim, socket_path: Path
) -> None:
    first = await Client.connect(socket_path)
    await first.call("subscribeReceive")
    await manual.wait_for_subscriber()
    first.close()
    await manual.wait_for_no_subscriber()

    await manual.member_sends(ALICE, "while nobody listens")
    assert manual.stats.frames_on_server == 1
    assert manual.stats.frames_dropped_no_client == 0

    second = await Client.connect(socket_path)
    await second.call("subscribeReceive", {"account": ACCOUNT})
    assert texts([await second.next()]) == ["while nobody listens"]
    second.close()


async def test_manual_mode_gives_the_websocket_nothing(
    manual: SignalSim, socket_path: Path
) -> None:
    async with websockets.connect(f"ws://{manual.service}/v1/receive/{ACCOUNT}") as ws:
        await manual.wait_for_client()
        client = await Client.connect(socket_path)
        await client.call("subscribeReceive")
        await manual.member_sends(ALICE, "for the socket only")
        assert texts([await client.next()]) == ["for the socket only"]
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(ws.recv(), 0.2)
        client.close()


async def test_the_envelope_is_the_object_the_websocket_would_carry(
    socket_path: Path,
) -> None:
    stock = SignalSim(ACCOUNT)
    async with stock, websockets.connect(f"ws://{stock.service}/v1/receive/{ACCOUNT}") as ws:
        await stock.wait_for_client()
        await stock.member_sends(ALICE, "same shape", timestamp=1_700_000_000_000)
        frame = json.loads(await ws.recv())
    async with SignalSim(ACCOUNT, receive_mode="manual", socket_path=socket_path) as manual:
        client = await Client.connect(socket_path)
        await client.call("subscribeReceive")
        await manual.member_sends(ALICE, "same shape", timestamp=1_700_000_000_000)
        result = (await client.next())["params"]["result"]
        client.close()
    assert list(result) == list(frame) == ["envelope", "account"]
    assert list(result["envelope"]) == list(frame["envelope"])
    assert result["envelope"]["dataMessage"] == frame["envelope"]["dataMessage"]


async def test_unsubscribe_stops_receiving(manual: SignalSim, socket_path: Path) -> None:
    client = await Client.connect(socket_path)
    subscription = (await client.call("subscribeReceive"))["result"]
    assert "error" not in await client.call("unsubscribeReceive", {"subscription": subscription})
    await manual.member_sends(ALICE, "kept on the server")
    assert await client.nothing_for(0.2)
    assert manual.stats.frames_on_server == 1
    unknown = await client.call("unsubscribeReceive", {"subscription": subscription})
    assert unknown["error"]["code"] == -32602
    client.close()


async def test_requests_signal_cli_refuses(manual: SignalSim, socket_path: Path) -> None:
    client = await Client.connect(socket_path)
    assert (await client.call("noSuchMethod"))["error"]["code"] == -32601
    wrong = await client.call("subscribeReceive", {"account": "+12025550199"})
    assert wrong["error"]["code"] == -32602
    assert manual.stats.socket_subscriptions == 0
    version = await client.call("version")
    assert isinstance(version["result"]["version"], str)
    client.writer.write(b"not json\n")
    assert (await client.next())["error"]["code"] == -32700
    client.close()


async def test_a_container_restart_keeps_what_arrived_while_it_was_down_in_manual_mode(
    manual: SignalSim, socket_path: Path
) -> None:
    client = await Client.connect(socket_path)
    await client.call("subscribeReceive")
    await manual.container_down()
    assert await client.nothing_for(0.5)  # cut: the connection is gone
    for n in range(5):
        await manual.member_sends(ALICE, f"during the outage {n}")
    assert manual.stats.frames_on_server == 5
    await manual.container_up()
    assert manual.stats.frames_on_server == 5  # nobody subscribed yet: still on the server
    client = await Client.connect(socket_path)
    await client.call("subscribeReceive")
    got = [await client.next() for _ in range(5)]
    assert texts(got) == [f"during the outage {n}" for n in range(5)]
    assert manual.signal_cli.lost_after_ack == 0
    client.close()


# -- on-start mode (the stock image) -----------------------------------------------------------


async def test_on_start_subscribes_every_connection_without_a_wrapper(
    on_start: SignalSim, socket_path: Path
) -> None:
    client = await Client.connect(socket_path)
    await asyncio.sleep(0.05)  # the connection is accepted
    await on_start.member_sends(ALICE, "unasked")
    message = await client.next()
    assert message["method"] == "receive"
    assert "subscription" not in message["params"]
    assert message["params"]["envelope"]["dataMessage"]["message"] == "unasked"
    client.close()


async def test_on_start_drops_what_arrives_with_nobody_listening(on_start: SignalSim) -> None:
    await on_start.member_sends(ALICE, "into the void")
    assert on_start.stats.frames_dropped_no_client == 1
    assert on_start.stats.frames_on_server == 0


async def test_on_start_drains_the_boot_backlog_before_anyone_can_listen(
    on_start: SignalSim,
) -> None:
    await on_start.container_down()
    for n in range(5):
        await on_start.member_sends(ALICE, f"during the power cut {n}")
    assert on_start.stats.frames_on_server == 5  # Signal keeps them while the box is off
    await on_start.container_up()
    async with asyncio.timeout(2):
        while on_start.stats.frames_on_server:
            await asyncio.sleep(0.01)
    # Taken off Signal's servers at start, before the API listened: all gone.
    assert on_start.stats.frames_dropped_no_client == 5
    async with websockets.connect(f"ws://{on_start.service}/v1/receive/{ACCOUNT}") as ws:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(ws.recv(), 0.2)
