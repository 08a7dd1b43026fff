"""Attachment ids are data, not paths (issue 17, finding 5), through the simulator and the whole
relay: an id that is not signal-cli's file-name format makes no request at all (the audit's
``../../v1/about`` made the relay GET /v1/about, seal the answer as a photo and DELETE it); at most
`MAX_PER_MESSAGE` of a message's attachments are fetched, with one log line for the message (3,001
made 3,001 GETs and 3,000 lines); a body is cut off at the limit while it streams in."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from relay.crypto.keys import MasterKey
from relay.crypto.seal import Sealer
from relay.runtime.vault import MAX_BYTES, MAX_PER_MESSAGE, AttachmentVault, valid_id
from relay.signal.events import AttachmentRef
from relay.signal.transport import SignalTransport
from relay.sim import InboundAttachment
from tests.e2e.conftest import Harness

PHOTO = b"\xff\xd8\xff\xe0 a photo"


def vault_files(tmp_path: Path) -> list[Path]:
    return list((tmp_path / "data" / "attachments").glob("*.sealed"))


async def test_an_id_that_is_a_path_makes_no_request(
    harness: Harness, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sim = harness.sim
    before = dict(sim.requests)
    hostile = [
        InboundAttachment(b"x", id="../../v1/about"),
        InboundAttachment(b"x", id="..%2F..%2Fv1%2Fabout"),
        InboundAttachment(b"x", id="a b?c#d.jpg"),
    ]
    with caplog.at_level(logging.DEBUG, logger="relay"):
        await harness.says("alice", "CLIENT Tom", attachments=[*hostile, InboundAttachment(PHOTO)])
        await harness.to("alice", "Client details saved")
    after = dict(sim.requests)
    assert after.get("GET /v1/about", 0) == before.get("GET /v1/about", 0)
    assert not [route for route in after if "about" in route and route.startswith("DELETE")]
    gets = after.get("GET /v1/attachments/{attachment}", 0)
    assert gets - before.get("GET /v1/attachments/{attachment}", 0) == 1  # the real photo only
    assert len(vault_files(tmp_path)) == 1
    lines = [r.getMessage() for r in caplog.records if r.name == "relay.runtime.vault"]
    assert lines == ["attachments kept: 1 kept, 3 refused (not an attachment id)"]


async def test_three_thousand_attachments_make_a_few_requests_and_one_line(
    harness: Harness, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sim = harness.sim
    route = "GET /v1/attachments/{attachment}"
    before = sim.requests.get(route, 0)
    many = [InboundAttachment(PHOTO + bytes([i % 256])) for i in range(3001)]
    with caplog.at_level(logging.DEBUG, logger="relay"):
        await harness.says("alice", "CLIENT Tom", attachments=many)
        await harness.to("alice", "Client details saved", timeout=20)
    assert sim.requests.get(route, 0) - before == MAX_PER_MESSAGE
    lines = [r.getMessage() for r in caplog.records if r.name == "relay.runtime.vault"]
    assert lines == [f"attachments kept: {MAX_PER_MESSAGE} kept, 2991 over the limit"]


@pytest.fixture
async def endless() -> AsyncIterator[str]:
    """A server whose attachment never ends (chunked, no length), and one that says it is huge."""

    async def stream(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        chunk = b"\0" * 65536
        while True:  # until the client hangs up
            await response.write(chunk)

    async def declared(_: web.Request) -> web.Response:
        return web.Response(body=b"\0" * 16, headers={"Content-Length": str(MAX_BYTES + 1)})

    app = web.Application()
    app.router.add_get("/v1/attachments/endless.jpg", stream)
    app.router.add_get("/v1/attachments/huge.jpg", declared)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"127.0.0.1:{port}"
    await runner.cleanup()


async def test_a_body_is_cut_off_at_the_limit_while_it_streams(
    endless: str, tmp_path: Path
) -> None:
    transport = SignalTransport(endless, "+12025550100", timeout=30)
    vault = AttachmentVault(tmp_path / "vault", Sealer(MasterKey.generate()), transport)
    try:
        started = time.perf_counter()
        kept = await asyncio.wait_for(
            vault.keep_all([AttachmentRef("endless.jpg", "image/jpeg", None)]), timeout=10
        )
        assert kept == ()
        assert time.perf_counter() - started < 5  # it stopped reading at the limit
        status, body = await transport.fetch("/v1/attachments/huge.jpg", MAX_BYTES)
        assert (status, body) == (200, None)  # refused on its declared length, unread
    finally:
        await transport.close()
    assert not (tmp_path / "vault").exists() or not list((tmp_path / "vault").iterdir())


@pytest.mark.parametrize(
    ("attachment_id", "valid"),
    [
        ("kX3vQm9TzR1pLw7yB2nC.jpg", True),  # as in the reference envelopes
        ("Ud9_x-Y.preview", True),
        ("abc", True),
        ("../../v1/about", False),
        ("..", False),
        (".hidden", False),
        ("a/b", False),
        ("a%2Fb", False),
        ("a?b", False),
        ("", False),
        ("x" * 129, False),
    ],
)
def test_the_id_format(attachment_id: str, valid: bool) -> None:
    assert valid_id(attachment_id) is valid
