"""The canary's rules on their own, with a clock the test moves (no network, no waiting): what
counts as proof, what counts as a miss, when people are told, and whose reply gets the line.

The end-to-end behaviour against the simulator is in test_canary.py; these pin the decisions
that one run there cannot show all of (a single phone off, read receipts of old messages, group
sends, how often a degraded relay probes)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from relay.core import intents
from relay.core.decide import Decision, Outgoing, Purpose
from relay.core.notices import with_notice
from relay.core.state import Recipient
from relay.core.types import MemberAlias
from relay.runtime.canary import Canary
from relay.runtime.canary_report import CanaryReport
from relay.signal.events import Receipt, Send, SendOutcome

EVERY = timedelta(minutes=60)
TIMEOUT = timedelta(minutes=5)


class Clock:
    """The wall clock the canary reports in, and the monotonic one it measures waits on."""

    def __init__(self) -> None:
        self.at = datetime(2026, 3, 1, 22, 0, tzinfo=UTC)
        self.seconds = 1000.0

    def now(self) -> datetime:
        return self.at

    def tick(self) -> float:
        return self.seconds

    def advance(self, delta: timedelta) -> float:
        self.at += delta
        self.seconds += delta.total_seconds()
        return self.seconds

    async def sleep_until(self, moment: datetime | None, wake: asyncio.Event) -> None:
        raise AssertionError("these tests step the canary themselves")


class Phones:
    """signal-cli-rest-api as the canary sees it: timestamps for accepted sends, or failures."""

    def __init__(self) -> None:
        self.next = 1000
        self.sent: list[tuple[list[str], str]] = []
        self.failure: str | None = None

    async def send(self, recipients: list[str], text: str, attachments: list[str]) -> SendOutcome:
        self.sent.append((recipients, text))
        if self.failure is not None:
            return SendOutcome(ok=False, failure=self.failure)
        self.next += 1
        return SendOutcome(ok=True, timestamp=self.next)


def canary(clock: Clock, phones: Phones, misses: int = 2) -> tuple[Canary, list[CanaryReport]]:
    changes: list[CanaryReport] = []

    async def changed(report: CanaryReport) -> None:
        changes.append(report)

    watcher = Canary(
        clock,
        every=EVERY,
        timeout=TIMEOUT,
        misses=misses,
        send=phones.send,
        probe=probe,
        on_change=changed,
        tick=clock.tick,
    )
    return watcher, changes


async def probe(send: Send) -> SendOutcome | None:
    return await send(["+12025550104"], "🔁 Relay check — no need to reply.", [])


async def test_one_phone_off_is_not_an_outage_when_the_probe_comes_back() -> None:
    clock, phones = Clock(), Phones()
    watcher, changes = canary(clock, phones)
    send = watcher.send
    await send(["+12025550101"], "reminder", [])  # alice's phone is off: no receipt
    await watcher.step(clock.advance(TIMEOUT))
    assert len(phones.sent) == 2  # the miss asked the probe phone at once
    await watcher.receipt(Receipt(timestamps=(phones.next,), kind="delivery"))
    assert [c.state for c in changes] == ["ok"]
    assert watcher.report().misses == 0 and not watcher.degraded


async def test_misses_in_a_row_degrade_once_and_the_first_proof_ends_it() -> None:
    clock, phones = Clock(), Phones()
    watcher, changes = canary(clock, phones)
    await watcher.step(clock.advance(EVERY))  # idle: probe
    for _ in range(3):
        await watcher.step(clock.advance(TIMEOUT))
    assert [c.state for c in changes] == ["degraded"]
    assert changes[0].reason == "no_receipt"
    assert changes[0].failing_since == datetime(2026, 3, 1, 23, 5, tzinfo=UTC)
    # Degraded: no more confirming probes after each miss; one probe per `every`.
    probes = len(phones.sent)
    await watcher.step(clock.advance(TIMEOUT))
    assert len(phones.sent) == probes
    await watcher.step(clock.advance(EVERY))
    assert len(phones.sent) == probes + 1
    await watcher.receipt(Receipt(timestamps=(phones.next,), kind="delivery"))
    assert [c.state for c in changes] == ["degraded", "ok"]
    assert changes[1].previous == "degraded"
    assert changes[1].failing_since is not None  # said when the outage began
    assert watcher.report().failing_since is None


async def test_a_refused_probe_is_a_miss_of_its_own_kind() -> None:
    clock, phones = Clock(), Phones()
    watcher, changes = canary(clock, phones, misses=1)
    phones.failure = "refused"
    await watcher.step(clock.advance(EVERY))
    assert [(c.state, c.reason) for c in changes] == [("degraded", "send_failed")]


async def test_only_receipts_for_recent_one_to_one_sends_are_proof() -> None:
    clock, phones = Clock(), Phones()
    watcher, changes = canary(clock, phones)
    send = watcher.send
    await send(["group.c29tZWdyb3Vw"], "alert to the circle", [])
    assert watcher.report().checked_at is None
    group_stamp = phones.next
    # A read receipt for a message sent before this run (or a group's) proves nothing now.
    await watcher.receipt(Receipt(timestamps=(group_stamp, 17), kind="read"))
    assert changes == [] and watcher.report().state == "unknown"
    await send(["+12025550102"], "reply", [])
    await watcher.receipt(Receipt(timestamps=(phones.next,), kind="read"))
    assert [c.state for c in changes] == ["ok"]


def test_the_delay_line_goes_on_replies_that_rely_on_alerts_and_nowhere_else() -> None:
    alice = MemberAlias("alice")
    reply = Outgoing(Recipient.member(alice), "Checked in until 23:30.", Purpose.REPLY)
    alert = Outgoing(Recipient.member(MemberAlias("bob")), "ALERT", Purpose.ALERT)
    decision = Decision(messages=(alert, reply))
    line = "alerts may be delayed"
    relying = (intents.CheckIn(None, None), intents.Extend(None), intents.Status(), intents.Sos())
    for intent in relying:
        noted = with_notice(decision, alice, intent, line)
        assert noted.messages[0] == alert
        assert noted.messages[1].text == "Checked in until 23:30.\nalerts may be delayed"
    for other in (intents.CheckOut(verified=None), intents.Help(), intents.Duress()):
        assert with_notice(decision, alice, other, line) is decision


async def test_a_step_of_the_wall_clock_is_not_a_late_receipt() -> None:
    clock, phones = Clock(), Phones()
    watcher, changes = canary(clock, phones)
    send = watcher.send
    await send(["+12025550101"], "reply", [])
    clock.at += timedelta(days=1)  # NTP steps the date of a Pi that booted without a clock
    await watcher.step(clock.tick())
    assert changes == [] and len(phones.sent) == 1 and watcher.report().misses == 0
