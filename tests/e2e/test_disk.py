"""A disk running out of space: the admin is told through Signal, `peer-relay status` says so, and
when the database can no longer take even that notice it goes to her directly."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from relay.exitcodes import EXIT_CHECK_FAILED
from relay.sim import SignalSim
from tests.e2e.conftest import NUMBERS, Harness, write_env

NO_DISK_IS_THIS_BIG = 10**9  # MB: whatever this machine has free, it is less


async def status(config: Path) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "relay",
        "status",
        "--config",
        str(config),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode is not None
    return proc.returncode, out.decode()


async def test_a_low_disk_is_told_to_the_admin_once_and_shown_by_status(
    sim: SignalSim, tmp_path: Path
) -> None:
    config = write_env(tmp_path, sim.service, disk={"low_free_mb": NO_DISK_IS_THIS_BIG})
    harness = Harness(sim, config)
    relay = await harness.start()
    try:
        told = await harness.to("dana", "running out of space", timeout=5)
        assert f"I warn below {NO_DISK_IS_THIS_BIG} MB" in told.message
        assert relay.disk is not None
        document = json.loads((relay.config.data_dir / "status.json").read_text())
        assert document["disk"]["low"] is True
        assert document["disk"]["free_mb"] < NO_DISK_IS_THIS_BIG
        code, shown = await status(config)
        assert code == EXIT_CHECK_FAILED
        assert "disk: LOW" in shown
        await relay.disk.check()  # still low: no second message
        await asyncio.sleep(0.5)
        assert sum("running out of space" in t for t in harness.texts_to("dana")) == 1
    finally:
        await harness.stop()


async def test_a_roomy_disk_tells_nobody_and_status_shows_the_space(harness: Harness) -> None:
    assert harness.relay is not None and harness.relay.disk is not None
    await harness.relay.disk.check()
    assert not any("space" in t for t in harness.texts_to("dana"))
    _, shown = await status(harness.config_path)
    assert "disk: " in shown and "MB free" in shown and "LOW" not in shown


async def test_when_the_database_refuses_the_notice_it_goes_to_the_admin_directly(
    harness: Harness,
) -> None:
    """A database that refuses writes (read-only here; on a Pi, a full card) cannot queue the
    notice. It is sent straight through signal-cli-rest-api instead."""
    relay = harness.relay
    assert relay is not None and relay.desk is not None
    await relay.desk.db.conn.execute("PRAGMA query_only = ON")
    try:
        since = len(harness.sim.sent)
        await relay.desk.tell_admin("disk_low", free=12, low=500)
        sent = await harness.to("dana", "12 MB left", since=since)
        assert sent.recipients == [NUMBERS["dana"]]
    finally:
        await relay.desk.db.conn.execute("PRAGMA query_only = OFF")
