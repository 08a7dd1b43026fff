"""The real API's HTTP handlers, answering as signal-cli-rest-api 0.101's gin server does.

Owns the response bytes: gin's ``c.JSON`` (compact, raw UTF-8, ``<>&`` escaped as Go does,
``application/json; charset=utf-8``), its 404 page for unknown paths and wrong methods
(gin does not answer 405 by default), and the per-endpoint request counters.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import secrets
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from aiohttp import WSMsgType, web

from relay.runtime.clock import wait_any
from relay.sim.media import pattern_png
from relay.sim.records import SentMessage
from relay.sim.send import NO_ACCOUNT, Answer, SendRequest, parse_body

if TYPE_CHECKING:
    from relay.sim.server import SimulatorCore

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def go_json(obj: Any) -> bytes:
    """Bytes as Go's ``encoding/json`` writes them (HTML characters escaped, UTF-8 kept)."""
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    for char, escaped in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, escaped)
    return text.encode()


def gin_json(status: int, obj: Any) -> web.Response:
    return web.Response(
        status=status, body=go_json(obj), content_type="application/json", charset="utf-8"
    )


def gin_not_found() -> web.Response:
    return web.Response(status=404, text="404 page not found", content_type="text/plain")


def gin_middleware(sim: SimulatorCore) -> Any:
    """Count requests per route and answer unknown routes with gin's 404."""

    @web.middleware
    async def middleware(request: web.Request, handler: _Handler) -> web.StreamResponse:
        resource = request.match_info.route.resource
        if resource is None:
            # No route, or a known path with another method: gin says 404 to both.
            sim.requests["404"] += 1
            return gin_not_found()
        if not resource.canonical.startswith("/sim/"):
            sim.requests[f"{request.method} {resource.canonical}"] += 1
        return await handler(request)

    return middleware


def _answer_response(answer: Answer) -> web.Response:
    if answer.body is None:
        return web.Response(status=answer.status)
    return gin_json(answer.status, answer.body)


def real_api_routes(sim: SimulatorCore) -> list[web.RouteDef]:
    """The signal-cli-rest-api endpoints the relay, ``peer-relay link`` and signalbot use."""

    async def health(_: web.Request) -> web.Response:
        if sim.faults.health_status is not None:
            return web.Response(status=sim.faults.health_status)
        return web.Response(status=204)

    async def about(_: web.Request) -> web.Response:
        return gin_json(
            200,
            {
                "versions": ["v1", "v2"],
                "build": 2,
                "mode": sim.mode,
                "version": sim.version,
                "capabilities": {"v2/send": ["quotes", "mentions"]},
            },
        )

    async def accounts(_: web.Request) -> web.Response:
        # signal-cli's listAccounts: every account the container holds (the default one only
        # once linked).
        return gin_json(200, [n for n in sim.accounts if n != sim.account or sim.linked])

    async def groups(request: web.Request) -> web.Response:
        expand = request.query.get("expand", "false")
        if expand not in ("true", "false"):
            return gin_json(
                400,
                {
                    "error": "Couldn't process request - expand parameter needs to be either "
                    "'true' or 'false'"
                },
            )
        number = request.match_info["number"]
        if number not in sim.accounts:
            return gin_json(400, {"error": NO_ACCOUNT})
        groups = sim.groups_of(number)
        if expand == "true":
            return gin_json(200, [g.expanded_json(sim.directory) for g in groups])
        return gin_json(200, [g.entry_json() for g in groups])

    async def send(request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = None
        parsed = parse_body(body)
        if isinstance(parsed, Answer):
            _record(sim, request, SendRequest(body={}), parsed, [])
            return _answer_response(parsed)
        checked = sim.decider.validate(parsed)
        if isinstance(checked, Answer):
            _record(sim, request, parsed, checked, [])
            return _answer_response(checked)
        # What follows is signal-cli's part: slow, hanging, or cut off with the connection.
        waits: list[tuple[asyncio.Event, float]] = []
        if sim.faults.latency_ms:
            waits.append((asyncio.Event(), sim.faults.latency_ms / 1000))
        hang = sim.faults.take_hang()
        if hang is not None:
            waits.append(hang)
        for event, cap in waits:
            hanging = hang is not None and event is hang[0]
            if hanging:
                sim.hang_changed(+1)
            sim.held_changed(+1)
            try:
                killed = await _wait_or_killed(event, cap, sim.kill_event)
                if killed:
                    sim.record_sent(_unanswered(parsed, checked))
            finally:
                if hanging:
                    sim.hang_changed(-1)
                sim.held_changed(-1)
            if killed:
                return web.Response(status=500)  # written to a cut connection: nobody reads it
        answer = sim.decider.decide(parsed)
        _record(sim, request, parsed, answer, checked)
        return _answer_response(answer)

    async def receive(request: web.Request) -> web.StreamResponse:
        number = request.match_info["number"]
        if sim.mode != "json-rpc":
            # Normal mode polls signal-cli; the simulator has nothing queued for it.
            return gin_json(200, [])
        ws = web.WebSocketResponse(autoping=True, max_msg_size=512)
        if not ws.can_prepare(request).ok:
            return gin_json(
                400,
                {
                    "error": "websocket: the client is not using the websocket protocol: "
                    "'upgrade' token not found in 'Connection' header"
                },
            )
        await ws.prepare(request)
        client = sim.add_client(number, request, ws)
        try:
            async for msg in ws:
                # The real server reads only to notice the close; what a client says is ignored.
                if msg.type is WSMsgType.ERROR:
                    break
        finally:
            sim.remove_client(client)
        return ws

    async def trust(request: web.Request) -> web.Response:
        try:
            body = json.loads(await request.read())
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return gin_json(400, {"error": "Couldn't process request - invalid request"})
        safety_number = body.get("verified_safety_number")
        trust_all = body.get("trust_all_known_keys")
        if (safety_number is None and not trust_all) or (
            safety_number is not None and not isinstance(safety_number, str)
        ):
            return gin_json(
                400,
                {
                    "error": "Couldn't process request - please either provide a safety number "
                    "(preferred & more secure) or set 'trust_all_known_keys' to true"
                },
            )
        if safety_number is not None and trust_all:
            return gin_json(
                400,
                {
                    "error": "Couldn't process request - please either provide a safety number "
                    "or set 'trust_all_known_keys' to true. But do not set both parameters at "
                    "once!"
                },
            )
        if safety_number == "":
            return gin_json(
                400, {"error": "Couldn't process request - please provide a valid safety number"}
            )
        if request.match_info["number"] not in sim.accounts:
            return gin_json(400, {"error": NO_ACCOUNT})
        who = request.match_info["number_to_trust"]
        alias = sim.directory.number_of(who) if not who.startswith("+") else sim.uuid_of(who)
        sim.faults.trust(who, *([alias] if alias else []))
        return web.Response(status=204)

    async def qrcodelink(request: web.Request) -> web.Response:
        device_name = request.query.get("device_name", "")
        if not device_name:
            return gin_json(400, {"error": "Please provide a name for the device"})
        version = request.query.get("qrcode_version", "10")
        if not version.lstrip("-").isdigit():
            return gin_json(400, {"error": "The qrcode_version parameter needs to be an integer!"})
        sim.link_requests.append(device_name)
        png = pattern_png(f"sgnl://linkdevice?uuid={len(sim.link_requests)}&{device_name}")
        return web.Response(status=200, body=png, content_type="image/png")

    async def qrcodelink_raw(request: web.Request) -> web.Response:
        # api.GetQrCodeLinkUri: startLink, then finishLink in the background once scanned.
        device_name = request.query.get("device_name", "")
        if not device_name:
            return gin_json(400, {"error": "Please provide a name for the device"})
        sim.link_requests.append(device_name)
        uuid = secrets.token_urlsafe(16)
        pub_key = quote(base64.b64encode(b"\x05" + secrets.token_bytes(32)).decode(), safe="")
        return gin_json(
            200, {"device_link_uri": f"sgnl://linkdevice?uuid={uuid}&pub_key={pub_key}"}
        )

    async def list_attachments(_: web.Request) -> web.Response:
        return gin_json(200, list(sim.attachments))

    async def get_attachment(request: web.Request) -> web.Response:
        stored = sim.attachments.get(request.match_info["attachment"])
        if stored is None:
            return gin_json(404, {"error": "No attachment with that name found"})
        data, content_type = stored
        return web.Response(status=200, body=data, content_type=content_type)

    async def delete_attachment(request: web.Request) -> web.Response:
        if sim.attachments.pop(request.match_info["attachment"], None) is None:
            return gin_json(404, {"error": "No attachment with that name found"})
        return web.Response(status=204)

    return [
        web.get("/v1/health", health, allow_head=False),
        web.get("/v1/about", about, allow_head=False),
        web.get("/v1/accounts", accounts, allow_head=False),
        web.get("/v1/groups/{number}", groups, allow_head=False),
        web.post("/v2/send", send),
        web.get("/v1/receive/{number}", receive, allow_head=False),
        web.put("/v1/identities/{number}/trust/{number_to_trust}", trust),
        web.get("/v1/qrcodelink", qrcodelink, allow_head=False),
        web.get("/v1/qrcodelink/raw", qrcodelink_raw, allow_head=False),
        web.get("/v1/attachments", list_attachments, allow_head=False),
        web.get("/v1/attachments/{attachment}", get_attachment, allow_head=False),
        web.delete("/v1/attachments/{attachment}", delete_attachment),
    ]


async def _wait_or_killed(event: asyncio.Event, cap: float, kill: asyncio.Event) -> bool:
    """Wait for ``event`` or ``cap`` seconds; True if the connections were cut meanwhile."""
    await wait_any((event, kill), cap)
    return kill.is_set()


def _unanswered(req: SendRequest, attachments: list[Any]) -> SentMessage:
    """A ``/v2/send`` as the simulator records it before answering: lost, until `_record`."""
    return SentMessage(
        index=0,
        number=req.number,
        recipients=req.recipients,
        message=req.message,
        attachments=attachments,
        quote_timestamp=req.quote_timestamp,
        quote_author=req.quote_author,
        quote_message=req.quote_message,
        body=req.body,
        status=None,
        answered=False,
    )


def _record(
    sim: SimulatorCore,
    request: web.Request,
    req: SendRequest,
    answer: Answer,
    attachments: list[Any],
) -> None:
    transport = request.transport
    sim.record_sent(
        dataclasses.replace(
            _unanswered(req, attachments),
            status=answer.status,
            response=answer.body,
            timestamps=answer.timestamps,
            errors=answer.errors,
            delivered_to=answer.delivered_to,
            reached_ids=answer.reached,
            answered=transport is not None and not transport.is_closing(),
        )
    )
