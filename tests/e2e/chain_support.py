"""Helpers for the issue-21 end-to-end tests (welcome, drills, delivery): rules edits and a
relay whose simulator sends receipts as phones do."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import yaml

from tests.e2e.conftest import NUMBERS, Harness


def rules_of(h: Harness) -> Path:
    assert h.relay is not None
    return h.relay.config.rules_dir


def edit_yaml(path: Path, change: Callable[[dict[str, object]], None]) -> None:
    doc = yaml.safe_load(path.read_text())
    change(doc)
    path.write_text(yaml.safe_dump(doc, allow_unicode=True))


def set_drills(rules: Path, **drills: object) -> None:
    (rules / "drills.yaml").write_text(yaml.safe_dump({"drills": drills}))


def add_watchers(rules: Path, member: str, watchers: list[str]) -> None:
    def change(doc: dict[str, object]) -> None:
        members = doc["members"]
        assert isinstance(members, dict)
        members[member]["watchers"] = watchers

    edit_yaml(rules / "members.yaml", change)


async def eventually(check: Callable[[], bool], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.05)


def count_to(h: Harness, member: str, contains: str) -> int:
    number = NUMBERS.get(member, member)
    return sum(1 for s in h.sim.sent if s.reached(number) and contains in s.message)
