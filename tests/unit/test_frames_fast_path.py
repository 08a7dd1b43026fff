"""Plain text frames are read straight from the JSON: the same event signalbot's models give."""

from __future__ import annotations

import json

import pytest
from signalbot import ConnectionMode
from signalbot._client import SignalAPI
from signalbot.messages import parse

from relay.signal.frames import _from_parsed, _plain_text, read_frame
from relay.sim.envelopes import GroupRef, Party, Stamps, quote_json, text_envelope, to_frame
from tests.integration.test_sim_envelopes import REFERENCE  # the reference lines, embedded

ACCOUNT = "+12025550100"
ALICE = Party(uuid="a1b2c3d4-0000-4000-8000-000000000001", number="+12025550101", name="A")
HIDDEN = Party(uuid="a1b2c3d4-0000-4000-8000-000000000002")  # no number: source is the UUID
STAMPS = Stamps(sent=1790000000000, received=1790000000100, delivered=1790000000200)


@pytest.fixture
def api() -> SignalAPI:
    return SignalAPI(
        "127.0.0.1:1", ACCOUNT, connection_mode=ConnectionMode.HTTP_ONLY, download_attachments=False
    )


async def _both(api: SignalAPI, raw: str) -> tuple[object, object]:
    envelope = json.loads(raw)["envelope"]
    return await read_frame(api, raw), _from_parsed(await parse(api, raw), envelope)


@pytest.mark.parametrize("party", [ALICE, HIDDEN], ids=["number", "uuid-only"])
@pytest.mark.parametrize("text", ["IN 2h Hotel Rex", "sos", "OUT 🙂", "  ok  ", "١٢"])
async def test_plain_text_matches_signalbot(api: SignalAPI, party: Party, text: str) -> None:
    raw = to_frame(text_envelope(ACCOUNT, party, STAMPS, text))
    assert _plain_text(json.loads(raw)["envelope"])
    fast, models = await _both(api, raw)
    assert fast == models
    assert fast is not None


async def test_anything_more_than_text_goes_through_signalbot(api: SignalAPI) -> None:
    group = GroupRef(group_id="Z3JvdXA=", name="buddies")
    quoted = quote_json(quoted_id=1789999999000, author=ALICE, text="ALERT")
    for raw in (
        to_frame(text_envelope(ACCOUNT, ALICE, STAMPS, "ACK", group=group)),
        to_frame(text_envelope(ACCOUNT, ALICE, STAMPS, "on my way", quote=quoted)),
        to_frame(text_envelope(ACCOUNT, ALICE, STAMPS, None)),
    ):
        assert not _plain_text(json.loads(raw)["envelope"])
        fast, models = await _both(api, raw)
        assert fast == models


async def test_the_reference_envelopes_read_the_same_either_way(api: SignalAPI) -> None:
    plain = 0
    for line in REFERENCE:
        frame = json.loads(line) if isinstance(line, str) else line
        if not isinstance(frame, dict) or not isinstance(frame.get("envelope"), dict):
            continue
        envelope = frame["envelope"]
        if "dataMessage" not in envelope or not _plain_text(envelope):
            continue
        plain += 1
        fast, models = await _both(api, json.dumps(frame))
        assert fast == models
    assert plain >= 1
