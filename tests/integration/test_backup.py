"""`peer-relay backup` and `restore` as the nightly timer and an admin run them: against a real
database the relay wrote (and keeps writing), through the command line in another process."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import stat
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from relay.admin.backup import BACKUP_AAD, MAGIC, newest_schema, open_backup
from relay.config import load_config
from relay.crypto.keys import init_data_dir, load_key
from relay.crypto.seal import Sealer
from relay.exitcodes import EXIT_CHECK_FAILED, EXIT_OK
from relay.runtime.logs import setup_logging
from relay.sim import SignalSim
from tests.e2e.conftest import NUMBERS, RELAY_NUMBER, Harness, write_env


async def peer_relay(*args: str) -> tuple[int, str]:
    """The command in its own process (the loop keeps serving the relay meanwhile)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "relay",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode is not None
    return proc.returncode, out.decode()


@pytest.fixture
async def relay(tmp_path: Path) -> AsyncIterator[Harness]:
    """A running relay (in this loop) whose database holds alice's live check-in."""
    setup_logging("WARNING")
    async with SignalSim(RELAY_NUMBER) as sim:
        harness = Harness(sim, write_env(tmp_path, sim.service))
        await harness.start()
        await harness.says("alice", "IN 2h Hotel Rex room 12")
        await harness.to("alice", "Checked in")
        yield harness
        await harness.stop()


def database(harness: Harness) -> Path:
    return load_config(harness.config_path).data_dir / "relay.db"


async def test_backup_while_running_then_restore_brings_the_state_back(
    relay: Harness, tmp_path: Path
) -> None:
    config = str(relay.config_path)
    backups = tmp_path / "backups"
    backups.mkdir()
    target = backups / ".relay-night.sealed.partial"  # as the timer's script names it
    code, out = await peer_relay("backup", "--config", config, "--to", str(target))
    assert code == EXIT_OK, out
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    blob = target.read_bytes()
    assert blob.startswith(MAGIC)
    # Sealed whole: no SQLite header, no table name, no word she sent, no number.
    for plain in (b"SQLite format 3", b"outbox", b"Hotel Rex", NUMBERS["alice"].encode()):
        assert plain not in blob
    assert not list(backups.glob(".*.tmp"))  # written atomically: no temporary file left

    # Restoring under a running relay is refused, and changes nothing.
    before = database(relay).read_bytes()
    code, out = await peer_relay("restore", "--config", config, "--from", str(target))
    assert code == EXIT_CHECK_FAILED
    assert "the relay is running" in out
    assert database(relay).read_bytes() == before

    # She ends her check-in after the backup; the restore brings the backup's state back.
    since = len(relay.sim.sent)
    await relay.says("alice", "OUT")
    await relay.to("alice", "Glad you're safe", since=since)
    await relay.stop()
    code, out = await peer_relay("restore", "--config", config, "--from", str(target))
    assert code == EXIT_OK, out
    data_dir = database(relay).parent
    kept = list(data_dir.glob("relay.db.before-restore-*"))
    assert [p.name for p in kept if not p.name.endswith(("-wal", "-shm"))], out
    assert not (data_dir / "relay.db-wal").exists()  # no old WAL to replay into the new file
    assert stat.S_IMODE(database(relay).stat().st_mode) == 0o600

    await relay.start()
    since = len(relay.sim.sent)
    await relay.says("alice", "STATUS")
    status = await relay.to("alice", since=since)
    assert "Check-in until" in status.message


async def test_a_backup_to_a_directory_is_named_by_time(relay: Harness, tmp_path: Path) -> None:
    backups = tmp_path / "backups"
    backups.mkdir()
    code, out = await peer_relay("backup", "--config", str(relay.config_path), "--to", str(backups))
    assert code == EXIT_OK, out
    (written,) = backups.glob("relay-*Z.sealed")
    sealer = Sealer(load_key(load_config(relay.config_path).data_dir))
    copy = open_backup(written, sealer)
    try:
        assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert copy.execute("PRAGMA user_version").fetchone()[0] == newest_schema()
        assert copy.execute("SELECT count(*) FROM watches").fetchone()[0] >= 1
    finally:
        copy.close()


async def test_restore_refuses_what_it_cannot_trust_and_leaves_the_database_alone(
    relay: Harness, tmp_path: Path
) -> None:
    config = str(relay.config_path)
    good = tmp_path / "good.sealed"
    assert (await peer_relay("backup", "--config", config, "--to", str(good)))[0] == EXIT_OK
    await relay.stop()
    before = database(relay).read_bytes()
    sealer = Sealer(load_key(load_config(relay.config_path).data_dir))

    flipped = bytearray(good.read_bytes())
    flipped[len(flipped) // 2] ^= 0x01
    other_dir = tmp_path / "other"
    init_data_dir(other_dir)
    other_key = Sealer(load_key(other_dir))
    no_db = MAGIC + sealer.seal(b"not a database at all", aad=BACKUP_AAD)
    newer = sqlite3.connect(":memory:")
    newer.execute(f"PRAGMA user_version={newest_schema() + 1}")
    too_new = MAGIC + sealer.seal(newer.serialize(), aad=BACKUP_AAD)
    newer.close()
    field_blob = MAGIC + sealer.seal(b"x", aad="watches.note/abc")
    cases = {
        "damaged": (bytes(flipped), "failed authentication"),
        "other key": (MAGIC + other_key.seal(b"x", aad=BACKUP_AAD), "different key"),
        "not a backup": (b"SQLite format 3\x00" + bytes(100), "not a peer-relay backup"),
        "not a database": (no_db, "not a readable database"),
        "newer schema": (too_new, "newer peer-relay"),
        "a sealed field": (field_blob, "failed authentication"),
    }
    for name, (content, says) in cases.items():
        path = tmp_path / f"{name.replace(' ', '-')}.sealed"
        path.write_bytes(content)
        code, out = await peer_relay("restore", "--config", config, "--from", str(path))
        assert code == EXIT_CHECK_FAILED, (name, out)
        assert says in out, (name, out)
    assert database(relay).read_bytes() == before
    assert not list(database(relay).parent.glob("relay.db.before-restore-*"))


async def test_backup_without_a_database_says_so(tmp_path: Path) -> None:
    async with SignalSim(RELAY_NUMBER) as sim:
        config = write_env(tmp_path, sim.service)
    code, out = await peer_relay("backup", "--config", str(config), "--to", str(tmp_path / "b"))
    assert code != EXIT_OK
    assert "no database here" in out


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can run a restore as another user")
async def test_a_restore_run_with_sudo_hands_the_files_to_the_relays_user(
    relay: Harness, tmp_path: Path
) -> None:
    config = str(relay.config_path)
    copy = tmp_path / "copy.sealed"
    assert (await peer_relay("backup", "--config", config, "--to", str(copy)))[0] == EXIT_OK
    await relay.stop()
    data_dir = database(relay).parent
    os.chown(data_dir, 4242, 4242)  # the relay's user owns its data directory
    (data_dir / "relay.lock").unlink()
    code, out = await peer_relay("restore", "--config", config, "--from", str(copy))
    assert code == EXIT_OK, out
    for made in ("relay.db", "relay.lock"):
        owner = (data_dir / made).stat()
        assert (owner.st_uid, owner.st_gid) == (4242, 4242), made
