"""The receive loop over signal-cli's own JSON-RPC socket, in `--receive-mode=manual`.

In manual mode signal-cli takes nothing from Signal's servers until a client calls
`subscribeReceive`, and stops when the last subscription ends (a closed connection ends its
subscriptions). So while the relay is down, restarting or reconnecting, messages wait on Signal's
servers instead of being dropped by signal-cli-rest-api's WebSocket, which has nobody to hand
them to. The relay subscribes only once it is ready to commit (`ready`), puts every envelope on
the event queue in arrival order (the processor commits it before anything is sent), and
subscribes again on a new connection after any disconnect.

signal-cli acknowledges a message to Signal's servers *before* it writes it to the socket
(`ReceiveHelper`: cache, ack, handle), so the relay keeps each envelope in the inbox
(relay.store.inbox) as soon as it has read it, and drops it once decided; a relay that dies in
between decides it at its next start. What is still at risk (the residual window) is what
signal-cli has written to the socket and the relay has not read yet when it dies: the kernel's
socket buffer. The relay reads ahead of the processor by at most `READ_BUFFER` and queues at most
`QUEUE_HIGH` events; beyond that it stops reading, signal-cli's write blocks, and the rest stays
on Signal's servers.

Wire format (signal-cli-jsonrpc(5), `SignalJsonRpcDispatcherHandler`): one JSON object per line.
`{"jsonrpc":"2.0","id":N,"method":"subscribeReceive","params":{"account":"+…"}}` → `{"result":
<subscription id>}`; then `{"method":"receive","params":{"subscription":N,"result":{"envelope":
…,"account":…}}}`. A daemon in the default `on-start` mode sends `{"method":"receive","params":
{"envelope":…}}` to every connection unasked: the relay still reads those (duplicates are
de-duplicated) but says loudly that messages are being lost while it is away.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from signalbot import ConnectionMode
from signalbot._client import SignalAPI  # not re-exported publicly in 2.2.x

from relay.signal.events import Event
from relay.signal.frames import read_params

log = logging.getLogger(__name__)

BACKOFF_MAX = 5.0
LINE_LIMIT = 4 * 1024 * 1024
"""Longest line read (an envelope is a few kB; longer is not signal-cli talking)."""
READ_BUFFER = 64 * 1024
"""What the relay reads ahead of the processor (asyncio pauses reading at twice this): small, so
that what signal-cli has not written yet stays on Signal's servers (see the module docstring)."""
QUEUE_HIGH = 64
"""Events waiting for the processor before the relay stops reading (see the module docstring):
the size of the event queue the daemon gives this receiver."""
SUBSCRIBE_WITHIN = 30.0
"""How long signal-cli may take to answer `subscribeReceive` before the connection is dropped."""

NOT_MANUAL = (
    "signal-cli is not in manual receive mode: it takes messages from Signal's servers while "
    "the relay is away and loses them (see docs/deploy.md)"
)


class Inbox(Protocol):
    """Where envelopes are kept until decided (relay.store.inbox.InboxRepo)."""

    async def keep(self, bodies: list[bytes], now: datetime) -> list[int]: ...

    async def drop(self, ids: list[int]) -> None: ...

    async def left(self) -> list[tuple[int, bytes]]: ...


class SubscribeRefused(Exception):
    """signal-cli answered `subscribeReceive` with an error (its code is kept, not its text)."""


class SocketReceiver:
    """Reads envelopes from signal-cli's JSON-RPC socket; the same face as `Receiver`."""

    kind = "socket"

    def __init__(
        self,
        path: Path,
        service: str,
        number: str,
        queue: asyncio.Queue[Event],
        ready: asyncio.Event,
        inbox: Inbox | None = None,
    ) -> None:
        self.path = path
        self.number = number
        self.queue = queue
        self.ready = ready
        self.inbox = inbox
        self._rows: dict[int, int] = {}  # id() of a queued event -> its inbox row
        # signalbot's models read envelopes that are not plain text (relay.signal.frames); its
        # API object is only handed to them, never used to connect.
        self.api = SignalAPI(
            service, number, connection_mode=ConnectionMode.HTTP_ONLY, download_attachments=False
        )
        self.connected = False
        self.subscription: int | None = None
        self.subscribed_since: float | None = None  # monotonic
        self.frames = 0
        self.problem: str | None = None  # what `peer-relay status` should say is wrong
        self.last_activity = time.monotonic()  # for the watchdog: when the loop last made progress
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._writer: asyncio.StreamWriter | None = None
        self._last_failure: str | None = None
        self._was_subscribed = False

    # --- the loop ---------------------------------------------------------------------------

    async def run(self) -> None:
        # Subscribing is what makes signal-cli take messages off Signal's servers: not before
        # the processor, the store and the sender are up.
        await self.ready.wait()
        await self._replay()
        delay = 0.0
        while True:
            self.last_activity = time.monotonic()
            try:
                reader, writer = await asyncio.open_unix_connection(self.path, limit=READ_BUFFER)
            except OSError as exc:
                self._failed(f"cannot connect to {self.path} ({type(exc).__name__})", delay)
            else:
                try:
                    await self._session(reader, writer)
                    self._failed("signal-cli closed the connection", delay)
                except SubscribeRefused as exc:
                    self._failed(f"signal-cli refused the subscription ({exc})", delay)
                except (OSError, EOFError, asyncio.IncompleteReadError, TimeoutError) as exc:
                    self._failed(f"connection lost ({type(exc).__name__})", delay)
                finally:
                    await self._closed(writer)
            if self._was_subscribed:
                delay, self._was_subscribed = 0.0, False  # it worked: the first retry is at once
            await asyncio.sleep(delay)
            delay = min(BACKOFF_MAX, max(0.25, delay * 2))

    def _failed(self, what: str, delay: float) -> None:
        # One warning per kind of failure, not one every five seconds for as long as it lasts.
        level = logging.DEBUG if what == self._last_failure else logging.WARNING
        log.log(level, "receive socket: %s; subscribing again in %.1fs", what, delay)
        self._last_failure = what

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writer = writer
        self.connected = True
        subscribe = self._request("subscribeReceive", {"account": self.number})
        reading = asyncio.create_task(self._read(reader), name="receive-socket-read")
        try:
            done, _ = await asyncio.wait(
                {reading, subscribe}, timeout=SUBSCRIBE_WITHIN, return_when="FIRST_COMPLETED"
            )
            if reading in done:
                reading.result()  # the connection ended before the answer: raise why
                return
            if subscribe not in done:
                raise TimeoutError
            self.subscription = subscribe.result()
            self.subscribed_since = time.monotonic()
            self._was_subscribed = True
            self._last_failure = None
            if self.problem != NOT_MANUAL:
                self.problem = None
            log.info("receive socket: subscribed (messages wait on Signal's servers between)")
            await reading
        finally:
            subscribe.cancel()
            if not reading.done():
                reading.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reading

    async def _read(self, reader: asyncio.StreamReader) -> None:
        """Whatever has arrived, in chunks: every whole line in a chunk is kept in the inbox in
        one write before any of it is decided (a backlog drains from the socket buffer, where a
        relay that dies loses it, at the pace of one write per chunk, not one per message)."""
        lines = _Lines()
        while True:
            chunk = await reader.read(READ_BUFFER)
            if not chunk:
                if lines.partial:
                    log.warning("receive socket: the connection ended inside a line")
                raise EOFError
            self.last_activity = time.monotonic()
            await self._lines(lines.feed(chunk))

    async def _lines(self, lines: list[bytes]) -> None:
        received: list[tuple[bytes, dict[str, Any]]] = []
        for line in lines:
            try:
                message = json.loads(line)
            except ValueError:
                log.warning("receive socket: skipped a line that is not JSON (%d bytes)", len(line))
                continue
            if not isinstance(message, dict):
                log.warning("receive socket: skipped a line that is not a JSON object")
            elif "method" not in message:
                self._answer(message)
            elif message.get("method") == "receive":
                received.append((line, message))
            # other notifications (call events): nothing for the relay
        if not received:
            return
        # Kept before anything else: signal-cli has already acknowledged them to Signal.
        rows = await self._keep([line for line, _ in received])
        for (_, message), row in zip(received, rows, strict=True):
            await self._receive(message, row)

    async def _receive(self, message: dict[str, Any], row: int | None) -> None:
        params = message.get("params")
        if isinstance(params, dict) and "subscription" in params and "result" in params:
            result = params["result"]
        else:
            # No subscription wrapper: signal-cli subscribed this connection by itself, i.e. it
            # runs in on-start mode and drops what arrives while nobody listens.
            result = params
            if self.problem != NOT_MANUAL:
                log.error("receive socket: %s", NOT_MANUAL)
                self.problem = NOT_MANUAL
        if isinstance(result, dict) and result.get("account") not in (None, self.number):
            # A daemon holding several accounts (signal-cli-rest-api runs it without -a) writes
            # every account's messages to an on-start connection: another account's are not
            # this relay's to read, let alone answer from its number.
            log.warning("receive socket: skipped a message for another account on the daemon")
            await self._drop([row])
            return
        self.frames += 1
        event = await read_params(self.api, result)
        if event is None:
            await self._drop([row])  # nothing to decide (a typing notice, a sync message …)
            return
        if row is not None:
            self._rows[id(event)] = row
        # A bounded queue (QUEUE_HIGH): while the processor is behind this waits, and what
        # signal-cli has not written yet stays on Signal's servers (see above).
        await self.queue.put(event)

    # --- the inbox (relay.store.inbox) ------------------------------------------------------

    async def _keep(self, lines: list[bytes]) -> list[int | None]:
        if self.inbox is None:
            return [None] * len(lines)
        try:
            return list(await self.inbox.keep(lines, datetime.now(UTC)))
        except sqlite3.Error as exc:
            # A full or failing card: decide them anyway (the processor tells her if that fails).
            log.warning(
                "receive socket: could not keep %d envelope(s) (%s)", len(lines), type(exc).__name__
            )
            return [None] * len(lines)

    async def _drop(self, rows: list[int | None]) -> None:
        kept = [r for r in rows if r is not None]
        if self.inbox is None or not kept:
            return
        try:
            await self.inbox.drop(kept)
        except sqlite3.Error as exc:
            # Left for the next start, where de-duplication makes it a no-op.
            log.warning(
                "receive socket: could not clear %d envelope(s) (%s)", len(kept), type(exc).__name__
            )

    async def handled(self, events: list[Event]) -> None:
        """The processor decided (and committed) these: their inbox rows go."""
        await self._drop([self._rows.pop(id(event), None) for event in events])

    def forget(self, events: list[Event]) -> None:
        """The processor failed on these: their rows stay, to be decided at the next start."""
        for event in events:
            self._rows.pop(id(event), None)

    async def _replay(self) -> None:
        """What the last run read but did not decide: decided first, in arrival order."""
        if self.inbox is None:
            return
        try:
            left = await self.inbox.left()
        except sqlite3.Error as exc:
            log.error("receive socket: could not read the inbox (%s)", type(exc).__name__)
            return
        if left:
            log.warning(
                "receive socket: %d envelope(s) read before a stop, deciding them now", len(left)
            )
        for row, line in left:
            try:
                message = json.loads(line)
            except ValueError:
                message = None
            if not isinstance(message, dict):
                await self._drop([row])
                continue
            await self._receive(message, row)

    def _answer(self, message: dict[str, Any]) -> None:
        ident = message.get("id")
        future = self._pending.pop(ident, None) if isinstance(ident, int) else None
        if future is None or future.done():
            return
        error = message.get("error")
        if isinstance(error, dict):
            code = error.get("code")
            future.set_exception(SubscribeRefused(f"error {code}"))
        else:
            future.set_result(message.get("result"))

    def _request(self, method: str, params: dict[str, Any] | None = None) -> asyncio.Task[Any]:
        ident = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[ident] = future
        body: dict[str, Any] = {"jsonrpc": "2.0", "id": ident, "method": method}
        if params:
            body["params"] = params
        writer = self._writer
        if writer is None:
            future.set_exception(ConnectionError("not connected"))
        else:
            writer.write(json.dumps(body).encode() + b"\n")

        async def answer() -> Any:
            try:
                return await future
            finally:
                self._pending.pop(ident, None)

        return asyncio.create_task(answer())

    async def _closed(self, writer: asyncio.StreamWriter) -> None:
        self.connected = False
        self.subscription = None
        self.subscribed_since = None
        self._writer = None
        for future in self._pending.values():
            if not future.done():
                future.set_exception(ConnectionError("connection closed"))
        self._pending.clear()
        writer.close()
        with contextlib.suppress(OSError, asyncio.CancelledError):
            await asyncio.wait_for(writer.wait_closed(), timeout=1)

    # --- what the watchdog and the status file read -----------------------------------------

    @property
    def open(self) -> bool:
        """Whether the relay is subscribed now (signal-cli hands it messages)."""
        return self.connected and self.subscription is not None

    async def ping(self, within: float) -> float | None:
        """Round-trip signal-cli's `version` method on the subscribed connection.

        None when not subscribed (between connections: signal-cli is away, not the relay
        stalled); TimeoutError when no answer comes back `within` seconds.
        """
        if not self.open:
            return None
        started = time.monotonic()
        try:
            async with asyncio.timeout(within):
                await self._request("version")
        except (ConnectionError, SubscribeRefused):
            return None  # closed meanwhile (or an odd daemon): the loop is reconnecting
        return time.monotonic() - started

    async def close(self) -> None:
        writer = self._writer
        if writer is not None:
            writer.close()
        await self.api.close()


class _Lines:
    """Splits a byte stream into lines; a line over LINE_LIMIT is dropped whole (not signal-cli
    talking), the connection kept."""

    def __init__(self) -> None:
        self.partial = b""
        self._skipping = False

    def feed(self, chunk: bytes) -> list[bytes]:
        *lines, rest = (self.partial + chunk).split(b"\n")
        if self._skipping and lines:
            lines, self._skipping = lines[1:], False  # the end of the long line
        if len(rest) > LINE_LIMIT or (self._skipping and not lines):
            if not self._skipping:
                log.warning("receive socket: skipped a line over %d bytes", LINE_LIMIT)
            rest, self._skipping = b"", True
        self.partial = rest
        return [line for line in lines if line.strip()]
