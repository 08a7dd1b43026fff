"""One received envelope → one `Event`, or None. Never raises; never logs content.

The envelope comes as a WebSocket frame (`read_frame`) or as the `result` of a notification on
signal-cli's JSON-RPC socket (`read_params`): the same JSON object either way.

signalbot's models read the envelope. When they refuse a frame that still carries a person's text
(a field renamed or missing in another signal-cli version), the frame is read from the raw JSON
instead: a member's SOS must not be lost to schema drift. Frames that are not envelopes are skipped.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from pydantic import ValidationError
from signalbot._client import SignalAPI  # not re-exported publicly in 2.2.x
from signalbot.messages import (
    DataMessage,
    EditMessage,
    RemoteDelete,
    UnknownMessageFormatError,
    parse,
)
from signalbot.reactions import Reaction

from relay.signal.events import (
    AttachmentRef,
    Event,
    Incoming,
    IncomingKind,
    Receipt,
    UntrustedIdentity,
)

log = logging.getLogger(__name__)

_IGNORED = ("syncMessage", "receiptMessage", "typingMessage", "callMessage", "storyMessage")


async def read_frame(api: SignalAPI, raw: str) -> Event | None:
    try:
        data = json.loads(raw)
    except ValueError:
        log.warning("skipped a frame that is not JSON (%d bytes)", len(raw))
        return None
    return await read_params(api, data, raw)


async def read_params(api: SignalAPI, data: object, raw: str | None = None) -> Event | None:
    """The same, from what is already parsed: a WebSocket frame, or the `result` of signal-cli's
    JSON-RPC `receive` notification (the same object). `raw` is its JSON text, if at hand; it is
    only made when signalbot's models must read the envelope."""
    if not isinstance(data, dict) or not isinstance(data.get("envelope"), dict):
        log.warning("skipped a frame without an envelope (keys: %s)", _keys(data))
        return None
    envelope: dict[str, Any] = data["envelope"]
    if isinstance(data.get("exception"), dict):
        return _exception(data["exception"], envelope)
    if isinstance(envelope.get("receiptMessage"), dict):
        return _receipt(envelope["receiptMessage"], envelope)
    if any(key in envelope for key in _IGNORED):
        # The account's own phone (sync), typing, calls: not a member speaking to the relay.
        return None
    if _plain_text(envelope):
        # Most frames: text and nothing else. Read straight from the JSON already parsed —
        # the same event signalbot's models give (tested), for a quarter of the time.
        fast = _from_raw(envelope)
        if fast is not None:
            return fast
    if raw is None:
        raw = json.dumps(data, ensure_ascii=False)
    try:
        message = await parse(api, raw)
    except (ValidationError, UnknownMessageFormatError, ValueError, TypeError, KeyError) as exc:
        fallback = _from_raw(envelope)
        log.warning(
            "signalbot could not read a frame (%s); %s",
            type(exc).__name__,
            "read it from the raw envelope" if fallback else "skipped it",
        )
        return fallback
    return _from_parsed(message, envelope)


_PLAIN_KEYS = frozenset(
    {"timestamp", "message", "expiresInSeconds", "viewOnce", "isExpirationUpdate"}
)


def _plain_text(envelope: dict[str, Any]) -> bool:
    """A data message with text and nothing else (no group, quote, file, reaction, edit …)."""
    data = envelope.get("dataMessage")
    return (
        isinstance(data, dict)
        and "editMessage" not in envelope
        and data.keys() <= _PLAIN_KEYS
        and _str(data.get("message")) is not None
        and data.get("isExpirationUpdate") is not True
    )


def _keys(data: object) -> str:
    return (
        ",".join(sorted(str(k) for k in data)[:8])
        if isinstance(data, dict)
        else type(data).__name__
    )


def _int(value: object, default: int = 0) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _exception(exception: dict[str, Any], envelope: dict[str, Any]) -> Event | None:
    if exception.get("type") != "UntrustedIdentityException":
        log.warning("skipped an undecryptable frame (%s)", _str(exception.get("type")) or "unknown")
        return None
    return UntrustedIdentity(
        sender_number=_str(envelope.get("sourceNumber")),
        sender_uuid=_str(envelope.get("sourceUuid")),
        server_timestamp=_int(envelope.get("serverReceivedTimestamp")),
    )


def _receipt(receipt: dict[str, Any], envelope: dict[str, Any]) -> Receipt | None:
    # The canary's proof that sends reach phones, and an alert's proof it reached this phone.
    # The sender only tells apart recipients of one batched send; nothing about her is kept.
    stamps = receipt.get("timestamps")
    timestamps = tuple(t for t in (stamps if isinstance(stamps, list) else []) if _int(t) > 0)
    if not timestamps:
        return None
    kind = next(
        (
            k
            for k, flag in (("delivery", "isDelivery"), ("read", "isRead"), ("viewed", "isViewed"))
            if receipt.get(flag) is True
        ),
        "delivery",
    )
    return Receipt(
        timestamps=timestamps,
        kind=kind,
        sender_number=_str(envelope.get("sourceNumber")),
        sender_uuid=_str(envelope.get("sourceUuid")),
    )


def _base(envelope: dict[str, Any]) -> dict[str, Any]:
    return {
        "sender_number": _str(envelope.get("sourceNumber")),
        "sender_uuid": _str(envelope.get("sourceUuid")),
        "timestamp": _int(envelope.get("timestamp")),
        "server_timestamp": _int(envelope.get("serverReceivedTimestamp")),
    }


def _from_parsed(message: object, envelope: dict[str, Any]) -> Event | None:
    base = _base(envelope)
    if isinstance(message, Reaction):
        return Incoming(
            kind=IncomingKind.REACTION,
            group_id=_group(message.group_info),
            reaction_emoji=message.emoji,
            reaction_target=message.timestamp,  # signalbot puts the target's timestamp here
            reaction_removed=message.is_remove,
            **base,
        )
    if isinstance(message, RemoteDelete):
        return Incoming(
            kind=IncomingKind.REMOTE_DELETE,
            group_id=_group(message.group_info),
            target_timestamp=message.timestamp,
            **base,
        )
    if isinstance(message, EditMessage):
        return Incoming(
            kind=IncomingKind.EDIT,
            text=message.text,
            group_id=_group(message.group_info),
            target_timestamp=message.target_sent_timestamp,
            **base,
        )
    if isinstance(message, DataMessage):
        return Incoming(
            kind=IncomingKind.MESSAGE,
            text=message.text,
            group_id=_group(message.group_info),
            attachments=tuple(
                AttachmentRef(a.local_filename, a.content_type, a.size)
                for a in message.attachments or ()
                if a.local_filename
            ),
            quote_timestamp=message.quote.id if message.quote is not None else None,
            **base,
        )
    return None  # group updates, typing: nothing for the relay


def _group(group_info: object) -> str | None:
    return _str(getattr(group_info, "group_id", None))


def _from_raw(envelope: dict[str, Any]) -> Incoming | None:
    data = envelope.get("dataMessage")
    if not isinstance(data, dict):
        return None
    text = _str(data.get("message"))
    base = _base(envelope)
    if text is None or not (base["sender_number"] or base["sender_uuid"]) or not base["timestamp"]:
        return None
    group = data.get("groupInfo")
    quote = data.get("quote")
    attachments = data.get("attachments")
    return Incoming(
        kind=IncomingKind.MESSAGE,
        text=text,
        group_id=_str(group.get("groupId")) if isinstance(group, dict) else None,
        quote_timestamp=_int(quote.get("id")) or None if isinstance(quote, dict) else None,
        attachments=tuple(
            AttachmentRef(str(a["id"]), _str(a.get("contentType")), _int(a.get("size")) or None)
            for a in (attachments if isinstance(attachments, list) else [])
            if isinstance(a, dict) and _str(a.get("id"))
        ),
        **base,
    )
