"""What the admin hears about alerts that cannot be sent: once per outage, once when it ends.

An outage is the time from a failed send to the next send that works. While it lasts, every
alert waiting longer than `outbox.alert_undelivered_after` would once have been its own notice —
and the notices, queued behind the same broken Signal, arrived as a pile with the alerts. Now the
first alert to wait that long during an outage brings one notice ("Signal sends failing since
21:34; alerts waiting: 3"), later ones are only counted, and the first send that works brings one
more ("work again … going out late now"). Alerts stuck while sends otherwise work (one buddy's
changed safety number) are not an outage: they are reported as before, together in one notice.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

import aiosqlite

from relay.core.decide import Decision, Stuck, on_stuck
from relay.core.render import clock, span
from relay.store.outbox import Pending

if TYPE_CHECKING:
    from relay.runtime.desk import Desk

log = logging.getLogger(__name__)


NETWORK = frozenset({"recipient_network_failure", "http_400"})
"""Failures to reach one person's phone through Signal (signal-cli's NETWORK_FAILURE)."""


def whole_request(failure: str) -> bool:
    """A failure of the request itself: nothing got through to signal-cli or back."""
    return failure in ("refused", "timeout") or failure.startswith(("http_5", "transport_"))


class Outage:
    """Hears every send's outcome (`relay.runtime.sender.Health`) and the sender's stuck alerts."""

    def __init__(self, desk: Desk) -> None:
        self.desk = desk
        self.failing_since: datetime | None = None
        self.reason: str | None = None  # the first failure's class (never server text)
        self.told = False  # the admin was told about this outage
        self._network: set[int] = set()  # recipients (hashed) with network failures since

    def failed(self, failure: str, recipient: str, now: datetime) -> None:
        """A send failed. Signal, the container or the network is away when the request itself
        failed, or when sends to two people failed in the network; one person's phone (a changed
        safety number, a network failure to her alone) is not an outage."""
        if failure in NETWORK:
            self._network.add(hash(recipient))  # in memory only, and only to count them
            outage = len(self._network) >= 2
        else:
            outage = whole_request(failure)
        if outage and self.failing_since is None:
            self.failing_since, self.reason = now, failure

    async def worked(self, now: datetime) -> None:
        since, told = self.failing_since, self.told
        self.failing_since, self.reason, self.told = None, None, False
        self._network.clear()
        if since is None or not told:
            return
        waiting = await self.desk.outbox.count_unsent("alert")
        log.warning(
            "sends work again after %s; %d alert(s) going out late", span(now - since), waiting
        )
        await self.desk.notify_admin(
            "sends_recovered",
            since=self._clock(since, now),
            duration=span(now - since),
            count=waiting,
        )

    async def stuck(self, stuck: list[Pending], now: datetime) -> None:
        """Alerts unsent for `alert_undelivered_after` (each handed over once)."""
        if self.failing_since is None:
            await self._report(stuck, now)
            return
        decision = Decision()
        if not self.told:
            self.told = True
            waiting = await self.desk.outbox.count_unsent("alert")
            notice = self.desk.admin_notice(
                "sends_failing",
                since=self._clock(self.failing_since, now),
                reason=(self.reason or "unknown").replace("_", " "),
                count=waiting,
            )
            if notice is not None:
                decision = Decision(messages=(notice,))
            log.warning(
                "sends failing since %s ago; %d alert(s) waiting; telling the admin once",
                span(now - self.failing_since),
                waiting,
            )
        await self._mark(stuck, decision, now)

    async def _report(self, stuck: list[Pending], now: datetime) -> None:
        """Not an outage: which alert, to whom, for how long, why — one notice for them all,
        worded by the core (`relay.core.decide.on_stuck`)."""
        desk = self.desk
        items = []
        for message in stuck:
            watch = await desk.watches.get(message.watch_id) if message.watch_id else None
            items.append(Stuck(watch, message.label, message.created_at, message.last_error))
        log.warning("%d alert(s) still unsent; telling the admin", len(stuck))
        await self._mark(stuck, on_stuck(desk.context, items, now), now)

    async def _mark(self, stuck: list[Pending], decision: Decision, now: datetime) -> None:
        """Queue the notice (if any) and mark the alerts reported, in one transaction."""
        ids = [m.id for m in stuck]

        async def reported(conn: aiosqlite.Connection) -> None:
            await self.desk.outbox.mark_reported(conn, ids)

        await self.desk.apply(decision, now, write=reported)

    def _language(self) -> str:
        desk = self.desk
        info = desk.context.policy.member(desk.admin) if desk.admin else None
        return info.language if info else "en"

    def _clock(self, moment: datetime, now: datetime) -> str:
        desk = self.desk
        info = desk.context.policy.member(desk.admin) if desk.admin else None
        zone = info.timezone if info else desk.timezone
        return clock(moment, zone, now, self._language())
