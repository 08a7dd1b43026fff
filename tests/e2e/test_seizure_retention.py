"""The retention job against a running relay: built from the desk (`RetentionJob.for_desk`),
it deletes a finished check-in with its photo while the relay keeps working,
and leaves a live check-in alone."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from relay.runtime.retention import RetentionJob
from relay.sim import InboundAttachment
from relay.store.watches import WatchRepo
from tests.e2e.conftest import Harness

PHOTO = b"\xff\xd8\xff\xe0 canary-retention-photo-W2"


class LaterClock:
    """The wall clock, `ahead` in the future: the sample rules' periods have passed."""

    def __init__(self, ahead: timedelta) -> None:
        self.ahead = ahead

    def now(self) -> datetime:
        return datetime.now(UTC) + self.ahead

    async def sleep_until(self, moment: datetime | None, wake: asyncio.Event) -> None:
        await wake.wait()
        wake.clear()


async def test_the_job_deletes_a_finished_checkin_while_the_relay_runs(
    harness: Harness, tmp_path: Path
) -> None:
    assert harness.relay is not None and harness.relay.desk is not None
    desk = harness.relay.desk
    await harness.says("alice", "IN 20m canary-retention-note-W2")
    await harness.to("alice", "Checked in")
    await harness.says(
        "alice", "CLIENT canary-retention-W2", attachments=[InboundAttachment(PHOTO)]
    )
    await harness.to("alice", "Client details saved")
    await harness.says("alice", "OUT")
    await harness.to("alice", "Glad you're safe")
    await harness.says("bob", "IN 20m his own")
    await harness.to("bob", "Checked in")
    vault = tmp_path / "data" / "attachments"
    assert len(list(vault.glob("*.sealed"))) == 1

    ahead = desk.rules.retention.checkins + timedelta(minutes=1)
    assert harness.relay.pipeline is not None
    job = RetentionJob.for_desk(desk, harness.relay.pipeline.vault, LaterClock(ahead))
    report = await job.run_once()

    assert (report.checkins, report.photos, report.failures) == (1, 1, [])
    assert report.messages == 0  # her replies' rows went as they were sent (issue 17)
    assert list(vault.glob("*.sealed")) == []
    watches = WatchRepo(desk.db, desk.sealer)
    assert await watches.live_for(desk.rules.members["alice"].alias) is None
    assert await watches.live_for(desk.rules.members["bob"].alias) is not None
    since = len(harness.sim.sent)
    await harness.says("alice", "STATUS")  # the relay carries on
    await harness.to("alice", "No check-in running", since=since)
