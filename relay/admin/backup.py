"""`peer-relay backup` and `peer-relay restore`: a sealed copy of the database, and putting it back.

**Backup.** SQLite's online backup API copies the live database page by page into an in-memory
database (consistent while the relay runs and writes; a raw copy of the file could be torn
between the database and its WAL). The copy must pass ``PRAGMA integrity_check``; it is then
serialised and sealed whole with the relay's key (AES-256-GCM, associated data
`BACKUP_AAD`), and written atomically with mode 0600. The plaintext never touches a disk. File
layout: the line `MAGIC`, then one sealed blob (see `relay.crypto.seal`; its header names the
key's fingerprint, so a restore with another key says so).

**Restore.** Opens and checks the backup entirely before touching anything: the key, the seal,
``PRAGMA integrity_check``, and a schema this peer-relay knows. Then, holding the run lock (so a
relay cannot start meanwhile, and refusing if one is running), it writes the new database beside
the old one, moves the old database and its WAL aside as ``relay.db.before-restore-<UTC time>``
(never deleted: the admin removes it once the relay runs), and renames the new one into place.
Deadlines that passed meanwhile fire at the next start, marked late.

What is not in a backup: sealed photos (``attachments/``; alerts still go out without them) and
signal-cli's own data, which is the Signal account itself (link or register again).

Messages name paths and counts only, never anything from inside the database.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import TextIO

from relay.admin.opening import open_config
from relay.crypto.files import fsync_dir, write_private_file
from relay.crypto.seal import Sealer, TamperedError
from relay.exitcodes import EXIT_CHECK_FAILED, EXIT_OK, EXIT_SOFTWARE
from relay.runtime.watchdog import RunLock, give_to_owner
from relay.store import snapshots
from relay.store.db import DB_NAME

MAGIC = b"peer-relay-backup v1\n"
BACKUP_AAD = "peer-relay/backup/v1"
"""Associated data of every backup blob: a sealed field or attachment can never pass for one."""


class BackupProblem(Exception):
    """One line an admin can act on (a path, a state), never database content."""


@dataclass(frozen=True)
class BackupInfo:
    path: Path
    size: int  # bytes written (sealed)
    schema: int


# --- backup --------------------------------------------------------------------------------------


def make_backup(data_dir: Path, sealer: Sealer, dest: Path) -> BackupInfo:
    """Copy the live database online, check it, seal it, write it to `dest` (a file, or a
    directory to put ``relay-<UTC time>.sealed`` in)."""
    source = data_dir / DB_NAME
    if not source.is_file():
        raise BackupProblem(f"{source}: no database here (has the relay run yet?)")
    if dest.is_dir():
        dest = dest / f"relay-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.sealed"
    try:
        image, schema = _online_copy(source)
    except sqlite3.Error as exc:
        raise BackupProblem(f"{source}: cannot copy the database ({exc})") from None
    sealed = MAGIC + sealer.seal(image, aad=BACKUP_AAD)
    try:
        write_private_file(dest, sealed, overwrite=True)
    except OSError as exc:
        raise BackupProblem(f"{dest}: cannot write the backup ({exc.strerror})") from None
    return BackupInfo(dest, len(sealed), schema)


def _online_copy(source: Path) -> tuple[bytes, int]:
    memory = snapshots.copy_online(source)
    try:
        _check(memory, "the copy")
        return snapshots.image(memory), snapshots.schema(memory)
    finally:
        memory.close()


def _check(conn: sqlite3.Connection, what: str) -> None:
    found = snapshots.problems(conn)
    if found:
        raise BackupProblem(f"{what} fails SQLite's integrity check ({found} problem(s))")


# --- restore -------------------------------------------------------------------------------------


def newest_schema() -> int:
    """The newest database schema this peer-relay knows (its highest numbered migration)."""
    folder = resources.files("relay.store").joinpath("migrations")
    numbers = (int(e.name.split("_", 1)[0]) for e in folder.iterdir() if e.name.endswith(".sql"))
    return max(numbers, default=0)


def open_backup(source: Path, sealer: Sealer) -> sqlite3.Connection:
    """The backup as an in-memory database, checked: key, seal, integrity, known schema."""
    try:
        data = source.read_bytes()
    except OSError as exc:
        raise BackupProblem(f"{source}: cannot read the backup ({exc.strerror})") from None
    if not data.startswith(MAGIC):
        raise BackupProblem(f"{source}: not a peer-relay backup")
    try:
        image = sealer.open(data[len(MAGIC) :], aad=BACKUP_AAD)
    except TamperedError as exc:
        raise BackupProblem(f"{source}: {exc.problem}") from None
    try:
        memory = snapshots.from_image(image)
    except sqlite3.Error as exc:
        raise BackupProblem(f"{source}: not a readable database ({exc})") from None
    try:
        _check(memory, f"{source}")
        schema = snapshots.schema(memory)
    except sqlite3.Error as exc:
        memory.close()
        raise BackupProblem(f"{source}: not a readable database ({exc})") from None
    except BackupProblem:
        memory.close()
        raise
    if schema > newest_schema():
        memory.close()
        raise BackupProblem(
            f"{source}: written by a newer peer-relay (schema {schema}, "
            f"this one knows up to {newest_schema()}); upgrade first"
        )
    return memory


def restore_backup(data_dir: Path, sealer: Sealer, source: Path) -> Path | None:
    """Replace the database with the backup; return where the old one was put aside (None if
    there was none). Refuses while a relay runs on `data_dir`."""
    memory = open_backup(source, sealer)
    lock = RunLock(data_dir)
    try:
        if not lock.acquire():
            raise BackupProblem(
                f"{data_dir}: the relay is running; stop it first (systemctl stop peer-relay)"
            )
        return _swap_in(data_dir, memory)
    finally:
        lock.release()
        memory.close()


def _swap_in(data_dir: Path, memory: sqlite3.Connection) -> Path | None:
    target = data_dir / DB_NAME
    fresh = data_dir / f".{DB_NAME}.restoring"
    for leftover in (fresh, *_companions(fresh)):
        leftover.unlink(missing_ok=True)
    # The new database through the backup API too: a proper file, fsynced, owner-only.
    fd = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        give_to_owner(fd, data_dir)
    finally:
        os.close(fd)
    snapshots.write_copy(memory, fresh)
    with open(fresh, "rb") as done:
        os.fsync(done.fileno())
    aside = _put_aside(target)
    os.replace(fresh, target)
    fsync_dir(data_dir)
    return aside


def _companions(db: Path) -> tuple[Path, Path]:
    return db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")


def _put_aside(target: Path) -> Path | None:
    """Move the old database and its WAL out of the way, together, or nothing at all.

    A WAL left beside the restored file would be replayed into it and corrupt it, so the old
    WAL is first folded into its database where that still works, then moved with it."""
    if not target.exists():
        for companion in _companions(target):
            companion.unlink(missing_ok=True)
        return None
    snapshots.fold_wal(target)
    aside = target.with_name(f"{target.name}.before-restore-{datetime.now(UTC):%Y%m%dT%H%M%SZ}")
    os.replace(target, aside)
    for companion, moved in zip(_companions(target), _companions(aside), strict=True):
        if companion.exists():
            os.replace(companion, moved)
    return aside


# --- the commands --------------------------------------------------------------------------------


def run_backup(config_path: Path, dest: Path, out: TextIO) -> int:
    """`peer-relay backup --config F --to PATH`."""
    code, found = _setup(config_path, out)
    if found is None:
        return code
    data_dir, sealer = found
    try:
        info = make_backup(data_dir, sealer, dest)
    except BackupProblem as exc:
        out.write(f"peer-relay backup: {exc}\n")
        return EXIT_SOFTWARE
    out.write(f"backup written to {info.path} ({info.size} bytes, schema {info.schema})\n")
    return EXIT_OK


def run_restore(config_path: Path, source: Path, out: TextIO) -> int:
    """`peer-relay restore --config F --from FILE`."""
    code, found = _setup(config_path, out)
    if found is None:
        return code
    data_dir, sealer = found
    try:
        aside = restore_backup(data_dir, sealer, source)
    except BackupProblem as exc:
        out.write(f"peer-relay restore: {exc}\n")
        return EXIT_CHECK_FAILED
    except (OSError, sqlite3.Error) as exc:
        out.write(f"peer-relay restore: failed while writing ({type(exc).__name__})\n")
        return EXIT_SOFTWARE
    out.write(f"restored {data_dir / DB_NAME} from {source}\n")
    if aside is not None:
        out.write(f"the previous database is kept as {aside}; delete it once the relay runs\n")
    out.write("start the relay now (systemctl start peer-relay); overdue deadlines fire at once\n")
    return EXIT_OK


def _setup(config_path: Path, out: TextIO) -> tuple[int, tuple[Path, Sealer] | None]:
    opened = open_config(config_path, out)
    if isinstance(opened, int):
        return opened, None
    config, sealer = opened
    return EXIT_OK, (config.data_dir, sealer)
