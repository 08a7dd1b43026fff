"""The sender: takes due messages from the outbox and hands them to signal-cli-rest-api.

Order is kept per recipient (only her oldest unsent message is tried), different recipients never
wait on each other (one buddy with a changed safety number must not hold up the alert to another),
failures retry with capped exponential backoff for as long as it takes, and alerts still unsent
after a while are reported to the admin.

No flood after an outage: relative times are rendered when a message is handed over
(relay.core.ages), so a late alert says how late it is; the first send that works after failures
wakes every queue waiting out a backoff for a failure of that kind (Signal is back: nothing should
wait for its timer); `health` (relay.runtime.outage) hears every outcome, to tell the admin once
per outage.
(A repeat of an alert to someone who still has it unsent is folded into it as it is queued:
relay.store.outbox.)
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import sqlite3
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Protocol

from relay.core.ages import render
from relay.runtime.clock import Clock
from relay.runtime.handoff import Handoff
from relay.signal.events import Send, SendOutcome
from relay.store.outbox import OutboxRepo, Pending, Tried

log = logging.getLogger(__name__)

RETRY_FIRST = timedelta(seconds=1)
CONCURRENCY = 8

Attach = Callable[[str], str | None]  # vault key → data URI (None: deleted meanwhile)
StuckHook = Callable[[list[Pending], datetime], Awaitable[None]]
FailedHook = Callable[[Pending, str], Awaitable[None]]
GroupCheck = Callable[[Pending], Awaitable[bool]]
"""May this group message go with what was withheld from it?
(`relay.runtime.group_guard.GroupGuard`)"""
SentHook = Callable[[list[tuple[Pending, int]]], None]


class Health(Protocol):
    """Who hears how sends go (relay.runtime.outage.Outage)."""

    def failed(self, failure: str, recipient: str, now: datetime) -> None: ...

    async def worked(self, now: datetime) -> None: ...


def backoff(attempts: int, cap: timedelta) -> timedelta:
    """1 s, 2 s, 4 s … up to `cap`, with up to 20 % jitter so retries do not march in step."""
    base = min(cap.total_seconds(), RETRY_FIRST.total_seconds() * 2 ** min(attempts, 20))
    jitter = base * secrets.randbelow(200) / 1000
    return timedelta(seconds=min(cap.total_seconds(), base + jitter))


def together(heads: list[Pending]) -> list[list[Pending]]:
    """Heads that can share one request: the same text, files and purpose, to people (a group
    post goes alone: signal-cli answers a group and numbers in separate batches)."""
    batches: dict[tuple[str, tuple[str, ...], str], list[Pending]] = {}
    alone: list[list[Pending]] = []
    for message in heads:
        if message.address.startswith("group."):
            alone.append([message])
            continue
        batches.setdefault((message.text, message.attachments, message.purpose), []).append(message)
    return [*batches.values(), *alone]


class OutboxSender:
    def __init__(
        self,
        repo: OutboxRepo,
        send: Send,
        clock: Clock,
        retry_cap: timedelta,
        stuck_after: timedelta,
        on_stuck: StuckHook,
        attach: Attach | None = None,
        on_failed: FailedHook | None = None,
        on_reached: Callable[[list[str]], None] | None = None,
        check_group: GroupCheck | None = None,
        wipe: Callable[[], Awaitable[bool]] | None = None,
        wipe_after: timedelta = timedelta(seconds=30),
        health: Health | None = None,
        handoff: Handoff | None = None,
        on_sent: SentHook | None = None,
        wanted: Callable[[Pending], bool] | None = None,
    ) -> None:
        self.attach = attach
        # False for a queued message no longer to go (one to a partner relay since removed from
        # the rules: removing a partner stops both directions): dropped unsent.
        self.wanted = wanted
        self.on_failed = on_failed
        self.check_group = check_group
        # Sent rows are deleted as they are recorded; the WAL keeps their old pages until a
        # checkpoint. `wipe` (Database.checkpoint) runs once nothing is left to send,
        # `wipe_after` after the first send since the last wipe.
        self.wipe = wipe
        self.wipe_after = wipe_after
        self._unwiped_since: datetime | None = None
        self.on_reached = on_reached  # addresses a send just got through to
        # Messages signal-cli accepted, with its timestamp (relay.features.delivery tracks
        # receipts).
        # Called in the sender's loop: it must return at once (the tracker queues them).
        self.on_sent = on_sent
        self.health = health
        self.repo = repo
        self._send = send
        self._failing = False  # a send failed, and none has worked since
        self.clock = clock
        self.retry_cap = retry_cap
        self.stuck_after = stuck_after
        self.on_stuck = on_stuck
        # Decisions wake it and may hand over what is due (relay.runtime.handoff).
        self.handoff = handoff if handoff is not None else Handoff()
        self.wake = self.handoff.wake
        self.last_activity = clock.now()
        self.sent = 0
        self.failures = 0
        self._delivered: list[Pending] = []  # recorded as sent in this batch, to log once

    async def send(self, recipients: list[str], text: str, files: list[str]) -> SendOutcome:
        """Hand one message to signal-cli, its relative times rendered now (relay.core.ages)."""
        return await self._send(recipients, render(text, self.clock.now()), files)

    def poke(self) -> None:
        """New messages were committed: try them now."""
        self.handoff.poke()

    def ticket(self) -> int | None:
        return self.handoff.ticket()

    def offer(self, ticket: int | None, heads: list[Pending]) -> None:
        self.handoff.offer(ticket, heads)

    async def run(self) -> None:
        while True:
            offered = self.handoff.turn()
            now = self.clock.now()
            self.last_activity = now
            if offered is not None:
                await self._send_batch(offered)
                continue
            # Recorded before told: the look makes every commit so far durable (one fsync for
            # the batch and every decision before it), then reads what is due — in one trip.
            look = await self.repo.look(now, self.stuck_after)
            if look.stuck:
                await self.on_stuck(look.stuck, now)
            if look.heads:
                await self._send_batch(look.heads)
                continue  # more may be due right away (the next message to each recipient)
            await self._wipe_if_due(now)
            self.handoff.asleep = True
            try:
                await self.clock.sleep_until(self._wake_at(look.next_attempt), self.wake)
            finally:
                self.handoff.asleep = False

    def _wake_at(self, nxt: datetime | None) -> datetime | None:
        wipe = self._wipe_due()
        if nxt is None:
            return wipe
        # Also wake when the oldest waiting alert becomes "stuck", to tell the admin in time.
        soonest = min(nxt, self.clock.now() + self.stuck_after)
        return soonest if wipe is None else min(soonest, wipe)

    def _wipe_due(self) -> datetime | None:
        if self.wipe is None or self._unwiped_since is None:
            return None
        return self._unwiped_since + self.wipe_after

    async def _wipe_if_due(self, now: datetime) -> None:
        due = self._wipe_due()
        if self.wipe is None or due is None or now < due:
            return
        try:
            done = await self.wipe()
        except sqlite3.Error as exc:  # the log stayed locked: the next quiet moment tries again
            log.warning(
                "emptying the write-ahead log failed (%s); trying again later", type(exc).__name__
            )
            self._unwiped_since = now
            return
        # Another connection's reader held the log: try again `wipe_after` from now.
        self._unwiped_since = None if done else now

    async def _send_batch(self, heads: list[Pending]) -> None:
        if self.wanted is not None:
            dropped = [m for m in heads if not self.wanted(m)]
            if dropped:
                await self.repo.record([Tried(m.id, self.clock.now()) for m in dropped])
                log.info("%d queued message(s) no longer wanted, dropped unsent", len(dropped))
                heads = [m for m in heads if m not in dropped]
                if not heads:
                    return
        batches = together(heads)
        try:
            if len(batches) == 1:  # the usual case: no tasks to make
                await self._send_together(batches[0])
                return
            gate = asyncio.Semaphore(CONCURRENCY)

            async def one(batch: list[Pending]) -> None:
                async with gate:
                    await self._send_together(batch)

            await asyncio.gather(*(one(b) for b in batches))
        finally:
            self._log_delivered()

    def _log_delivered(self) -> None:
        """One line per purpose for what this batch delivered (after downtime a batch may hold
        dozens of alerts: a line each was a seventh of the sender's time). Alerts and notices
        to the journal; the replies to every message only when debugging."""
        by_purpose: dict[str, list[Pending]] = {}
        for message in self._delivered:
            by_purpose.setdefault(message.purpose, []).append(message)
        self._delivered = []
        for purpose, messages in by_purpose.items():
            first = min(messages, key=lambda m: m.id)
            log.log(
                logging.DEBUG if purpose == "reply" else logging.INFO,
                "sent %s #%d%s (try %d)",
                purpose,
                first.id,
                f" and {len(messages) - 1} more" if len(messages) > 1 else "",
                first.attempts + 1,
            )

    async def _send_together(self, batch: list[Pending]) -> None:
        """One request for the same text to several people (an SOS to 50 is one send, not 50).

        signal-cli sends each recipient her own 1:1 message and reports per-recipient failures;
        a request refused as a whole (one unregistered number refuses every recipient) is
        split, so nobody waits on somebody else's broken number — except a rate limit (429),
        which more requests only prolong: the whole batch backs off together.
        """
        if len(batch) == 1:
            await self._send_one(batch[0])
            return
        first = batch[0]
        files = self._files(first)
        outcome = await self.send([m.address for m in batch], first.text, files)
        failed = set(outcome.recipients_failed)
        if outcome.failure == "rate_limited":
            failed = {m.address for m in batch}  # the account is limited: splitting adds tries
        if outcome.ok or (failed and failed <= {m.address for m in batch}):
            await self._record(
                [
                    (m, SendOutcome(ok=False, failure=outcome.failure))
                    if m.address in failed
                    else (m, SendOutcome(ok=True, timestamp=outcome.timestamp))
                    for m in batch
                ]
            )
            return
        await asyncio.gather(*(self._send_one(m) for m in batch))

    def _files(self, message: Pending, keys: tuple[str, ...] | None = None) -> list[str]:
        wanted = message.attachments if keys is None else keys
        files = [self.attach(key) for key in wanted] if self.attach else []
        return [f for f in files if f]

    async def _send_one(self, message: Pending) -> None:
        text, files = message.text, self._files(message)
        # A group's alert: the full text and photos only if its members were checked just now
        # and all belong (relay.runtime.group_guard); else the safe text, which says the details go
        # privately to whoever answers.
        withheld = message.withheld
        if withheld is not None and self.check_group and await self.check_group(message):
            text, files = withheld[0], self._files(message, withheld[1])
        outcome = await self.send([message.address], text, files)
        await self._record([(message, outcome)])

    async def _record(self, results: list[tuple[Pending, SendOutcome]]) -> None:
        """One transaction for a request's outcomes; then escalations and log lines."""
        now = self.clock.now()
        tries = []
        failures = []
        for message, outcome in results:
            if outcome.ok:
                tries.append(
                    Tried(
                        message.id,
                        now,
                        signal_timestamp=outcome.timestamp,
                        # Only an alert message itself (or a repeat) answers for its alert.
                        watch_id=message.watch_id if message.purpose == "alert" else None,
                    )
                )
                continue
            failure = outcome.failure or "unknown"
            retry_at = now + backoff(message.attempts, self.retry_cap)
            tries.append(Tried(message.id, retry_at, error=failure))
            failures.append((message, failure, retry_at))
        await self.repo.record(tries)
        if self._unwiped_since is None and len(failures) < len(results):
            self._unwiped_since = now
        failed = {message.id for message, _, _ in failures}
        self._delivered.extend(m for m, _ in results if m.id not in failed)  # logged per batch
        self.sent += len(results) - len(failures)
        if self.on_reached is not None:
            self.on_reached([m.address for m, _ in results if m.id not in failed])
        if self.on_sent is not None:  # handed over, not awaited: it must never slow sending
            accepted = [(m, o.timestamp) for m, o in results if o.ok and o.timestamp is not None]
            if accepted:
                self.on_sent(accepted)
        if len(failures) < len(results) and self._failing:
            # Signal answers again: every queue backing off from a failure of that kind goes
            # now, not when its timer runs out (her reply must not wait up to retry_cap).
            self._failing = False
            woken = await self.repo.wake_backed_off(now)
            if woken:
                log.info("sends work again; %d waiting queue(s) woken", woken)
            if self.health is not None:
                await self.health.worked(now)
        for message, failure, _ in failures:
            self._failing = True
            if self.health is not None:
                self.health.failed(failure, message.address, now)
        for message, failure, retry_at in failures:
            self.failures += 1
            if self.on_failed is not None and message.purpose == "alert":
                await self.on_failed(message, failure)
            log.warning(
                "send of %s #%d failed (%s, try %d); retrying in %.0fs",
                message.purpose,
                message.id,
                failure,
                message.attempts + 1,
                (retry_at - now).total_seconds(),
            )
