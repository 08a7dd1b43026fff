"""Receive frames exactly as signal-cli-rest-api 0.101 (json-rpc mode) pushes them.

Owns the wire shape of every frame the simulator produces: key order, which keys are always
present (written as ``null``) and which are left out, and the compact raw-UTF-8 serialisation.
The shapes follow ``reference/receive-envelopes.jsonl`` and the signal-cli json records it was
taken from (``JsonMessageEnvelope``, ``JsonDataMessage``, ``JsonQuote`` …). The server forwards
signal-cli's ``params`` unchanged, so what Jackson writes is what a client reads.

Everything here is pure: timestamps, ids and names are passed in, so a test can rebuild a
reference line from its inputs and compare byte for byte. ``relay.sim.server`` supplies the
clock and the account.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

JsonObject = dict[str, Any]

MAPS_URL = "https://maps.google.com/maps?q={lat}%2C{lng}"
"""How Signal writes a shared location's link (``SignalPlace.getDescription()``)."""

OBJECT_REPLACEMENT = "\ufffc"
"""The placeholder a sender's client puts in the text where an @-mention stands."""


@dataclass(frozen=True, slots=True)
class Party:
    """A Signal account as an envelope names it: a member, the relay's own account, a buddy."""

    uuid: str
    number: str | None = None  # None: she hides her number (source becomes the UUID)
    name: str | None = None  # profile or contact name, as signal-cli resolves it
    device: int = 1

    @property
    def legacy_identifier(self) -> str:
        """signal-cli's ``getLegacyIdentifier()``: the number when known, else the UUID."""
        return self.number if self.number is not None else self.uuid


@dataclass(frozen=True, slots=True)
class Stamps:
    """The three timestamps of an envelope, in ms since the epoch."""

    sent: int  # the sender's phone clock: envelope and dataMessage ``timestamp``
    received: int  # ``serverReceivedTimestamp``: Signal's server clock
    delivered: int  # ``serverDeliveredTimestamp``


@dataclass(frozen=True, slots=True)
class GroupRef:
    """A group as ``groupInfo`` names it (``groupId`` is signal-cli's base64 id, no prefix)."""

    group_id: str
    name: str
    revision: int = 1
    type: Literal["DELIVER", "UPDATE"] = "DELIVER"


@dataclass(frozen=True, slots=True)
class AttachmentMeta:
    """One inbound attachment as ``JsonAttachment`` describes it (``id`` is its local file)."""

    id: str
    content_type: str
    size: int
    filename: str | None = None
    width: int | None = None
    height: int | None = None
    caption: str | None = None
    upload_timestamp: int | None = None
    voice_note: bool = False


class Malformed(StrEnum):
    """Frames that do not fit signalbot 2.2.1's models (reference README, "Known hazards")."""

    NOT_JSON = "not_json"  # signalbot skips it (UnknownMessageFormatError)
    ERROR = "error"  # {"error": …}: escapes signalbot's receive loop
    NO_VOICE_NOTE = "no_voice_note"  # attachment without isVoiceNote (signal-cli < 0.14.8)
    NO_SERVER_TIMESTAMP = "no_server_timestamp"  # envelope without serverReceivedTimestamp
    GROUP_WITHOUT_REVISION = "group_without_revision"  # groupInfo without revision


def to_frame(obj: JsonObject) -> str:
    """Serialise like Jackson: compact separators, raw UTF-8, insertion (record) order."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def location_text(
    lat: float | str,
    lng: float | str,
    *,
    name: str | None = None,
    address: str | None = None,
    platform: Literal["android", "ios"] = "android",
) -> str:
    """The text of a Signal location share (Signal has no location message type).

    Android writes optional name and address lines, then the link; iOS writes the address
    lines, a blank line, then the link. Pass strings for ``lat``/``lng`` to control the digits.
    """
    url = MAPS_URL.format(lat=lat, lng=lng)
    if platform == "ios":
        return f"{address}\n\n{url}" if address else url
    return "\n".join([line for line in (name, address) if line] + [url])


def attachment_json(meta: AttachmentMeta) -> JsonObject:
    """``JsonAttachment``: every field present (null when unknown), ``isVoiceNote`` last."""
    return {
        "contentType": meta.content_type,
        "filename": meta.filename,
        "id": meta.id,
        "size": meta.size,
        "width": meta.width,
        "height": meta.height,
        "caption": meta.caption,
        "uploadTimestamp": meta.upload_timestamp,
        "isVoiceNote": meta.voice_note,
    }


def group_info_json(group: GroupRef) -> JsonObject:
    """``JsonGroupInfo``."""
    return {
        "groupId": group.group_id,
        "groupName": group.name,
        "revision": group.revision,
        "type": group.type,
    }


def quote_json(
    *, quoted_id: int, author: Party, text: str | None, attachments: Sequence[JsonObject] = ()
) -> JsonObject:
    """``JsonQuote``: ``attachments`` is always present (``[]`` when the quote has none)."""
    return {
        "id": quoted_id,
        "author": author.legacy_identifier,
        "authorNumber": author.number,
        "authorUuid": author.uuid,
        "text": text,
        "attachments": list(attachments),
    }


def mention_json(party: Party, *, start: int, length: int = 1) -> JsonObject:
    """``JsonMention`` (``name`` is the deprecated legacy identifier, not a display name)."""
    return {
        "name": party.legacy_identifier,
        "number": party.number,
        "uuid": party.uuid,
        "start": start,
        "length": length,
    }


def reaction_json(
    *, emoji: str, target_author: Party, target_sent_timestamp: int, remove: bool = False
) -> JsonObject:
    """``JsonReaction``."""
    return {
        "emoji": emoji,
        "targetAuthor": target_author.legacy_identifier,
        "targetAuthorNumber": target_author.number,
        "targetAuthorUuid": target_author.uuid,
        "targetSentTimestamp": target_sent_timestamp,
        "isRemove": remove,
    }


def data_message_json(
    timestamp: int,
    message: str | None,
    *,
    reaction: JsonObject | None = None,
    quote: JsonObject | None = None,
    mentions: Sequence[JsonObject] = (),
    attachments: Sequence[AttachmentMeta] = (),
    remote_delete_timestamp: int | None = None,
    group: GroupRef | None = None,
    expires_in_seconds: int = 0,
    view_once: bool = False,
) -> JsonObject:
    """``JsonDataMessage``: five keys always, then the optional ones in the record's order."""
    data: JsonObject = {
        "timestamp": timestamp,
        "message": message,
        "expiresInSeconds": expires_in_seconds,
        "isExpirationUpdate": False,
        "viewOnce": view_once,
    }
    if reaction is not None:
        data["reaction"] = reaction
    if quote is not None:
        data["quote"] = quote
    if mentions:
        data["mentions"] = list(mentions)
    if attachments:
        data["attachments"] = [attachment_json(a) for a in attachments]
    if remote_delete_timestamp is not None:
        data["remoteDelete"] = {"timestamp": remote_delete_timestamp}
    if group is not None:
        data["groupInfo"] = group_info_json(group)
    return data


def _source_fields(source: Party, stamps: Stamps) -> JsonObject:
    return {
        "source": source.legacy_identifier,
        "sourceNumber": source.number,
        "sourceUuid": source.uuid,
        "sourceName": source.name,
        "sourceDevice": source.device,
        "timestamp": stamps.sent,
        "serverReceivedTimestamp": stamps.received,
        "serverDeliveredTimestamp": stamps.delivered,
    }


def envelope(
    account: str, source: Party, stamps: Stamps, kind: str, content: JsonObject
) -> JsonObject:
    """The frame: ``{"envelope": {source fields, timestamps, <kind>: content}, "account": …}``."""
    env = _source_fields(source, stamps)
    env[kind] = content
    return {"envelope": env, "account": account}


def text_envelope(
    account: str,
    source: Party,
    stamps: Stamps,
    text: str | None,
    *,
    attachments: Sequence[AttachmentMeta] = (),
    quote: JsonObject | None = None,
    mentions: Sequence[JsonObject] = (),
    group: GroupRef | None = None,
) -> JsonObject:
    """A member's message: text, photos, a location share, a reply quoting the relay."""
    data = data_message_json(
        stamps.sent,
        text,
        quote=quote,
        mentions=mentions,
        attachments=attachments,
        group=group,
    )
    return envelope(account, source, stamps, "dataMessage", data)


def reaction_envelope(
    account: str,
    source: Party,
    stamps: Stamps,
    *,
    emoji: str,
    target_author: Party,
    target_sent_timestamp: int,
    remove: bool = False,
    group: GroupRef | None = None,
) -> JsonObject:
    """A reaction (e.g. 👍 on the relay's alert): a data message whose ``message`` is null."""
    reaction = reaction_json(
        emoji=emoji,
        target_author=target_author,
        target_sent_timestamp=target_sent_timestamp,
        remove=remove,
    )
    data = data_message_json(stamps.sent, None, reaction=reaction, group=group)
    return envelope(account, source, stamps, "dataMessage", data)


def remote_delete_envelope(
    account: str,
    source: Party,
    stamps: Stamps,
    *,
    target_sent_timestamp: int,
    group: GroupRef | None = None,
) -> JsonObject:
    """A "delete for everyone" of the member's own earlier message."""
    data = data_message_json(
        stamps.sent, None, remote_delete_timestamp=target_sent_timestamp, group=group
    )
    return envelope(account, source, stamps, "dataMessage", data)


def edit_envelope(
    account: str,
    source: Party,
    stamps: Stamps,
    *,
    target_sent_timestamp: int,
    text: str,
    group: GroupRef | None = None,
) -> JsonObject:
    """An edit of the member's earlier message: ``editMessage`` wraps the new data message."""
    edit = {
        "targetSentTimestamp": target_sent_timestamp,
        "dataMessage": data_message_json(stamps.sent, text, group=group),
    }
    return envelope(account, source, stamps, "editMessage", edit)


def sync_sent_envelope(
    account: str,
    own: Party,
    stamps: Stamps,
    *,
    destination: Party,
    text: str,
) -> JsonObject:
    """A transcript of a message typed on the account's own phone (a linked device)."""
    sent: JsonObject = {
        "destination": destination.legacy_identifier,
        "destinationNumber": destination.number,
        "destinationUuid": destination.uuid,
    }
    # @JsonUnwrapped: the data message's fields continue inside sentMessage.
    sent.update(data_message_json(stamps.sent, text))
    return envelope(account, own, stamps, "syncMessage", {"sentMessage": sent})


def receipt_envelope(
    account: str,
    source: Party,
    stamps: Stamps,
    *,
    timestamps: Sequence[int],
    kind: Literal["delivery", "read", "viewed"] = "read",
) -> JsonObject:
    """A delivery/read/viewed receipt for messages the account sent (signalbot ignores these)."""
    receipt = {
        "when": stamps.sent,
        "isDelivery": kind == "delivery",
        "isRead": kind == "read",
        "isViewed": kind == "viewed",
        "timestamps": list(timestamps),
    }
    return envelope(account, source, stamps, "receiptMessage", receipt)


def typing_envelope(
    account: str,
    source: Party,
    stamps: Stamps,
    *,
    action: Literal["STARTED", "STOPPED"] = "STARTED",
    group_id: str | None = None,
) -> JsonObject:
    """A typing indicator (``groupId`` only inside a group)."""
    typing: JsonObject = {"action": action, "timestamp": stamps.sent}
    if group_id is not None:
        typing["groupId"] = group_id
    return envelope(account, source, stamps, "typingMessage", typing)


def untrusted_identity_frame(account: str, source: Party, stamps: Stamps) -> JsonObject:
    """A message from a member whose safety number changed: no content, only the exception.

    With a decryption error signal-cli writes ``exception`` first (HashMap order).
    """
    return {
        "exception": {
            "message": f"Untrusted identity: {source.uuid}",
            "type": "UntrustedIdentityException",
        },
        "envelope": _source_fields(source, stamps),
        "account": account,
    }


def error_frame(message: str) -> JsonObject:
    """What the server writes when signal-cli reports a receive error instead of params."""
    return {"error": message}


def malformed_frame(kind: Malformed, account: str, source: Party, stamps: Stamps) -> str:
    """A frame of the given broken kind, otherwise a plausible member message."""
    if kind is Malformed.NOT_JSON:
        return to_frame(text_envelope(account, source, stamps, "cut off"))[:40]
    if kind is Malformed.ERROR:
        return to_frame(error_frame("Connection closed unexpectedly"))
    if kind is Malformed.NO_VOICE_NOTE:
        meta = AttachmentMeta(id="malformed0000000000.jpg", content_type="image/jpeg", size=1)
        frame = text_envelope(account, source, stamps, "photo", attachments=[meta])
        del frame["envelope"]["dataMessage"]["attachments"][0]["isVoiceNote"]
        return to_frame(frame)
    if kind is Malformed.NO_SERVER_TIMESTAMP:
        frame = text_envelope(account, source, stamps, "hello")
        del frame["envelope"]["serverReceivedTimestamp"]
        return to_frame(frame)
    group = GroupRef(group_id="A" * 43 + "=", name="group")
    frame = text_envelope(account, source, stamps, "hello", group=group)
    del frame["envelope"]["dataMessage"]["groupInfo"]["revision"]
    return to_frame(frame)
