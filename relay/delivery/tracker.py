"""Delivery-aware alerts: which alert (and practice) messages reached whose phone, and an alert
tier that reached no phone moving on by itself.

- Every alert and practice message signal-cli accepts is recorded (`sent`, called by the outbox
  sender) with its recipient and Signal's timestamp, keyed;
- a phone's delivery or read receipt naming that timestamp marks it (`receipt`; receipts come
  through the engine, which also hands them to the canary);
- `escalation.undelivered_after` after a tier's first message, if nobody of that tier has it on
  their phone and nobody answered (the alert is still unanswered, at that tier), the next tier is
  alerted at once — the path an unreachable recipient takes (`decide.on_undeliverable`) — and
  the admin is told. The looks are deadlines in the store, woken for by one task (`run`).

What "reached her phone" means, and does not, is in `relay.core.delivery`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import aiosqlite

from relay.clock import Clock
from relay.core.decide import on_undeliverable
from relay.core.delivery import Reach, status_lines, tier_unreached
from relay.core.render import display, span
from relay.core.state import Phase, Watch
from relay.core.voice import Voice
from relay.delivery.store import ALERT, DRILL, DeliveryStore, Sent
from relay.signal.events import Receipt
from relay.store.outbox import Pending

if TYPE_CHECKING:
    from relay.engine import Engine

log = logging.getLogger(__name__)

REMEMBER = timedelta(days=2)
"""Receipts are awaited for messages this recent; delivery rows are kept as long (STATUS and a
drill's report need minutes; a phone off for a weekend still counts when it comes back)."""

TRACKED = frozenset({"alert", "drill"})
PURGE_EVERY = timedelta(hours=1)
EARLY_KEPT = 256
"""Receipts kept for messages not recorded yet (most are for replies, never tracked)."""


class Tracker:
    def __init__(self, engine: Engine, store: DeliveryStore, clock: Clock) -> None:
        self.engine = engine
        self.store = store
        self.clock = clock
        self.wake = asyncio.Event()
        self._stamps: set[bytes] = set()  # keyed timestamps of tracked messages (receipts' filter)
        # Receipts for timestamps not known yet: a phone can answer before the sender has
        # recorded what signal-cli accepted. Replayed by `sent`; the oldest are dropped.
        self._early: OrderedDict[int, list[Receipt]] = OrderedDict()
        self._purged: datetime | None = None
        self._sent: asyncio.Queue[tuple[datetime, list[tuple[Pending, int]]]] = asyncio.Queue()

    def voice(self) -> Voice:
        engine = self.engine
        return Voice(engine.context.policy, engine.catalog, engine.timezone)

    async def load(self) -> None:
        self._stamps = await self.store.known_stamps(self.clock.now() - REMEMBER)

    # --- what was sent, what came back -------------------------------------------------------

    def sent_soon(self, results: Sequence[tuple[Pending, int]]) -> None:
        """The outbox sender's hook: what signal-cli accepted, queued for `record_sent` (alerts
        and practice only), so the sender never waits on this bookkeeping."""
        tracked = [(m, t) for m, t in results if m.purpose in TRACKED and m.watch_id is not None]
        if tracked:
            self._sent.put_nowait((self.clock.now(), tracked))

    async def record_sent(self) -> None:
        """The task that records what `sent_soon` queued, in order."""
        while True:
            at, results = await self._sent.get()
            try:
                await self.sent(results, at)
            except Exception:
                log.exception("recording sent messages for their receipts failed")

    async def sent(self, results: Sequence[tuple[Pending, int]], now: datetime) -> None:
        """Messages signal-cli accepted at `now`: a row per recipient, a keyed stamp each."""
        items = []
        for message, stamp in results:
            if message.purpose not in TRACKED or message.watch_id is None:
                continue
            if message.purpose == "drill":
                items.append(
                    Sent(
                        DRILL, message.watch_id, message.address, message.label, 0, now, stamp, None
                    )
                )
                continue
            watch = await self.engine.watches.get(message.watch_id)
            tier = watch.tiers_alerted if watch is not None else 0
            after = self._undelivered_after(watch)
            check = now + after if after is not None and watch is not None else None
            items.append(
                Sent(
                    ALERT, message.watch_id, message.address, message.label, tier, now, stamp, check
                )
            )
        if not items:
            return
        await self.store.record(items)
        self._stamps.update(self.store.stamp_tag(item.stamp) for item in items)
        if any(item.check_at is not None for item in items):
            self.wake.set()
        early = [r for item in items for r in self._early.pop(item.stamp, [])]
        for event in dict.fromkeys(early):  # one receipt may name several of these messages
            await self.receipt(event)

    def _undelivered_after(self, watch: Watch | None) -> timedelta | None:
        if watch is None:
            return None
        return self.engine.rules_for(watch.member).undelivered_after

    async def receipt(self, event: Receipt) -> None:
        """A phone's receipt: marks the tracked messages it names as on that phone (and read)."""
        stamps = []
        for stamp in event.timestamps:
            if self.store.stamp_tag(stamp) in self._stamps:
                stamps.append(stamp)
            else:
                self._keep_early(stamp, event)
        if not stamps:
            return
        senders = self._sender_tags(event)
        ids: list[int] = []
        for stamp in stamps:
            rows = await self.store.rows_for_stamp(stamp)
            if len(rows) > 1:
                # One request to several people shares its timestamp: whose phone is this?
                rows = [r for r in rows if r.recipient_tag in senders]
            ids.extend(r.id for r in rows)
        if ids:
            read = event.kind in ("read", "viewed")
            await self.store.mark(ids, read=read, at=self.clock.now())

    def _keep_early(self, stamp: int, event: Receipt) -> None:
        self._early.setdefault(stamp, []).append(event)
        self._early.move_to_end(stamp)
        while len(self._early) > EARLY_KEPT:
            self._early.popitem(last=False)

    def _sender_tags(self, event: Receipt) -> set[bytes]:
        addresses = {a for a in (event.sender_number, event.sender_uuid) if a}
        if event.sender_uuid:
            member = self.engine.rules.member_by_uuid(event.sender_uuid)
            if member is not None:
                addresses.add(member.number)
        return {self.store.recipient_tag(a) for a in addresses}

    async def reaches(self, about: str, ref: str) -> list[Reach]:
        return await self.store.reaches(about, ref)

    async def answered(self, about: str, ref: str, address: str, at: datetime) -> None:
        """An answer proves the message reached her phone, whatever the receipts said."""
        await self.store.mark_answered(about, ref, address, at)

    async def status_lines(self, alias: str, watch: Watch, now: datetime) -> list[str]:
        """Her STATUS lines for her open alert: whom it reached, when (never for duress: the
        caller checks)."""
        reaches = await self.store.reaches(ALERT, watch.id)
        return status_lines(self.voice(), alias, watch.alerted, reaches, now, watch.acked_by)

    async def shift(self, conn: aiosqlite.Connection, step: timedelta) -> None:
        """The wall clock jumped (the engine's `follow_clock`): move the looks with it."""
        await self.store.shift(conn, step)

    # --- tiers that reached no phone -----------------------------------------------------------

    async def run(self) -> None:
        await self.load()
        while True:
            self.wake.clear()
            await self.check_due()
            await self.purge()
            await self.clock.sleep_until(await self.store.next_check(), self.wake)

    async def purge(self) -> None:
        """Rows older than `REMEMBER`, at most once an hour (not at every wake-up)."""
        now = self.clock.now()
        if self._purged is not None and now - self._purged < PURGE_EVERY:
            return
        self._purged = now
        with contextlib.suppress(aiosqlite.Error):
            await self.store.purge(now - REMEMBER)

    async def check_due(self) -> None:
        async with self.engine.lock:
            await self.engine.follow_clock()  # a clock step moves the looks first
        for ref, tier in await self.store.due_checks(self.clock.now()):
            try:
                await self._check(ref, tier)
            except Exception:
                log.exception("looking whether an alert reached a phone failed")

    async def _check(self, ref: str, tier: int) -> None:
        engine = self.engine
        async with engine.lock:
            now = self.clock.now()
            await self.store.done_checking(ref, tier)
            watch = await engine.watches.get(ref)
            if watch is None or watch.phase is not Phase.ALERTED or watch.tiers_alerted != tier:
                return  # someone is on it, it is over, or the ladder moved on meanwhile
            reaches = await self.store.reaches(ALERT, ref)
            if not tier_unreached(reaches, tier):
                return
            decision = on_undeliverable(engine.context, watch, now)
            await engine.apply(decision, now)
        after = self._undelivered_after(watch) or timedelta(0)
        moved = any(w.tiers_alerted > watch.tiers_alerted for w in decision.watches)
        log.warning(
            "an alert reached no phone in tier %d within %s; %s",
            tier,
            span(after),
            "the next tier was alerted" if moved else "there is no tier after it",
        )
        if engine.admin is not None and engine.admin != watch.member:
            names = ", ".join(display(r.label) for r in reaches if r.tier == tier)
            await engine.notify_admin(
                "undelivered_moved_on" if moved else "undelivered_last_tier",
                who=display(watch.member),
                after=span(after),
                names=names,
            )
