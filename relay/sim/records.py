"""What the simulator remembers: every ``/v2/send`` it answered, and its counters.

Tests assert on these (who received what, which status the relay saw); the control API
serialises them as JSON for a relay running as a subprocess.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class SentAttachment:
    """One ``base64_attachments`` entry, decoded (``data:<mime>;filename=<f>;base64,<data>``)."""

    data: bytes
    content_type: str | None = None
    filename: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "content_type": self.content_type,
            "filename": self.filename,
            "size": len(self.data),
            "data_b64": base64.b64encode(self.data).decode(),
        }


@dataclass(slots=True)
class SentMessage:
    """One ``/v2/send`` request as the simulator saw and answered it."""

    index: int  # position in ``SignalSim.sent``
    number: str  # the ``number`` field (the sending account)
    recipients: list[str]
    message: str
    attachments: list[SentAttachment]
    quote_timestamp: int | None
    quote_author: str | None
    quote_message: str | None
    body: dict[str, Any]  # the request body as parsed (attachments left as sent)
    status: int | None = None  # HTTP status answered; None: lost (connection refused/stopped)
    response: Any = None  # the JSON answered (None for an empty body)
    timestamps: list[int] = field(default_factory=list)  # as /v2/send returned them
    errors: list[dict[str, Any]] = field(default_factory=list)  # errors.recipients[]
    delivered_to: list[str] = field(default_factory=list)  # recipients it reached, as requested
    reached_ids: list[str] = field(default_factory=list)  # their numbers and UUIDs, both
    answered: bool = True  # False: the client had hung up before the answer
    at: int = 0  # simulator clock (ms) when answered

    @property
    def timestamp(self) -> int | None:
        """The first timestamp returned (the one a member quotes or reacts to)."""
        return self.timestamps[0] if self.timestamps else None

    @property
    def delivered(self) -> bool:
        """Whether it reached anyone (false for errors, hangs cut short, and "stuck")."""
        return bool(self.delivered_to)

    def reached(self, recipient: str) -> bool:
        """Whether it reached ``recipient`` (a number or a UUID, however it was addressed:
        signalbot replies to a sender's UUID)."""
        return recipient in self.delivered_to or recipient in self.reached_ids

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "number": self.number,
            "recipients": self.recipients,
            "message": self.message,
            "attachments": [a.to_json() for a in self.attachments],
            "quote_timestamp": self.quote_timestamp,
            "quote_author": self.quote_author,
            "quote_message": self.quote_message,
            "body": {k: v for k, v in self.body.items() if k != "base64_attachments"},
            "status": self.status,
            "response": self.response,
            "timestamps": self.timestamps,
            "errors": self.errors,
            "delivered_to": self.delivered_to,
            "reached_ids": self.reached_ids,
            "answered": self.answered,
            "at": self.at,
        }


@dataclass(frozen=True, slots=True)
class SimStats:
    """A snapshot of the simulator's counters."""

    connected_clients: int  # receive websockets open now
    websocket_connections: int  # receive websockets accepted since start
    frames_delivered: int  # frames written to at least one client
    frames_dropped_no_client: int  # frames lost because no client was connected
    frames_held: int  # frames waiting because the simulator is "stuck"
    requests: dict[str, int]  # "METHOD /route" -> count (real API routes only)
    frames_on_server: int = 0  # messages Signal's servers keep (signal-cli not receiving)
    socket_subscriptions: int = 0  # subscribeReceive subscriptions open on signal-cli's socket

    def to_json(self) -> dict[str, Any]:
        return {
            "frames_on_server": self.frames_on_server,
            "socket_subscriptions": self.socket_subscriptions,
            "connected_clients": self.connected_clients,
            "websocket_connections": self.websocket_connections,
            "frames_delivered": self.frames_delivered,
            "frames_dropped_no_client": self.frames_dropped_no_client,
            "frames_held": self.frames_held,
            "requests": dict(self.requests),
        }


@dataclass(frozen=True, slots=True)
class InboundAttachment:
    """A file a member attaches; the simulator serves it at ``/v1/attachments/{id}``."""

    data: bytes
    content_type: str = "image/jpeg"
    filename: str | None = None
    width: int | None = None
    height: int | None = None
    caption: str | None = None
    voice_note: bool = False
    id: str | None = None  # the id the envelope names (a test of hostile ids); else a random one
