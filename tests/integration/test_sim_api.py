"""The simulator's real-API endpoints, driven by real clients: signalbot's SignalAPI and aiohttp."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import signalbot
import websockets
from signalbot._client import ConnectionMode, SignalAPI
from signalbot._generated import SendMessageV2

from relay.sim import InboundAttachment, SignalSim

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
        sim.service,
        ACCOUNT,
        download_attachments=False,
        connection_mode=ConnectionMode.HTTP_ONLY,
    )
    yield signal_api
    await signal_api.close()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def post_send(http: aiohttp.ClientSession, sim: SignalSim, body: Any) -> tuple[int, str, Any]:
    async with http.post(f"{sim.base_url}/v2/send", data=json.dumps(body)) as resp:
        text = await resp.text()
        return resp.status, resp.headers.get("Content-Type", ""), json.loads(text) if text else None


# -- general -------------------------------------------------------------------------------------


async def test_health_and_about_through_signalbot(sim: SignalSim) -> None:
    # AUTO mode tries TLS first, as signalbot does on start; the simulator speaks plain HTTP.
    auto = SignalAPI(sim.service, ACCOUNT, download_attachments=False)
    try:
        assert await auto.check_signal_service()
        resp = await auto.general.health_check()
        assert resp.status == 204
        assert await resp.read() == b""
        about = await auto.general.about()
    finally:
        await auto.close()
    assert (about.mode, about.version, about.build) == ("json-rpc", "0.101", 2)
    assert about.versions == ["v1", "v2"]


async def test_about_bytes_are_the_go_structs(sim: SignalSim, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{sim.base_url}/v1/about") as resp:
        assert resp.headers["Content-Type"] == "application/json; charset=utf-8"
        assert await resp.read() == (
            b'{"versions":["v1","v2"],"build":2,"mode":"json-rpc","version":"0.101",'
            b'"capabilities":{"v2/send":["quotes","mentions"]}}'
        )


async def test_normal_mode_is_reported_and_receive_is_not_a_websocket() -> None:
    async with SignalSim(ACCOUNT, mode="normal") as sim:
        api = SignalAPI(sim.service, ACCOUNT, connection_mode=ConnectionMode.HTTP_ONLY)
        try:
            assert (await api.general.about()).mode == "normal"
        finally:
            await api.close()
        with pytest.raises(websockets.InvalidStatus):
            async with websockets.connect(f"ws://{sim.service}/v1/receive/{ACCOUNT}"):
                pass


async def test_unknown_paths_and_methods_get_gins_404(
    sim: SignalSim, http: aiohttp.ClientSession
) -> None:
    for method, path in [("GET", "/v1/nothing"), ("POST", "/v1/health"), ("GET", "/v2/send")]:
        async with http.request(method, f"{sim.base_url}{path}") as resp:
            assert resp.status == 404
            assert resp.headers["Content-Type"].startswith("text/plain")
            assert await resp.text() == "404 page not found"
    assert sim.stats.requests["404"] == 3


async def test_groups_list_validates_as_signalbot_group_entries(
    sim: SignalSim, api: SignalAPI, http: aiohttp.ClientSession
) -> None:
    walkers = sim.add_group("Night walk buddies", [ALICE, BOB])
    groups = await api.groups.get_all()
    assert [(g.name, g.id, g.internal_id) for g in groups] == [
        ("Night walk buddies", walkers.id, walkers.internal_id)
    ]
    assert groups[0].members == [ACCOUNT, ALICE, BOB]
    # The public id is "group." + base64 of the internal id, which is base64 of 32 bytes.
    assert base64.b64decode(walkers.id.removeprefix("group.")).decode() == walkers.internal_id
    assert len(base64.b64decode(walkers.internal_id)) == 32
    async with http.get(f"{sim.base_url}/v1/groups/{ALICE}") as resp:
        assert resp.status == 400
        assert await resp.json() == {"error": "Specified account does not exist"}


async def test_qrcodelink_returns_a_png(sim: SignalSim, http: aiohttp.ClientSession) -> None:
    url = f"{sim.base_url}/v1/qrcodelink"
    async with http.get(url, params={"device_name": "peer-relay"}) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"] == "image/png"
        assert (await resp.read()).startswith(b"\x89PNG\r\n\x1a\n")
    async with http.get(url) as resp:
        assert resp.status == 400
        assert await resp.json() == {"error": "Please provide a name for the device"}
    assert sim.link_requests == ["peer-relay"]


async def test_accounts_lists_the_simulated_account(
    sim: SignalSim, http: aiohttp.ClientSession
) -> None:
    async with http.get(f"{sim.base_url}/v1/accounts") as resp:
        assert await resp.json() == [ACCOUNT]


# -- /v2/send ------------------------------------------------------------------------------------


async def test_send_through_signalbot_returns_an_array_with_string_timestamps(
    sim: SignalSim, api: SignalAPI
) -> None:
    responses = await api.messages.send(
        SendMessageV2(message="You're checked in until 23:40", number=ACCOUNT, recipients=[ALICE])
    )
    assert len(responses) == 1
    sent = await sim.wait_for_sent()
    assert responses[0].timestamp == str(sent.timestamp)
    assert (sent.recipients, sent.message, sent.status, sent.delivered_to) == (
        [ALICE],
        "You're checked in until 23:40",
        201,
        [ALICE],
    )


async def test_timestamps_are_unique_and_increasing_even_on_a_frozen_clock(
    http: aiohttp.ClientSession,
) -> None:
    async with SignalSim(ACCOUNT, clock_ms=lambda: 1789000000000) as sim:
        bodies = [{"message": f"m{i}", "number": ACCOUNT, "recipients": [ALICE]} for i in range(8)]
        answers = await asyncio.gather(*(post_send(http, sim, b) for b in bodies))
        stamps = [int(body[0]["timestamp"]) for _, _, body in answers]
        assert all(isinstance(body[0]["timestamp"], str) for _, _, body in answers)
        assert len(set(stamps)) == 8
        in_order = [s.timestamp or 0 for s in sim.sent]
        assert in_order == sorted(in_order)
        assert min(stamps) >= 1789000000000  # the server clock, nudged forward, never back


async def test_send_records_quote_and_attachments(
    sim: SignalSim, http: aiohttp.ClientSession
) -> None:
    jpeg = base64.b64encode(b"\xff\xd8\xff\xe0jpeg").decode()
    body = {
        "message": "ALERT: Alice missed her check-in",
        "number": ACCOUNT,
        "recipients": [BOB, sim.uuid_of(ALICE)],
        "base64_attachments": [f"data:image/jpeg;filename=map.jpg;base64,{jpeg}", jpeg],
        "quote_timestamp": 1789000000000,
        "quote_author": ALICE,
        "quote_message": "IN 90 Hotel Rex",
    }
    status, content_type, answer = await post_send(http, sim, body)
    assert status == 201
    assert content_type == "application/json; charset=utf-8"
    assert list(answer[0]) == ["timestamp"]
    sent = sim.sent[-1]
    assert sent.recipients == [BOB, sim.uuid_of(ALICE)]
    assert sent.delivered_to == [BOB, sim.uuid_of(ALICE)]
    # However she was addressed (signalbot replies to a sender's UUID), she was reached.
    assert sent.reached(ALICE)
    assert sent.reached(sim.uuid_of(BOB))
    assert not sent.reached("+12025550199")
    assert (sent.quote_timestamp, sent.quote_author, sent.quote_message) == (
        1789000000000,
        ALICE,
        "IN 90 Hotel Rex",
    )
    assert [(a.content_type, a.filename, a.data) for a in sent.attachments] == [
        ("image/jpeg", "map.jpg", b"\xff\xd8\xff\xe0jpeg"),
        (None, None, b"\xff\xd8\xff\xe0jpeg"),
    ]


async def test_group_send_reaches_its_members(sim: SignalSim, api: SignalAPI) -> None:
    walkers = sim.add_group("Night walk buddies", [ALICE, BOB])
    await api.messages.send(
        SendMessageV2(message="Alice needs help", number=ACCOUNT, recipients=[walkers.id])
    )
    sent = await sim.wait_for_sent()
    assert sent.delivered_to == [walkers.id, ALICE, BOB]
    assert sent.reached(BOB)


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("not json", "Couldn't process request - invalid request"),
        (
            {"message": "x", "number": ACCOUNT, "recipients": ALICE},
            "Couldn't process request - invalid request",
        ),
        (
            {"message": "x", "number": ACCOUNT},
            "Couldn't process request - please provide at least one recipient",
        ),
        (
            {"message": "x", "recipients": [ALICE]},
            "Couldn't process request - please provide a valid number",
        ),
        (
            {"message": "x", "number": ALICE, "recipients": [BOB]},
            "Specified account does not exist",
        ),
        (
            {"number": ACCOUNT, "recipients": [ALICE]},
            "Sending empty message is not allowed, either a message, attachment or sticker "
            "must be given.",
        ),
        (
            {"message": "x", "number": ACCOUNT, "recipients": [ALICE], "view_once": True},
            "'view_once' can only be set for image attachments!",
        ),
        (
            {
                "message": "x",
                "number": ACCOUNT,
                "recipients": [ALICE],
                "base64_attachments": ["%%"],
            },
            "illegal base64 data at input byte 0",
        ),
    ],
)
async def test_send_validation_answers_like_the_real_server(
    sim: SignalSim, http: aiohttp.ClientSession, body: Any, error: str
) -> None:
    raw = body if isinstance(body, str) else json.dumps(body)
    async with http.post(f"{sim.base_url}/v2/send", data=raw) as resp:
        assert resp.status == 400
        assert await resp.json() == {"error": error}
    assert sim.sent[-1].status == 400
    assert not sim.sent[-1].delivered


async def test_send_refuses_groups_mixed_with_numbers_and_unknown_groups(
    sim: SignalSim, http: aiohttp.ClientSession
) -> None:
    walkers = sim.add_group("Night walk buddies", [ALICE])
    status, _, body = await post_send(
        http, sim, {"message": "x", "number": ACCOUNT, "recipients": [walkers.id, ALICE]}
    )
    assert status == 400
    assert body["error"].startswith("Signal Messenger Groups and phone numbers cannot be")
    stranger = sim.directory.add_group("elsewhere", [])  # a group id the account is not in
    del sim.directory.groups[stranger.internal_id]
    status, _, body = await post_send(
        http, sim, {"message": "x", "number": ACCOUNT, "recipients": [stranger.id]}
    )
    assert (status, body) == (400, {"error": f"Group not found: {stranger.internal_id}"})


async def test_signalbot_turns_a_400_into_a_send_error(sim: SignalSim, api: SignalAPI) -> None:
    with pytest.raises(signalbot.SendError):
        await api.messages.send(SendMessageV2(message="x", number=ALICE, recipients=[BOB]))


# -- identities and attachments ------------------------------------------------------------------


async def test_trust_endpoint_validates_like_the_real_server(
    sim: SignalSim, http: aiohttp.ClientSession
) -> None:
    url = f"{sim.base_url}/v1/identities/{ACCOUNT}/trust/{ALICE}"
    async with http.put(url, json={"trust_all_known_keys": True}) as resp:
        assert resp.status == 204
    async with http.put(url, json={}) as resp:
        assert resp.status == 400
        assert "please either provide a safety number" in (await resp.json())["error"]
    async with http.put(url, data=b"") as resp:
        assert resp.status == 400


async def test_inbound_attachment_is_served_then_deleted(
    sim: SignalSim, http: aiohttp.ClientSession
) -> None:
    async with websockets.connect(f"ws://{sim.service}/v1/receive/{ACCOUNT}") as ws:
        await sim.wait_for_client()
        photo = InboundAttachment(data=b"\x89PNG\r\n\x1a\nplate", content_type="image/png")
        await sim.member_sends(ALICE, "CLIENT silver car", attachments=[photo])
        attachment = json.loads(await ws.recv())["envelope"]["dataMessage"]["attachments"][0]
    url = f"{sim.base_url}/v1/attachments/{attachment['id']}"
    assert attachment["id"].endswith(".png")
    async with http.get(url) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"] == "image/png"
        assert await resp.read() == b"\x89PNG\r\n\x1a\nplate"
    async with http.get(f"{sim.base_url}/v1/attachments") as resp:
        assert await resp.json() == [attachment["id"]]
    async with http.delete(url) as resp:
        assert resp.status == 204
    async with http.get(url) as resp:
        assert resp.status == 404
        assert await resp.json() == {"error": "No attachment with that name found"}


async def test_signalbot_downloads_inbound_attachments(sim: SignalSim) -> None:
    downloader = SignalAPI(sim.service, ACCOUNT, connection_mode=ConnectionMode.HTTP_ONLY)
    try:
        receiving = downloader.messages.receive()
        first = asyncio.ensure_future(anext(receiving))
        await sim.wait_for_client()
        await sim.member_shares_location(ALICE, 51.5, -0.12, place_name="Hotel Rex")
        message = await signalbot.messages.parse(downloader, await first)
        await receiving.aclose()
    finally:
        await downloader.close()
    assert isinstance(message, signalbot.DataMessage)
    assert message.text == "Hotel Rex\nhttps://maps.google.com/maps?q=51.5%2C-0.12"
    assert message.attachments is not None
    content = message.attachments[0].base64_content
    assert content is not None
    assert base64.b64decode(content).startswith(b"\xff\xd8")  # the JPEG map snapshot


# -- /v1/receive ---------------------------------------------------------------------------------


async def test_frames_while_nobody_listens_are_dropped_and_counted(sim: SignalSim) -> None:
    await sim.member_sends(ALICE, "IN 90 lost")
    await sim.member_sends(ALICE, "IN 90 lost too")
    assert sim.stats.frames_dropped_no_client == 2
    async with websockets.connect(f"ws://{sim.service}/v1/receive/{ACCOUNT}") as ws:
        await sim.wait_for_client()
        await sim.member_sends(ALICE, "IN 90 kept")
        frame = json.loads(await ws.recv())
    assert frame["envelope"]["dataMessage"]["message"] == "IN 90 kept"
    stats = sim.stats
    assert (stats.frames_dropped_no_client, stats.frames_delivered) == (2, 1)
    await sim.wait_for_no_client()
    assert sim.stats.connected_clients == 0


async def test_every_client_of_the_account_gets_each_frame(sim: SignalSim) -> None:
    url = f"ws://{sim.service}/v1/receive/{ACCOUNT}"
    other = f"ws://{sim.service}/v1/receive/{ALICE}"
    async with (
        websockets.connect(url) as one,
        websockets.connect(url) as two,
        websockets.connect(other) as stranger,
    ):
        await sim.wait_for_client(count=3)
        assert await sim.member_sends(ALICE, "SOS") > 0
        assert json.loads(await one.recv()) == json.loads(await two.recv())
        # A client of another number gets nothing (the server filters on "account"):
        # the raw frame, which goes to everyone, is the first thing it sees.
        await sim.push_raw("ping")
        assert await stranger.recv() == "ping"
    assert sim.stats.websocket_connections == 3


async def test_signalbot_receives_member_messages(sim: SignalSim, api: SignalAPI) -> None:
    receiving = api.messages.receive()
    first = asyncio.ensure_future(anext(receiving))
    await sim.wait_for_client()
    sent_at = await sim.member_sends(ALICE, "IN 10m Hotel Rex", name="Alice")
    message = await signalbot.messages.parse(api, await first)
    await receiving.aclose()
    assert isinstance(message, signalbot.DataMessage)
    assert (message.text, message.source_number, message.timestamp) == (
        "IN 10m Hotel Rex",
        ALICE,
        sent_at,
    )
    assert message.source_uuid == sim.uuid_of(ALICE)
