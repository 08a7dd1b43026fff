"""Photos members send (client, report, incident log): fetched, sealed on disk, plaintext deleted.

signal-cli keeps every received attachment in its own folder; the vault copies one out through
signal-cli-rest-api, seals it under the relay key (mode 0600, atomic write) and asks
signal-cli-rest-api to delete its copy, so a seized card holds only ciphertext.
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass
from pathlib import Path

from relay.crypto.seal import Sealer, aad_for, new_row_key
from relay.signal.events import AttachmentRef
from relay.signal.transport import SignalTransport

log = logging.getLogger(__name__)

MAX_BYTES = 8 * 1024 * 1024  # Signal's own limits are larger; a Pi's card is small


@dataclass(frozen=True, slots=True)
class Stored:
    """A sealed attachment: `key` names its file and binds it (AAD). Keep it in a sealed row."""

    key: str
    content_type: str

    def to_json(self) -> list[str]:
        return [self.key, self.content_type]

    @classmethod
    def from_json(cls, value: object) -> Stored:
        if not isinstance(value, list | tuple) or len(value) != 2:
            raise ValueError("not a stored attachment")
        return cls(str(value[0]), str(value[1]))


class AttachmentVault:
    def __init__(self, folder: Path, sealer: Sealer, transport: SignalTransport) -> None:
        self.folder = folder
        self.sealer = sealer
        self.transport = transport

    def _path(self, key: str) -> Path:
        return self.folder / f"{key}.sealed"

    async def keep(self, ref: AttachmentRef) -> Stored | None:
        """Fetch, seal and store one attachment; delete signal-cli's copy. None if it failed."""
        try:
            status, data = await self.transport.get(f"/v1/attachments/{ref.id}")
        except (OSError, TimeoutError):
            status, data = 0, b""
        if status != 200 or not data or len(data) > MAX_BYTES:
            log.warning("could not keep an attachment (HTTP %s, %d bytes)", status, len(data))
            return None
        key = new_row_key()
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.sealer.seal_file(data, self._path(key), aad=aad_for("attachments", "file", key))
        await self.transport.delete(f"/v1/attachments/{ref.id}")
        return Stored(key, ref.content_type or "application/octet-stream")

    def open(self, stored: Stored) -> bytes:
        return self.sealer.open_file(
            self._path(stored.key), aad=aad_for("attachments", "file", stored.key)
        )

    def as_data_uri(self, stored: Stored) -> str:
        """The form `/v2/send` takes in `base64_attachments`."""
        encoded = base64.b64encode(self.open(stored)).decode("ascii")
        return f"data:{stored.content_type};base64,{encoded}"

    def forget(self, stored: Stored) -> None:
        self._path(stored.key).unlink(missing_ok=True)
