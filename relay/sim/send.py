"""``POST /v2/send``: validate the body as the real server does, then decide the answer.

Follows signal-cli-rest-api 0.101 (``api.SendV2`` → ``client.SendV2`` → ``client.send``) and
signal-cli (``SendCommand``, ``SendMessageResultUtils``): the same checks in the same order, the
same error texts, and a 201 whose body is a JSON *array* with one ``SendMessageResponse`` per
batch. The server refuses to mix groups, numbers and usernames in one request, so in practice the
array has one element. Every timestamp comes from ``next_timestamp`` (strictly increasing).

Several accounts: ``number`` names the sending account and must be one the container holds
(else ``Specified account does not exist``); a group send reaches the group's members but the
sender. The simulator's groups are the default account's; another account is in a group only
when the group lists it (else ``Group not found``, as signal-cli has no such group for it).

Error texts are the real server's and some name a recipient (``The user +… is not registered.``):
a client must not log them.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from relay.sim.directory import Directory, SimGroup, internal_id_from_public, is_phone_number
from relay.sim.faults import RESULT_TYPE, Faults, SendFailure, SendRule
from relay.sim.records import SentAttachment

INVALID_REQUEST = "Couldn't process request - invalid request"
UNTRUSTED_KEYS = "Unable to complete request due to untrusted recipient keys"
RATE_LIMITED = (
    "Failed to send message due to rate limiting. Use the attached challenge tokens to lift the "
    "rate limit restrictions via the '/v1/accounts/{number}/rate-limit-challenge' endpoint."
)
NO_ACCOUNT = "Specified account does not exist"

# Field types of api.SendMessageV2, for gin's BindJSON: a wrong type is a 400.
_STR = (str,)
_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "number": _STR,
    "recipient": _STR,
    "message": _STR,
    "sticker": _STR,
    "quote_author": _STR,
    "quote_message": _STR,
    "text_mode": _STR,
    "recipients": (list,),
    "base64_attachments": (list,),
    "mentions": (list,),
    "quote_mentions": (list,),
    "quote_timestamp": (int,),
    "edit_timestamp": (int,),
    "notify_self": (bool,),
    "view_once": (bool,),
    "link_preview": (dict,),
}
_STRING_LISTS = ("recipients", "base64_attachments")


@dataclass(frozen=True, slots=True)
class Answer:
    """What the server answers, and what it did."""

    status: int
    body: Any  # the JSON written; None for an empty body
    timestamps: list[int] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    delivered_to: list[str] = field(default_factory=list)
    reached: list[str] = field(default_factory=list)  # every number and UUID it reached


def _error(status: int, message: str) -> Answer:
    return Answer(status=status, body={"error": message})


@dataclass(slots=True)
class SendRequest:
    """The body of a ``/v2/send``, parsed as far as gin's binding goes."""

    body: dict[str, Any]
    number: str = ""
    recipients: list[str] = field(default_factory=list)
    message: str = ""
    attachments_raw: list[str] = field(default_factory=list)
    quote_timestamp: int | None = None
    quote_author: str | None = None
    quote_message: str | None = None
    sticker: str = ""
    view_once: bool = False


def parse_body(body: Any) -> SendRequest | Answer:
    """gin's ``BindJSON`` into ``SendMessageV2``: an object with the right types, nulls allowed."""
    if not isinstance(body, dict):
        return _error(400, INVALID_REQUEST)
    for key, types in _FIELD_TYPES.items():
        value = body.get(key)
        if value is None:
            continue
        # bool is an int in Python but not in Go's JSON.
        if not isinstance(value, types) or (types == (int,) and isinstance(value, bool)):
            return _error(400, INVALID_REQUEST)
        if (
            isinstance(value, list)
            and key in _STRING_LISTS
            and not all(isinstance(v, str) for v in value)
        ):
            return _error(400, INVALID_REQUEST)
    req = SendRequest(
        body=body,
        number=body.get("number") or "",
        recipients=list(body.get("recipients") or []),
        message=body.get("message") or "",
        attachments_raw=list(body.get("base64_attachments") or []),
        quote_timestamp=body.get("quote_timestamp"),
        quote_author=body.get("quote_author"),
        quote_message=body.get("quote_message"),
        sticker=body.get("sticker") or "",
        view_once=bool(body.get("view_once")),
    )
    if body.get("recipient"):
        # The hidden fallback field for clients that cannot send an array.
        req.recipients.append(body["recipient"])
    return req


def decode_attachment(entry: str) -> SentAttachment:
    """``AttachmentEntry.extractMetaData`` + base64 decoding; ValueError with the server's text."""
    content_type = filename = None
    payload = entry
    flag = entry.rfind("base64,")
    if "data:" in entry and flag != -1:
        payload = entry[flag + len("base64,") :]
        for item in entry[: max(flag - 1, 0)].split(";"):
            if item.startswith("data:"):
                content_type = item[len("data:") :] or None
            elif item.startswith("filename="):
                filename = item[len("filename=") :] or None
    if not payload:
        msg = "The base64 data does not exist."
        raise ValueError(msg)
    try:
        data = base64.b64decode(payload, validate=True)
    except binascii.Error:
        msg = "illegal base64 data at input byte 0"
        raise ValueError(msg) from None
    return SentAttachment(data=data, content_type=content_type, filename=filename)


def _recipient_kind(recipient: str) -> tuple[str, str | None]:
    """``getRecipientType``: ("group"|"number"|"username", error text or None)."""
    if recipient.startswith("group."):
        rest = recipient[len("group.") :]
        try:
            inner = base64.b64decode(rest, validate=True)
        except binascii.Error:
            if len(rest) <= 10:
                return "username", None
            return "group", f"Invalid identifier {recipient}"
        try:
            raw = base64.b64decode(inner, validate=True)
        except binascii.Error:
            return "group", f"Invalid identifier {recipient}"
        if len(raw) != 32:
            # The real text has no closing parenthesis.
            return "group", f"Invalid Signal group size ({len(raw)}"
        return "group", None
    if is_phone_number(recipient):
        return "number", None
    try:
        uuid.UUID(recipient)
    except ValueError:
        return "username", None
    return "number", None


@dataclass(slots=True)
class _Result:
    recipient: str  # as requested, or a group member
    number: str | None
    uuid: str | None
    type: str = "SUCCESS"


class SendDecider:
    """Decides ``/v2/send`` answers against the account, the directory and the faults."""

    def __init__(
        self,
        *,
        account: str,
        directory: Directory,
        faults: Faults,
        next_timestamp: Callable[[], int],
        accounts: Collection[str] | None = None,
    ) -> None:
        """``account`` is the default account; ``accounts`` every account the container
        holds (a live view: accounts added later count), by default only the default one."""
        self._account = account
        self._accounts: Collection[str] = accounts if accounts is not None else (account,)
        self._directory = directory
        self._faults = faults
        self._next_timestamp = next_timestamp

    def validate(self, req: SendRequest) -> Answer | list[SentAttachment]:
        """The checks before anything is sent; the decoded attachments when they pass."""
        if not req.recipients:
            return _error(400, "Couldn't process request - please provide at least one recipient")
        if not req.number:
            return _error(400, "Couldn't process request - please provide a valid number")
        if req.sticker and ":" not in req.sticker:
            return _error(400, "Couldn't process request - please provide valid sticker delimiter")
        if req.view_once and not req.attachments_raw:
            return _error(400, "'view_once' can only be set for image attachments!")
        kind_list: list[str] = []
        for recipient in req.recipients:
            kind, problem = _recipient_kind(recipient)
            if problem is not None:
                return _error(400, problem)
            kind_list.append(kind)
        kinds = set(kind_list)
        if {"number", "group"} <= kinds:
            return _error(
                400,
                "Signal Messenger Groups and phone numbers cannot be specified together in one "
                "request! Please split them up into multiple REST API calls.",
            )
        if {"username", "group"} <= kinds:
            return _error(
                400,
                "Signal Messenger Groups and usernames cannot be specified together in one "
                "request! Please split them up into multiple REST API calls.",
            )
        if {"number", "username"} <= kinds:
            return _error(
                400,
                "Signal Messenger phone numbers and usernames cannot be specified together in "
                "one request! Please split them up into multiple REST API calls.",
            )
        if kind_list.count("group") > 1:
            return _error(
                400,
                "A signal message cannot be sent to more than one group at once! Please use "
                "multiple REST API calls for that.",
            )
        attachments: list[SentAttachment] = []
        for entry in req.attachments_raw:
            try:
                attachments.append(decode_attachment(entry))
            except ValueError as exc:
                return _error(400, str(exc))
        if req.number not in self._accounts:
            return _error(400, NO_ACCOUNT)
        if not req.message and not attachments and not req.sticker and req.quote_timestamp is None:
            return _error(
                400,
                "Sending empty message is not allowed, either a message, attachment or sticker "
                "must be given.",
            )
        return attachments

    def decide(self, req: SendRequest) -> Answer:
        """The answer to a body that passed ``validate`` (faults applied, counted)."""
        group: SimGroup | None = None
        if _recipient_kind(req.recipients[0])[0] == "group":
            group = self._directory.group(req.recipients[0])
            if group is not None and not self._in_group(req.number, group):
                group = None
            if group is None:
                internal = internal_id_from_public(req.recipients[0]) or ""
                return _error(400, f"Group not found: {internal}")
        faults = self._faults
        for rule in list(faults.rules):
            if rule.kind is SendFailure.SERVER_ERROR and (
                rule.recipients is None
                or any(rule.hits(self._identities(r)) for r in req.recipients)
            ):
                faults.spend(rule)
                return Answer(status=500, body=None)
        if group is None:
            for recipient in req.recipients:
                if recipient_kind_is_username(recipient):
                    return _error(400, f"The user {recipient} is not registered.")
                for rule in list(faults.rules):
                    if rule.kind is SendFailure.UNREGISTERED and rule.hits(
                        self._identities(recipient)
                    ):
                        faults.spend(rule)
                        return _error(400, f"The user {recipient} is not registered.")
        if faults.stuck:
            return self._accepted([], [])
        results = self._results(req, group)
        succeeded = [r for r in results if r.type == "SUCCESS"]
        if succeeded or not results:
            delivered = [r.recipient for r in succeeded]
            if group is not None:
                delivered = [req.recipients[0], *delivered]
            reached = [i for r in succeeded for i in (r.number, r.uuid) if i is not None]
            return self._accepted(
                delivered, [r for r in results if r.type != "SUCCESS"], reached=reached
            )
        types = {r.type for r in results}
        if types == {"IDENTITY_FAILURE"}:
            return _error(400, UNTRUSTED_KEYS)
        if types == {"RATE_LIMIT_FAILURE"}:
            body = {
                "error": RATE_LIMITED,
                "challenge_tokens": [
                    str(uuid.UUID(bytes=secrets.token_bytes(16))) for _ in results
                ],
                "account": req.number,
            }
            return Answer(status=429, body=body)
        return _error(400, "Failed to send message")

    def _in_group(self, account: str, group: SimGroup) -> bool:
        """The default account holds every group in the directory (as before there were
        several accounts); another account only those that list it."""
        return account == self._account or account in group.members

    def _identities(self, recipient: str) -> list[str]:
        ids = [recipient]
        if is_phone_number(recipient):
            ids.append(self._directory.uuid_of(recipient))
        else:
            number = self._directory.number_of(recipient)
            if number is not None:
                ids.append(number)
        return ids

    def _results(self, req: SendRequest, group: SimGroup | None) -> list[_Result]:
        if group is not None:
            targets = [m for m in group.members if m != req.number]
        else:
            targets = list(dict.fromkeys(req.recipients))
        per_recipient = [
            rule
            for rule in self._faults.rules
            if rule.kind in RESULT_TYPE
            and (group is not None or rule.kind is not SendFailure.UNREGISTERED)
        ]
        used: list[SendRule] = []
        results = []
        for target in targets:
            ids = self._identities(target)
            number = next((i for i in ids if is_phone_number(i)), None)
            uuid_ = next((i for i in ids if not is_phone_number(i)), None)
            result = _Result(recipient=target, number=number, uuid=uuid_)
            for rule in per_recipient:
                if rule.hits(ids):
                    result.type = RESULT_TYPE[rule.kind]
                    if rule not in used:
                        used.append(rule)
                    break
            results.append(result)
        for rule in used:
            self._faults.spend(rule)
        return results

    def _accepted(
        self, delivered: list[str], failed: list[_Result], *, reached: list[str] | None = None
    ) -> Answer:
        timestamp = self._next_timestamp()
        response: dict[str, Any] = {"timestamp": str(timestamp)}
        errors = []
        for result in failed:
            entry: dict[str, Any] = {}
            if result.number:
                entry["number"] = result.number
            if result.uuid:
                entry["uuid"] = result.uuid
            entry["reason"] = result.type
            errors.append(entry)
        if errors:
            response["errors"] = {"recipients": errors}
        return Answer(
            status=201,
            body=[response],
            timestamps=[timestamp],
            errors=errors,
            delivered_to=delivered,
            reached=reached or [],
        )


def recipient_kind_is_username(recipient: str) -> bool:
    """The simulator knows no usernames: every username send fails as unregistered."""
    return _recipient_kind(recipient)[0] == "username"
