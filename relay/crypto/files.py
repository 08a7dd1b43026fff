"""Owner-only files written atomically: the key file and sealed attachments both go through here."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path


def write_private_file(path: Path, data: bytes, *, overwrite: bool) -> None:
    """Write ``data`` to ``path`` with mode 0600 so that a crash leaves the old file or the new one.

    The bytes go to a temporary file beside ``path`` (created with O_EXCL, never through a
    link), are flushed to disk, then put in place: with ``overwrite`` by ``rename``; without it
    by ``link``, which fails with `FileExistsError` if the name exists, so even a race cannot
    replace a file.
    """
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            # O_CREAT's mode is masked by the umask; make it exactly owner read/write.
            os.fchmod(out.fileno(), 0o600)
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        if overwrite:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    fsync_dir(path.parent)


def fsync_dir(directory: Path) -> None:
    """Make a new or renamed directory entry durable.

    A file system that cannot fsync a directory (vfat on removable media) is not an error here.
    """
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)
