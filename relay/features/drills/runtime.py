"""Practice drills in a running relay: DRILL from a member, drills the admin asks for (`peer-relay
drill`) or the rules schedule, answers to practice messages, and the reports when time is up.

The decisions are `relay.core.drills` (pure); here they are read and stored
(`relay.store.practice`) and sent through the outbox in the same transaction, and timed: one task
sleeps until the next report or scheduled drill, or until the admin drops a request into
``<data_dir>/requests``. A member's DRILL and her answers to practice messages are decided in the
database thread, inside the pipeline's transaction (`handle`, `answer`): nothing is kept in
memory that the store does not say.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
from collections.abc import Sequence
from datetime import datetime, time, timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import aiosqlite

from relay.core import drills as core
from relay.core import intents
from relay.core.decide import Decision, Outgoing, Purpose, forwarded
from relay.core.delivery import Reach
from relay.core.drills import AskedBy, Drill, DrillSettings
from relay.core.lifecycle import is_open_alert
from relay.core.state import Kind, Recipient, Watch
from relay.core.types import MemberAlias
from relay.core.voice import Voice
from relay.crypto.seal import new_row_key
from relay.features.base import Handled, Scope, Write
from relay.features.delivery.tracker import Tracker
from relay.rules import Member
from relay.rules.watch import DirectoryWatcher
from relay.runtime.clock import Clock
from relay.signal.events import Incoming
from relay.store.deliveries import DRILL
from relay.store.practice import PracticeRepo

if TYPE_CHECKING:
    from relay.features.delivery.host import Host

log = logging.getLogger(__name__)

REQUESTS = "requests"
"""The folder under the data directory where `peer-relay drill` leaves its requests."""
REQUEST_PREFIX = "drill-"
BATCH = 200  # admin drills started per transaction (a schedule may start one per member)
KEEP = timedelta(days=7)
"""Finished drills are kept this long (or the rules' min_interval, if longer): the rate limit."""


def next_scheduled(
    last: datetime | None, every: timedelta, at: str, zone: str, now: datetime
) -> datetime:
    """The next scheduled drill: the first `at` (local time in `zone`) on or after `every` past
    the last one — or, never run yet, the first `at` from now."""
    base = last + every if last is not None else now
    hours, minutes = (int(part) for part in at.split(":"))
    tz = ZoneInfo(zone)
    local = base.astimezone(tz)
    moment = datetime.combine(local.date(), time(hours, minutes), tz)
    if moment < base:
        moment = datetime.combine(local.date() + timedelta(days=1), time(hours, minutes), tz)
    return moment


class Drills:
    """DRILL from a member (a `relay.features.base.Feature`), answers to practice messages (through
    `relay.runtime.chain`), and the timer."""

    claims: tuple[type, ...] = (intents.Drill,)

    def __init__(
        self,
        desk: Host,
        repo: PracticeRepo,
        tracker: Tracker,
        clock: Clock,
        data_dir: Path | None = None,
    ) -> None:
        self.desk = desk
        self.repo = repo
        self.tracker = tracker
        self.clock = clock
        self.requests = data_dir / REQUESTS if data_dir is not None else None
        self.wake = asyncio.Event()
        self._last_scheduled: datetime | None = None
        self._first_at: datetime | None = None  # before the first scheduled run: when it is due
        self._plan: str | None = None  # the schedule `_first_at` was planned for
        self._purged: datetime | None = None

    def settings(self) -> DrillSettings:
        policy = self.desk.rules.drills
        return DrillSettings(policy.tiers, policy.report_after, policy.min_interval)

    def voice(self) -> Voice:
        desk = self.desk
        return Voice(desk.context.policy, desk.catalog, desk.timezone)

    def asking(self, conn: sqlite3.Connection, alias: str) -> list[Drill]:
        """Running drills waiting for `alias`'s answer."""
        return self.repo.asking(conn, alias)

    def drill_of_stamp(self, conn: sqlite3.Connection, stamp: int) -> str | None:
        """The drill a relay message was the practice alert of (by Signal's timestamp)."""
        target = self.tracker.repo.target(conn, stamp)
        return target[1] if target is not None and target[0] == DRILL else None

    async def load(self) -> None:
        state = await self.desk.db.run(PracticeRepo.schedule_state)
        self._last_scheduled, self._first_at, self._plan = state

    async def _woken(self) -> None:
        """After a commit that started or answered drills: the timer looks again."""
        self.wake.set()

    def _saver(self, drills: Sequence[Drill]) -> Write | None:
        """The timer's writes of `drills`, inside `Host.apply`'s transaction."""
        if not drills:
            return None

        async def write(conn: aiosqlite.Connection) -> None:
            await self.desk.db.run(partial(self.repo.save, drills=drills))

        return write

    def _live(self, conn: sqlite3.Connection, alias: MemberAlias) -> Watch | None:
        watches = self.desk.watches
        found = watches.opened_here(conn, watches.live_rows(conn, alias))
        return found[0] if found else None

    # --- DRILL from a member (a feature) -----------------------------------------------------

    async def enrich(self, member: Member, intent: intents.Intent, event: Incoming) -> object:
        """What her phone said: after her duress word it is forwarded to those alerted."""
        return event.text

    def handle(
        self,
        conn: sqlite3.Connection,
        scope: Scope,
        member: Member,
        intent: intents.Intent,
        enriched: object,
        now: datetime,
    ) -> Handled:
        alias = member.alias
        own = self._live(conn, alias)
        last = self.repo.last_own(conn, alias)
        outcome = self._start(alias, now, new_row_key(), AskedBy.MEMBER, own, last)
        messages = list(outcome.messages)
        if own is not None and own.kind is Kind.DURESS and own.live:
            # After her duress word what her phone sends is forwarded to those alerted.
            said = enriched if isinstance(enriched, str) else None
            messages += forwarded(self.desk.context, own, said, now)
        decision = Decision(messages=tuple(messages))
        drill = outcome.drill
        if drill is None:
            return Handled(decision)
        # No alias (who practised when is hers), and the same line after her duress word.
        log.info("a practice drill started")
        limit = self.settings().min_interval

        def writes(conn: sqlite3.Connection) -> None:
            self.repo.save(conn, [drill])
            self.repo.ran_own(conn, alias, now, now + limit)

        return Handled(decision, writes, after=self._woken)

    def _start(
        self,
        alias: MemberAlias,
        now: datetime,
        new_id: str,
        asked_by: AskedBy,
        own: Watch | None,
        last_own: datetime | None = None,
        batch: str | None = None,
    ) -> core.Outcome:
        tiers = self.desk.context.policy.tiers(alias, Kind.CHECKIN)
        return core.start(
            self.voice(),
            self.settings(),
            alias,
            tiers,
            now,
            new_id,
            batch or new_id,
            asked_by,
            last_own,
            own,
        )

    # --- answers (in the database thread, from `relay.runtime.chain`)
    # ---------------------------------

    def answer(
        self, conn: sqlite3.Connection, member: Member, drill_ids: Sequence[str], now: datetime
    ) -> Handled:
        """`member` answered these drills' practice alerts: one reply, and what changed."""
        voice = self.voice()
        running = {d.id: d for d in self.repo.running(conn)}
        texts: list[str] = []
        changed: list[Drill] = []
        for drill_id in drill_ids:
            drill = running.get(drill_id)
            if drill is not None and self._overtaken(conn, drill):
                drill = None
            if drill is None:
                texts.append(voice.text(member.alias, "drill_over"))
                continue
            outcome = core.answer(voice, drill, member.alias, now)
            texts += [m.text for m in outcome.messages]
            if outcome.drill is not None:
                changed.append(outcome.drill)
        number = self.desk.address(Recipient.member(member.alias))
        unique = list(dict.fromkeys(texts))
        reply = Outgoing(Recipient.member(member.alias), "\n".join(unique), Purpose.REPLY)

        def writes(conn: sqlite3.Connection) -> None:
            self.repo.save(conn, changed)
            if number is not None:  # an answer proves the practice reached her phone
                for drill in changed:
                    self.tracker.answered(conn, DRILL, drill.id, number, now)

        return Handled(Decision(messages=(reply,)), writes, after=self._woken)

    def _overtaken(self, conn: sqlite3.Connection, drill: Drill) -> bool:
        """Her own real alert is open: the practice stops counting (a real alert always wins)."""
        her = self._live(conn, drill.member)
        return her is not None and is_open_alert(her)

    # --- the timer: reports, the schedule, the admin's requests --------------------------------

    async def run(self) -> None:
        await self.load()
        if self.requests is not None:
            self.requests.mkdir(mode=0o700, parents=True, exist_ok=True)
        while True:
            self.wake.clear()
            steps = (
                self._take_requests,
                self._report_due,
                self._plan_schedule,
                self._scheduled_due,
                self._purge,
            )
            for step in steps:
                try:
                    await step()
                except Exception:
                    log.exception("a drill step failed")
            await self.clock.sleep_until(await self._next_wake(), self.wake)

    async def watch_requests(self) -> None:
        """Wake the timer when `peer-relay drill` leaves a request (inotify; no polling)."""
        if self.requests is None:
            await asyncio.Event().wait()
            return
        self.requests.mkdir(mode=0o700, parents=True, exist_ok=True)
        async with DirectoryWatcher(self.requests) as watcher:
            while True:
                await watcher.changed()
                self.wake.set()

    async def _next_wake(self) -> datetime | None:
        report = await self.desk.db.run(PracticeRepo.next_report)
        times = [report] if report is not None else []
        scheduled = self._scheduled_at()
        if scheduled is not None:
            times.append(scheduled)
        return min(times) if times else None

    def _scheduled_at(self) -> datetime | None:
        schedule = self.desk.rules.drills.schedule
        if schedule is None:
            return None
        if self._last_scheduled is None:
            return self._first_at  # planned by `_plan_schedule` (None until then)
        now = self.clock.now()
        return next_scheduled(
            self._last_scheduled, schedule.every, schedule.at, self.desk.timezone, now
        )

    async def _plan_schedule(self) -> None:
        """Before the first scheduled run, fix when it is due (in the store): the first `at`
        after the schedule appeared — not pushed back by every restart or wake-up."""
        schedule = self.desk.rules.drills.schedule
        if schedule is None or self._last_scheduled is not None:
            return
        plan = f"{schedule.every.total_seconds():.0f}s@{schedule.at}"
        if self._first_at is not None and self._plan == plan:
            return
        now = self.clock.now()
        first = next_scheduled(None, schedule.every, schedule.at, self.desk.timezone, now)
        await self.desk.db.write(partial(PracticeRepo.plan_first, first_at=first, plan=plan))
        self._first_at, self._plan = first, plan

    async def _take_requests(self) -> None:
        if self.requests is None or not self.requests.is_dir():
            return
        for path in sorted(self.requests.glob(f"{REQUEST_PREFIX}*.json")):
            try:
                request = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                request = None
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            member = request.get("member") if isinstance(request, dict) else None
            if not isinstance(request, dict) or not (member is None or isinstance(member, str)):
                log.warning("skipped a drill request that could not be read")
                continue
            started = await self.start_for_admin(member)
            log.info("the admin's drill request started %d drill(s)", started)

    async def start_for_admin(self, alias: str | None) -> int:
        """Drills for one member or, `alias` None, for every member: not rate-limited; her
        report to her, gaps to the admin together. Returns how many started."""
        rules = self.desk.rules
        if alias is not None and alias not in rules.members:
            log.warning("a drill was asked for someone who is not a member; nothing started")
            return 0
        aliases = [MemberAlias(alias)] if alias is not None else list(rules.members)
        batch = new_row_key()
        started = 0
        for first in range(0, len(aliases), BATCH):
            started += await self._start_many(aliases[first : first + BATCH], batch)
        return started

    async def _start_many(self, aliases: Sequence[MemberAlias], batch: str) -> int:
        desk = self.desk
        async with desk.lock:
            now = self.clock.now()
            messages: list[Outgoing] = []
            drills: list[Drill] = []
            for alias in aliases:
                own = await desk.watches.live_for(alias)
                outcome = self._start(alias, now, new_row_key(), AskedBy.ADMIN, own, batch=batch)
                messages += outcome.messages
                if outcome.drill is not None:
                    drills.append(outcome.drill)
            await desk.apply(Decision(messages=tuple(messages)), now, write=self._saver(drills))
        return len(drills)

    async def _report_due(self) -> None:
        now = self.clock.now()
        running = await self.desk.db.run(self.repo.running)
        due = [d for d in running if d.report_at is not None and d.report_at <= now]
        batches: dict[str, list[Drill]] = {}
        for drill in due:
            batches.setdefault(drill.batch, []).append(drill)
        for drills in batches.values():
            await self._report(drills)

    async def _report(self, due: Sequence[Drill]) -> None:
        desk = self.desk
        voice = self.voice()
        async with desk.lock:
            now = self.clock.now()
            # Read again under the lock: an answer may have come in since they were listed.
            running = {d.id: d for d in await desk.db.run(self.repo.running)}
            drills = [running[d.id] for d in due if d.id in running]
            messages: list[Outgoing] = []
            done: list[Drill] = []
            gaps: list[tuple[Drill, dict[str, Reach]]] = []
            for drill in drills:
                her = await desk.watches.live_for(drill.member)
                reached = await desk.db.run(
                    partial(self.tracker.reaches, about=DRILL, ref=drill.id)
                )
                reaches = {r.label: r for r in reached if not r.group}
                result = core.report(voice, drill, reaches, now, her)
                messages += result.messages
                done.append(result.drill)
                if result.gap:
                    gaps.append((drill, reaches))
            admin = desk.admin
            if admin is not None and gaps:
                notice = core.admin_report(voice, admin, gaps, now)
                if notice is not None:
                    messages.append(notice)
            await desk.apply(Decision(messages=tuple(messages)), now, write=self._saver(done))
        if gaps:
            log.info(
                "%d practice drill(s) ended with nobody answering; the admin was told", len(gaps)
            )

    async def _scheduled_due(self) -> None:
        at = self._scheduled_at()
        if at is None or at > self.clock.now():
            return
        ran_at = self.clock.now()

        # Marked first, in its own commit: a crash mid-way must not start every drill again.
        await self.desk.db.write(partial(PracticeRepo.mark_scheduled, at=ran_at))
        self._last_scheduled = ran_at
        started = await self.start_for_admin(None)
        log.info("scheduled practice drills: %d started", started)

    async def _purge(self) -> None:
        """Finished drills past the rate limit's reach, at most once an hour."""
        now = self.clock.now()
        if self._purged is not None and now - self._purged < timedelta(hours=1):
            return
        self._purged = now
        keep = max(KEEP, self.desk.rules.drills.min_interval)
        await self.desk.db.write(partial(PracticeRepo.purge, before=now - keep, now=now))
