"""What the adapter hands the relay: plain dataclasses, no signalbot types."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum


class IncomingKind(StrEnum):
    MESSAGE = "message"
    REACTION = "reaction"
    REMOTE_DELETE = "remote_delete"
    EDIT = "edit"


@dataclass(frozen=True, slots=True)
class AttachmentRef:
    id: str  # signal-cli-rest-api's attachment id, for /v1/attachments/{id}
    content_type: str | None
    size: int | None


@dataclass(frozen=True, slots=True)
class Incoming:
    """One envelope from a person (never logged: it holds her number and her words)."""

    kind: IncomingKind
    sender_number: str | None
    sender_uuid: str | None
    timestamp: int  # the sender's clock: with the sender, identifies the envelope
    server_timestamp: int
    text: str | None = None
    group_id: str | None = None
    attachments: tuple[AttachmentRef, ...] = ()
    quote_timestamp: int | None = None  # the relay message she quoted, if any
    reaction_emoji: str | None = None
    reaction_target: int | None = None
    reaction_removed: bool = False
    target_timestamp: int | None = None  # what an edit or remote delete points at

    @property
    def sender(self) -> str:
        return self.sender_uuid or self.sender_number or ""


@dataclass(frozen=True, slots=True)
class UntrustedIdentity:
    """signal-cli could not decrypt: the sender's safety number changed (reinstall, new phone)."""

    sender_number: str | None
    sender_uuid: str | None
    server_timestamp: int


@dataclass(frozen=True, slots=True)
class SendOutcome:
    ok: bool
    timestamp: int | None = None
    failure: str | None = None  # a class, e.g. "refused", "untrusted_keys" — never server text
    recipients_failed: tuple[str, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class Receipt:
    """A phone's receipt for relay messages: proof they made the round trip (see
    relay.runtime.canary),
    and that an alert reached that person's phone (relay.features.delivery).

    The sender is here only to tell apart recipients of one batched send (they share its
    timestamp); it is compared as a keyed tag and never stored or logged."""

    timestamps: tuple[int, ...]
    kind: str  # "delivery", "read" or "viewed"
    sender_number: str | None = field(default=None, repr=False)
    sender_uuid: str | None = field(default=None, repr=False)


Event = Incoming | UntrustedIdentity | Receipt


Send = Callable[[list[str], str, list[str]], Awaitable[SendOutcome]]
"""Hands one message to signal-cli (recipients, text, attachments as data URIs)."""
