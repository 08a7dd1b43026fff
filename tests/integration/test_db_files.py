"""The database's files are owner-only (0600) whatever the umask: the main file, its WAL and its
shared-memory file, new or left by an older release (issue 17, finding 7)."""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from relay.store.db import DB_NAME, Database


@pytest.fixture(params=[0o022, 0o002, 0o000])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def _modes(folder: Path) -> dict[str, int]:
    return {p.name: stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir() if p.is_file()}


async def test_new_database_files_are_owner_only_whatever_the_umask(
    tmp_path: Path, umask: int
) -> None:
    db = await Database.open(tmp_path)
    try:
        await db.bump_counter("strangers")  # a write: the WAL and shm exist now
        modes = _modes(tmp_path)
    finally:
        await db.close()
    assert {DB_NAME, f"{DB_NAME}-wal", f"{DB_NAME}-shm"} <= set(modes)
    assert modes == dict.fromkeys(modes, 0o600)


async def test_files_left_readable_by_an_older_release_are_made_owner_only(
    tmp_path: Path,
) -> None:
    db = await Database.open(tmp_path)
    await db.bump_counter("strangers")
    for path in tmp_path.iterdir():
        path.chmod(0o644)
    await db.close()
    (tmp_path / f"{DB_NAME}-wal").touch(mode=0o644)  # as a crash would leave one
    db = await Database.open(tmp_path)
    try:
        assert await db.counter("strangers") == 1
        modes = _modes(tmp_path)
    finally:
        await db.close()
    assert modes == dict.fromkeys(modes, 0o600)


async def test_a_checkpoint_held_up_by_another_reader_says_so(tmp_path: Path) -> None:
    """`peer-relay status` or a backup reading the database keeps the WAL from being emptied:
    the checkpoint says so, and the caller (the sender, FORGET) tries again later."""
    db = await Database.open(tmp_path)
    try:
        await db.bump_counter("strangers")
        reader = sqlite3.connect(tmp_path / DB_NAME)
        try:
            reader.execute("BEGIN")
            reader.execute("SELECT * FROM counters").fetchall()  # a read snapshot, held
            await db.bump_counter("strangers")
            assert await db.checkpoint() is False
            assert (tmp_path / f"{DB_NAME}-wal").stat().st_size > 0
        finally:
            reader.close()
        assert await db.checkpoint() is True
        assert (tmp_path / f"{DB_NAME}-wal").stat().st_size == 0
    finally:
        await db.close()
