"""The free-space watch: told once on the way down, once on the way back (with a margin), a
notice that failed is tried again, a disk that cannot be read is no crash."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

import pytest

from relay.runtime.clock import SystemClock
from relay.runtime.disk import MB, DiskWatch, free_bytes


class Admin:
    def __init__(self) -> None:
        self.told: list[tuple[str, dict[str, object]]] = []
        self.failing = 0

    async def tell(self, key: str, **params: object) -> None:
        if self.failing:
            self.failing -= 1
            raise RuntimeError("the notice could not be queued")
        self.told.append((key, params))


def watch(admin: Admin, free_mb: list[int | None]) -> DiskWatch:
    def measure(path: Path) -> int:
        value = free_mb.pop(0)
        if value is None:
            raise OSError(5, "Input/output error")
        return value * MB

    return DiskWatch(Path("."), 500, timedelta(minutes=30), SystemClock(), admin.tell, measure)


async def test_told_once_when_low_and_once_when_back_with_a_margin() -> None:
    admin = Admin()
    disk = watch(admin, [900, 499, 300, 550, 599, 600, 450])
    assert disk.report() is None  # nothing looked at yet
    await disk.check()
    assert admin.told == [] and disk.report() == {"free_mb": 900, "low": False}
    await disk.check()
    assert admin.told == [("disk_low", {"free": 499, "low": 500})]
    for _ in range(3):  # 300, then 550 and 599: above the line but within the margin
        await disk.check()
    assert len(admin.told) == 1 and disk.low
    await disk.check()  # 600 MB: 1.2 × the line
    assert admin.told[-1] == ("disk_ok", {"free": 600})
    assert disk.report() == {"free_mb": 600, "low": False}
    await disk.check()  # down again: told again
    assert admin.told[-1] == ("disk_low", {"free": 450, "low": 500})


async def test_a_notice_that_failed_is_tried_at_the_next_look() -> None:
    admin = Admin()
    admin.failing = 1
    disk = watch(admin, [100, 100])
    await disk.check()
    assert admin.told == [] and not disk.low
    await disk.check()
    assert admin.told == [("disk_low", {"free": 100, "low": 500})]


async def test_a_disk_that_cannot_be_read_is_logged_not_fatal(
    caplog: pytest.LogCaptureFixture,
) -> None:
    admin = Admin()
    disk = watch(admin, [None, 100])
    with caplog.at_level(logging.WARNING):
        await disk.check()
    assert "could not read the free disk space (OSError)" in caplog.text
    await disk.check()
    assert [key for key, _ in admin.told] == ["disk_low"]


def test_free_bytes_reads_the_real_file_system(tmp_path: Path) -> None:
    assert free_bytes(tmp_path) > 0
