"""Her incident log end to end: LOG with photos through signalbot and the simulator, EXPORT back
into her chat as files, and `peer-relay verify` on those files as she would save them."""

from __future__ import annotations

import io
import json
from pathlib import Path

from relay.exitcodes import EXIT_CHECK_FAILED, EXIT_OK
from relay.features.incidents import fingerprint, run_verify
from relay.sim import InboundAttachment, SentMessage
from tests.e2e.conftest import Harness

BRUISE = b"\xff\xd8\xff\xe0 photo of a bruise"
MESSAGES = b"\x89PNG\r\n\x1a\n screenshot of his messages"


def save(messages: list[SentMessage], folder: Path) -> Path:
    """Every file she was sent, under its own name; the JSON export's path."""
    folder.mkdir()
    document = None
    for message in messages:
        for attachment in message.attachments:
            assert attachment.filename
            (folder / attachment.filename).write_bytes(attachment.data)
            if attachment.filename.endswith(".json"):
                document = folder / attachment.filename
    assert document is not None
    return document


async def test_log_export_verify(harness: Harness, tmp_path: Path) -> None:
    await harness.says(
        "alice",
        "LOG he grabbed my wrist in the car park",
        attachments=[InboundAttachment(BRUISE)],
    )
    saved = await harness.to("alice", "Added to your log — entry 1")
    assert "Only you can see it" in saved.message
    await harness.says("alice", "log second visit, he waited outside")
    await harness.to("alice", "entry 2")
    await harness.says("alice", "LOG", attachments=[InboundAttachment(MESSAGES, "image/png")])
    await harness.to("alice", "entry 3")
    assert set(harness.who()) == {"alice"}  # nobody else hears of her log

    mark = len(harness.sim.sent)
    await harness.says("alice", "EXPORT")
    files = await harness.to("alice", "Your log: 3 entries", since=mark)
    photos = await harness.to("alice", "Photos from your log (1 of 1)", since=mark)
    names = sorted(a.filename or "" for a in files.attachments)
    assert [n.rsplit(".", 1)[1] for n in names] == ["json", "txt"]
    assert all(n.startswith("incident-log-20") for n in names)
    assert {a.data for a in photos.attachments} == {BRUISE, MESSAGES}

    document = save([files, photos], tmp_path / "phone")
    out = io.StringIO()
    assert run_verify(document, out) == EXIT_OK, out.getvalue()
    relay = harness.relay
    assert relay is not None
    key = fingerprint(relay.sealer.public_key_bytes())
    assert out.getvalue().splitlines()[0] == f"intact: 3 entries, signed by key {key}"
    assert "not checked" not in out.getvalue()  # the readable copy and both photos were there

    doc = json.loads(document.read_text())
    assert [e["text"] for e in doc["entries"]] == [
        "he grabbed my wrist in the car park",
        "second visit, he waited outside",
        "",
    ]
    photo = tmp_path / "phone" / doc["entries"][0]["photos"][0]["file"]
    photo.write_bytes(BRUISE + b" cropped")
    out = io.StringIO()
    assert run_verify(document, out) == EXIT_CHECK_FAILED
    assert f"photo {photo.name} (entry 1) was changed" in out.getvalue()

    del doc["entries"][1]
    document.write_text(json.dumps(doc))
    photo.write_bytes(BRUISE)
    out = io.StringIO()
    assert run_verify(document, out) == EXIT_CHECK_FAILED
    assert "an entry between 1 and 3 is missing" in out.getvalue()
