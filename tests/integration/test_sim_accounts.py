"""Several accounts in one simulated container, as signal-cli-rest-api in json-rpc mode runs
signal-cli without ``-a``: each account is listed, sends as itself, receives on its own WebSocket
or socket subscription, and what one hosted account sends another arrives there as an ordinary
incoming message (with signal-cli's delivery receipt back), while still recorded as a send."""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import websockets
from signalbot._client import ConnectionMode, SignalAPI
from signalbot._generated import SendMessageV2

from relay.signal.events import Incoming
from relay.signal.frames import read_frame
from relay.sim import SignalSim
from tests.integration.test_sim_signalcli import Client

ACCOUNT = "+12025550100"
OTHER = "+12025550150"
ALICE = "+12025550101"


@pytest.fixture
def socket_path() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="sim-acct-"))
    yield folder / "socket"
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
async def sim() -> AsyncIterator[SignalSim]:
    async with SignalSim(ACCOUNT) as simulator:
        simulator.add_account(OTHER, name="Night Owls")
        yield simulator


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def send(
    http: aiohttp.ClientSession, sim: SignalSim, body: dict[str, Any]
) -> tuple[int, Any]:
    async with http.post(f"{sim.base_url}/v2/send", json=body) as resp:
        text = await resp.text()
        return resp.status, json.loads(text) if text else None


async def frames_on(ws: Any, seconds: float) -> list[dict[str, Any]]:
    """Every frame the WebSocket gets within ``seconds``."""
    got: list[dict[str, Any]] = []
    try:
        async with asyncio.timeout(seconds):
            while True:
                got.append(json.loads(await ws.recv()))
    except TimeoutError:
        pass
    return got


async def test_the_container_lists_every_account_and_sends_as_each(
    sim: SignalSim, http: aiohttp.ClientSession
) -> None:
    async with http.get(f"{sim.base_url}/v1/accounts") as resp:
        assert await resp.json() == [ACCOUNT, OTHER]
    status, body = await send(http, sim, {"number": OTHER, "message": "hi", "recipients": [ALICE]})
    assert status == 201 and isinstance(body, list)
    assert sim.sent[-1].number == OTHER and sim.sent[-1].reached(ALICE)
    status, body = await send(
        http, sim, {"number": "+12025550177", "message": "hi", "recipients": [ALICE]}
    )
    assert (status, body) == (400, {"error": "Specified account does not exist"})
    async with http.get(f"{sim.base_url}/v1/groups/{OTHER}") as resp:
        assert resp.status == 200 and await resp.json() == []
    with pytest.raises(ValueError, match="already"):
        sim.add_account(OTHER)


async def test_one_account_messages_another_over_the_websockets(sim: SignalSim) -> None:
    url = f"ws://{sim.service}/v1/receive/"
    async with websockets.connect(url + ACCOUNT) as ws_a, websockets.connect(url + OTHER) as ws_b:
        await sim.wait_for_client(count=2)
        api = SignalAPI(sim.service, ACCOUNT, connection_mode=ConnectionMode.HTTP_ONLY)
        try:
            response = await api.messages.send(
                SendMessageV2(number=ACCOUNT, message="PEER-RELAY/1 x.y", recipients=[OTHER])
            )
        finally:
            await api.close()
        sent = sim.sent[-1]
        assert sent.number == ACCOUNT and sent.reached(OTHER) and sent.status == 201
        frame = json.loads(await asyncio.wait_for(ws_b.recv(), 2))
        assert frame["account"] == OTHER
        envelope = frame["envelope"]
        assert envelope["sourceNumber"] == ACCOUNT
        assert envelope["sourceUuid"] == sim.uuid_of(ACCOUNT)
        assert envelope["sourceName"] == "peer-relay"
        assert envelope["timestamp"] == sent.timestamp == int(response[0].timestamp)
        assert envelope["dataMessage"]["message"] == "PEER-RELAY/1 x.y"
        # The relay's own reader takes it as a message from that number.
        event = await read_frame(api, json.dumps(frame))
        assert isinstance(event, Incoming) and event.sender_number == ACCOUNT
        assert event.text == "PEER-RELAY/1 x.y"
        # The sender's own WebSocket gets nothing (no receipts unless asked for).
        assert await frames_on(ws_a, 0.3) == []
        # A member writing to the other account reaches only its WebSocket.
        await sim.member_sends(ALICE, "hello", account=OTHER)
        frame = json.loads(await asyncio.wait_for(ws_b.recv(), 2))
        assert frame["account"] == OTHER and frame["envelope"]["sourceNumber"] == ALICE
        assert await frames_on(ws_a, 0.3) == []


async def test_delivery_receipts_go_back_to_the_sending_account(
    socket_path: Path, http: aiohttp.ClientSession
) -> None:
    async with SignalSim(
        ACCOUNT, receive_mode="manual", socket_path=socket_path, delivery_receipts=True
    ) as sim:
        sim.add_account(OTHER, name="Night Owls")
        a = await Client.connect(socket_path)
        b = await Client.connect(socket_path)
        try:
            sub_a = (await a.call("subscribeReceive", {"account": ACCOUNT}))["result"]
            status, _ = await send(
                http, sim, {"number": ACCOUNT, "message": "hello", "recipients": [OTHER]}
            )
            assert status == 201
            stamp = sim.sent[-1].timestamp
            # Nobody receives for OTHER: the message waits on Signal's servers, no receipt yet.
            await asyncio.sleep(0.2)
            assert sim.stats.frames_on_server == 1
            assert await a.nothing_for(0.2)
            sub_b = (await b.call("subscribeReceive", {"account": OTHER}))["result"]
            got = await b.next()
            assert got["params"]["subscription"] == sub_b
            result = got["params"]["result"]
            assert result["account"] == OTHER
            assert result["envelope"]["sourceName"] == "peer-relay"  # ACCOUNT's profile name
            assert result["envelope"]["sourceNumber"] == ACCOUNT
            # Taken off the server: OTHER's signal-cli sends ACCOUNT its delivery receipt.
            receipt = await a.next()
            assert receipt["params"]["subscription"] == sub_a
            envelope = receipt["params"]["result"]["envelope"]
            assert receipt["params"]["result"]["account"] == ACCOUNT
            assert envelope["sourceNumber"] == OTHER
            assert envelope["receiptMessage"]["isDelivery"] is True
            assert envelope["receiptMessage"]["timestamps"] == [stamp]
            assert await b.nothing_for(0.2)  # and nothing else reaches OTHER
        finally:
            a.close()
            b.close()


async def test_manual_mode_receives_each_account_only_while_subscribed(socket_path: Path) -> None:
    async with SignalSim(ACCOUNT, receive_mode="manual", socket_path=socket_path) as sim:
        sim.add_account(OTHER)
        client = await Client.connect(socket_path)
        try:
            refused = await client.call("subscribeReceive", {"account": "+12025550177"})
            assert refused["error"] == {
                "code": -32602,
                "message": "Specified account does not exist",
            }
            await client.call("subscribeReceive", {"account": ACCOUNT})
            await sim.member_sends(ALICE, "for the other one", account=OTHER)
            await sim.member_sends(ALICE, "for the default one")
            got = await client.next()
            assert got["params"]["result"]["envelope"]["dataMessage"]["message"] == (
                "for the default one"
            )
            # The other account's message is not taken: nobody receives for it.
            assert sim.stats.frames_on_server == 1
            assert sim.signal_cli.lost_after_ack == 0
            # A subscription without `account` covers every account.
            await client.call("subscribeReceive")
            got = await client.next()
            assert got["params"]["result"]["account"] == OTHER
            assert sim.stats.frames_on_server == 0
        finally:
            client.close()


async def test_a_group_post_reaches_a_hosted_member_account(sim: SignalSim) -> None:
    group = sim.add_group("Night walk", [ALICE, OTHER])
    async with websockets.connect(f"ws://{sim.service}/v1/receive/{OTHER}") as ws_b:
        await sim.wait_for_client()
        async with aiohttp.ClientSession() as http:
            photo = base64.b64encode(b"\xff\xd8 jpeg").decode()
            status, _ = await send(
                http,
                sim,
                {
                    "number": ACCOUNT,
                    "message": "walk at 9",
                    "recipients": [group.id],
                    "base64_attachments": [f"data:image/jpeg;filename=a.jpg;base64,{photo}"],
                },
            )
            assert status == 201
            frame = json.loads(await asyncio.wait_for(ws_b.recv(), 2))
            data = frame["envelope"]["dataMessage"]
            assert data["groupInfo"]["groupId"] == group.internal_id
            assert data["message"] == "walk at 9"
            (attachment,) = data["attachments"]
            assert sim.attachments[attachment["id"]] == (b"\xff\xd8 jpeg", "image/jpeg")
            # The other account sees the group it is in, and may post to it.
            async with http.get(f"{sim.base_url}/v1/groups/{OTHER}") as resp:
                assert [g["id"] for g in await resp.json()] == [group.id]
            status, _ = await send(
                http, sim, {"number": OTHER, "message": "ok", "recipients": [group.id]}
            )
            assert status == 201 and sim.sent[-1].delivered_to == [group.id, ACCOUNT, ALICE]
            lonely = sim.directory.add_group("Elsewhere", [ALICE])
            status, body = await send(
                http, sim, {"number": OTHER, "message": "x", "recipients": [lonely.id]}
            )
            assert (status, body) == (400, {"error": f"Group not found: {lonely.internal_id}"})


async def test_accounts_over_the_control_api(sim: SignalSim, http: aiohttp.ClientSession) -> None:
    async with http.post(
        f"{sim.base_url}/sim/accounts", json={"number": "+12025550160", "name": "Bristol"}
    ) as resp:
        assert resp.status == 201
        assert (await resp.json())["number"] == "+12025550160"
    async with http.post(f"{sim.base_url}/sim/accounts", json={"number": "nope"}) as resp:
        assert resp.status == 400
    async with websockets.connect(f"ws://{sim.service}/v1/receive/+12025550160") as ws:
        await sim.wait_for_client()
        async with http.post(
            f"{sim.base_url}/sim/inbound",
            json={"from": ALICE, "text": "hi", "account": "+12025550160"},
        ) as resp:
            assert resp.status == 200
        frame = json.loads(await asyncio.wait_for(ws.recv(), 2))
        assert frame["account"] == "+12025550160"
    async with http.post(
        f"{sim.base_url}/sim/inbound", json={"from": ALICE, "text": "hi", "account": "+1202"}
    ) as resp:
        assert resp.status == 400
