"""The sender's hand-over: a decision's trip may read what is due and give it to a sleeping
sender (no look of its own) — never so that a message goes out twice."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

from relay.crypto.keys import MasterKey
from relay.crypto.seal import Sealer
from relay.runtime.clock import SystemClock
from relay.runtime.sender import OutboxSender
from relay.signal.events import SendOutcome
from relay.store.db import Database
from relay.store.outbox import OutboxRepo, Pending, Queued

NUMBER = "+12025550177"


class Recorder:
    """The far side of the sender (the HTTP transport is exercised by the e2e tests)."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    async def send(self, recipients: list[str], text: str, files: list[str]) -> SendOutcome:
        await asyncio.sleep(0.01)  # a request takes a while: the loop turns meanwhile
        self.texts += [text] * len(recipients)
        return SendOutcome(ok=True, timestamp=len(self.texts))


async def _stuck(stuck: list[Pending], now: object) -> None:
    raise AssertionError("nothing here is stuck")


Running = tuple[Database, OutboxRepo, OutboxSender, Recorder]


@asynccontextmanager
async def _running(tmp_path: Path) -> AsyncIterator[Running]:
    """A sender running on a real database, asleep with nothing to send."""
    db = await Database.open(tmp_path)
    repo = OutboxRepo(db, Sealer(MasterKey.generate()))
    far = Recorder()
    sender = OutboxSender(
        repo,
        far.send,
        SystemClock(use_timerfd=False),
        retry_cap=timedelta(seconds=5),
        stuck_after=timedelta(minutes=5),
        on_stuck=_stuck,
    )
    task = asyncio.create_task(sender.run())
    try:
        await asyncio.sleep(0.05)
        yield db, repo, sender, far
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await db.close()


async def _queue_and_read(db: Database, repo: OutboxRepo, text: str) -> list[Pending]:
    """Queue one message and read what is due, after the commit is durable (as a decision does)."""
    now = SystemClock(use_timerfd=False).now()
    rows = repo.rows([Queued(NUMBER, text, "reply")], now)
    await db.write(lambda conn: repo.store_rows(conn, rows))
    heads = await repo.heads(now)  # read after the commit is made durable
    return heads


async def _quiet(far: Recorder, count: int) -> None:
    for _ in range(200):
        if len(far.texts) >= count:
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.1)  # and nothing more comes


async def test_a_sleeping_sender_sends_what_it_is_handed(tmp_path: Path) -> None:
    async with _running(tmp_path) as (db, repo, sender, far):
        ticket = sender.ticket()
        assert ticket is not None  # asleep: nothing to send
        due = await _queue_and_read(db, repo, "Checked in until 23:00")
        assert len(due) == 1
        sender.offer(ticket, due)
        await _quiet(far, 1)
        assert far.texts == ["Checked in until 23:00"]


async def test_a_ticket_from_before_the_sender_moved_sends_nothing_twice(tmp_path: Path) -> None:
    async with _running(tmp_path) as (db, repo, sender, far):
        ticket = sender.ticket()
        due = await _queue_and_read(db, repo, "Welcome back")
        sender.poke()  # it wakes for another reason, looks, and starts sending on its own
        await asyncio.sleep(0.005)  # mid-request: the message is still unsent in the table
        assert sender.ticket() is None
        sender.offer(ticket, due)  # busy: the hand-over is not taken
        await _quiet(far, 1)
        assert sender.ticket() is not None  # asleep again, everything sent
        sender.offer(ticket, due)  # the same stale rows once more, to a sleeping sender
        await _quiet(far, 2)
        assert far.texts == ["Welcome back"]
