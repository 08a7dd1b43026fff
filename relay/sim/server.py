"""``SignalSim``: a signal-cli-rest-api 0.101 (json-rpc mode) on 127.0.0.1, driven from Python.

Owns the simulator's lifecycle (listen, refuse, listen again, stop), the receive websockets and
the frames pushed to them, the record of sends, and the members' side of the conversation
(``member_sends`` and friends). The HTTP handlers live in ``relay.sim.routes`` (the real API)
and ``relay.sim.control`` (``/sim/``, the same controls as JSON).

Where the real server is odd the simulator is odd the same way: frames produced while no
websocket client is connected are dropped (and counted); ``/v1/health`` says 204 while sends
fail; ``/v2/send`` answers a JSON array. See ``relay.sim.faults`` for what "stuck" means.
Inbound messages pass through a simulated signal-cli (``relay.sim.signalcli``): Signal's
server-side queue, on-start or manual receive mode, and its JSON-RPC socket.

One container may hold several accounts, as the real one does (``add_account``): ``GET
/v1/accounts`` lists them, ``/v2/send`` sends from the one its ``number`` names, and each
receives on ``/v1/receive/{number}`` or through a socket subscription for it. What one hosted
account sends another arrives there as an ordinary incoming message from the sender's number,
UUID and profile name (``deliver_between_accounts``), and is recorded as the sender's send as
usual. The default account (the constructor's) is the one every ``member_*`` method talks to
unless told ``account=``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import mimetypes
import secrets
import socket
import string
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self, TypeVar

from aiohttp import web

from relay.sim import envelopes as env
from relay.sim.directory import Directory, SimGroup, is_phone_number, is_uuid
from relay.sim.envelopes import AttachmentMeta, JsonObject, Malformed, Party, Stamps
from relay.sim.faults import Faults
from relay.sim.media import MAP_JPEG
from relay.sim.records import InboundAttachment, SentAttachment, SentMessage, SimStats
from relay.sim.send import SendDecider
from relay.sim.signalcli import ReceiveMode, SignalCliDaemon

log = logging.getLogger(__name__)

DEFAULT_ACCOUNT = "+12025550100"
_ID_ALPHABET = string.ascii_letters + string.digits
_T = TypeVar("_T")


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(slots=True)
class _Client:
    number: str  # the {number} the client connected to
    request: web.Request
    ws: web.WebSocketResponse


class SimulatorCore:
    """The simulator's state and behaviour; `relay.sim.simulator.SignalSim` adds the HTTP routes.
    ``async with SignalSim() as sim:`` or ``await sim.start()`` / ``stop()``."""

    def __init__(
        self,
        account: str = DEFAULT_ACCOUNT,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        account_uuid: str | None = None,
        account_name: str | None = "peer-relay",
        mode: str = "json-rpc",
        version: str = "0.101",
        clock_ms: Callable[[], int] = wall_clock_ms,
        delivery_receipts: bool = False,
        receive_mode: ReceiveMode = "on-start",
        socket_path: Path | str | None = None,
    ) -> None:
        """``port=0`` picks a free port (kept across refuse/accept). ``clock_ms`` gives the
        server's clock in ms since the epoch; ``delivery_receipts`` makes every message that
        reaches a member come back as her phone's delivery receipt, as real phones do (a group
        post: one from each member's phone), except while her phone is off (`phone_off`):
        then it comes when the phone is back on (`phone_on`). Read receipts come when she
        opens the chat (`member_reads`).

        ``receive_mode`` is signal-cli's (``on-start``: the stock image; ``manual``: what the
        Ansible role sets up) and ``socket_path`` its JSON-RPC socket (``daemon --socket``); see
        ``relay.sim.signalcli`` for what each means for messages nobody reads."""
        self.account = account
        self.host = host
        self.mode = mode
        self.version = version
        self.delivery_receipts = delivery_receipts
        self.phones_off: set[str] = set()  # numbers whose phone is off: receipts wait
        # number -> account -> timestamps of that account's messages delivered while off
        self._unreceipted: dict[str, dict[str, list[int]]] = {}
        # number -> account -> timestamps of that account's messages on her phone, not read
        self._unread: dict[str, dict[str, list[int]]] = {}
        self.directory = Directory()
        self.account_party = self.directory.party(account, uuid=account_uuid, name=account_name)
        # Every account the container holds (number -> how envelopes name it), default first.
        self.accounts: dict[str, Party] = {account: self.account_party}
        self.faults = Faults()
        self.faults.subscribe(self._on_faults_changed)
        self.sent: list[SentMessage] = []
        self.link_requests: list[str] = []  # device names asked for at /v1/qrcodelink
        # False: the account is neither registered nor linked yet, so /v1/accounts lists nothing
        # (as before `peer-relay link`); set it True to play the phone scanning the code.
        self.linked = True
        self.attachments: dict[str, tuple[bytes, str]] = {}  # id -> (bytes, content type)
        self._clock_ms = clock_ms
        self._last_ms = 0
        self._port = port
        self._clients: list[_Client] = []
        self._ws_total = 0
        self._frames_delivered = 0
        self._frames_dropped = 0
        # Frames held while "stuck": (frame, account, what to run when signal-cli takes it).
        self._held: list[tuple[str, str | None, Callable[[], None] | None]] = []
        self._hanging = 0
        self._in_signal_cli = 0  # sends held by latency or a hang: signal-cli still working on them
        self.requests: Counter[str] = Counter()
        self._changed = asyncio.Event()
        self._kill = asyncio.Event()  # set while connections are refused or after stop
        self._background: set[asyncio.Task[Any]] = set()
        self._runner: web.AppRunner | None = None
        self._site: web.SockSite | None = None
        self.signal_cli = SignalCliDaemon(
            account,
            receive_mode,
            Path(socket_path) if socket_path is not None else None,
            to_api=self._to_websockets,
            on_handled=self._handled,
        )
        self.signal_cli.changed = self._bump
        self.decider = SendDecider(
            account=account,
            directory=self.directory,
            faults=self.faults,
            next_timestamp=self.unique_ms,
            accounts=self.accounts.keys(),
        )

    # -- accounts ------------------------------------------------------------------------------

    def add_account(
        self, number: str, *, uuid: str | None = None, name: str | None = None
    ) -> Party:
        """One more account registered in the container (another relay's number); works
        before or after ``start``. ``name`` is its profile name (what ``sourceName`` says in
        what it sends another hosted account). Returns how envelopes name it."""
        if not is_phone_number(number):
            msg = "an account is a phone number (+ and digits)"
            raise ValueError(msg)
        if number in self.accounts:
            msg = "that account is already in the simulator"
            raise ValueError(msg)
        party = self.directory.party(number, uuid=uuid, name=name)
        self.accounts[number] = party
        self.signal_cli.add_account(number)
        self._bump()
        return party

    def _hosted(self, account: str | None) -> str:
        """``account``, checked to be one the container holds; None: the default account."""
        if account is None:
            return self.account
        if account not in self.accounts:
            msg = "no such account in the simulator"
            raise KeyError(msg)
        return account

    def groups_of(self, account: str) -> list[SimGroup]:
        """The groups ``account`` is in: the default account holds every group the directory
        has (as before there were several accounts); another only those that list it."""
        groups = self.directory.groups.values()
        if account == self.account:
            return list(groups)
        return [g for g in groups if account in g.members]

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        # signal-cli starts first (supervisor), then the Go API connects and serves HTTP.
        await self.signal_cli.start()
        app = self.app()
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=1)
        await self._runner.setup()
        await self._listen()
        log.info("signal-cli-rest-api simulator listening on %s", self.base_url)

    def app(self) -> web.Application:
        """The HTTP application: the real API's routes and the simulator's controls."""
        raise NotImplementedError("relay.sim.simulator.SignalSim serves the routes")

    async def stop(self) -> None:
        """Stop like a killed container: every connection is cut, hung sends are lost."""
        self._kill.set()
        self.faults.release_hung()
        # The held sends see the kill and record themselves as lost before their connections go
        # (a cut connection may not let their handler run again).
        with contextlib.suppress(TimeoutError):
            await self._wait_until(lambda: True if self._in_signal_cli == 0 else None, 1.0)
        self._abort_connections()
        await self.signal_cli.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self._site = None
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _listen(self) -> None:
        if self._runner is None:
            msg = "the simulator is not started"
            raise RuntimeError(msg)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            # SO_REUSEADDR: listening again on the same port right after cutting connections.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self._port))
        except OSError:
            sock.close()
            raise
        self._port = sock.getsockname()[1]
        self._site = web.SockSite(self._runner, sock)
        await self._site.start()
        self._kill = asyncio.Event()
        self._bump()

    @property
    def listening(self) -> bool:
        """False while connections are refused (and before start / after stop)."""
        return self._site is not None

    async def wait_for_listening(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Until the simulator listens again (after ``refuse_connections_for``)."""
        await self._wait_until(lambda: True if self.listening else None, timeout)

    @property
    def port(self) -> int:
        return self._port

    @property
    def service(self) -> str:
        """``host:port``, as signalbot's ``signal_service`` wants it."""
        return f"{self.host}:{self._port}"

    @property
    def base_url(self) -> str:
        return f"http://{self.service}"

    # -- connection faults ---------------------------------------------------------------------

    async def refuse_connections(self, *, spare: asyncio.BaseTransport | None = None) -> None:
        """Stop listening and cut every open connection: connects are refused (ECONNREFUSED).

        ``spare`` is left to close by itself (the control request that asked for this).
        """
        self._kill.set()
        if self._site is not None:
            await self._site.stop()
            self._site = None
        self._abort_connections(spare)
        self._bump()

    async def accept_connections(self) -> None:
        """Listen again on the same port."""
        if self._site is None and self._runner is not None:
            await self._listen()

    async def refuse_connections_for(
        self, seconds: float, *, spare: asyncio.BaseTransport | None = None
    ) -> None:
        """Refuse now and listen again after ``seconds`` (for the control API, which a refusal
        would otherwise lock out)."""
        await self.refuse_connections(spare=spare)
        self._spawn(self._accept_later(seconds))

    async def _accept_later(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        await self.accept_connections()

    async def container_down(self) -> None:
        """The container stops (``docker stop``, a crash, a power cut): signal-cli and the API
        are gone; what members send meanwhile waits on Signal's servers."""
        await self.refuse_connections()
        await self.signal_cli.stop()

    async def container_up(self) -> None:
        """The container starts again: signal-cli first (in on-start mode it drains what Signal
        kept at once, before anyone can listen), then the API on the same port."""
        await self.signal_cli.start()
        await self.accept_connections()

    async def drop_websockets(self) -> int:
        """Cut every receive websocket without a close frame (the client sees 1006)."""
        clients = list(self._clients)
        for client in clients:
            transport = client.request.transport
            if transport is not None:
                transport.abort()
        return len(clients)

    async def close_websockets(self, code: int = 1000) -> int:
        """Close every receive websocket with a close frame (1000: signalbot stops receiving)."""
        clients = list(self._clients)
        await asyncio.gather(*(c.ws.close(code=code) for c in clients), return_exceptions=True)
        return len(clients)

    def _abort_connections(self, spare: asyncio.BaseTransport | None = None) -> None:
        if self._runner is None or self._runner.server is None:
            return
        for handler in self._runner.server.connections:
            if handler.transport is not None and handler.transport is not spare:
                handler.transport.abort()

    # -- websockets and frames ------------------------------------------------------------------

    def add_client(self, number: str, request: web.Request, ws: web.WebSocketResponse) -> _Client:
        client = _Client(number=number, request=request, ws=ws)
        self._clients.append(client)
        self._ws_total += 1
        self._bump()
        return client

    def remove_client(self, client: _Client) -> None:
        if client in self._clients:
            self._clients.remove(client)
        self._bump()

    @property
    def connected_clients(self) -> int:
        return len(self._clients)

    async def push_raw(self, frame: str) -> int:
        """Write ``frame`` as-is to every connected client; returns how many got it."""
        return await self._push(frame, None)

    async def push_envelope(self, frame: JsonObject) -> int:
        """Serialise like signal-cli and push to the clients of ``frame["account"]``."""
        envelope = frame.get("envelope")
        key = envelope.get("timestamp") if isinstance(envelope, dict) else None
        return await self._push(
            env.to_frame(frame), frame.get("account"), key if isinstance(key, int) else None
        )

    async def push_malformed(self, kind: Malformed | str, sender: str = "+12025550199") -> int:
        """Push a frame that breaks signalbot's models (see ``Malformed``)."""
        party = self.directory.party(sender)
        frame = env.malformed_frame(Malformed(kind), self.account, party, self._stamps(None))
        return await self._push(frame, None)

    async def _push(
        self,
        frame: str,
        account: str | None,
        key: int | None = None,
        taken: Callable[[], None] | None = None,
    ) -> int:
        if self.faults.stuck:
            self._held.append((frame, account, taken))
            return 0
        # Through Signal's servers and signal-cli (relay.sim.signalcli): in on-start mode
        # straight on to the WebSockets and socket connections, in manual mode to subscribers.
        return await self.signal_cli.arrive(frame, account, key, taken)

    async def _to_websockets(self, frame: str, account: str | None) -> int:
        """The Go API forwards a frame to its receive WebSockets; how many got it."""
        targets = [c for c in self._clients if account is None or c.number == account]
        reached = 0
        for client in targets:
            try:
                await client.ws.send_str(frame)
            except (ConnectionError, RuntimeError):
                continue
            reached += 1
        return reached

    def _handled(self, reached: int) -> None:
        if reached:
            self._frames_delivered += 1
        else:
            # Nobody read it after signal-cli took it off Signal's servers: the message is gone.
            self._frames_dropped += 1
        self._bump()

    def _on_faults_changed(self) -> None:
        if not self.faults.stuck and self._held:
            held, self._held = self._held, []
            self._spawn(self._flush(held))
        self._bump()

    async def _flush(self, held: list[tuple[str, str | None, Callable[[], None] | None]]) -> None:
        for frame, account, taken in held:
            await self._push(frame, account, taken=taken)

    # -- clock -----------------------------------------------------------------------------------

    def unique_ms(self) -> int:
        """The server clock in ms, nudged so no two calls return the same value."""
        self._last_ms = max(self._clock_ms(), self._last_ms + 1)
        return self._last_ms

    def _stamps(self, timestamp: int | None) -> Stamps:
        sent = timestamp if timestamp is not None else self.unique_ms()
        return Stamps(sent=sent, received=self.unique_ms(), delivered=self.unique_ms())

    # -- the members' side -------------------------------------------------------------------------

    def add_group(
        self, name: str, members: Sequence[str], *, internal_id: str | None = None
    ) -> SimGroup:
        """A group the account is in (the account is added to ``members`` if missing)."""
        all_members = list(members)
        if self.account not in all_members:
            all_members.insert(0, self.account)
        group = self.directory.add_group(name, all_members, internal_id=internal_id)
        group.admins = [self.account]
        return group

    def uuid_of(self, number: str) -> str:
        """The ACI the simulator gives ``number`` (stable across runs)."""
        return self.directory.uuid_of(number)

    def _group(self, group: SimGroup | str | None) -> SimGroup | None:
        if group is None or isinstance(group, SimGroup):
            return group
        found = self.directory.group(group)
        if found is None:
            msg = "unknown group id"
            raise KeyError(msg)
        return found

    def _party(self, sender: str, uuid: str | None, name: str | None, hide_number: bool) -> Party:
        return self.directory.party(sender, uuid=uuid, name=name, hide_number=hide_number)

    def _store_attachment(self, attachment: InboundAttachment, upload_ms: int) -> AttachmentMeta:
        ext = mimetypes.guess_extension(attachment.content_type) or ""
        ext = ".jpg" if ext in (".jpe", ".jpeg") else ext
        att_id = attachment.id or "".join(secrets.choice(_ID_ALPHABET) for _ in range(20)) + ext
        self.attachments[att_id] = (attachment.data, attachment.content_type)
        return AttachmentMeta(
            id=att_id,
            content_type=attachment.content_type,
            size=len(attachment.data),
            filename=attachment.filename,
            width=attachment.width,
            height=attachment.height,
            caption=attachment.caption,
            upload_timestamp=upload_ms,
            voice_note=attachment.voice_note,
        )

    def sent_with_timestamp(self, timestamp: int) -> SentMessage:
        """The ``/v2/send`` that returned ``timestamp`` (KeyError if none did)."""
        for sent in self.sent:
            if timestamp in sent.timestamps:
                return sent
        msg = f"no /v2/send returned timestamp {timestamp}"
        raise KeyError(msg)

    def quote_of(self, timestamp: int) -> JsonObject:
        """The ``quote`` a member's phone writes when she replies to that relay message."""
        sent = self.sent_with_timestamp(timestamp)
        author = self.accounts.get(sent.number, self.account_party)
        return env.quote_json(quoted_id=timestamp, author=author, text=sent.message)

    async def member_sends(
        self,
        sender: str,
        text: str | None,
        *,
        uuid: str | None = None,
        name: str | None = None,
        timestamp: int | None = None,
        attachments: Sequence[InboundAttachment] | None = None,
        quote: int | JsonObject | None = None,
        mentions: Sequence[JsonObject] | None = None,
        group: SimGroup | str | None = None,
        hide_number: bool = False,
        account: str | None = None,
    ) -> int:
        """Member ``sender`` (a number, or a UUID if she hides her number) sends a message.

        ``timestamp`` is her phone's clock (repeat one to replay the same message); ``quote`` is
        a relay message's ``/v2/send`` timestamp (or a ready quote). ``account``: the hosted
        account she writes to (default: the default one). Returns the envelope's timestamp.
        """
        to_account = self._hosted(account)
        party = self._party(sender, uuid, name, hide_number)
        stamps = self._stamps(timestamp)
        metas = [self._store_attachment(a, stamps.sent) for a in attachments or ()]
        quote_obj = self.quote_of(quote) if isinstance(quote, int) else quote
        frame = env.text_envelope(
            to_account,
            party,
            stamps,
            text,
            attachments=metas,
            quote=quote_obj,
            mentions=mentions or (),
            group=ref.ref if (ref := self._group(group)) else None,
        )
        await self.push_envelope(frame)
        return stamps.sent

    async def member_replies(self, sender: str, text: str, *, to: int, **kwargs: Any) -> int:
        """She replies to the relay message ``/v2/send`` returned ``to`` for (a quote)."""
        return await self.member_sends(sender, text, quote=to, **kwargs)

    async def member_shares_location(
        self,
        sender: str,
        lat: float | str,
        lng: float | str,
        *,
        place_name: str | None = None,
        address: str | None = None,
        platform: Literal["android", "ios"] = "android",
        **kwargs: Any,
    ) -> int:
        """A Signal location share: the text with the maps link, plus the map snapshot JPEG."""
        text = env.location_text(lat, lng, name=place_name, address=address, platform=platform)
        snapshot = InboundAttachment(data=MAP_JPEG, content_type="image/jpeg")
        return await self.member_sends(sender, text, attachments=[snapshot], **kwargs)

    async def member_reacts(
        self,
        sender: str,
        *,
        to: int,
        emoji: str = "👍",
        remove: bool = False,
        target_author: str | None = None,
        group: SimGroup | str | None = None,
        uuid: str | None = None,
        name: str | None = None,
        timestamp: int | None = None,
        hide_number: bool = False,
        account: str | None = None,
    ) -> int:
        """She reacts to message ``to`` (by default the relay's, as ``/v2/send`` timestamped it)
        in her chat with ``account`` (default: the default account)."""
        to_account = self._hosted(account)
        party = self._party(sender, uuid, name, hide_number)
        author = self.directory.party(target_author) if target_author else self.accounts[to_account]
        stamps = self._stamps(timestamp)
        ref = self._group(group)
        frame = env.reaction_envelope(
            to_account,
            party,
            stamps,
            emoji=emoji,
            target_author=author,
            target_sent_timestamp=to,
            remove=remove,
            group=ref.ref if ref else None,
        )
        await self.push_envelope(frame)
        return stamps.sent

    async def member_deletes(
        self, sender: str, *, target: int, group: SimGroup | str | None = None
    ) -> int:
        """She deletes her own message ``target`` for everyone."""
        party = self._party(sender, None, None, False)
        stamps = self._stamps(None)
        ref = self._group(group)
        frame = env.remote_delete_envelope(
            self.account,
            party,
            stamps,
            target_sent_timestamp=target,
            group=ref.ref if ref else None,
        )
        await self.push_envelope(frame)
        return stamps.sent

    async def member_edits(
        self, sender: str, *, target: int, text: str, group: SimGroup | str | None = None
    ) -> int:
        """She edits her own message ``target`` to ``text``."""
        party = self._party(sender, None, None, False)
        stamps = self._stamps(None)
        ref = self._group(group)
        frame = env.edit_envelope(
            self.account,
            party,
            stamps,
            target_sent_timestamp=target,
            text=text,
            group=ref.ref if ref else None,
        )
        await self.push_envelope(frame)
        return stamps.sent

    async def member_typing(
        self,
        sender: str,
        *,
        action: Literal["STARTED", "STOPPED"] = "STARTED",
        group: SimGroup | str | None = None,
    ) -> int:
        party = self._party(sender, None, None, False)
        stamps = self._stamps(None)
        ref = self._group(group)
        frame = env.typing_envelope(
            self.account, party, stamps, action=action, group_id=ref.internal_id if ref else None
        )
        await self.push_envelope(frame)
        return stamps.sent

    async def member_receipt(
        self,
        sender: str,
        *,
        timestamps: Sequence[int],
        kind: Literal["delivery", "read", "viewed"] = "read",
        account: str | None = None,
    ) -> int:
        """Her phone reports messages ``timestamps`` from ``account`` (default: the default
        account) delivered/read/viewed."""
        to_account = self._hosted(account)
        party = self._party(sender, None, None, False)
        stamps = self._stamps(None)
        frame = env.receipt_envelope(to_account, party, stamps, timestamps=timestamps, kind=kind)
        await self.push_envelope(frame)
        return stamps.sent

    async def own_phone_sends(self, destination: str, text: str) -> int:
        """Someone types on the account's own phone: a sync ``sentMessage`` transcript arrives."""
        stamps = self._stamps(None)
        frame = env.sync_sent_envelope(
            self.account,
            self.account_party,
            stamps,
            destination=self.directory.party(destination),
            text=text,
        )
        await self.push_envelope(frame)
        return stamps.sent

    async def untrusted_identity(self, sender: str, *, uuid: str | None = None) -> int:
        """She reinstalled Signal: her message arrives as an UntrustedIdentityException."""
        party = self._party(sender, uuid, None, False)
        stamps = self._stamps(None)
        await self.push_envelope(env.untrusted_identity_frame(self.account, party, stamps))
        return stamps.sent

    # -- sends ----------------------------------------------------------------------------------

    def record_sent(self, sent: SentMessage) -> None:
        sent.index = len(self.sent)
        sent.at = self.unique_ms() if sent.at == 0 else sent.at
        self.sent.append(sent)
        if sent.delivered and self._hosted_recipients(sent):
            self._spawn(self.deliver_between_accounts(sent))
        if self.delivery_receipts and sent.delivered:
            self._spawn(self._receipts_for(sent))
        self._bump()

    def _recipient_numbers(self, sent: SentMessage) -> tuple[list[str], SimGroup | None]:
        """The numbers a send reached, in order, and the group if it went to one (a group
        send's ``delivered_to`` is the group id, then each member it reached)."""
        numbers: list[str] = []
        group: SimGroup | None = None
        for recipient in sent.delivered_to:
            if recipient.startswith("group."):
                group = self.directory.group(recipient)
                continue
            number = recipient if not is_uuid(recipient) else self.directory.number_of(recipient)
            if number is not None and number != sent.number and number not in numbers:
                numbers.append(number)
        return numbers, group

    def _hosted_recipients(self, sent: SentMessage) -> list[str]:
        if len(self.accounts) == 1 or sent.number not in self.accounts:
            return []  # one account (the usual case): nothing to look up on every send
        return [n for n in self._recipient_numbers(sent)[0] if n in self.accounts]

    async def deliver_between_accounts(self, sent: SentMessage) -> None:
        """What a hosted account sent another hosted account arrives there, as Signal's
        servers deliver it: an ordinary data message from the sender's number, UUID and profile
        name, with the send's timestamp, its files, quote and group, through the receiving
        account's own path (its socket subscription or WebSocket; queued on the server while
        nothing receives for it). When that account's signal-cli takes it, it sends the
        sender a delivery receipt (with ``delivery_receipts``, as for members' phones)."""
        sender = self.accounts.get(sent.number)
        timestamp = sent.timestamp
        if sender is None or timestamp is None:
            return
        _, group = self._recipient_numbers(sent)
        for target in self._hosted_recipients(sent):
            stamps = Stamps(sent=timestamp, received=self.unique_ms(), delivered=self.unique_ms())
            metas = [self._store_attachment(_inbound(a), stamps.sent) for a in sent.attachments]
            quote = None
            if sent.quote_timestamp is not None and sent.quote_author:
                quote = env.quote_json(
                    quoted_id=sent.quote_timestamp,
                    author=self.directory.party(sent.quote_author),
                    text=sent.quote_message,
                )
            frame = env.text_envelope(
                target,
                sender,
                stamps,
                sent.message or None,
                attachments=metas,
                quote=quote,
                group=group.ref if group is not None else None,
            )
            envelope = frame["envelope"]
            key = envelope.get("timestamp") if isinstance(envelope, dict) else None
            receipt = self._account_receipt(target, sent.number, timestamp)
            await self._push(
                env.to_frame(frame), target, key if isinstance(key, int) else None, receipt
            )

    def _account_receipt(self, by: str, to: str, timestamp: int) -> Callable[[], None] | None:
        """signal-cli's delivery receipt from hosted account ``by`` for ``to``'s message,
        sent when it takes the message off the server (only with ``delivery_receipts``)."""
        if not self.delivery_receipts:
            return None

        def send() -> None:
            party = self.accounts[by]
            frame = env.receipt_envelope(
                to, party, self._stamps(None), timestamps=[timestamp], kind="delivery"
            )
            self._spawn(self.push_envelope(frame))

        return send

    async def _receipts_for(self, sent: SentMessage) -> None:
        numbers, _ = self._recipient_numbers(sent)
        account = sent.number
        for number in numbers:
            if number in self.accounts or account not in self.accounts:
                continue  # a hosted account sends its own receipt when it takes the message
            if number in self.phones_off:
                waiting = self._unreceipted.setdefault(number, {})
                waiting.setdefault(account, []).extend(sent.timestamps)
                continue
            self._unread.setdefault(number, {}).setdefault(account, []).extend(sent.timestamps)
            await self.member_receipt(
                number, timestamps=sent.timestamps, kind="delivery", account=account
            )

    def phone_off(self, number: str) -> None:
        """Her phone is off (or without signal): what reaches her account sends no receipt yet."""
        self.phones_off.add(number)

    async def phone_on(self, number: str) -> None:
        """Her phone is back: one delivery receipt for everything that waited, as phones do."""
        self.phones_off.discard(number)
        for account, waiting in self._unreceipted.pop(number, {}).items():
            self._unread.setdefault(number, {}).setdefault(account, []).extend(waiting)
            await self.member_receipt(number, timestamps=waiting, kind="delivery", account=account)

    async def member_reads(self, number: str, *, account: str | None = None) -> list[int]:
        """She opens her chat with ``account`` (default: the default account): a read receipt
        for every message from it on her phone not read yet (phones with read receipts switched
        off send none; just do not call this)."""
        to_account = self._hosted(account)
        chats = self._unread.get(number, {})
        unread = chats.pop(to_account, [])
        if not chats:
            self._unread.pop(number, None)
        if unread:
            await self.member_receipt(number, timestamps=unread, kind="read", account=to_account)
        return unread

    async def wait_for_sent(
        self,
        predicate: Callable[[SentMessage], bool] | None = None,
        *,
        since: int = 0,
        timeout: float = 5.0,  # noqa: ASYNC109 -- a bounded wait is the point of the helper
    ) -> SentMessage:
        """The first recorded send from index ``since`` on that matches, waiting for it.

        Sends are recorded when answered (a hung one when released). To wait only for sends
        made after some action, pass ``since=len(sim.sent)`` taken before it.
        """

        def find() -> SentMessage | None:
            return next((s for s in self.sent[since:] if predicate is None or predicate(s)), None)

        try:
            return await self._wait_until(find, timeout)
        except TimeoutError:
            msg = f"no matching /v2/send within {timeout} s ({len(self.sent)} recorded)"
            raise TimeoutError(msg) from None

    async def wait_for_client(
        self,
        timeout: float = 5.0,  # noqa: ASYNC109 -- a bounded wait is the point of the helper
        *,
        count: int = 1,
        number: str | None = None,
    ) -> None:
        """Until at least ``count`` receive websockets are connected (to
        ``/v1/receive/{number}``, if given)."""

        def enough() -> bool | None:
            clients = [c for c in self._clients if number is None or c.number == number]
            return True if len(clients) >= count else None

        try:
            await self._wait_until(enough, timeout)
        except TimeoutError:
            msg = f"no receive websocket client within {timeout} s"
            raise TimeoutError(msg) from None

    @property
    def hanging_sends(self) -> int:
        """Sends held right now by ``faults.hang_sends``."""
        return self._hanging

    def hang_changed(self, delta: int) -> None:
        self._hanging += delta
        self._bump()

    def held_changed(self, delta: int) -> None:
        self._in_signal_cli += delta
        self._bump()

    async def wait_for_held(self, count: int = 1, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Until at least ``count`` sends are held (by latency or a hang) inside "signal-cli"."""
        await self._wait_until(lambda: True if self._in_signal_cli >= count else None, timeout)

    async def wait_for_hanging(self, count: int = 1, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Until at least ``count`` sends are hanging (the client is waiting on them)."""
        await self._wait_until(lambda: True if self._hanging >= count else None, timeout)

    async def wait_for_subscriber(
        self,
        timeout: float = 5.0,  # noqa: ASYNC109 -- a bounded wait is the point of the helper
        *,
        count: int = 1,
    ) -> None:
        """Until at least ``count`` subscriptions are open on signal-cli's JSON-RPC socket."""
        try:
            await self._wait_until(
                lambda: True if self.signal_cli.subscriptions >= count else None, timeout
            )
        except TimeoutError:
            msg = f"no subscribeReceive on signal-cli's socket within {timeout} s"
            raise TimeoutError(msg) from None

    async def wait_for_no_subscriber(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Until no subscription is open on signal-cli's socket."""
        await self._wait_until(lambda: True if not self.signal_cli.subscriptions else None, timeout)

    async def wait_for_no_client(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Until every receive websocket is gone."""
        await self._wait_until(lambda: True if not self._clients else None, timeout)

    async def _wait_until(self, find: Callable[[], _T | None], timeout: float) -> _T:  # noqa: ASYNC109
        async with asyncio.timeout(timeout):
            while True:
                event = self._changed
                found = find()
                if found is not None:
                    return found
                await event.wait()

    def _bump(self) -> None:
        # Wake every waiter; each re-checks its own condition against a fresh event.
        event, self._changed = self._changed, asyncio.Event()
        event.set()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    @property
    def kill_event(self) -> asyncio.Event:
        """Set when connections are cut; in-flight sends stop waiting and are lost."""
        return self._kill

    # -- stats --------------------------------------------------------------------------------

    @property
    def stats(self) -> SimStats:
        return SimStats(
            connected_clients=len(self._clients),
            websocket_connections=self._ws_total,
            frames_delivered=self._frames_delivered,
            frames_dropped_no_client=self._frames_dropped,
            frames_held=len(self._held),
            requests=dict(self.requests),
            frames_on_server=len(self.signal_cli.server_queue),
            socket_subscriptions=self.signal_cli.subscriptions,
        )


def _inbound(sent: SentAttachment) -> InboundAttachment:
    """A file one hosted account sent, as it arrives at another."""
    return InboundAttachment(
        data=sent.data,
        content_type=sent.content_type or "application/octet-stream",
        filename=sent.filename,
    )
