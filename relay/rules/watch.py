"""Waking up when files in one directory change, without waking up while nothing does.

On Linux this is inotify, read through the event loop (``loop.add_reader``): an idle relay makes
no system calls for it at all. The Pi runs Linux; elsewhere (or if inotify is unavailable, or
the directory itself is deleted or replaced) it falls back to comparing file stats every few
seconds. Written against the kernel's documented interface (inotify(7)) with ctypes, because the
packaged watchers either poll a flag every few milliseconds or pull in a thread and a runtime.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import errno
import logging
import os
import struct
from pathlib import Path

log = logging.getLogger(__name__)

# From <sys/inotify.h>.
IN_MODIFY = 0x00000002
IN_ATTRIB = 0x00000004
IN_CLOSE_WRITE = 0x00000008
IN_MOVED_FROM = 0x00000040
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_DELETE = 0x00000200
IN_DELETE_SELF = 0x00000400
IN_MOVE_SELF = 0x00000800
IN_IGNORED = 0x00008000
IN_ONLYDIR = 0x01000000
IN_NONBLOCK = os.O_NONBLOCK
IN_CLOEXEC = os.O_CLOEXEC

# A finished write, a file moved in or out, created, deleted, or its permissions changed; the
# directory itself going away. Not IN_MODIFY: reacting to half-written files is pointless.
WATCH_MASK = (
    IN_CLOSE_WRITE
    | IN_ATTRIB
    | IN_MOVED_FROM
    | IN_MOVED_TO
    | IN_CREATE
    | IN_DELETE
    | IN_DELETE_SELF
    | IN_MOVE_SELF
    | IN_ONLYDIR
)
_HEADER = struct.Struct("iIII")  # wd, mask, cookie, len


class DirectoryWatcher:
    """`await changed()` returns after something in ``directory`` changed since the last call.

    Use as an async context manager (or call `close`), from inside a running event loop.
    """

    def __init__(
        self, directory: Path, *, poll_interval: float = 5.0, use_inotify: bool = True
    ) -> None:
        self.directory = directory
        self.poll_interval = poll_interval
        self._wake = asyncio.Event()
        self._fd: int | None = None
        self._loop = asyncio.get_running_loop()
        self._stats = _stats(directory)
        self._use_inotify = use_inotify
        if use_inotify:
            self._start_inotify()

    @property
    def mode(self) -> str:
        """``inotify`` or ``poll``."""
        return "inotify" if self._fd is not None else "poll"

    async def __aenter__(self) -> DirectoryWatcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    async def changed(self) -> None:
        """Wait until something in the directory changed (returns at once if it already had)."""
        while True:
            if self._fd is not None:
                await self._wake.wait()
                self._wake.clear()
                return
            try:
                await asyncio.wait_for(self._wake.wait(), self.poll_interval)
                self._wake.clear()
                return
            except TimeoutError:
                stats = _stats(self.directory)
                if stats != self._stats:
                    self._stats = stats
                    if self._use_inotify and self._fd is None and stats:
                        self._start_inotify()  # the folder is back: stop polling
                    return

    def poke(self) -> None:
        """Make the next (or current) `changed()` return, e.g. on SIGHUP."""
        self._wake.set()

    def close(self) -> None:
        if self._fd is not None:
            self._loop.remove_reader(self._fd)
            os.close(self._fd)
            self._fd = None

    # ---- inotify -------------------------------------------------------------------------

    def _start_inotify(self) -> None:
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
            init1 = libc.inotify_init1
            add_watch = libc.inotify_add_watch
        except (OSError, AttributeError):
            log.info(
                "inotify is not available; the rules folder is checked every %ss",
                self.poll_interval,
            )
            return
        fd = init1(IN_NONBLOCK | IN_CLOEXEC)
        if fd < 0:
            log.warning("inotify_init1 failed (%s); polling the rules folder", _errno_name())
            return
        if add_watch(fd, os.fsencode(self.directory), WATCH_MASK) < 0:
            log.warning("cannot watch the rules folder (%s); polling it", _errno_name())
            os.close(fd)
            return
        self._fd = fd
        self._loop.add_reader(fd, self._readable)

    def _readable(self) -> None:
        assert self._fd is not None  # noqa: S101 — the reader is removed before the fd closes
        lost = False
        while True:
            try:
                data = os.read(self._fd, 64 * 1024)
            except BlockingIOError:
                break
            except OSError as exc:
                log.warning("reading inotify failed (%s); polling the rules folder", exc.errno)
                lost = True
                break
            if not data:
                break
            offset = 0
            while offset + _HEADER.size <= len(data):
                _, mask, _, size = _HEADER.unpack_from(data, offset)
                offset += _HEADER.size + size
                if mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF):
                    lost = True  # the directory itself is gone or moved: the watch is dead
        if lost:
            # Fall back to stat polling, which also notices the folder coming back.
            self.close()
            self._stats = ()
        self._wake.set()


def _errno_name() -> str:
    return errno.errorcode.get(ctypes.get_errno(), "error")


def _stats(directory: Path) -> tuple[tuple[str, int, int, int], ...]:
    """Names, sizes, modification times and modes: what the poll fallback compares."""
    try:
        with os.scandir(directory) as found:
            entries = sorted(found, key=lambda entry: entry.name)
        out = []
        for entry in entries:
            try:
                info = entry.stat()
            except OSError:
                continue
            out.append((entry.name, info.st_size, info.st_mtime_ns, info.st_mode))
        return tuple(out)
    except OSError:
        return ()
