"""Sending through signal-cli-rest-api: one request, a bounded wait, a failure class kept.

signalbot's send raises on any HTTP status >= 400 and drops the body that says why, and waits up to
aiohttp's 300 s default. The relay needs the reason (untrusted keys and rate limits need a human;
a refused connection just needs a retry) and a short timeout, so the request is made here with
signalbot's own request/response models.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
from pydantic import TypeAdapter, ValidationError
from signalbot import ConnectionMode
from signalbot._client import SignalAPI  # not re-exported publicly in 2.2.x
from signalbot._generated import SendMessageResponse, SendMessageV2

from relay.signal.events import SendOutcome

log = logging.getLogger(__name__)

_RESPONSES = TypeAdapter(list[SendMessageResponse])


def classify_error(status: int, body: str) -> str:
    """A failure class from an HTTP status and the server's error text (which is not kept)."""
    lowered = body.lower()
    if status == 429:
        return "rate_limited"
    if "untrusted" in lowered or "identity" in lowered:
        return "untrusted_keys"
    if "not registered" in lowered or "unregistered" in lowered:
        return "unregistered"
    if status >= 500:
        return f"http_{status}"
    return f"http_{status}"


class SignalTransport:
    """The relay's only way out. One aiohttp session; every call bounded by `timeout` seconds."""

    def __init__(self, service: str, number: str, timeout: float) -> None:
        self.service = service
        self.number = number
        self.timeout = aiohttp.ClientTimeout(total=timeout, connect=min(timeout, 5.0))
        self.api = SignalAPI(
            service, number, connection_mode=ConnectionMode.HTTP_ONLY, download_attachments=False
        )
        self._session: aiohttp.ClientSession | None = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        return self._session

    async def send(
        self, recipients: list[str], text: str, attachments: list[str] | None = None
    ) -> SendOutcome:
        request = SendMessageV2(
            number=self.number,
            recipients=recipients,
            message=text,
            base64_attachments=attachments or None,
        )
        payload = request.model_dump_json(exclude_none=True, by_alias=True)
        url = f"http://{self.service}/v2/send"
        try:
            async with self._http().post(
                url, data=payload, headers={"Content-Type": "application/json"}
            ) as resp:
                body = await resp.text()
                if resp.status >= 400:
                    return SendOutcome(ok=False, failure=classify_error(resp.status, body))
                return _outcome(body)
        except TimeoutError:
            return SendOutcome(ok=False, failure="timeout")
        except aiohttp.ClientConnectorError:
            return SendOutcome(ok=False, failure="refused")
        except aiohttp.ClientError as exc:
            return SendOutcome(ok=False, failure=f"transport_{type(exc).__name__}")

    async def about(self) -> dict[str, Any] | None:
        """`/v1/about`, or None when signal-cli-rest-api cannot be reached."""
        try:
            async with self._http().get(f"http://{self.service}/v1/about") as resp:
                if resp.status != 200:
                    return None
                data = await resp.json()
                return data if isinstance(data, dict) else None
        except (TimeoutError, aiohttp.ClientError, ValueError):
            return None

    async def healthy(self) -> bool:
        try:
            return await self.api.check_signal_service()
        except (TimeoutError, aiohttp.ClientError):
            return False

    async def get(self, path: str) -> tuple[int, bytes]:
        """A plain GET (attachments, QR code for linking)."""
        async with self._http().get(f"http://{self.service}{path}") as resp:
            return resp.status, await resp.read()

    async def fetch(self, path: str, limit: int) -> tuple[int, bytes | None]:
        """A GET whose body may not exceed `limit` bytes: (status, body), body None when it is
        larger. Checked while streaming — a declared length over the limit is refused before
        reading, and a body without one is cut off at the limit — so a huge or endless answer
        costs at most `limit` bytes of memory. Status 0: unreachable or timed out."""
        try:
            async with self._http().get(f"http://{self.service}{path}") as resp:
                if resp.content_length is not None and resp.content_length > limit:
                    return resp.status, None
                body = bytearray()
                async for chunk in resp.content.iter_chunked(64 * 1024):
                    body += chunk
                    if len(body) > limit:
                        return resp.status, None
                return resp.status, bytes(body)
        except (TimeoutError, aiohttp.ClientError):
            return 0, b""

    async def delete(self, path: str) -> int:
        """A plain DELETE (signal-cli's copy of an attachment); the status, 0 if unreachable."""
        try:
            async with self._http().delete(f"http://{self.service}{path}") as resp:
                return resp.status
        except (TimeoutError, aiohttp.ClientError):
            return 0

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
        await self.api.close()


def _outcome(body: str) -> SendOutcome:
    try:
        responses = _RESPONSES.validate_json(body)
    except ValidationError:
        # Accepted (2xx) but unreadable: the message went out; do not send it twice.
        log.warning("send accepted but its response was not readable")
        return SendOutcome(ok=True)
    failed: list[str] = []
    reasons: list[str] = []
    timestamp = None
    for response in responses:
        try:
            timestamp = int(response.timestamp)
        except ValueError:
            timestamp = None
        for error in (response.errors.recipients or []) if response.errors else []:
            failed.append(error.number or error.uuid or error.username or "")
            reasons.append((error.reason or "unknown").lower())
    if failed:
        return SendOutcome(
            ok=False,
            timestamp=timestamp,
            failure=f"recipient_{reasons[0]}",
            recipients_failed=tuple(failed),
        )
    return SendOutcome(ok=True, timestamp=timestamp)


async def close_quietly(transport: SignalTransport) -> None:
    try:
        await asyncio.wait_for(transport.close(), timeout=2)
    except (TimeoutError, aiohttp.ClientError, OSError):
        log.debug("transport close did not finish cleanly")
