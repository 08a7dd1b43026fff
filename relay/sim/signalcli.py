"""The simulated signal-cli daemon inside the container: its receive mode, the queue Signal's
servers keep for the account, and its JSON-RPC socket (``daemon --socket PATH``).

Semantics, as read in signal-cli (``DaemonCommand``, ``SignalJsonRpcDispatcherHandler``,
``ManagerImpl.addReceiveHandler``, ``ReceiveHelper``) and signal-cli-rest-api 0.101:

- **Signal's servers keep** every message for the account until a receiving signal-cli takes it
  (``server_queue``), whether signal-cli runs or not.
- **on-start** (the stock image): signal-cli receives from the moment it starts, whoever listens.
  Each message goes to the Go API's connection (forwarded to the receive WebSockets, dropped when
  none is connected) and to every socket connection, each of which is subscribed by itself
  (``{"method":"receive","params":<envelope>}``, no subscription wrapper).
- **manual**: signal-cli receives nothing until a socket client calls ``subscribeReceive`` (an
  optional ``account`` param narrows it to one account) and stops when the last subscription
  ends; ``unsubscribeReceive`` ends one; a closed connection ends all of its own. Messages arrive
  as ``{"method":"receive","params":{"subscription":N,"result":<envelope>}}``. The Go API's
  connection is never subscribed, so the WebSockets get nothing.
- **ack, then handlers**: a message is taken off the server queue (acknowledged to Signal) before
  it is written to anyone; one that finds no reader then is lost (counted). Writes block until the
  kernel takes them (signal-cli writes synchronously from its receive thread): a client that stops
  reading stops the receiving, and the rest stays on the server.
- **A boot backlog**: messages sent while the daemon is down wait on the server; at start an
  on-start daemon drains them before the Go API (let alone the relay) listens, so they are lost;
  a manual one keeps them until the relay subscribes.
- **Several accounts** (the image runs ``daemon`` without ``-a``: multi-account): each account
  has its own queue on Signal's servers and, in manual mode, receives only while a subscription
  covers it — one with ``account`` set to it, or one without ``account`` (every account). A
  request naming an account the daemon does not hold gets ``-32602 Specified account does not
  exist`` (``SignalJsonRpcCommandHandler.getManagerFromParams``). The automatic on-start
  subscription covers every account, so a socket client in on-start mode reads every account's
  messages, each ``params`` naming its ``account``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

log = logging.getLogger(__name__)

ReceiveMode = Literal["on-start", "manual"]
ToApi = Callable[[str, str | None], Awaitable[int]]
"""Hand a frame to the Go API (its WebSocket clients); how many clients got it."""

VERSION = "0.14.7"
LINE_LIMIT = 1024 * 1024

# JSON-RPC 2.0 error codes signal-cli answers with (JsonRpcResponse.Error).
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602


@dataclass(frozen=True, slots=True)
class Queued:
    """One message on Signal's servers: the envelope JSON (``params`` as signal-cli writes it),
    the account it is for, and the sender's timestamp (to match it up in drills)."""

    frame: str
    account: str | None
    key: int | None
    # Run when signal-cli takes the message off the server (e.g. the delivery receipt a hosted
    # account sends back, as signal-cli does whether or not anyone reads the message).
    taken: Callable[[], None] | None = None


@dataclass(eq=False)
class _Connection:
    writer: asyncio.StreamWriter
    auto: bool  # on-start: subscribed by the daemon itself, no wrapper
    subscriptions: dict[int, str | None] = field(default_factory=dict)  # id -> account filter
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def wants(self, account: str | None) -> list[int | None]:
        """The subscriptions (None: the automatic one) a message for ``account`` goes to."""
        found: list[int | None] = [None] if self.auto else []
        found += [n for n, only in self.subscriptions.items() if only in (None, account)]
        return found

    async def write(self, line: bytes) -> None:
        async with self.lock:
            if self.writer.transport.is_closing():
                # asyncio drops writes to a closing transport quietly; Java raises.
                raise ConnectionResetError
            self.writer.write(line)
            await self.writer.drain()


class SignalCliDaemon:
    """signal-cli's daemon as the relay meets it. Owned and started by ``SignalSim``."""

    _subscription_ids = itertools.count(0)  # a static counter in signal-cli too

    def __init__(
        self,
        account: str,
        mode: ReceiveMode,
        socket_path: Path | None,
        to_api: ToApi,
        on_handled: Callable[[int], None],
    ) -> None:
        self.account = account
        self.accounts: list[str] = [account]  # every account the daemon holds, first the default
        self.mode: ReceiveMode = mode
        self.socket_path = socket_path
        self.server_queue: deque[Queued] = deque()
        self.running = False
        self.lost_after_ack = 0  # taken off the server, then nobody to hand it to
        self.subscribe_calls = 0
        # For drills: when each message (by its sender timestamp) was written to the socket.
        self.written_at: dict[int, float] = {}
        self._to_api = to_api
        self._on_handled = on_handled
        self._connections: list[_Connection] = []
        self._server: asyncio.Server | None = None
        self._pump_task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        # Cleared: signal-cli is wedged — connections stay open, requests get no answer.
        self.answering = asyncio.Event()
        self.answering.set()
        self.changed: Callable[[], None] = lambda: None  # the simulator wakes its waiters

    def add_account(self, number: str) -> None:
        """One more account in the daemon (registered or linked while it runs, as
        ``onManagerAdded``: subscriptions for every account cover it at once)."""
        if number not in self.accounts:
            self.accounts.append(number)
        self._wake.set()

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """signal-cli starts: the socket listens; on-start begins receiving at once."""
        if self.running:
            return
        self.running = True
        if self.socket_path is not None:
            with contextlib.suppress(FileNotFoundError):
                self.socket_path.unlink()  # a socket file left by a killed daemon
            self._server = await asyncio.start_unix_server(
                self._serve, path=str(self.socket_path), limit=LINE_LIMIT
            )
        self._pump_task = asyncio.get_running_loop().create_task(self._pump())
        self._wake.set()

    async def stop(self) -> None:
        """signal-cli stops (container stop, power cut): connections cut, nothing received."""
        self.running = False
        if self._server is not None:
            self._server.close()
            self._server = None
        for connection in list(self._connections):
            connection.subscriptions.clear()
            connection.writer.transport.abort()
        self._connections.clear()
        if self._pump_task is not None:
            self._pump_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump_task
            self._pump_task = None
        if self.socket_path is not None:
            with contextlib.suppress(FileNotFoundError):
                self.socket_path.unlink()
        self.changed()

    # -- messages --------------------------------------------------------------------------

    async def arrive(
        self,
        frame: str,
        account: str | None,
        key: int | None = None,
        taken: Callable[[], None] | None = None,
    ) -> int:
        """A message reaches Signal's servers for the account. An on-start daemon with nothing
        queued hands it on now (how many readers got it); otherwise it waits for the pump."""
        item = Queued(frame, account, key, taken)
        if self.mode == "on-start" and self.running and not self.server_queue:
            return await self._handle(item)
        self.server_queue.append(item)
        self._wake.set()
        self.changed()
        return 0

    @property
    def receiving(self) -> bool:
        """Whether signal-cli takes messages off Signal's servers now (for any account)."""
        if not self.running:
            return False
        if self.mode == "on-start":
            return True
        return any(c.subscriptions for c in self._connections)

    def receives_for(self, account: str | None) -> bool:
        """Whether signal-cli takes ``account``'s messages off Signal's servers now: in manual
        mode only while a subscription covers that account (``None``: a frame naming no
        account, taken while anyone is subscribed, as before there were several accounts)."""
        if not self.receiving:
            return False
        if self.mode == "on-start" or account is None:
            return True
        return any(
            only in (None, account) for c in self._connections for only in c.subscriptions.values()
        )

    def _take_next(self) -> Queued | None:
        """The oldest queued message of an account that receives now (each account's queue
        keeps its order; one account's backlog does not hold back another's)."""
        for index, item in enumerate(self.server_queue):
            if self.receives_for(item.account):
                del self.server_queue[index]  # acknowledged to Signal's servers: gone
                return item
        return None

    async def _pump(self) -> None:
        while True:
            self._wake.clear()
            while (item := self._take_next()) is not None:
                await self._handle(item)
            await self._wake.wait()

    async def _handle(self, item: Queued) -> int:
        """Hand a message (already acknowledged) to everyone who listens; how many did."""
        reached = 0
        if self.mode == "on-start":
            reached += await self._to_api(item.frame, item.account)
        for connection in list(self._connections):
            for subscription in connection.wants(item.account):
                if subscription is None:
                    line = '{"jsonrpc":"2.0","method":"receive","params":' + item.frame + "}\n"
                else:
                    line = (
                        '{"jsonrpc":"2.0","method":"receive","params":{"subscription":'
                        f"{subscription},"
                        '"result":' + item.frame + "}}\n"
                    )
                try:
                    await connection.write(line.encode())
                except (ConnectionError, RuntimeError, OSError):
                    # signal-cli: a write to a closed channel ends that subscription.
                    if subscription is None:
                        connection.auto = False
                    else:
                        connection.subscriptions.pop(subscription, None)
                    continue
                reached += 1
                if item.key is not None:
                    self.written_at[item.key] = time.time()
        if not reached and self.mode == "manual":
            self.lost_after_ack += 1
        if item.taken is not None:
            item.taken()
        self._on_handled(reached)
        return reached

    # -- the socket ------------------------------------------------------------------------

    @property
    def connections(self) -> int:
        return len(self._connections)

    @property
    def subscriptions(self) -> int:
        return sum(len(c.subscriptions) for c in self._connections)

    async def drop_connections(self) -> int:
        """Cut every socket connection (their subscriptions end with them)."""
        connections = list(self._connections)
        for connection in connections:
            connection.subscriptions.clear()
            connection.auto = False
            connection.writer.transport.abort()
        self.changed()
        return len(connections)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        transport = writer.transport
        if isinstance(transport, asyncio.WriteTransport):
            # signal-cli's writes block until the kernel takes them: no buffering beyond that.
            transport.set_write_buffer_limits(high=0)
        connection = _Connection(writer, auto=self.mode == "on-start")
        self._connections.append(connection)
        self.changed()
        try:
            while self.running:
                try:
                    line = await reader.readline()
                except (ValueError, ConnectionError, OSError):
                    break
                if not line:
                    break
                await self.answering.wait()
                answer = self._request(connection, line)
                if answer is not None:
                    await connection.write(_line(answer))
                self._wake.set()  # a subscription may have started
        except (ConnectionError, OSError):
            pass
        finally:
            # signal-cli: a closed connection ends its subscriptions (receiving stops with the
            # last one, in manual mode).
            connection.subscriptions.clear()
            if connection in self._connections:
                self._connections.remove(connection)
            writer.close()
            self.changed()

    def _request(self, connection: _Connection, line: bytes) -> dict[str, Any] | None:
        try:
            request = json.loads(line)
        except ValueError:
            return _error(None, PARSE_ERROR, "Failed to parse JSON-RPC request")
        if not isinstance(request, dict) or not isinstance(request.get("method"), str):
            return _error(None, INVALID_REQUEST, "Invalid request")
        ident = request.get("id")
        method = request["method"]
        given = request.get("params")
        params: dict[str, Any] = given if isinstance(given, dict) else {}
        account = params.get("account")
        if account is not None and account not in self.accounts:
            return _error(ident, INVALID_PARAMS, "Specified account does not exist")
        if method == "subscribeReceive":
            self.subscribe_calls += 1
            subscription = next(self._subscription_ids)
            connection.subscriptions[subscription] = account
            self.changed()
            return _result(ident, subscription)
        if method == "unsubscribeReceive":
            number = params.get("subscription")
            if not isinstance(number, int):
                return _error(ident, INVALID_PARAMS, "Missing subscription parameter")
            if number not in connection.subscriptions:
                return _error(ident, INVALID_PARAMS, "Unknown subscription id")
            del connection.subscriptions[number]
            self.changed()
            return _result(ident, None)
        if method == "version":
            return _result(ident, {"version": VERSION})
        return _error(ident, METHOD_NOT_FOUND, "Method not implemented")


def _result(ident: object, result: object) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "result": result, "id": ident}


def _error(ident: object, code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "error": {"code": code, "message": message}, "id": ident}


def _line(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"
