"""Photos members send (client, report, incident log): fetched, sealed on disk, plaintext deleted.

signal-cli keeps every received attachment in its own folder; the vault copies one out through
signal-cli-rest-api, seals it under the relay key (mode 0600, atomic write) and asks
signal-cli-rest-api to delete its copy, so a seized card holds only ciphertext.
"""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path

from relay.crypto.seal import Sealer, aad_for, new_row_key
from relay.signal.events import AttachmentRef
from relay.signal.transport import SignalTransport

log = logging.getLogger(__name__)

MAX_BYTES = 8 * 1024 * 1024  # Signal's own limits are larger; a Pi's card is small


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

    async def keep(self, ref: AttachmentRef) -> str | None:
        """Fetch, seal and store one attachment; delete signal-cli's copy. None if it failed."""
        try:
            status, data = await self.transport.get(f"/v1/attachments/{ref.id}")
        except (OSError, TimeoutError):
            status, data = 0, b""
        if status != 200 or not data or len(data) > MAX_BYTES:
            log.warning("could not keep an attachment (HTTP %s, %d bytes)", status, len(data))
            return None
        key = self.put(data, ref.content_type or "application/octet-stream")
        await self.transport.delete(f"/v1/attachments/{ref.id}")
        return key

    async def discard(self, ref: AttachmentRef) -> None:
        """Delete signal-cli's copy of an attachment the relay does not keep (a map snapshot, a
        photo sent with a message that needs none)."""
        await self.transport.delete(f"/v1/attachments/{ref.id}")

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
