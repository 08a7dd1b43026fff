"""The receive loop: one WebSocket to `/v1/receive/{number}`, reconnected whatever ends it.

signal-cli-rest-api in json-rpc mode drops every message that arrives while no client is
connected, so reconnecting fast matters more than anything: after a clean close (which ends
signalbot's own loop for good) or a drop, the first retry is immediate, then backs off to 5 s.
Frames are read one at a time (`read_frame`), so a malformed one costs only itself; events go to
one queue in arrival order.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from signalbot import ConnectionMode
from signalbot._client import SignalAPI  # not re-exported publicly in 2.2.x
from signalbot.messages import ReceiveError
from websockets.exceptions import WebSocketException
from websockets.protocol import State

from relay.signal.events import Event
from relay.signal.frames import read_frame

log = logging.getLogger(__name__)

BACKOFF_MAX = 5.0


class Receiver:
    kind = "websocket"
    problem: str | None = None  # the WebSocket path has no mode to get wrong; its loss is known

    def __init__(self, service: str, number: str, queue: asyncio.Queue[Event]) -> None:
        self.api = SignalAPI(
            service, number, connection_mode=ConnectionMode.HTTP_ONLY, download_attachments=False
        )
        self.queue = queue
        self.connected = False
        self.frames = 0
        self.last_activity = time.monotonic()  # for the watchdog: when the loop last made progress

    async def run(self) -> None:
        delay = 0.0
        while True:
            self.last_activity = time.monotonic()
            try:
                async for raw in self.api.messages.receive():
                    if not self.connected:
                        log.info("receive connection open")
                        self.connected = True
                        delay = 0.0
                    self.frames += 1
                    self.last_activity = time.monotonic()
                    event = await read_frame(self.api, raw)
                    if event is not None:
                        await self.queue.put(event)
                log.warning("receive connection closed by signal-cli-rest-api; reconnecting")
            except ReceiveError as exc:
                cause = type(exc.__cause__).__name__ if exc.__cause__ else "ReceiveError"
                log.warning("receive connection lost (%s); reconnecting in %.1fs", cause, delay)
            self.connected = False
            await asyncio.sleep(delay)
            delay = min(BACKOFF_MAX, max(0.25, delay * 2))

    def _live(self) -> Any:
        # signalbot keeps websockets' `connect` as `messages.connection`, and websockets keeps the
        # open connection on it while the session lasts; both are gone between connections.
        return getattr(getattr(self.api.messages, "connection", None), "connection", None)

    @property
    def open(self) -> bool:
        """Whether a receive WebSocket is open now (frames or not)."""
        live = self._live()
        return live is not None and getattr(live, "state", None) is State.OPEN

    async def ping(self, within: float) -> float | None:
        """Round-trip a WebSocket ping on the open receive connection, for the watchdog.

        Returns the latency in seconds, or None when no connection is open (the loop is between
        connections: signal-cli-rest-api is away, not the relay stalled). Raises TimeoutError when
        no pong comes back `within` seconds: the connection looks open but nothing moves on it.
        """
        live = self._live()
        if live is None or not self.open:
            return None
        try:
            async with asyncio.timeout(within):
                waiter = await live.ping()
                latency: float = await waiter
                return latency
        except WebSocketException:
            return None  # closed meanwhile: the loop is reconnecting

    async def handled(self, events: list[Event]) -> None:
        """Nothing kept to clear: the WebSocket path has no inbox (relay.signal.jsonrpc has)."""

    def forget(self, events: list[Event]) -> None:
        """As `handled`."""

    async def close(self) -> None:
        await self.api.close()
