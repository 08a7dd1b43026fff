"""Photos members send (client, report, incident log): fetched, sealed on disk, plaintext deleted.

signal-cli keeps every received attachment in its own folder; the vault copies one out through
signal-cli-rest-api, seals it under the relay key (mode 0600, atomic write) and asks
signal-cli-rest-api to delete its copy, so a seized card holds only ciphertext.

An attachment id comes from an envelope, so it is data, never a path: it must look like the file
names signal-cli gives attachments (`ATTACHMENT_ID`) before any request is made with it, and it is
URL-quoted in the request. At most `MAX_PER_MESSAGE` attachments of one message are fetched (the
rest are left to the retention job's sweep of signal-cli's folder), each body is cut off at
`MAX_BYTES` while it streams in, and one message's attachments make one log line, not one each.
"""

from __future__ import annotations

import base64
import json
import logging
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Final
from urllib.parse import quote

from relay.crypto.seal import Sealer, aad_for, new_row_key
from relay.signal.events import AttachmentRef
from relay.signal.transport import SignalTransport

log = logging.getLogger(__name__)

MAX_BYTES: Final = 8 * 1024 * 1024  # Signal's own limits are larger; a Pi's card is small
MAX_PER_MESSAGE: Final = 10
"""Attachments of one message the relay fetches. Signal sends up to 32; a check-in, a report or a
log entry needs a few photos (the alert keeps six), and an envelope with thousands must not turn
into thousands of requests."""

ATTACHMENT_ID: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
"""signal-cli's attachment file names: its remote id with every character outside
``[A-Za-z0-9_.-]`` replaced by ``_``, then the file's extension (signal-cli's `AttachmentStore`).
A first character that is not a dot rules out ``.`` and ``..``; no ``/``, ``%``, ``?`` or ``#``."""


def valid_id(attachment_id: str) -> bool:
    return ATTACHMENT_ID.fullmatch(attachment_id) is not None


def _url(attachment_id: str) -> str:
    return f"/v1/attachments/{quote(attachment_id, safe='')}"


class AttachmentVault:
    def __init__(self, folder: Path, sealer: Sealer, transport: SignalTransport) -> None:
        self.folder = folder
        self.sealer = sealer
        self.transport = transport

    def _path(self, key: str) -> Path:
        return self.folder / f"{key}.sealed"

    def put(self, data: bytes, content_type: str, filename: str | None = None) -> str:
        """Seal `data` into the vault; the key is all anyone needs to keep (in a sealed row)."""
        key = new_row_key()
        header = json.dumps({"type": content_type, "name": filename}).encode("utf-8")
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        blob = len(header).to_bytes(4, "big") + header + data
        self.sealer.seal_file(blob, self._path(key), aad=aad_for("attachments", "file", key))
        return key

    async def keep_all(self, refs: Sequence[AttachmentRef]) -> tuple[str, ...]:
        """Fetch, seal and store a message's attachments (the first `MAX_PER_MESSAGE` with a
        valid id); delete signal-cli's copies. The vault keys of those kept, in order."""
        outcomes: Counter[str] = Counter()
        keys = []
        for ref in refs[:MAX_PER_MESSAGE]:
            outcome, key = await self._keep(ref)
            outcomes[outcome] += 1
            if key is not None:
                keys.append(key)
        outcomes["over the limit"] = max(0, len(refs) - MAX_PER_MESSAGE)
        _log_outcomes("kept", outcomes)
        return tuple(keys)

    async def _keep(self, ref: AttachmentRef) -> tuple[str, str | None]:
        if not valid_id(ref.id):
            return "refused (not an attachment id)", None
        if ref.size is not None and ref.size > MAX_BYTES:
            return "too large", None  # left for the sweep of signal-cli's folder
        status, data = await self.transport.fetch(_url(ref.id), MAX_BYTES)
        if data is None:
            return "too large", None
        if status != 200 or not data:
            return f"not fetched (HTTP {status})", None
        key = self.put(data, ref.content_type or "application/octet-stream")
        await self.transport.delete(_url(ref.id))
        return "kept", key

    async def discard(self, refs: Sequence[AttachmentRef]) -> None:
        """Delete signal-cli's copies of attachments the relay does not keep (a map snapshot, a
        photo sent with a message that needs none): the first `MAX_PER_MESSAGE` valid ids."""
        outcomes: Counter[str] = Counter()
        for ref in refs[:MAX_PER_MESSAGE]:
            if not valid_id(ref.id):
                outcomes["refused (not an attachment id)"] += 1
                continue
            status = await self.transport.delete(_url(ref.id))
            outcomes["deleted" if status in (200, 204) else f"not deleted (HTTP {status})"] += 1
        outcomes["over the limit"] = max(0, len(refs) - MAX_PER_MESSAGE)
        _log_outcomes("discarded", outcomes)

    def open(self, key: str) -> tuple[bytes, str, str | None]:
        """The bytes, content type and file name; raises OSError if it was deleted."""
        blob = self.sealer.open_file(self._path(key), aad=aad_for("attachments", "file", key))
        size = int.from_bytes(blob[:4], "big")
        header = json.loads(blob[4 : 4 + size])
        return blob[4 + size :], str(header["type"]), header.get("name")

    def as_data_uri(self, key: str) -> str | None:
        """The form `/v2/send` takes in `base64_attachments`; None if it is gone."""
        try:
            data, content_type, name = self.open(key)
        except OSError:
            return None
        encoded = base64.b64encode(data).decode("ascii")
        named = f";filename={name}" if name else ""
        return f"data:{content_type}{named};base64,{encoded}"

    def forget(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)


def _log_outcomes(what: str, outcomes: Counter[str]) -> None:
    """One line for one message's attachments: counts by outcome (no ids, sizes or types).
    Quiet when everything went as asked; a warning when something was refused or lost."""
    counted = {name: count for name, count in outcomes.items() if count}
    if not counted:
        return
    summary = ", ".join(f"{count} {name}" for name, count in sorted(counted.items()))
    plain = set(counted) <= {"kept", "deleted"}
    log.log(logging.DEBUG if plain else logging.WARNING, "attachments %s: %s", what, summary)
