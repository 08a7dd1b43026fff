"""Each fault as a real client sees it: status codes and bodies, refused connects, timeouts,
websocket drops versus clean closes, and what the simulator recorded meanwhile."""

from __future__ import annotations

import asyncio
import errno
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pydantic
import pytest
import signalbot
import websockets
from signalbot._client import ConnectionMode, SignalAPI
from signalbot._generated import SendMessageV2

from relay.sim import Malformed, SendFailure, SignalSim

ACCOUNT = "+12025550100"
ALICE = "+12025550101"
BOB = "+12025550102"


@pytest.fixture
async def sim() -> AsyncIterator[SignalSim]:
    async with SignalSim(ACCOUNT) as simulator:
        yield simulator


@pytest.fixture
async def api(sim: SignalSim) -> AsyncIterator[SignalAPI]:
    signal_api = SignalAPI(
        sim.service, ACCOUNT, download_attachments=False, connection_mode=ConnectionMode.HTTP_ONLY
    )
    yield signal_api
    await signal_api.close()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def send(
    http: aiohttp.ClientSession, sim: SignalSim, recipients: list[str], message: str = "hi"
) -> tuple[int, Any]:
    body = {"message": message, "number": ACCOUNT, "recipients": recipients}
    async with http.post(f"{sim.base_url}/v2/send", json=body) as resp:
        text = await resp.text()
        return resp.status, json.loads(text) if text else None


# -- send failures -------------------------------------------------------------------------------


async def test_untrusted_keys_until_trusted(
    sim: SignalSim, api: SignalAPI, http: aiohttp.ClientSession
) -> None:
    sim.faults.fail_sends(SendFailure.UNTRUSTED)
    assert await send(http, sim, [ALICE]) == (
        400,
        {"error": "Unable to complete request due to untrusted recipient keys"},
    )
    with pytest.raises(signalbot.SendError):
        await api.messages.send(SendMessageV2(message="x", number=ACCOUNT, recipients=[ALICE]))
    url = f"{sim.base_url}/v1/identities/{ACCOUNT}/trust/{ALICE}"
    async with http.put(url, json={"trust_all_known_keys": True}) as resp:
        assert resp.status == 204
    status, _ = await send(http, sim, [ALICE])
    assert status == 201
    # Trusting her (by number) also covers sends addressed to her UUID; Bob stays untrusted.
    assert (await send(http, sim, [sim.uuid_of(ALICE)]))[0] == 201
    assert (await send(http, sim, [BOB]))[0] == 400


async def test_one_untrusted_recipient_of_two_is_a_201_with_errors(
    sim: SignalSim, api: SignalAPI
) -> None:
    sim.faults.fail_sends("untrusted", recipients=[BOB])
    responses = await api.messages.send(
        SendMessageV2(message="ALERT", number=ACCOUNT, recipients=[ALICE, BOB])
    )
    assert responses[0].errors is not None  # signalbot only logs these; the relay must look
    sent = sim.sent[-1]
    assert sent.status == 201
    assert sent.errors == [{"number": BOB, "uuid": sim.uuid_of(BOB), "reason": "IDENTITY_FAILURE"}]
    assert sent.delivered_to == [ALICE]
    assert sent.response == [
        {"timestamp": str(sent.timestamp), "errors": {"recipients": sent.errors}}
    ]


async def test_rate_limit_is_a_429_with_challenge_tokens(
    sim: SignalSim, http: aiohttp.ClientSession
) -> None:
    sim.faults.fail_sends("rate_limit", count=1)
    status, body = await send(http, sim, [ALICE, BOB])
    assert status == 429
    assert list(body) == ["error", "challenge_tokens", "account"]
    assert body["error"].startswith("Failed to send message due to rate limiting. Use the attached")
    assert body["account"] == ACCOUNT
    assert len(body["challenge_tokens"]) == 2
    assert all(isinstance(t, str) and t for t in body["challenge_tokens"])
    assert (await send(http, sim, [ALICE]))[0] == 201  # count=1: only the next send


async def test_server_error_for_the_next_two_sends(
    sim: SignalSim, api: SignalAPI, http: aiohttp.ClientSession
) -> None:
    sim.faults.fail_sends(SendFailure.SERVER_ERROR, count=2)
    assert await send(http, sim, [ALICE]) == (500, None)
    with pytest.raises(signalbot.SendError):
        await api.messages.send(SendMessageV2(message="x", number=ACCOUNT, recipients=[ALICE]))
    assert (await send(http, sim, [ALICE]))[0] == 201
    assert [s.status for s in sim.sent] == [500, 500, 201]


async def test_unregistered_number_fails_the_whole_send(
    sim: SignalSim, http: aiohttp.ClientSession
) -> None:
    sim.faults.fail_sends("unregistered", recipients=[BOB])
    assert await send(http, sim, [ALICE, BOB]) == (
        400,
        {"error": f"The user {BOB} is not registered."},
    )
    assert sim.sent[-1].delivered_to == []
    assert (await send(http, sim, [ALICE]))[0] == 201


async def test_network_failure_for_one_group_member(
    sim: SignalSim, http: aiohttp.ClientSession
) -> None:
    walkers = sim.add_group("Night walk buddies", [ALICE, BOB])
    sim.faults.fail_sends("network", recipients=[BOB])
    status, body = await send(http, sim, [walkers.id])
    assert status == 201
    assert body[0]["errors"]["recipients"] == [
        {"number": BOB, "uuid": sim.uuid_of(BOB), "reason": "NETWORK_FAILURE"}
    ]
    assert sim.sent[-1].delivered_to == [walkers.id, ALICE]
    # The only recipient failing is not a partial success: signal-cli makes it an error.
    assert await send(http, sim, [BOB]) == (400, {"error": "Failed to send message"})


async def test_latency_and_a_client_timeout(sim: SignalSim) -> None:
    sim.faults.latency_ms = 60_000
    timeout = aiohttp.ClientTimeout(total=1.0)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        sending = asyncio.ensure_future(send(session, sim, [ALICE]))
        await sim.wait_for_held()  # signal-cli has it (on a busy machine, not at once)
        with pytest.raises(TimeoutError):
            await sending
    assert sim.sent == []  # still "in signal-cli"
    await sim.stop()  # the container dies: the slow send is lost, never delivered
    assert [(s.status, s.delivered) for s in sim.sent] == [(None, False)]


async def test_hung_send_is_cut_by_the_client_then_delivered_late(sim: SignalSim) -> None:
    sim.faults.hang_sends()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=1.0)) as session:
        sending = asyncio.ensure_future(send(session, sim, [ALICE], "ALERT"))
        await sim.wait_for_hanging()  # signal-cli has it (on a busy machine, not at once)
        with pytest.raises(TimeoutError):
            await sending
    assert sim.sent == []
    sim.faults.clear()
    late = await sim.wait_for_sent()
    # The ambiguous send: the relay saw a timeout, yet Alice got the alert.
    assert (late.status, late.answered, late.delivered_to) == (201, False, [ALICE])


async def test_only_the_next_send_hangs(sim: SignalSim, http: aiohttp.ClientSession) -> None:
    sim.faults.hang_sends(count=1)
    first = asyncio.ensure_future(send(http, sim, [ALICE], "first"))
    await sim.wait_for_hanging()
    assert await send(http, sim, [BOB], "second") == (201, sim.sent[0].response)
    assert not first.done()
    sim.faults.release_hung()
    assert (await first)[0] == 201
    assert [s.message for s in sim.sent] == ["second", "first"]


async def test_hang_cap_answers_after_all(sim: SignalSim, http: aiohttp.ClientSession) -> None:
    sim.faults.hang_sends(cap_s=0.05)
    assert (await send(http, sim, [ALICE]))[0] == 201


# -- connection faults ---------------------------------------------------------------------------


async def test_refused_connections_then_back_on_the_same_port(
    sim: SignalSim, api: SignalAPI, http: aiohttp.ClientSession
) -> None:
    port = sim.port
    async with websockets.connect(f"ws://{sim.service}/v1/receive/{ACCOUNT}") as ws:
        await sim.wait_for_client()
        await sim.refuse_connections()
        with pytest.raises(websockets.ConnectionClosedError) as closed:
            await ws.recv()
        assert closed.value.rcvd is None  # cut, not closed: no close frame
    with pytest.raises(aiohttp.ClientConnectorError) as refused:
        await http.get(f"{sim.base_url}/v1/health")
    assert refused.value.os_error.errno == errno.ECONNREFUSED
    with pytest.raises(signalbot.HealthCheckError):
        await api.general.health_check()
    assert not await api.check_signal_service()
    await sim.accept_connections()
    assert sim.port == port
    assert await api.check_signal_service()


async def test_a_hung_send_is_lost_when_connections_are_cut(
    sim: SignalSim, http: aiohttp.ClientSession
) -> None:
    sim.faults.hang_sends()
    pending = asyncio.ensure_future(send(http, sim, [ALICE]))
    await sim.wait_for_hanging()
    await sim.refuse_connections()
    with pytest.raises(aiohttp.ClientError):
        await pending
    lost = await sim.wait_for_sent()
    assert (lost.status, lost.delivered) == (None, False)


async def test_health_failing_while_sends_work(
    sim: SignalSim, api: SignalAPI, http: aiohttp.ClientSession
) -> None:
    sim.faults.fail_health(503)
    assert not await api.check_signal_service()
    assert (await send(http, sim, [ALICE]))[0] == 201
    sim.faults.clear()
    assert await api.check_signal_service()


async def test_stuck_accepts_sends_delivers_nothing_and_holds_inbound(
    sim: SignalSim, api: SignalAPI, http: aiohttp.ClientSession
) -> None:
    sim.faults.stuck = True
    async with websockets.connect(f"ws://{sim.service}/v1/receive/{ACCOUNT}") as ws:
        await sim.wait_for_client()
        assert await api.check_signal_service()  # health still says 204
        status, body = await send(http, sim, [ALICE])
        assert status == 201
        assert int(body[0]["timestamp"]) == sim.sent[-1].timestamp
        assert not sim.sent[-1].delivered
        await sim.member_sends(ALICE, "OUT")
        assert sim.stats.frames_held == 1
        assert sim.stats.frames_dropped_no_client == 0
        sim.faults.stuck = False
        frame = json.loads(await ws.recv())  # waited on "Signal's servers", now arrives
    assert frame["envelope"]["dataMessage"]["message"] == "OUT"
    assert sim.stats.frames_held == 0
    assert (await send(http, sim, [ALICE]))[0] == 201
    assert sim.sent[-1].delivered


async def test_websocket_drop_and_clean_close_are_distinguishable(sim: SignalSim) -> None:
    url = f"ws://{sim.service}/v1/receive/{ACCOUNT}"
    async with websockets.connect(url) as ws:
        await sim.wait_for_client()
        assert await sim.drop_websockets() == 1
        with pytest.raises(websockets.ConnectionClosedError) as dropped:
            await ws.recv()
    assert dropped.value.rcvd is None
    await sim.wait_for_no_client()
    async with websockets.connect(url) as ws:
        await sim.wait_for_client()
        assert await sim.close_websockets() == 1
        with pytest.raises(websockets.ConnectionClosedOK) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1000


async def test_signalbot_receive_errors_on_drop_but_ends_quietly_on_close(
    sim: SignalSim, api: SignalAPI
) -> None:
    receiving = api.messages.receive()
    pending = asyncio.ensure_future(anext(receiving))
    await sim.wait_for_client()
    await sim.drop_websockets()
    with pytest.raises(signalbot.ReceiveError):
        await pending
    await sim.wait_for_no_client()
    receiving = api.messages.receive()
    pending = asyncio.ensure_future(anext(receiving))
    await sim.wait_for_client()
    await sim.close_websockets(1000)
    # signalbot's hazard: the loop simply ends, and nothing restarts it.
    with pytest.raises(StopAsyncIteration):
        await pending


@pytest.mark.parametrize("kind", [k for k in Malformed if k is not Malformed.NOT_JSON])
async def test_malformed_frames_reach_signalbot_and_break_its_parser(
    sim: SignalSim, api: SignalAPI, kind: Malformed
) -> None:
    receiving = api.messages.receive()
    pending = asyncio.ensure_future(anext(receiving))
    await sim.wait_for_client()
    assert await sim.push_malformed(kind) == 1
    frame = await pending
    await receiving.aclose()
    with pytest.raises(pydantic.ValidationError):
        await signalbot.messages.parse(api, frame)


async def test_delivery_receipts_come_back_unless_stuck(http: aiohttp.ClientSession) -> None:
    sim = SignalSim(ACCOUNT, delivery_receipts=True)
    async with sim, websockets.connect(f"ws://{sim.service}/v1/receive/{ACCOUNT}") as ws:
        await sim.wait_for_client()
        sim.faults.stuck = True
        await send(http, sim, [ALICE], "canary 1")
        sim.faults.stuck = False
        await send(http, sim, [sim.uuid_of(ALICE)], "canary 2")
        receipt = json.loads(await ws.recv())["envelope"]
    # Addressed by UUID, she still answers as herself, number and all.
    assert receipt["sourceNumber"] == ALICE
    assert receipt["sourceUuid"] == sim.uuid_of(ALICE)
    assert receipt["receiptMessage"]["isDelivery"] is True
    # Only the second canary was delivered, so only it comes back.
    assert receipt["receiptMessage"]["timestamps"] == [sim.sent[1].timestamp]
