"""The relay's lifecycle (mautrix `Program` style): start, run supervised tasks, stop cleanly.

Synchronous pre-init (config → logging → rules → key) happens in `relay.cli`; here: open and
migrate the database, check signal-cli-rest-api, start the receive loop, the event processor, the
timer, the sender and the watchdog, and keep each of them running — a task that fails is restarted
with capped backoff and the log says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import cache

from relay.config import Config
from relay.core.commands import KeywordTable, load_default_keywords
from relay.core.types import MemberAlias
from relay.crypto.seal import Sealer
from relay.exitcodes import EXIT_KEY, EXIT_OK, EXIT_SIGNAL, EXIT_SOFTWARE
from relay.features.installed import default_features
from relay.features.peers.post import PeerPost, still_wanted
from relay.features.peers.receiving import PartnerInbox
from relay.features.reports.rekey import rekey
from relay.features.reports.screening import ClientScreen
from relay.locales import load_catalog
from relay.rules import Rules
from relay.rules.compiled import CACHE_NAME as RULES_CACHE
from relay.rules.compiled import discard as discard_rules_cache
from relay.rules.reload import ReloadResult, RulesHolder, RulesWatcher
from relay.runtime import systemd
from relay.runtime.alarm import Alarm
from relay.runtime.canary import Canary, build_canary
from relay.runtime.chain import Chain
from relay.runtime.chain import build as build_chain
from relay.runtime.clock import Clock, SystemClock
from relay.runtime.desk import Desk
from relay.runtime.disk import DiskWatch
from relay.runtime.group_guard import GroupGuard
from relay.runtime.handoff import Handoff
from relay.runtime.logs import asyncio_exception_handler
from relay.runtime.outage import Outage
from relay.runtime.pipeline import Pipeline
from relay.runtime.retention import RetentionJob
from relay.runtime.sender import OutboxSender
from relay.runtime.timers import Timers
from relay.runtime.vault import AttachmentVault
from relay.runtime.watchdog import RunLock, Watchdog
from relay.signal.events import Event, Send
from relay.signal.jsonrpc import QUEUE_HIGH, SocketReceiver
from relay.signal.receiver import Receiver
from relay.signal.transport import SignalTransport, close_quietly
from relay.store.db import Database
from relay.store.inbox import InboxRepo
from relay.store.keycheck import WrongKey, check_key

log = logging.getLogger(__name__)

RESTART_MAX = 30.0
STOP_GRACE = 3.0  # seconds a task may take to finish after it was cancelled at stop
BATCH = 64  # events taken from the queue at once (see relay.runtime.pipeline)
STALL_AFTER = 90.0  # seconds an event may wait unprocessed, or a deadline unfired, before "stalled"


@dataclass
class Relay:
    """A running relay. `run()` returns an exit code when stopped."""

    config: Config
    rules: Rules
    sealer: Sealer
    clock: Clock = field(default_factory=SystemClock)
    stop_event: asyncio.Event = field(default_factory=asyncio.Event)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: dict[str, asyncio.Task[None]] = field(default_factory=dict)
    desk: Desk | None = None
    pipeline: Pipeline | None = None
    timers: Timers | None = None
    receiver: Receiver | SocketReceiver | None = None
    sender: OutboxSender | None = None
    queue: asyncio.Queue[Event] = field(default_factory=asyncio.Queue)
    processed_at: float = field(default_factory=time.monotonic)
    install_signals: bool = True  # tests running the relay inside their own loop say False
    holder: RulesHolder | None = None
    retention: RetentionJob | None = None
    watcher: RulesWatcher | None = None
    watchdog: Watchdog | None = None
    canary: Canary | None = None
    disk: DiskWatch | None = None
    chain: Chain | None = None  # welcome, delivery tracking, drills (relay.runtime.chain)
    rules_loaded_from: str | None = None  # the rules folder's fingerprint when `rules` was read
    inbox: InboxRepo | None = None  # envelopes read from signal-cli's socket, until decided

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(asyncio_exception_handler)
        cfg = self.config
        cfg.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        # restore refuses while it is held (relay.runtime.watchdog)
        run_lock = RunLock(cfg.data_dir)
        if not run_lock.acquire():
            log.error("another relay, or a restore, is using this data directory; not starting")
            return EXIT_SOFTWARE
        db = await Database.open(cfg.data_dir)
        transport = SignalTransport(
            cfg.signal.service, cfg.signal.number, cfg.signal.request_timeout.total_seconds()
        )
        try:
            try:
                await check_key(db, self.sealer)
            except WrongKey:
                log.error(
                    "the key (id %s) does not open this database: another relay's key, or a "
                    "new one? Use the key it was made with",
                    self.sealer.key_id,
                )
                return EXIT_KEY
            about = await transport.about()
            if about is None:
                log.warning("signal-cli-rest-api is not reachable yet; messages wait in the outbox")
            elif about.get("mode") != "json-rpc":
                log.error(
                    "signal-cli-rest-api runs in %r mode; the relay needs MODE=json-rpc",
                    about.get("mode"),
                )
                return EXIT_SIGNAL
            else:
                log.info("signal-cli-rest-api %s in json-rpc mode", about.get("version"))
            await self._serve(db, transport)
        finally:
            await close_quietly(transport)
            if self.inbox is not None:
                await self.inbox.close()
            await db.close()
            run_lock.release()
            close_clock = getattr(self.clock, "close", None)  # SystemClock's timerfd
            if close_clock is not None:
                close_clock()
        return EXIT_OK

    async def _serve(self, db: Database, transport: SignalTransport) -> None:
        cfg = self.config
        defaults = load_default_keywords()

        @cache
        def keywords(rules: Rules, language: str) -> KeywordTable:
            return KeywordTable.build(
                language=language, defaults=defaults, aliases=rules.keyword_aliases(language)
            )

        self.holder = RulesHolder(
            cfg.rules_dir,
            self.rules,
            allow_placeholders=cfg.allow_placeholder_numbers,
            loaded_from=self.rules_loaded_from,
        )
        vault = AttachmentVault(cfg.data_dir / "attachments", self.sealer, transport)
        catalog = load_catalog()
        alarm, handoff = Alarm(), Handoff()
        desk = Desk(
            db=db,
            sealer=self.sealer,
            clock=self.clock,
            catalog=catalog,
            rules=self.rules,
            timezone=cfg.timezone,
            admin=MemberAlias(cfg.admin),
            alarm=alarm,
            handoff=handoff,
            direct=transport.send,
            rules_for=self.holder.rules_for,
            on_closed=self.holder.release,
        )
        rekeyed = await rekey(db, self.sealer)
        if rekeyed:
            log.info("%d report(s) given screening keys for partial numbers, plates", rekeyed)
        self.desk = desk
        self.timers = Timers(desk, alarm)
        self.inbox = await InboxRepo.open(db, self.sealer)
        self.receiver = self._receiver(self.inbox)
        # the status file is written again (relay.runtime.watchdog)
        status_changed = asyncio.Event()
        send: Send = transport.send
        if cfg.canary.enabled:  # every message it sends is a probe (relay.runtime.canary)
            self.canary = build_canary(desk, send, cfg.canary, status_changed.set)
            send = self.canary.send
        self.disk = DiskWatch(
            cfg.data_dir,
            cfg.disk.low_free_mb,
            cfg.disk.check_every,
            self.clock,
            desk.tell_admin,
            on_change=status_changed.set,
        )
        self.watchdog = Watchdog(
            self.stalled,
            self.receiver,
            cfg.data_dir,
            self.clock,
            canary=self.canary.report if self.canary is not None else lambda: None,
            disk=self.disk.report,
            changed=status_changed,
        )
        outage = Outage(desk)  # the admin hears once per outage (relay.runtime.outage)
        # Welcome, delivery tracking, drills (relay.runtime.chain): its tasks, feature, hooks and
        # hears.
        self.chain = build_chain(desk, cfg.data_dir, self.clock)
        self.sender = OutboxSender(
            desk.outbox,
            send,
            self.clock,
            retry_cap=cfg.outbox.retry_cap,
            stuck_after=cfg.outbox.alert_undelivered_after,
            on_stuck=outage.stuck,
            attach=vault.as_data_uri,
            on_failed=desk.alert_failed,
            on_reached=desk.reached,
            check_group=GroupGuard(
                transport, cfg.signal.number, lambda: desk.rules, desk.notify_admin
            ).cleared,
            wipe=db.checkpoint,
            wipe_after=cfg.outbox.wipe_after,
            health=outage,
            handoff=handoff,
            on_sent=self.chain.on_sent,
            wanted=lambda m: still_wanted(desk.rules, m.address, m.text),
        )
        canary = self.canary
        post = PeerPost(self.sealer.peer_signing_key(), cfg.signal.number)
        self.pipeline = Pipeline(
            desk,
            keywords=keywords,
            features=[*default_features(db, post, vault), *self.chain.features()],
            partners=PartnerInbox(desk, cfg.signal.number, vault),
            hooks=self.chain,
            screen=ClientScreen(self.sealer, catalog, cfg.timezone),
            vault=vault,
            receipts=[
                *([canary.receipt] if canary is not None else []),
                self.chain.receipt,
            ],
            degraded=lambda: canary is not None and canary.degraded,
        )

        self.watcher = RulesWatcher(
            self.holder, self._rules_changed, live=desk.watches.live_members
        )

        overdue = await desk.watches.count_due(self.clock.now())
        if overdue:
            log.warning("%d watch(es) overdue at start; firing them now", overdue)

        if self.install_signals:
            self._install_signals()
        self._start("receiver", self.receiver.run)
        self._start("processor", self._process)
        self._start("timers", self.timers.run)
        self._start("sender", self.sender.run)
        self._start("watchdog", self.watchdog.run)
        if self.canary is not None:
            self._start("canary", self.canary.run)
        self._start("rules", self.watcher.run)
        for name, body in self.chain.tasks():
            self._start(name, body)
        # Finished check-ins, sent messages and expired reports go on schedule (and at start).
        self.retention = RetentionJob.for_desk(desk, vault, self.clock)
        self._start("retention", self.retention.run)
        self._start("disk", self.disk.run)
        if overdue:
            await desk.notify_admin("relay_started_late", count=overdue)
        systemd.notify("READY=1", "STATUS=relaying")
        self.ready.set()
        log.info("relay ready")
        await self.stop_event.wait()
        log.info("stopping")
        systemd.notify("STOPPING=1")
        for task in self.tasks.values():
            task.cancel()
        # Bounded: a WebSocket close handshake with a stuck peer must not hold up the stop
        # (systemd would SIGKILL us after its own timeout anyway; everything is already committed).
        _, pending = await asyncio.wait(self.tasks.values(), timeout=STOP_GRACE)
        if pending:
            log.warning(
                "stopping without waiting for: %s", ", ".join(t.get_name() for t in pending)
            )
        await asyncio.wait_for(self.receiver.close(), timeout=STOP_GRACE)

    def _receiver(self, inbox: InboxRepo) -> Receiver | SocketReceiver:
        """How messages come in (config `signal.receive`); the log says which, and what the
        fallback loses."""
        signal = self.config.signal
        if signal.receive == "websocket":
            log.warning(
                "receiving over signal-cli-rest-api's WebSocket (signal.receive: websocket): "
                "messages that arrive while the relay is not connected are lost"
            )
            return Receiver(signal.service, signal.number, self.queue)
        if not signal.socket.exists():
            log.warning(
                "signal-cli's JSON-RPC socket is not at %s (yet); the relay keeps trying. "
                "Messages wait on Signal's servers meanwhile",
                signal.socket,
            )
        else:
            log.info("receiving from signal-cli's JSON-RPC socket (manual receive mode)")
        # Bounded: while the processor is behind, the receiver stops reading and what signal-cli
        # has not written yet stays on Signal's servers (relay.signal.jsonrpc).
        self.queue = asyncio.Queue(maxsize=QUEUE_HIGH)
        return SocketReceiver(
            signal.socket, signal.service, signal.number, self.queue, self.ready, inbox
        )

    # --- supervision -----------------------------------------------------------------------------

    def _start(self, name: str, body: Callable[[], Awaitable[None]]) -> None:
        self.tasks[name] = asyncio.create_task(self._supervise(name, body), name=name)

    async def _supervise(self, name: str, body: Callable[[], Awaitable[None]]) -> None:
        delay = 1.0
        while True:
            started = time.monotonic()
            try:
                await body()
                log.warning("%s ended; restarting", name)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s failed; restarting in %.0fs", name, delay)
            if time.monotonic() - started > 60:
                delay = 1.0
            await asyncio.sleep(delay)
            delay = min(RESTART_MAX, delay * 2)

    async def _process(self) -> None:
        assert self.pipeline is not None  # noqa: S101 — set in _serve before tasks start
        while True:
            # Whatever has arrived meanwhile goes with it, in order (a burst: one commit).
            events = [await self.queue.get()]
            while len(events) < BATCH and not self.queue.empty():
                events.append(self.queue.get_nowait())
            self.processed_at = time.monotonic()
            assert self.receiver is not None  # noqa: S101 — set in _serve before tasks start
            try:
                await self.pipeline.take(events)
            except Exception:
                log.exception("handling %d event(s) failed", len(events))
                self.receiver.forget(events)  # kept in the inbox for the next start
            else:
                await self.receiver.handled(events)  # decided: out of the inbox
            self.processed_at = time.monotonic()

    def _install_signals(self) -> None:
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGTERM, self.stop_event.set)
            loop.add_signal_handler(signal.SIGINT, self.stop_event.set)
            loop.add_signal_handler(signal.SIGHUP, self.reload)

    # --- rules reload ----------------------------------------------------------------------------

    def reload(self) -> None:
        """SIGHUP: re-read the rules now; the admin hears the result whatever it is."""
        if self.watcher is not None:
            self.watcher.request_reload()

    async def _rules_changed(self, result: ReloadResult) -> None:
        assert self.desk is not None  # noqa: S101 — the watcher starts after the desk
        discard_rules_cache(self.config.data_dir / RULES_CACHE)  # a copy of rules now gone
        if result.status == "refused":
            problems = result.problems
            await self.desk.notify_admin(
                "rules_rejected", count=len(problems), problems="\n".join(problems[:10])
            )
            return
        self.rules = result.rules
        self.desk.use_rules(result.rules)
        if self.chain is not None:
            self.chain.rules_changed()  # new members are welcomed
        if self.retention is not None:
            self.retention.soon()  # a shorter retention takes effect now, not in an hour
        await self.desk.notify_admin("rules_loaded", members=len(result.rules.members))

    # --- watchdog (relay.runtime.watchdog pings systemd while these and the receive loop are fine)
    # -------

    async def stalled(self) -> str | None:
        """Name of a loop that stopped making progress, or None."""
        now = time.monotonic()
        if not self.queue.empty() and now - self.processed_at > STALL_AFTER:
            return "processor"
        assert self.desk is not None and self.timers is not None  # noqa: S101
        nxt = await self.desk.watches.next_wake()
        # A deadline long past is not enough: after downtime, every overdue one is, while the
        # timer loop works through them. Stalled is overdue *and* no progress for as long.
        if (
            nxt is not None
            and (self.clock.now() - nxt).total_seconds() > STALL_AFTER
            and now - self.timers.progress > STALL_AFTER
        ):
            return "timers"
        for name, task in self.tasks.items():
            if task.done():
                return name
        return None
