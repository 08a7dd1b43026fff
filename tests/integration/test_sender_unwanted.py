"""A queued message the rules no longer want is dropped unsent: a warning or retraction for a
partner relay removed from the rules since it was queued (removing a partner stops both
directions). Everything else goes as before, in order."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from relay.crypto.keys import MasterKey
from relay.crypto.seal import Sealer
from relay.features.peers.post import still_wanted
from relay.rules import Rules, load_rules
from relay.rules.model import PeerPolicy
from relay.runtime.clock import SystemClock
from relay.runtime.sender import OutboxSender
from relay.signal.events import SendOutcome
from relay.store.db import Database
from relay.store.outbox import OutboxRepo, Pending, Queued

SAMPLES = Path(__file__).resolve().parents[2] / "rules"
BRISTOL = "+12025550150"  # a partner in the sample rules


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    async def send(self, recipients: list[str], text: str, files: list[str]) -> SendOutcome:
        self.sent += [(r, text) for r in recipients]
        return SendOutcome(ok=True, timestamp=len(self.sent))


async def _stuck(stuck: list[Pending], now: object) -> None:
    raise AssertionError("nothing here is stuck")


def _without_partners(rules: Rules) -> Rules:
    return replace(rules, peers=PeerPolicy(name=rules.peers.name))


@pytest.mark.parametrize("removed", [False, True])
async def test_a_message_for_a_removed_partner_is_dropped_unsent(
    tmp_path: Path, removed: bool
) -> None:
    rules = load_rules(SAMPLES, allow_placeholders=True)
    current = _without_partners(rules) if removed else rules
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
        wanted=lambda m: still_wanted(current, m.address, m.text),
    )
    now = SystemClock(use_timerfd=False).now()
    queued = [
        Queued(BRISTOL, "PEER-RELAY/1 abc.def", "notice", label="bristol"),
        Queued(BRISTOL, "an ordinary text to the same number", "notice"),
        Queued("+12025550101", "her reply", "reply"),
    ]
    rows = repo.rows(queued, now)
    await db.write(lambda conn: repo.store_rows(conn, rows))
    task = asyncio.create_task(sender.run())
    try:
        for _ in range(300):
            if len(far.sent) >= (2 if removed else 3) and not await repo.heads(now):
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    texts = [text for _, text in far.sent]
    assert ("PEER-RELAY/1 abc.def" in texts) is not removed
    assert "an ordinary text to the same number" in texts and "her reply" in texts
    backlog, _ = await repo.backlog()
    assert backlog == 0  # the dropped one is gone too, not left to retry
    await db.close()
