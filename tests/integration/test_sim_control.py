"""The ``/sim/`` control API round trip, and the simulator as a subprocess (``-m relay.sim``)."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import signal
import sys
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import websockets

from relay.sim import SignalSim

ACCOUNT = "+12025550100"
ALICE = "+12025550101"
BOB = "+12025550102"


@pytest.fixture
async def sim() -> AsyncIterator[SignalSim]:
    async with SignalSim(ACCOUNT) as simulator:
        yield simulator


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def call(
    http: aiohttp.ClientSession, method: str, url: str, body: Any = None
) -> tuple[int, Any]:
    async with http.request(method, url, json=body) as resp:
        text = await resp.text()
        return resp.status, json.loads(text) if text else None


async def relay_sends(http: aiohttp.ClientSession, base: str, message: str, to: str) -> int:
    body = {"message": message, "number": ACCOUNT, "recipients": [to]}
    status, answer = await call(http, "POST", f"{base}/v2/send", body)
    assert status == 201
    return int(answer[0]["timestamp"])


async def test_inbound_kinds_arrive_on_the_websocket(
    sim: SignalSim, http: aiohttp.ClientSession
) -> None:
    base = sim.base_url
    alert = await relay_sends(http, base, "ALERT: Bob needs help", ALICE)
    walkers = await call(
        http, "POST", f"{base}/sim/groups", {"name": "Walkers", "members": [ALICE]}
    )
    assert walkers[0] == 201
    photo = base64.b64encode(b"\xff\xd8\xffphoto").decode()
    orders: list[dict[str, Any]] = [
        {"from": ALICE, "text": "IN 90 Hotel Rex", "name": "Alice", "timestamp": 1789000000001},
        {
            "from": ALICE,
            "text": "CLIENT",
            "attachments": [{"data_b64": photo, "filename": "c.jpg"}],
        },
        {"from": ALICE, "text": "ACK", "quote_timestamp": alert, "group_id": walkers[1]["id"]},
        {
            "kind": "location",
            "from": ALICE,
            "lat": "51.5",
            "lng": "-0.12",
            "platform": "ios",
            "address": "1 High St",
        },
        {"kind": "reaction", "from": ALICE, "to": alert},
        {"kind": "delete", "from": ALICE, "to": 1789000000001},
        {"kind": "edit", "from": ALICE, "to": 1789000000001, "text": "IN 60 Hotel Rex"},
        {"kind": "typing", "from": ALICE},
        {"kind": "receipt", "from": ALICE, "timestamps": [alert], "receipt": "delivery"},
        {"kind": "sync", "destination": ALICE, "text": "typed on the phone"},
        {"kind": "untrusted", "from": BOB},
    ]
    async with websockets.connect(f"ws://{sim.service}/v1/receive/{ACCOUNT}") as ws:
        await sim.wait_for_client()
        stamps = []
        for order in orders:
            status, answer = await call(http, "POST", f"{base}/sim/inbound", order)
            assert status == 200, answer
            stamps.append(answer["timestamp"])
        frames = [json.loads(await ws.recv()) for _ in orders]
    envs = [f["envelope"] for f in frames]
    assert [e["timestamp"] for e in envs] == stamps
    assert envs[0]["dataMessage"]["message"] == "IN 90 Hotel Rex"
    assert envs[0]["sourceName"] == "Alice"
    assert stamps[0] == 1789000000001
    assert envs[1]["dataMessage"]["attachments"][0]["filename"] == "c.jpg"
    assert envs[2]["dataMessage"]["quote"]["id"] == alert
    assert envs[2]["dataMessage"]["groupInfo"]["groupId"] == walkers[1]["internal_id"]
    assert envs[3]["dataMessage"]["message"].endswith(
        "\n\nhttps://maps.google.com/maps?q=51.5%2C-0.12"
    )
    assert envs[4]["dataMessage"]["reaction"]["targetSentTimestamp"] == alert
    assert envs[5]["dataMessage"]["remoteDelete"] == {"timestamp": 1789000000001}
    assert envs[6]["editMessage"]["dataMessage"]["message"] == "IN 60 Hotel Rex"
    assert envs[7]["typingMessage"]["action"] == "STARTED"
    assert envs[8]["receiptMessage"]["isDelivery"] is True
    assert envs[9]["syncMessage"]["sentMessage"]["destinationNumber"] == ALICE
    assert list(frames[10]) == ["exception", "envelope", "account"]
    assert frames[10]["exception"]["type"] == "UntrustedIdentityException"


async def test_bad_control_input_is_a_400(sim: SignalSim, http: aiohttp.ClientSession) -> None:
    base = sim.base_url
    for body in [
        {"text": "no sender"},
        {"kind": "nonsense", "from": ALICE},
        {"from": ALICE, "timestamp": "yesterday"},
        {"from": ALICE, "quote_timestamp": 5},  # no /v2/send returned that timestamp
        {"from": ALICE, "group_id": "group.unknown"},
    ]:
        status, answer = await call(http, "POST", f"{base}/sim/inbound", body)
        assert status == 400
        assert set(answer) == {"error"}
    status, _ = await call(http, "POST", f"{base}/sim/faults", {"fail_sends": {"kind": "x"}})
    assert status == 400
    status, _ = await call(http, "POST", f"{base}/sim/malformed", {"kind": "x"})
    assert status == 400


async def test_sent_since_and_faults_round_trip(
    sim: SignalSim, http: aiohttp.ClientSession
) -> None:
    base = sim.base_url
    await relay_sends(http, base, "one", ALICE)
    await relay_sends(http, base, "two", BOB)
    status, faults = await call(
        http,
        "POST",
        f"{base}/sim/faults",
        {"fail_sends": {"kind": "untrusted", "recipients": [BOB]}, "latency_ms": 1},
    )
    assert status == 200
    assert faults["fail_sends"] == [{"kind": "untrusted", "remaining": None, "recipients": [BOB]}]
    assert faults["latency_ms"] == 1
    body = {"message": "three", "number": ACCOUNT, "recipients": [BOB]}
    assert (await call(http, "POST", f"{base}/v2/send", body))[0] == 400
    status, sent = await call(http, "GET", f"{base}/sim/sent?since=1")
    assert status == 200
    assert [(s["index"], s["message"], s["status"]) for s in sent] == [
        (1, "two", 201),
        (2, "three", 400),
    ]
    assert sent[0]["delivered_to"] == [BOB]
    assert sent[1]["response"] == {
        "error": "Unable to complete request due to untrusted recipient keys"
    }
    assert (await call(http, "DELETE", f"{base}/sim/faults"))[0] == 204
    assert (await call(http, "GET", f"{base}/sim/faults"))[1]["fail_sends"] == []
    assert (await call(http, "POST", f"{base}/v2/send", body))[0] == 201


async def test_stuck_hang_and_health_over_http(sim: SignalSim, http: aiohttp.ClientSession) -> None:
    base = sim.base_url
    await call(http, "POST", f"{base}/sim/faults", {"health_status": 503, "stuck": True})
    async with http.get(f"{base}/v1/health") as resp:
        assert resp.status == 503
    await relay_sends(http, base, "canary", ALICE)
    assert sim.sent[-1].delivered_to == []
    await call(http, "POST", f"{base}/sim/faults", {"stuck": False, "hang_sends": {"count": 1}})
    pending = asyncio.ensure_future(relay_sends(http, base, "slow", ALICE))
    await sim.wait_for_hanging()
    await call(http, "POST", f"{base}/sim/faults", {"release_hung": True})
    await pending
    assert sim.sent[-1].delivered_to == [ALICE]


async def test_websocket_controls_raw_frames_and_stats(
    sim: SignalSim, http: aiohttp.ClientSession
) -> None:
    base = sim.base_url
    url = f"ws://{sim.service}/v1/receive/{ACCOUNT}"
    async with websockets.connect(url) as ws:
        await sim.wait_for_client()
        assert (await call(http, "POST", f"{base}/sim/raw", None))[1] == {"clients": 1}
        assert await ws.recv() == ""
        async with http.post(f"{base}/sim/raw", data="{not json") as resp:
            assert await resp.json() == {"clients": 1}
        assert await ws.recv() == "{not json"
        status, answer = await call(http, "POST", f"{base}/sim/malformed", {"kind": "error"})
        assert (status, answer) == (200, {"clients": 1})
        assert json.loads(await ws.recv()) == {"error": "Connection closed unexpectedly"}
        assert (await call(http, "POST", f"{base}/sim/ws/close", {"code": 1000}))[1] == {
            "clients": 1
        }
        with pytest.raises(websockets.ConnectionClosedOK):
            await ws.recv()
    async with websockets.connect(url) as ws:
        await sim.wait_for_client()
        assert (await call(http, "POST", f"{base}/sim/ws/drop"))[1] == {"clients": 1}
        with pytest.raises(websockets.ConnectionClosedError):
            await ws.recv()
    await sim.wait_for_no_client()
    await call(http, "POST", f"{base}/sim/inbound", {"from": ALICE, "text": "nobody hears"})
    status, stats = await call(http, "GET", f"{base}/sim/stats")
    assert status == 200
    assert stats["connected_clients"] == 0
    assert stats["websocket_connections"] == 2
    assert stats["frames_dropped_no_client"] == 1
    assert stats["requests"]["GET /v1/receive/{number}"] == 2
    assert not any(key.startswith("/sim") or " /sim/" in key for key in stats["requests"])


async def test_refuse_connections_for_a_while(sim: SignalSim, http: aiohttp.ClientSession) -> None:
    base = sim.base_url
    status, _ = await call(http, "POST", f"{base}/sim/faults", {"refuse_connections_ms": 100})
    assert status == 200
    assert not sim.listening
    with pytest.raises(aiohttp.ClientConnectorError):
        await http.get(f"{base}/v1/health")
    await sim.wait_for_listening()
    async with http.get(f"{base}/v1/health") as resp:
        assert resp.status == 204


async def test_python_m_relay_sim_serves_until_interrupted() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "relay.sim",
        "--port",
        "0",
        stderr=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stderr is not None
    try:
        line = (await asyncio.wait_for(proc.stderr.readline(), 30)).decode()
        match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
        assert match, line
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{match.group(1)}/v1/health") as resp:
                assert resp.status == 204
            async with session.get(f"{match.group(1)}/v1/about") as resp:
                assert (await resp.json())["mode"] == "json-rpc"
    finally:
        proc.send_signal(signal.SIGINT)
        stdout, _ = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0
    assert stdout == b""  # logs only, never prints
