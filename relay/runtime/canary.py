"""The end-to-end canary: do the relay's messages still reach phones, and do phones reach it?

`/v1/health` answers 204 while signal-cli is stuck behind it, and a stuck signal-cli still answers
`/v2/send` with 201, so neither says whether an alert would arrive. What does say it is a phone's
**receipt**: every phone that gets a message sends a delivery receipt back on its own, and that
receipt must cross Signal's servers, signal-cli and the receive WebSocket to reach the relay. One
receipt for a message the relay sent proves the whole loop, both ways.

Why not a note to self: signal-cli never receives its own sends back (they go to the account's
other devices as sync transcripts), so nothing would come back to the relay to prove anything.

How it works:

- every 1:1 message the relay sends (replies, reminders, alerts) is a free probe: `track` wraps the
  send function and remembers the timestamps signal-cli-rest-api returned;
- a receipt naming one of those timestamps is proof: the canary is **ok**;
- when a tracked message gets no receipt within `timeout`, that is a miss — one phone may just be
  off, so the canary confirms at once with a short probe to `canary.to` (by default the admin);
- when nothing has been proved for `every` (a quiet night), the canary sends that probe itself;
- a probe that signal-cli-rest-api refuses or times out is a miss too (Signal cannot be reached);
- `misses` misses in a row make the canary **degraded**: the admin is told by every path there is
  (a Signal message, which may well not arrive; the log at ERROR; systemd's STATUS=; the status
  file `peer-relay status` reads), and members who check in, extend, ask STATUS or send SOS get an
  extra line in their reply saying alerts may be delayed, so they can call someone too;
- the first proof after that ends it, and the admin is told.

A phone that stays off (the admin's, overnight) costs at most a false warning; point `canary.to`
at a phone that is always on to avoid that. Group messages are not tracked (a group's receipts
come from many phones). Nothing here stores or logs a number or a word of any message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from relay.core.render import clock, span
from relay.core.state import Recipient
from relay.core.types import MemberAlias
from relay.runtime.canary_report import CanaryReport, State
from relay.runtime.clock import Clock
from relay.signal.events import Receipt, Send, SendOutcome

if TYPE_CHECKING:
    from relay.config import CanarySection
    from relay.runtime.desk import Desk

log = logging.getLogger(__name__)


TRACKED_MAX = 512
"""Sent timestamps remembered for matching receipts; older ones are forgotten first."""


Probe = Callable[[Send], Awaitable[SendOutcome | None]]
"""Sends one short probe through the send function it is given (the canary's tracked one)."""
ChangeHook = Callable[["CanaryReport"], Awaitable[None]]


class Canary:
    """Watches receipts against sends, probes when nothing else proves the loop, and reports."""

    def __init__(
        self,
        clock: Clock,
        *,
        every: timedelta,
        timeout: timedelta,
        misses: int,
        send: Send,
        probe: Probe,
        on_change: ChangeHook,
        tick: Callable[[], float] = time.monotonic,
    ) -> None:
        self.clock = clock  # for the times it reports
        self.tick = tick  # for the waits it measures (see `step`)
        self.every = every.total_seconds()
        self.timeout = timeout.total_seconds()
        self.misses_allowed = max(1, misses)
        self.probe = probe
        self.send = self.track(send)  # what the outbox sends through: every message a probe
        self.on_change = on_change
        self._sent: OrderedDict[int, None] = OrderedDict()
        self._wake = asyncio.Event()
        self._started = tick()
        self._outstanding: float | None = None  # oldest tracked send not yet proved
        self._last_probe: float | None = None
        self._proved: float | None = None
        self._state: State = "unknown"
        self._previous: State = "unknown"
        self._last_ok: datetime | None = None
        self._checked: datetime | None = None
        self._failing_since: datetime | None = None
        self._reason: str | None = None
        self._misses = 0

    @property
    def degraded(self) -> bool:
        return self._state == "degraded"

    def report(self) -> CanaryReport:
        return CanaryReport(
            state=self._state,
            previous=self._previous,
            last_ok_at=self._last_ok,
            checked_at=self._checked,
            failing_since=self._failing_since,
            reason=self._reason,
            misses=self._misses,
        )

    # --- evidence ------------------------------------------------------------------------------

    def track(self, send: Send) -> Send:
        """`send`, remembering the timestamp of every accepted 1:1 message as a probe."""

        async def tracked(recipients: list[str], text: str, attachments: list[str]) -> SendOutcome:
            outcome = await send(recipients, text, attachments)
            if (
                outcome.ok
                and outcome.timestamp is not None
                and recipients
                and not any(r.startswith("group.") for r in recipients)
            ):
                self._remember(outcome.timestamp)
            return outcome

        return tracked

    def _remember(self, timestamp: int) -> None:
        self._sent[timestamp] = None
        while len(self._sent) > TRACKED_MAX:
            self._sent.popitem(last=False)
        if self._outstanding is None:
            self._outstanding = self.tick()
            self._wake.set()

    async def receipt(self, event: Receipt) -> None:
        """A phone's receipt: proof, if it names a message this relay sent lately."""
        if not any(t in self._sent for t in event.timestamps):
            return
        self._last_ok = self._checked = self.clock.now()
        self._proved = self.tick()
        self._outstanding = None
        self._misses = 0
        self._wake.set()
        await self._become("ok")  # its report still says since when it was failing
        self._failing_since = self._reason = None

    # --- the loop ------------------------------------------------------------------------------

    async def run(self) -> None:
        while True:
            await self.step(self.tick())
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(0.0, self._next_due() - self.tick())):
                    await self._wake.wait()
            self._wake.clear()

    def _next_due(self) -> float:
        if self._outstanding is not None:
            return self._outstanding + self.timeout
        return self._last_check() + self.every

    def _last_check(self) -> float:
        return max(t for t in (self._started, self._proved, self._last_probe) if t is not None)

    async def step(self, now: float) -> None:
        """Take whatever is due at `now` (a `tick` reading): a miss and its confirming probe, or
        an idle probe.

        Waits are measured on the monotonic clock, not the wall clock: a receipt takes seconds
        of real time whatever NTP does to the date (and drills that move the relay's clock by
        days do not make phones late)."""
        if self._outstanding is not None:
            if now >= self._outstanding + self.timeout:
                self._outstanding = None
                await self._miss("no_receipt")
                if not self.degraded:
                    await self._probe(now)  # one phone may be off: ask another at once
            return
        if now >= self._last_check() + self.every:
            await self._probe(now)

    async def _probe(self, now: float) -> None:
        self._last_probe = now
        outcome = await self.probe(self.send)
        if outcome is None:
            return
        if not outcome.ok:
            log.warning("canary probe not sent (%s)", outcome.failure or "unknown")
            await self._miss("send_failed")

    async def _miss(self, reason: str) -> None:
        self._misses += 1
        self._checked = self.clock.now()
        self._reason = reason
        if self._failing_since is None:
            self._failing_since = self._checked
        log.warning(
            "canary: no proof that messages reach phones (%s; %d of %d)",
            reason.replace("_", " "),
            self._misses,
            self.misses_allowed,
        )
        if self._misses >= self.misses_allowed:
            await self._become("degraded")

    async def _become(self, state: State) -> None:
        if state == self._state:
            return
        self._previous, self._state = self._state, state
        await self.on_change(self.report())


# --- wiring (kept here so the daemon and the desk change by a line or two) --------------------


def build_canary(
    desk: Desk, send: Send, settings: CanarySection, status_changed: Callable[[], None]
) -> Canary:
    """The canary of a running relay: probes through `send` (the outbox sends through
    `canary.send`, which tracks every message); the admin told of each change, and the status
    file written again (`status_changed`). Receipts reach it through the pipeline."""
    return Canary(
        desk.clock,
        every=settings.every,
        timeout=settings.timeout,
        misses=settings.misses,
        send=send,
        probe=make_probe(desk, settings.to),
        on_change=announcer(desk, status_changed),
    )


def make_probe(desk: Desk, to: str | None) -> Probe:
    """A probe: one short line in the recipient's language, sent past the outbox (it needs no
    retry, and must not wait behind a backlog). `to` is a member alias or an E.164 number; None
    means the admin. Returns None when there is nobody to send it to."""

    async def probe(send: Send) -> SendOutcome | None:
        language = desk.context.policy.default_language
        address: str | None = None
        if to is not None and to.startswith("+"):
            address = to
        else:
            alias = MemberAlias(to) if to else desk.admin
            member = desk.rules.members.get(alias) if alias else None
            if alias is not None:
                address = desk.address(Recipient.member(alias))
            if member is not None:
                language = member.language
        if address is None:
            log.error("canary: nobody to probe (canary.to or the admin has no number)")
            return None
        return await send([address], desk.catalog.text(language, "canary_probe"), [])

    return probe


def announcer(desk: Desk, refresh_status: Callable[[], None]) -> ChangeHook:
    """What happens when the canary changes state: everyone who should know is told."""

    async def changed(report: CanaryReport) -> None:
        refresh_status()
        if report.state == "degraded":
            now = desk.clock.now()
            since = report.failing_since or now
            log.error(
                "messages are not reaching phones since %s UTC (%s); members are told alerts "
                "may be delayed",
                f"{since:%Y-%m-%d %H:%M}",
                (report.reason or "unknown").replace("_", " "),
            )
            admin = desk.context.policy.member(desk.admin) if desk.admin else None
            zone = admin.timezone if admin is not None else desk.timezone
            language = admin.language if admin is not None else "en"
            key = "canary_unreachable" if report.reason == "send_failed" else "canary_silent"
            await desk.notify_admin(key, since=clock(since, zone, now, language))
        elif report.previous == "degraded":
            log.warning("messages reach phones again; the canary is ok")
            down = (
                span(desk.clock.now() - report.failing_since)
                if report.failing_since
                else span(timedelta(0))
            )
            await desk.notify_admin("canary_recovered", span=down)
        else:
            log.info("canary: messages reach phones")

    return changed
