"""The group check against the simulator's group API (`relay.runtime.group_guard.GroupGuard`): a
group is
cleared only when every member but the relay is in the rules and in the group's circle — found by
number or, for one who hides her number, by her ACI; anything unknown clears nothing; the admin is
told once per set of people."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml

from relay.rules import Rules, load_rules
from relay.runtime.group_guard import FRESH_FOR, GroupGuard
from relay.signal.transport import SignalTransport
from relay.sim import SignalSim
from relay.sim.directory import SimGroup
from relay.store.outbox import Pending
from relay.store.times import from_ms

SAMPLES = Path(__file__).resolve().parents[2] / "rules"
RELAY = "+12025550100"
ALICE, BOB, CAROL, DANA, ELENA = (f"+1202555010{i}" for i in range(1, 6))
STRANGER = "+12025550166"
HIDDEN_UUID = "1b6c8f3e-2f2a-4c1e-9d55-0f3a2b7c9e11"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def sim() -> AsyncIterator[SignalSim]:
    async with SignalSim(RELAY) as simulator:
        yield simulator


def rules_with(tmp_path: Path, group: SimGroup, circle: list[str]) -> Rules:
    folder = tmp_path / "rules"
    shutil.copytree(SAMPLES, folder)
    path = folder / "circles.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    doc["circles"]["night-shift"] = {"members": circle, "group": group.id}
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    members = folder / "members.yaml"
    doc = yaml.safe_load(members.read_text(encoding="utf-8"))
    doc["members"]["elena"]["uuid"] = HIDDEN_UUID
    members.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return load_rules(folder, allow_placeholders=True)


def post_to(group: SimGroup) -> Pending:
    return Pending(
        id=1,
        address=group.id,
        text="safe",
        purpose="alert",
        watch_id="w",
        created_at=from_ms(0),
        attempts=0,
        last_error=None,
        label="night-shift",
        withheld=("full", ()),
    )


async def guard_for(
    sim: SignalSim, rules: Rules, told: list[dict[str, object]], clock: Clock
) -> tuple[GroupGuard, SignalTransport]:
    transport = SignalTransport(sim.service, RELAY, 3.0)

    async def notify(key: str, **params: object) -> None:
        told.append({"key": key, **params})

    return GroupGuard(transport, RELAY, lambda: rules, notify, monotonic=clock), transport


async def test_cleared_only_when_everyone_is_in_the_circle(sim: SignalSim, tmp_path: Path) -> None:
    group = sim.add_group("Night shift", [RELAY, ALICE, BOB])
    rules = rules_with(tmp_path, group, ["alice", "bob", "carol"])
    told: list[dict[str, object]] = []
    clock = Clock()
    guard, transport = await guard_for(sim, rules, told, clock)
    try:
        assert await guard.cleared(post_to(group)) is True

        group.members += [DANA, STRANGER]  # dana: a member, not of this circle
        clock.now += FRESH_FOR - 1
        assert await guard.cleared(post_to(group)) is True  # the look is still fresh
        clock.now += 2
        assert await guard.cleared(post_to(group)) is False
        assert await guard.cleared(post_to(group)) is False
        assert told == [
            {
                "key": "group_not_all_members",
                "circle": "night-shift",
                "strangers": STRANGER,
                "members": "Dana",
            }
        ]  # once
        group.members.remove(STRANGER)
        clock.now += FRESH_FOR
        assert await guard.cleared(post_to(group)) is False
        assert len(told) == 2 and told[1]["strangers"] == "—"  # a new set: told again
    finally:
        await transport.close()


async def test_a_member_who_hides_her_number_is_found_by_her_aci(
    sim: SignalSim, tmp_path: Path
) -> None:
    group = sim.add_group("Night shift", [RELAY, ALICE, HIDDEN_UUID])
    rules = rules_with(tmp_path, group, ["alice", "elena"])
    guard, transport = await guard_for(sim, rules, [], Clock())
    try:
        assert await guard.cleared(post_to(group)) is True
    finally:
        await transport.close()


async def test_anything_unknown_clears_nothing(sim: SignalSim, tmp_path: Path) -> None:
    group = sim.add_group("Night shift", [RELAY, ALICE])
    rules = rules_with(tmp_path, group, ["alice"])
    told: list[dict[str, object]] = []
    clock = Clock()
    guard, transport = await guard_for(sim, rules, told, clock)
    try:
        other = sim.add_group("Not ours", [RELAY, ALICE])
        wrong_label = post_to(other)  # a group the circle is not bound to
        assert await guard.cleared(wrong_label) is False
        del sim.directory.groups[group.internal_id]  # the account left the group
        assert await guard.cleared(post_to(group)) is False
        await sim.refuse_connections()  # signal-cli-rest-api unreachable
        clock.now += FRESH_FOR
        assert await guard.cleared(post_to(group)) is False
        assert told == []
    finally:
        await sim.accept_connections()
        await transport.close()
