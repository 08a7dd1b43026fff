"""``/sim/``: the simulator's Python controls as JSON, for a relay running as a subprocess.

Not part of signal-cli-rest-api (the prefix says so). Every route maps onto a ``SignalSim``
method; bad input gets 400 ``{"error": …}``. Since refusing connections would lock this API
out too, ``POST /sim/faults`` takes ``refuse_connections_ms`` and listens again by itself.

Routes: ``POST /sim/inbound`` (a member sends something; ``kind`` picks what), ``POST /sim/raw``
(body pushed as-is), ``POST /sim/malformed``, ``GET /sim/sent?since=N``, ``GET|POST|DELETE
/sim/faults``, ``POST /sim/ws/close``, ``POST /sim/ws/drop``, ``GET /sim/stats``,
``POST /sim/groups``, ``POST /sim/accounts`` (one more account in the container). ``POST
/sim/inbound`` takes ``account`` (text, location, reaction, receipt): the hosted account she
writes to.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from relay.sim.envelopes import Malformed
from relay.sim.faults import SendFailure
from relay.sim.records import InboundAttachment
from relay.sim.routes import gin_json

if TYPE_CHECKING:
    from relay.sim.server import SimulatorCore


class _BadInput(Exception):
    """A control request the simulator cannot act on (the text names the field, not values)."""


async def _json_object(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise _BadInput("body is not JSON") from None
    if not isinstance(body, dict):
        raise _BadInput("body must be a JSON object")
    return body


def _opt(body: dict[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    value = body.get(key)
    # bool is an int in Python, not in JSON.
    wrong = not isinstance(value, kind) or (isinstance(value, bool) and kind is int)
    if value is not None and wrong:
        raise _BadInput(f"field {key!r} has the wrong type")
    return value


def _req(body: dict[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    if body.get(key) is None:
        raise _BadInput(f"field {key!r} is required")
    return _opt(body, key, kind)


async def _inbound(sim: SimulatorCore, body: dict[str, Any]) -> int:
    kind = body.get("kind", "text")
    sender = _req(body, "from", str) if kind != "sync" else ""
    common: dict[str, Any] = {
        "uuid": _opt(body, "uuid", str),
        "name": _opt(body, "name", str),
        "timestamp": _opt(body, "timestamp", int),
        "group": _opt(body, "group_id", str),
        "hide_number": bool(body.get("hide_number")),
    }
    to_account = _opt(body, "account", str)
    if kind in ("text", "location", "reaction"):
        common["account"] = to_account
    if kind == "text":
        attachments = []
        for item in _opt(body, "attachments", list) or []:
            if not isinstance(item, dict):
                raise _BadInput("attachments must be objects")
            try:
                data = base64.b64decode(_req(item, "data_b64", str), validate=True)
            except binascii.Error:
                raise _BadInput("attachment data_b64 is not base64") from None
            attachments.append(
                InboundAttachment(
                    data=data,
                    content_type=_opt(item, "content_type", str) or "image/jpeg",
                    filename=_opt(item, "filename", str),
                )
            )
        return await sim.member_sends(
            sender,
            _opt(body, "text", str),
            attachments=attachments,
            quote=_opt(body, "quote_timestamp", int),
            **common,
        )
    if kind == "location":
        return await sim.member_shares_location(
            sender,
            _req(body, "lat", (int, float, str)),
            _req(body, "lng", (int, float, str)),
            place_name=_opt(body, "place_name", str),
            address=_opt(body, "address", str),
            platform="ios" if body.get("platform") == "ios" else "android",
            **common,
        )
    if kind == "reaction":
        return await sim.member_reacts(
            sender,
            to=_req(body, "to", int),
            emoji=_opt(body, "emoji", str) or "👍",
            remove=bool(body.get("remove")),
            target_author=_opt(body, "target_author", str),
            **common,
        )
    if kind == "delete":
        return await sim.member_deletes(sender, target=_req(body, "to", int), group=common["group"])
    if kind == "edit":
        return await sim.member_edits(
            sender,
            target=_req(body, "to", int),
            text=_req(body, "text", str),
            group=common["group"],
        )
    if kind == "typing":
        stopped = body.get("action") == "STOPPED"
        return await sim.member_typing(
            sender, action="STOPPED" if stopped else "STARTED", group=common["group"]
        )
    if kind == "receipt":
        stamps = _req(body, "timestamps", list)
        if not all(isinstance(t, int) for t in stamps):
            raise _BadInput("timestamps must be integers")
        receipt_kind = body.get("receipt", "read")
        if receipt_kind not in ("delivery", "read", "viewed"):
            raise _BadInput("receipt must be delivery, read or viewed")
        return await sim.member_receipt(
            sender, timestamps=stamps, kind=receipt_kind, account=to_account
        )
    if kind == "sync":
        return await sim.own_phone_sends(_req(body, "destination", str), _req(body, "text", str))
    if kind == "untrusted":
        return await sim.untrusted_identity(sender, uuid=common["uuid"])
    raise _BadInput("unknown kind")


async def _set_faults(sim: SimulatorCore, body: dict[str, Any]) -> int | None:
    """Apply the faults in ``body``; the refusal it asks for (ms) is left to the caller."""
    faults = sim.faults
    if "latency_ms" in body:
        faults.latency_ms = _opt(body, "latency_ms", int) or 0
    if "health_status" in body:
        faults.health_status = _opt(body, "health_status", int)
    if "stuck" in body:
        faults.stuck = bool(body["stuck"])
    orders = body.get("fail_sends")
    for order in orders if isinstance(orders, list) else [orders] if orders else []:
        if not isinstance(order, dict):
            raise _BadInput("fail_sends must be an object or a list of objects")
        try:
            kind = SendFailure(_req(order, "kind", str))
        except ValueError:
            raise _BadInput("unknown fail_sends kind") from None
        recipients = _opt(order, "recipients", list)
        faults.fail_sends(kind, count=_opt(order, "count", int), recipients=recipients)
    hang = body.get("hang_sends")
    if isinstance(hang, dict):
        faults.hang_sends(
            count=_opt(hang, "count", int), cap_s=float(_opt(hang, "cap_s", (int, float)) or 300)
        )
    elif hang is True:
        faults.hang_sends()
    if body.get("release_hung"):
        faults.release_hung()
    refuse_ms: int | None = _opt(body, "refuse_connections_ms", int)
    return refuse_ms


def control_routes(sim: SimulatorCore) -> list[web.RouteDef]:
    def guarded(
        handler: Callable[[web.Request], Awaitable[web.Response]],
    ) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def wrapper(request: web.Request) -> web.Response:
            try:
                return await handler(request)
            except (_BadInput, KeyError) as exc:
                return gin_json(400, {"error": str(exc.args[0]) if exc.args else "bad input"})

        return wrapper

    async def inbound(request: web.Request) -> web.Response:
        timestamp = await _inbound(sim, await _json_object(request))
        return gin_json(200, {"timestamp": timestamp})

    async def raw(request: web.Request) -> web.Response:
        clients = await sim.push_raw((await request.read()).decode("utf-8", "replace"))
        return gin_json(200, {"clients": clients})

    async def malformed(request: web.Request) -> web.Response:
        body = await _json_object(request)
        try:
            kind = Malformed(_req(body, "kind", str))
        except ValueError:
            raise _BadInput("unknown malformed kind") from None
        return gin_json(200, {"clients": await sim.push_malformed(kind)})

    async def sent(request: web.Request) -> web.Response:
        since = request.query.get("since", "0")
        if not since.isdigit():
            raise _BadInput("since must be a non-negative integer")
        return gin_json(200, [s.to_json() for s in sim.sent[int(since) :]])

    async def get_faults(_: web.Request) -> web.Response:
        return gin_json(200, sim.faults.to_json())

    async def post_faults(request: web.Request) -> web.Response:
        refuse_ms = await _set_faults(sim, await _json_object(request))
        response = gin_json(200, sim.faults.to_json())
        if refuse_ms:
            # Answer first, on a connection that then closes by itself, so the caller hears
            # back before every other connection is cut.
            response.force_close()
            await response.prepare(request)
            await response.write_eof()
            await sim.refuse_connections_for(refuse_ms / 1000, spare=request.transport)
        return response

    async def delete_faults(_: web.Request) -> web.Response:
        sim.faults.clear()
        return web.Response(status=204)

    async def ws_close(request: web.Request) -> web.Response:
        body = await _json_object(request)
        code = _opt(body, "code", int) or 1000
        return gin_json(200, {"clients": await sim.close_websockets(code)})

    async def ws_drop(_: web.Request) -> web.Response:
        return gin_json(200, {"clients": await sim.drop_websockets()})

    async def stats(_: web.Request) -> web.Response:
        return gin_json(200, sim.stats.to_json())

    async def groups(request: web.Request) -> web.Response:
        body = await _json_object(request)
        members = _opt(body, "members", list) or []
        if not all(isinstance(m, str) for m in members):
            raise _BadInput("members must be strings")
        group = sim.add_group(
            _req(body, "name", str), members, internal_id=_opt(body, "internal_id", str)
        )
        return gin_json(201, group.entry_json())

    async def accounts(request: web.Request) -> web.Response:
        body = await _json_object(request)
        try:
            party = sim.add_account(
                _req(body, "number", str),
                uuid=_opt(body, "uuid", str),
                name=_opt(body, "name", str),
            )
        except ValueError as exc:
            raise _BadInput(str(exc)) from None
        return gin_json(201, {"number": party.number, "uuid": party.uuid, "name": party.name})

    return [
        web.post("/sim/inbound", guarded(inbound)),
        web.post("/sim/accounts", guarded(accounts)),
        web.post("/sim/raw", guarded(raw)),
        web.post("/sim/malformed", guarded(malformed)),
        web.get("/sim/sent", guarded(sent), allow_head=False),
        web.get("/sim/faults", guarded(get_faults), allow_head=False),
        web.post("/sim/faults", guarded(post_faults)),
        web.delete("/sim/faults", guarded(delete_faults)),
        web.post("/sim/ws/close", guarded(ws_close)),
        web.post("/sim/ws/drop", guarded(ws_drop)),
        web.get("/sim/stats", guarded(stats), allow_head=False),
        web.post("/sim/groups", guarded(groups)),
    ]
