"""The simulator's frames against the reference envelopes and the real signalbot 2.2.1 parser.

The six reference lines are embedded (a byte-exact copy of reference/receive-envelopes.jsonl,
checked against the shared file when it is present) so CI needs nothing outside the repo.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pydantic
import pytest
import signalbot
import websockets
from hypothesis import given, settings
from hypothesis import strategies as st
from signalbot._client import SignalAPI
from signalbot._generated import Message

from relay.sim import InboundAttachment, SignalSim
from relay.sim import envelopes as env
from relay.sim.media import MAP_JPEG

REFERENCE_FILE = Path("/work/shared/reference/receive-envelopes.jsonl")
REFERENCE = [
    '{"envelope":{"source":"+12025550101","sourceNumber":"+12025550101","sourceUuid":"8a0f0c6e-3c1b-4d55-9a3e-2b7c1f6d9e01","sourceName":"Alice","sourceDevice":1,"timestamp":1789000123456,"serverReceivedTimestamp":1789000123627,"serverDeliveredTimestamp":1789000123654,"dataMessage":{"timestamp":1789000123456,"message":"checkin ok - home safe","expiresInSeconds":0,"isExpirationUpdate":false,"viewOnce":false}},"account":"+12025550100"}',  # noqa: E501 -- byte-exact reference data
    '{"envelope":{"source":"5c3e1f2a-7b6d-4e8f-a1b2-c3d4e5f60718","sourceNumber":null,"sourceUuid":"5c3e1f2a-7b6d-4e8f-a1b2-c3d4e5f60718","sourceName":"Bob","sourceDevice":1,"timestamp":1789000234567,"serverReceivedTimestamp":1789000234979,"serverDeliveredTimestamp":1789000235004,"dataMessage":{"timestamp":1789000234567,"message":"Alexanderplatz 1, 10178 Berlin, Germany\\nhttps://maps.google.com/maps?q=52.5219184%2C13.4132147","expiresInSeconds":0,"isExpirationUpdate":false,"viewOnce":false,"attachments":[{"contentType":"image/jpeg","filename":null,"id":"kX3vQm9TzR1pLw7yB2nC.jpg","size":48213,"width":null,"height":null,"caption":null,"uploadTimestamp":1789000233617,"isVoiceNote":false}],"groupInfo":{"groupId":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=","groupName":"Night walk buddies","revision":7,"type":"DELIVER"}}},"account":"+12025550100"}',  # noqa: E501 -- byte-exact reference data
    '{"envelope":{"source":"+12025550103","sourceNumber":"+12025550103","sourceUuid":"9d8c7b6a-5f4e-4d3c-b2a1-0f9e8d7c6b5a","sourceName":"Carol","sourceDevice":1,"timestamp":1789000345678,"serverReceivedTimestamp":1789000345911,"serverDeliveredTimestamp":1789000345938,"dataMessage":{"timestamp":1789000345678,"message":"\ufffc on my way, 5 min","expiresInSeconds":0,"isExpirationUpdate":false,"viewOnce":false,"quote":{"id":1789000000000,"author":"+12025550100","authorNumber":"+12025550100","authorUuid":"1e2d3c4b-5a69-4788-9a0b-c1d2e3f40506","text":"ALERT: Bob needs help","attachments":[]},"mentions":[{"name":"+12025550100","number":"+12025550100","uuid":"1e2d3c4b-5a69-4788-9a0b-c1d2e3f40506","start":0,"length":1}],"groupInfo":{"groupId":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=","groupName":"Night walk buddies","revision":7,"type":"DELIVER"}}},"account":"+12025550100"}',  # noqa: E501 -- byte-exact reference data
    '{"envelope":{"source":"+12025550101","sourceNumber":"+12025550101","sourceUuid":"8a0f0c6e-3c1b-4d55-9a3e-2b7c1f6d9e01","sourceName":"Alice","sourceDevice":1,"timestamp":1789000456789,"serverReceivedTimestamp":1789000456939,"serverDeliveredTimestamp":1789000456965,"dataMessage":{"timestamp":1789000456789,"message":null,"expiresInSeconds":0,"isExpirationUpdate":false,"viewOnce":false,"reaction":{"emoji":"\U0001f44d","targetAuthor":"+12025550100","targetAuthorNumber":"+12025550100","targetAuthorUuid":"1e2d3c4b-5a69-4788-9a0b-c1d2e3f40506","targetSentTimestamp":1789000000000,"isRemove":false}}},"account":"+12025550100"}',
    '{"envelope":{"source":"+12025550100","sourceNumber":"+12025550100","sourceUuid":"1e2d3c4b-5a69-4788-9a0b-c1d2e3f40506","sourceName":"Relay Bot","sourceDevice":1,"timestamp":1789000567890,"serverReceivedTimestamp":1789000568010,"serverDeliveredTimestamp":1789000568031,"syncMessage":{"sentMessage":{"destination":"+12025550101","destinationNumber":"+12025550101","destinationUuid":"8a0f0c6e-3c1b-4d55-9a3e-2b7c1f6d9e01","timestamp":1789000567890,"message":"typed on the phone","expiresInSeconds":0,"isExpirationUpdate":false,"viewOnce":false}}},"account":"+12025550100"}',  # noqa: E501 -- byte-exact reference data
    '{"envelope":{"source":"+12025550101","sourceNumber":"+12025550101","sourceUuid":"8a0f0c6e-3c1b-4d55-9a3e-2b7c1f6d9e01","sourceName":"Alice","sourceDevice":1,"timestamp":1789000678901,"serverReceivedTimestamp":1789000678996,"serverDeliveredTimestamp":1789000679021,"receiptMessage":{"when":1789000678901,"isDelivery":false,"isRead":true,"isViewed":false,"timestamps":[1789000000000]}},"account":"+12025550100"}',
]

ACCOUNT = "+12025550100"
RELAY = env.Party(uuid="1e2d3c4b-5a69-4788-9a0b-c1d2e3f40506", number=ACCOUNT, name="Relay Bot")
ALICE = env.Party(uuid="8a0f0c6e-3c1b-4d55-9a3e-2b7c1f6d9e01", number="+12025550101", name="Alice")
BOB_HIDDEN = env.Party(uuid="5c3e1f2a-7b6d-4e8f-a1b2-c3d4e5f60718", number=None, name="Bob")
CAROL = env.Party(uuid="9d8c7b6a-5f4e-4d3c-b2a1-0f9e8d7c6b5a", number="+12025550103", name="Carol")
WALKERS = env.GroupRef(
    group_id="AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", name="Night walk buddies", revision=7
)


def pairs(text: str) -> Any:
    """JSON with every object as its list of (key, value) pairs: equality then checks order."""
    return json.loads(text, object_pairs_hook=list)


def shape(value: Any) -> Any:
    """Keys and nesting (in order) without the values: what a frame looks like."""
    if isinstance(value, dict):
        return [(k, shape(v)) for k, v in value.items()]
    if isinstance(value, list):
        return [shape(v) for v in value]
    return None


def build_reference() -> list[dict[str, Any]]:
    """Each reference line, rebuilt by the builders from the line's own inputs."""
    relay_alert = 1789000000000
    location = env.location_text(
        "52.5219184", "13.4132147", address="Alexanderplatz 1, 10178 Berlin, Germany"
    )
    snapshot = env.AttachmentMeta(
        id="kX3vQm9TzR1pLw7yB2nC.jpg",
        content_type="image/jpeg",
        size=48213,
        upload_timestamp=1789000233617,
    )
    return [
        env.text_envelope(
            ACCOUNT,
            ALICE,
            env.Stamps(1789000123456, 1789000123627, 1789000123654),
            "checkin ok - home safe",
        ),
        env.text_envelope(
            ACCOUNT,
            BOB_HIDDEN,
            env.Stamps(1789000234567, 1789000234979, 1789000235004),
            location,
            attachments=[snapshot],
            group=WALKERS,
        ),
        env.text_envelope(
            ACCOUNT,
            CAROL,
            env.Stamps(1789000345678, 1789000345911, 1789000345938),
            env.OBJECT_REPLACEMENT + " on my way, 5 min",
            quote=env.quote_json(quoted_id=relay_alert, author=RELAY, text="ALERT: Bob needs help"),
            mentions=[env.mention_json(RELAY, start=0)],
            group=WALKERS,
        ),
        env.reaction_envelope(
            ACCOUNT,
            ALICE,
            env.Stamps(1789000456789, 1789000456939, 1789000456965),
            emoji="👍",
            target_author=RELAY,
            target_sent_timestamp=relay_alert,
        ),
        env.sync_sent_envelope(
            ACCOUNT,
            RELAY,
            env.Stamps(1789000567890, 1789000568010, 1789000568031),
            destination=ALICE,
            text="typed on the phone",
        ),
        env.receipt_envelope(
            ACCOUNT,
            ALICE,
            env.Stamps(1789000678901, 1789000678996, 1789000679021),
            timestamps=[relay_alert],
        ),
    ]


def test_embedded_reference_is_the_shared_file() -> None:
    if not REFERENCE_FILE.exists():
        pytest.skip("shared reference not mounted; the embedded copy stands")
    assert REFERENCE_FILE.read_text(encoding="utf-8").splitlines() == REFERENCE


@pytest.mark.parametrize("line", range(6))
def test_builders_reproduce_reference_lines(line: int) -> None:
    built = env.to_frame(build_reference()[line])
    # Same keys in the same order with the same values, and the same bytes.
    assert pairs(built) == pairs(REFERENCE[line])
    assert built == REFERENCE[line]


def test_frames_are_compact_raw_utf8() -> None:
    frame = env.to_frame(env.text_envelope(ACCOUNT, ALICE, env.Stamps(1, 2, 3), "¡olé 👍 <b>&"))
    assert "¡olé 👍 <b>&" in frame  # Jackson writes raw UTF-8 and does not escape HTML
    assert ", " not in frame
    assert ": " not in frame


def test_location_text_android_and_ios() -> None:
    android = env.location_text(51.5, -0.12, name="Hotel Rex", address="1 High St")
    assert android == "Hotel Rex\n1 High St\nhttps://maps.google.com/maps?q=51.5%2C-0.12"
    ios = env.location_text("51.5", "-0.12", address="1 High St\nLondon", platform="ios")
    assert ios == "1 High St\nLondon\n\nhttps://maps.google.com/maps?q=51.5%2C-0.12"
    assert env.location_text(1, 2) == "https://maps.google.com/maps?q=1%2C2"


@pytest.fixture
async def api() -> AsyncIterator[SignalAPI]:
    # parse() needs an API object only to download attachments; nothing listens here.
    signal_api = SignalAPI("127.0.0.1:9", ACCOUNT, download_attachments=False)
    yield signal_api
    await signal_api.close()


def every_builder() -> dict[str, dict[str, Any]]:
    stamps = env.Stamps(1789000000100, 1789000000200, 1789000000300)
    photo = env.AttachmentMeta(id="photo0000000000000000.jpg", content_type="image/jpeg", size=9)
    frames = dict(
        zip(
            ["text", "location", "reply", "reaction", "sync", "receipt"],
            build_reference(),
            strict=True,
        )
    )
    frames.update(
        {
            "photos": env.text_envelope(ACCOUNT, ALICE, stamps, "client", attachments=[photo]),
            "hidden_number": env.text_envelope(ACCOUNT, BOB_HIDDEN, stamps, "IN 90"),
            "group": env.text_envelope(ACCOUNT, CAROL, stamps, "SOS", group=WALKERS),
            "remote_delete": env.remote_delete_envelope(
                ACCOUNT, ALICE, stamps, target_sent_timestamp=1789000000050
            ),
            "edit": env.edit_envelope(
                ACCOUNT, ALICE, stamps, target_sent_timestamp=1789000000050, text="IN 60"
            ),
            "typing": env.typing_envelope(ACCOUNT, ALICE, stamps),
            "group_typing": env.typing_envelope(
                ACCOUNT, ALICE, stamps, action="STOPPED", group_id=WALKERS.group_id
            ),
            "untrusted": env.untrusted_identity_frame(ACCOUNT, ALICE, stamps),
        }
    )
    return frames


PARSED_AS = {
    "text": signalbot.DataMessage,
    "location": signalbot.DataMessage,
    "reply": signalbot.DataMessage,
    "reaction": signalbot.Reaction,
    "sync": signalbot.DataMessage,
    "photos": signalbot.DataMessage,
    "hidden_number": signalbot.DataMessage,
    "group": signalbot.DataMessage,
    "remote_delete": signalbot.RemoteDelete,
    "edit": signalbot.EditMessage,
    "typing": signalbot.TypingMessage,
    "group_typing": signalbot.TypingMessage,
}


@pytest.mark.parametrize("name", sorted(every_builder()))
async def test_every_builder_parses_with_signalbot(api: SignalAPI, name: str) -> None:
    frame = env.to_frame(every_builder()[name])
    Message.model_validate_json(frame)  # signalbot's wire model accepts every frame
    if name in PARSED_AS:
        parsed = await signalbot.messages.parse(api, frame)
        assert isinstance(parsed, PARSED_AS[name])
    else:
        # Receipts and undecryptable messages carry nothing signalbot dispatches: it skips them.
        with pytest.raises(signalbot.messages.UnknownMessageFormatError):
            await signalbot.messages.parse(api, frame)


async def test_parsed_values_survive(api: SignalAPI) -> None:
    frames = every_builder()
    hidden = await signalbot.messages.parse(api, env.to_frame(frames["hidden_number"]))
    assert isinstance(hidden, signalbot.DataMessage)
    assert hidden.source_number is None
    assert hidden.source_uuid == BOB_HIDDEN.uuid
    reaction = await signalbot.messages.parse(api, env.to_frame(frames["reaction"]))
    assert isinstance(reaction, signalbot.Reaction)
    assert reaction.emoji == "👍"
    # signalbot quirk: a Reaction's timestamp is the target's, not the reaction's own.
    assert reaction.timestamp == 1789000000000
    assert reaction.target_author_uuid == RELAY.uuid


@pytest.mark.parametrize("kind", list(env.Malformed))
async def test_malformed_frames_break_signalbot_as_the_readme_says(
    api: SignalAPI, kind: env.Malformed
) -> None:
    frame = env.malformed_frame(kind, ACCOUNT, ALICE, env.Stamps(1, 2, 3))
    if kind is env.Malformed.NOT_JSON:
        with pytest.raises(signalbot.messages.UnknownMessageFormatError):  # skipped by signalbot
            await signalbot.messages.parse(api, frame)
    else:
        # A validation error escapes signalbot's receive loop (the hazard the relay guards).
        with pytest.raises(pydantic.ValidationError):
            await signalbot.messages.parse(api, frame)


@settings(max_examples=60, deadline=None)
@given(
    text=st.text(max_size=200),
    sent=st.integers(min_value=0, max_value=2**53),
    hidden=st.booleans(),
)
def test_any_text_round_trips_through_signalbot(text: str, sent: int, hidden: bool) -> None:
    source = BOB_HIDDEN if hidden else ALICE
    frame = env.to_frame(
        env.text_envelope(ACCOUNT, source, env.Stamps(sent, sent + 1, sent + 2), text)
    )

    async def parse() -> Any:
        signal_api = SignalAPI("127.0.0.1:9", ACCOUNT, download_attachments=False)
        try:
            return await signalbot.messages.parse(signal_api, frame)
        finally:
            await signal_api.close()

    parsed = asyncio.run(parse())
    assert isinstance(parsed, signalbot.DataMessage)
    assert parsed.text == text
    assert parsed.timestamp == sent
    assert "\n" not in frame  # one frame per line, even for multi-line text


# -- what the running simulator pushes has the reference shapes ---------------------------------


@pytest.fixture
async def sim() -> AsyncIterator[SignalSim]:
    async with SignalSim(ACCOUNT, account_name="Relay Bot") as simulator:
        yield simulator


async def test_simulator_frames_have_reference_shapes(sim: SignalSim) -> None:
    walkers = sim.add_group("Night walk buddies", ["+12025550101", "+12025550103"])
    async with websockets.connect(f"ws://{sim.service}/v1/receive/{ACCOUNT}") as ws:
        await sim.wait_for_client()
        await sim.member_sends("+12025550101", "checkin ok - home safe", name="Alice")
        await sim.member_shares_location(
            BOB_HIDDEN.uuid,
            "52.5219184",
            "13.4132147",
            address="Alexanderplatz 1, 10178 Berlin, Germany",
            name="Bob",
            group=walkers,
        )
        alert = await _relay_sends(sim, "ALERT: Bob needs help")
        await sim.member_sends(
            "+12025550103",
            env.OBJECT_REPLACEMENT + " on my way, 5 min",
            name="Carol",
            quote=alert,
            mentions=[env.mention_json(sim.account_party, start=0)],
            group=walkers,
        )
        await sim.member_reacts("+12025550101", to=alert)
        await sim.own_phone_sends("+12025550101", "typed on the phone")
        await sim.member_receipt("+12025550101", timestamps=[alert])
        frames = [json.loads(await ws.recv()) for _ in range(6)]
    for frame, reference in zip(frames, REFERENCE, strict=True):
        assert shape(frame) == shape(json.loads(reference))
    location = frames[1]["envelope"]
    assert location["sourceNumber"] is None
    assert location["source"] == BOB_HIDDEN.uuid
    attachment = location["dataMessage"]["attachments"][0]
    assert sim.attachments[attachment["id"]] == (MAP_JPEG, "image/jpeg")
    assert attachment["size"] == len(MAP_JPEG)
    assert frames[2]["envelope"]["dataMessage"]["quote"]["text"] == "ALERT: Bob needs help"
    assert frames[3]["envelope"]["dataMessage"]["reaction"]["targetSentTimestamp"] == alert


async def test_simulator_timestamps(sim: SignalSim) -> None:
    async with websockets.connect(f"ws://{sim.service}/v1/receive/{ACCOUNT}") as ws:
        await sim.wait_for_client()
        first = await sim.member_sends("+12025550101", "OUT")
        replay = await sim.member_sends("+12025550101", "OUT", timestamp=first)
        photo = InboundAttachment(data=b"\xff\xd8\xff", content_type="image/jpeg")
        later = await sim.member_sends("+12025550101", "photo", attachments=[photo])
        a, b, c = [json.loads(await ws.recv())["envelope"] for _ in range(3)]
    # The phone's clock is the caller's to set (a replay repeats it); the server's keeps moving.
    assert replay == first == a["timestamp"] == b["timestamp"] == a["dataMessage"]["timestamp"]
    assert b["serverReceivedTimestamp"] > a["serverReceivedTimestamp"]
    assert later == c["timestamp"] > first
    assert a["serverReceivedTimestamp"] < a["serverDeliveredTimestamp"]


async def _relay_sends(sim: SignalSim, text: str) -> int:
    """Have the relay's account send ``text`` through the real endpoint; its timestamp."""
    async with aiohttp.ClientSession() as session:
        body = {"message": text, "number": sim.account, "recipients": ["+12025550101"]}
        async with session.post(f"{sim.base_url}/v2/send", json=body) as resp:
            assert resp.status == 201
            return int((await resp.json())[0]["timestamp"])
