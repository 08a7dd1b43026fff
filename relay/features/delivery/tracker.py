"""Delivery-aware alerts: which alert (and practice) messages reached whose phone, and an alert
tier that reached no phone moving on by itself.

- Every alert and practice message signal-cli accepts is recorded (`sent`, called by the outbox
  sender) with its recipient and Signal's timestamp, keyed;
- a phone's delivery or read receipt naming that timestamp marks it (`receipt`; receipts come
  through the desk, which also hands them to the canary); an answer marks it too (`answered`,
  in the pipeline's transaction);
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
import sqlite3
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING

import aiosqlite

from relay.core.decide import on_undeliverable
from relay.core.delivery import Reach, moves_on, status_lines
from relay.core.render import display, span
from relay.core.state import Watch
from relay.core.voice import Voice
from relay.runtime.clock import Clock
from relay.signal.events import Receipt
from relay.store.deliveries import ALERT, DRILL, DeliveryRepo, Entry, Recipient
from relay.store.outbox import Pending

if TYPE_CHECKING:
    from relay.features.delivery.host import Host

log = logging.getLogger(__name__)

REMEMBER = timedelta(days=2)
"""Receipts are awaited for messages this recent; delivery rows are kept as long (STATUS and a
drill's report need minutes; a phone off for a weekend still counts when it comes back)."""

TRACKED = frozenset({"alert", "drill"})
PURGE_EVERY = timedelta(hours=1)
KNOWN_WAIT = 0.5
"""Seconds a reply to a relay message waits for that message's send to be recorded (before its
decision: short)."""
EARLY_KEPT = 256
"""Receipts kept for messages not recorded yet (most are for replies, never tracked)."""


Groups = dict[tuple[str, str], list[tuple[Pending, int]]]


class Tracker:
    """Every change to a delivery row is read, change, write in one trip to the database thread
    (`relay.store.deliveries`), which runs one thing at a time: sends, receipts, answers (inside
    the pipeline's transaction) and looks never overwrite each other's changes."""

    def __init__(self, desk: Host, repo: DeliveryRepo, clock: Clock) -> None:
        self.desk = desk
        self.repo = repo
        self.clock = clock
        self.wake = asyncio.Event()
        self._stamps: set[bytes] = set()  # keyed timestamps of tracked messages (receipts' filter)
        # Receipts for timestamps not known yet: a phone can answer before the sender has
        # recorded what signal-cli accepted. Replayed by `sent`; the oldest are dropped.
        self._early: OrderedDict[int, list[Receipt]] = OrderedDict()
        self._purged: datetime | None = None
        self._work: asyncio.Queue[Callable[[], Awaitable[None]]] = asyncio.Queue()
        self._recorded = asyncio.Event()  # set after each batch of sends is recorded

    def voice(self) -> Voice:
        desk = self.desk
        return Voice(desk.context.policy, desk.catalog, desk.timezone)

    async def load(self) -> None:
        since = self.clock.now() - REMEMBER
        self._stamps = await self.desk.db.run(partial(DeliveryRepo.known_stamps, since=since))

    # --- what was sent, what came back -------------------------------------------------------

    def sent_soon(self, results: Sequence[tuple[Pending, int]]) -> None:
        """The outbox sender's hook: what signal-cli accepted, queued for `sent` (alerts and
        practice only), so the sender never waits on this bookkeeping."""
        tracked = [(m, t) for m, t in results if m.purpose in TRACKED and m.watch_id is not None]
        if tracked:
            now = self.clock.now()
            self._work.put_nowait(lambda: self.sent(tracked, now))

    async def record_queued(self) -> None:
        """The task that carries out what `sent_soon` queued, in order."""
        while True:
            work = await self._work.get()
            try:
                await work()
            except Exception:
                log.exception("recording a delivery failed")

    async def sent(self, results: Sequence[tuple[Pending, int]], now: datetime) -> None:
        """Messages signal-cli accepted at `now`: each recipient's first one makes her entry
        (with her tier, and for an alert a look `undelivered_after` later), every one a stamp."""
        groups: Groups = {}
        for message, stamp in results:
            if message.purpose in TRACKED and message.watch_id is not None:
                about = DRILL if message.purpose == "drill" else ALERT
                groups.setdefault((about, message.watch_id), []).append((message, stamp))
        # The alerts' tiers and rules, read first: what the entries are written with.
        ladder: dict[str, tuple[int, timedelta | None]] = {}
        for about, ref in groups:
            if about == ALERT:
                watch = await self.desk.watches.get(ref)
                tier = watch.tiers_alerted if watch is not None else 0
                ladder[ref] = (tier, self._undelivered_after(watch))
        added = await self.desk.db.write(
            partial(self._record_sent, groups, ladder, now), tells=False
        )
        self._stamps.update(self.repo.stamp_tag(stamp) for stamp in added)
        self.wake.set()
        recorded, self._recorded = self._recorded, asyncio.Event()
        recorded.set()
        early = [r for stamp in added for r in self._early.pop(stamp, [])]
        for event in dict.fromkeys(early):  # one receipt may name several of these messages
            await self.receipt(event)

    def _record_sent(
        self,
        groups: Groups,
        ladder: dict[str, tuple[int, timedelta | None]],
        now: datetime,
        conn: sqlite3.Connection,
    ) -> list[int]:
        added: list[int] = []
        for (about, ref), items in groups.items():
            entry = self.repo.get(conn, about, ref) or self.repo.new(about, ref, now)
            tier, after = ladder.get(ref, (0, None))
            stamps: list[int] = []
            for message, stamp in items:
                recipient = entry.recipient(message.address)
                if recipient is None:
                    group = message.address.startswith("group.")
                    recipient = Recipient(message.address, message.label, group, tier, now)
                    entry.recipients.append(recipient)
                    if after is not None and tier > 0:
                        entry.checks.setdefault(tier, now + after)
                if stamp not in recipient.stamps:
                    recipient.stamps.append(stamp)
                if stamp not in stamps:
                    stamps.append(stamp)
            self.repo.put(conn, entry, stamps)
            added += stamps
        return added

    def _undelivered_after(self, watch: Watch | None) -> timedelta | None:
        if watch is None:
            return None
        return self.desk.rules_for(watch.member).undelivered_after

    async def receipt(self, event: Receipt) -> None:
        """A phone's receipt: marks the tracked messages it names as on that phone (and read)."""
        stamps = []
        for stamp in event.timestamps:
            if self.repo.stamp_tag(stamp) in self._stamps:
                stamps.append(stamp)
            else:
                self._keep_early(stamp, event)
        if not stamps:
            return
        senders = self._senders(event)
        read = event.kind in ("read", "viewed")
        now = self.clock.now()
        work = partial(self._mark, stamps, senders, read, now)
        await self.desk.db.write(work, tells=False)

    def _mark(
        self,
        stamps: Sequence[int],
        senders: set[str],
        read: bool,
        now: datetime,
        conn: sqlite3.Connection,
    ) -> None:
        for stamp in stamps:
            target = self.repo.target(conn, stamp)
            entry = self.repo.get(conn, *target) if target is not None else None
            if entry is None:
                continue
            sent = [r for r in entry.recipients if stamp in r.stamps]
            if len(sent) > 1:
                # One request to several people shares its timestamp: whose phone is this?
                sent = [r for r in sent if r.address in senders]
            for recipient in sent:
                recipient.on_phone = recipient.on_phone or now
                if read:
                    recipient.read = recipient.read or now
            if sent:
                self.repo.put(conn, entry)

    async def known(self, stamp: int, wait: float = KNOWN_WAIT) -> bool:
        """Whether `stamp` is a tracked message's; if not yet, wait up to `wait` seconds for
        the sends being recorded (a buddy can reply before the sender has recorded it)."""
        tag = self.repo.stamp_tag(stamp)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(wait):
                while tag not in self._stamps:
                    await self._recorded.wait()
        return tag in self._stamps

    def _keep_early(self, stamp: int, event: Receipt) -> None:
        self._early.setdefault(stamp, []).append(event)
        self._early.move_to_end(stamp)
        while len(self._early) > EARLY_KEPT:
            self._early.popitem(last=False)

    def _senders(self, event: Receipt) -> set[str]:
        addresses = {a for a in (event.sender_number, event.sender_uuid) if a}
        if event.sender_uuid:
            member = self.desk.rules.member_by_uuid(event.sender_uuid)
            if member is not None:
                addresses.add(member.number)
        return addresses

    def reaches(self, conn: sqlite3.Connection, about: str, ref: str) -> list[Reach]:
        entry = self.repo.get(conn, about, ref)
        return [r.reach() for r in entry.recipients] if entry is not None else []

    def answered(
        self, conn: sqlite3.Connection, about: str, ref: str, address: str, at: datetime
    ) -> None:
        """An answer proves the message reached her phone, whatever the receipts said (in the
        answer's own transaction)."""
        entry = self.repo.get(conn, about, ref)
        recipient = entry.recipient(address) if entry is not None else None
        if entry is not None and recipient is not None and recipient.on_phone is None:
            recipient.on_phone = at
            self.repo.put(conn, entry)

    def status_lines(
        self, conn: sqlite3.Connection, alias: str, watch: Watch, now: datetime
    ) -> list[str]:
        """Her STATUS lines for her open alert: whom it reached, when (never for duress: the
        caller checks)."""
        reaches = self.reaches(conn, ALERT, watch.id)
        return status_lines(self.voice(), alias, watch.alerted, reaches, now, watch.acked_by)

    async def shift(self, conn: aiosqlite.Connection, step: timedelta) -> None:
        """The wall clock jumped (the desk's `follow_clock`, inside its transaction on the
        same connection): move the looks with it."""
        await self.desk.db.run(partial(DeliveryRepo.shift, delta=step))

    # --- tiers that reached no phone -----------------------------------------------------------

    async def run(self) -> None:
        await self.load()
        while True:
            self.wake.clear()
            await self.check_due()
            await self.purge()
            await self.clock.sleep_until(await self.desk.db.run(DeliveryRepo.next_check), self.wake)

    async def purge(self) -> None:
        """Rows older than `REMEMBER`, at most once an hour (not at every wake-up)."""
        now = self.clock.now()
        if self._purged is not None and now - self._purged < PURGE_EVERY:
            return
        self._purged = now
        with contextlib.suppress(sqlite3.Error):
            work = partial(DeliveryRepo.purge, before=now - REMEMBER)
            await self.desk.db.write(work, tells=False)

    async def check_due(self) -> None:
        async with self.desk.lock:
            await self.desk.follow_clock()  # a clock step moves the looks first
        now = self.clock.now()
        for entry in await self.desk.db.run(partial(self.repo.due, now=now)):
            for tier in sorted(t for t, at in entry.checks.items() if at <= now):
                try:
                    await self._check(entry.ref, tier)
                except Exception:
                    log.exception("looking whether an alert reached a phone failed")

    def _looked(self, ref: str, tier: int, conn: sqlite3.Connection) -> Entry | None:
        """The alert's entry, its look at `tier` taken off (read, change, write: one trip)."""
        entry = self.repo.get(conn, ALERT, ref)
        if entry is not None:
            entry.checks.pop(tier, None)
            self.repo.put(conn, entry)
        return entry

    async def _check(self, ref: str, tier: int) -> None:
        desk = self.desk
        async with desk.lock:
            now = self.clock.now()
            entry = await desk.db.write(partial(self._looked, ref, tier), tells=False)
            if entry is None:
                return
            watch = await desk.watches.get(ref)
            reaches = [r.reach() for r in entry.recipients]
            if watch is None or not moves_on(watch, tier, reaches):
                return
            decision = on_undeliverable(desk.context, watch, now)
            await desk.apply(decision, now)
        after = self._undelivered_after(watch) or timedelta(0)
        moved = any(w.tiers_alerted > watch.tiers_alerted for w in decision.watches)
        log.warning(
            "an alert reached no phone in tier %d within %s; %s",
            tier,
            span(after),
            "the next tier was alerted" if moved else "there is no tier after it",
        )
        if desk.admin is not None and desk.admin != watch.member:
            names = ", ".join(display(r.label) for r in reaches if r.tier == tier)
            await desk.notify_admin(
                "undelivered_moved_on" if moved else "undelivered_last_tier",
                who=display(watch.member),
                after=span(after),
                names=names,
            )
