"""The outbox after failures, on a real database: a repeat folds into an unsent alert, the first
send that works wakes every queue backing off from a transient failure (and not one backing off
from a changed safety number), and relative times are rendered when a message leaves."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from relay.core.ages import since
from relay.crypto.keys import MasterKey
from relay.crypto.seal import Sealer
from relay.runtime.clock import SystemClock
from relay.runtime.sender import OutboxSender
from relay.signal.events import SendOutcome
from relay.store.db import Database
from relay.store.outbox import OutboxRepo, Pending, Queued

ANNA, BEA, CLEO = "+12025550171", "+12025550172", "+12025550173"


class FarSide:
    """signal-cli-rest-api as the sender sees it: per-number answers the test sets."""

    def __init__(self) -> None:
        self.failing: dict[str, str] = {}  # number -> failure class
        self.got: list[tuple[str, str, float]] = []  # (number, text, monotonic time)

    async def send(self, recipients: list[str], text: str, files: list[str]) -> SendOutcome:
        await asyncio.sleep(0.005)
        for number in recipients:
            if number in self.failing:
                return SendOutcome(ok=False, failure=self.failing[number])
        loop = asyncio.get_running_loop()
        self.got += [(n, text, loop.time()) for n in recipients]
        return SendOutcome(ok=True, timestamp=len(self.got))


class Health:
    def __init__(self) -> None:
        self.failures: list[str] = []
        self.worked_at: list[datetime] = []

    def failed(self, failure: str, recipient: str, now: datetime) -> None:
        self.failures.append(failure)

    async def worked(self, now: datetime) -> None:
        self.worked_at.append(now)


async def _stuck(stuck: list[Pending], now: object) -> None:
    return None


@asynccontextmanager
async def _sender(
    tmp_path: Path, far: FarSide, health: Health, cap: timedelta
) -> AsyncIterator[tuple[Database, OutboxRepo, OutboxSender]]:
    db = await Database.open(tmp_path)
    repo = OutboxRepo(db, Sealer(MasterKey.generate()))
    sender = OutboxSender(
        repo,
        far.send,
        SystemClock(use_timerfd=False),
        retry_cap=cap,
        stuck_after=timedelta(hours=1),
        on_stuck=_stuck,
        health=health,
    )
    task = asyncio.create_task(sender.run())
    try:
        yield db, repo, sender
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await db.close()


async def _queue(db: Database, repo: OutboxRepo, sender: OutboxSender, *items: Queued) -> None:
    rows = repo.rows(list(items), datetime.now(UTC))
    await db.write(lambda conn: repo.store_rows(conn, rows))
    sender.poke()


async def _until(check: object, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not check():  # type: ignore[operator]
            await asyncio.sleep(0.01)


async def test_the_first_send_that_works_wakes_every_queue_in_backoff(tmp_path: Path) -> None:
    far, health = FarSide(), Health()
    far.failing = {ANNA: "http_500", BEA: "http_500", CLEO: "untrusted_keys"}
    async with _sender(tmp_path, far, health, cap=timedelta(minutes=2)) as (db, repo, sender):
        await _queue(db, repo, sender, Queued(ANNA, "to anna", "reply"))
        await _queue(db, repo, sender, Queued(BEA, "to bea", "reply"))
        await _queue(db, repo, sender, Queued(CLEO, "to cleo", "alert"))
        # Each fails a few times: backoffs of 1, 2, 4 s … (capped at 2 min).
        await _until(lambda: health.failures.count("http_500") >= 6, timeout=15)
        far.failing = {CLEO: "untrusted_keys"}  # Signal answers again, except for Cleo's phone
        # A new message to someone with nothing pending goes at once, and works.
        started = asyncio.get_running_loop().time()
        await _queue(db, repo, sender, Queued("+12025550174", "to dora", "reply"))
        await _until(lambda: {n for n, _, _ in far.got} >= {ANNA, BEA}, timeout=3)
        took = max(t for n, _, t in far.got if n in (ANNA, BEA)) - started
        assert took < 1.0  # not the 8 s or more their backoff had left
        assert health.worked_at  # and the outage was declared over
        assert CLEO not in {n for n, _, _ in far.got}  # a changed safety number waits on


async def test_a_repeat_folds_into_the_unsent_alert(tmp_path: Path) -> None:
    db = await Database.open(tmp_path)
    repo = OutboxRepo(db, Sealer(MasterKey.generate()))
    try:
        now = datetime.now(UTC)
        first = repo.rows([Queued(ANNA, "FULL ALERT with her note", "alert", "w1")], now)
        repeat = repo.rows([Queued(ANNA, "still nobody", "alert", "w1", fold=True)], now)
        other_watch = repo.rows([Queued(ANNA, "another alert", "alert", "w2")], now)
        to_bea = repo.rows([Queued(BEA, "still nobody", "alert", "w1", fold=True)], now)
        reply = repo.rows([Queued(ANNA, "a reply", "reply", "w1")], now)
        news = repo.rows([Queued(ANNA, "she sent SOS again", "alert", "w1")], now)
        ids = [
            await db.write(lambda conn, rows=rows: repo.store_rows(conn, rows))
            for rows in (first, repeat, other_watch, to_bea, reply, news)
        ]
        assert ids[1] == [None]  # folded: Anna still has w1's alert unsent
        assert all(i != [None] for n, i in enumerate(ids) if n != 1)  # news is never folded
        heads = await repo.heads(now)
        assert [p.text for p in heads if p.address == ANNA] == ["FULL ALERT with her note"]
        assert await repo.count_unsent("alert") == 4
        # Once every message of w1 to Anna has gone, a repeat is queued again.
        for stamp in range(1, 5):
            anna = [p for p in await repo.heads(now) if p.address == ANNA]
            await repo.mark_sent(anna[0].id, stamp, now)
        again = repo.rows([Queued(ANNA, "still nobody", "alert", "w1", fold=True)], now)
        assert (await db.write(lambda conn: repo.store_rows(conn, again)))[0] is not None
    finally:
        await db.close()


async def test_how_long_ago_is_rendered_when_the_message_leaves(tmp_path: Path) -> None:
    far, health = FarSide(), Health()
    far.failing = {ANNA: "http_500"}
    async with _sender(tmp_path, far, health, cap=timedelta(seconds=1)) as (db, repo, sender):
        ended = datetime.now(UTC) - timedelta(seconds=2)
        await _queue(db, repo, sender, Queued(ANNA, f"ended ({since(ended)} ago)", "alert", "w"))
        await _until(lambda: len(health.failures) >= 3, timeout=10)
        far.failing = {}
        await _until(lambda: far.got, timeout=5)
        text = far.got[0][1]
        assert "\u2063" not in text
        seconds = int(text.removeprefix("ended (").split("s ago)")[0])
        assert seconds >= 4  # two seconds before it was queued, plus the time it waited
