"""The welcome end to end: every member at the first start, a member added by a rules reload
(once, in her language), nobody twice — not on another reload, not after a restart — and a
member removed and added again is welcomed again."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from relay.features.welcomer import Welcomer
from relay.sim import SignalSim
from tests.e2e.chain_support import count_to, eventually, rules_of
from tests.e2e.conftest import NUMBERS, Harness, write_env

FERN = "+12025550107"
FERN_YAML = '\n  fern:\n    number: "+1 202-555-0107"\n    language: es\n    buddies: [elena]\n'


@pytest.fixture
async def welcoming(sim: SignalSim, tmp_path: Path) -> AsyncIterator[Harness]:
    h = Harness(sim, write_env(tmp_path, sim.service, welcome=True))
    (tmp_path / "rules" / "welcome.yaml").write_text(
        "welcome:\n  run_by: the Night Owls collective\n"
        "  lines:\n    es: Nos vemos el primer lunes del mes.\n"
    )
    await h.start()
    yield h
    await h.stop()


def welcomer(h: Harness) -> Welcomer:
    assert h.relay is not None and h.relay.chain is not None
    return h.relay.chain.welcomer


async def reload_and_wait(h: Harness, change: str | None) -> None:
    """Edit members.yaml (append `change`, or remove fern when None); wait for the welcome pass."""
    passes = welcomer(h).passes
    members = rules_of(h) / "members.yaml"
    text = members.read_text()
    members.write_text(text + change if change is not None else text.replace(FERN_YAML, ""))
    await eventually(lambda: welcomer(h).passes > passes, timeout=15)


async def test_welcomed_at_start_and_on_a_reload_once_in_her_language(
    welcoming: Harness,
) -> None:
    h, sim = welcoming, welcoming.sim
    hello = await h.to("alice", "safety relay run by the Night Owls collective", timeout=10)
    for words in ("IN 60", "OUT", "SOS", "HELP", "FORGET", "safety number", "Dana"):
        assert words in hello.message, words
    assert "Your buddies: Bob, Carol" in hello.message  # her buddy and her watcher
    one_tap = await h.to("alice", "SOS in one tap")
    for step in ("Pin", "Add to home screen", "Shortcuts", "Siri"):
        assert step in one_tap.message, step
    await h.to("elena", "relé de seguridad")  # Spanish at the first start too
    await eventually(lambda: welcomer(h).passes >= 1)
    assert count_to(h, "carol", "safety relay") == 1

    await reload_and_wait(h, FERN_YAML)  # a new member, Spanish, by a reload
    hola = await h.to(FERN, "¡Hola, Fern!", timeout=10)
    assert "relé de seguridad" in hola.message and "Elena" in hola.message
    assert "Nos vemos el primer lunes del mes." in hola.message  # the collective's own line
    await h.to(FERN, "SOS con un toque")
    assert count_to(h, FERN, "Fern") == 1

    await reload_and_wait(h, "\n# an unrelated edit\n")  # another reload: nobody twice
    await h.stop()
    await h.start()  # a restart: nobody twice either
    await eventually(lambda: welcomer(h).passes >= 1)
    assert count_to(h, FERN, "Fern") == 1
    assert count_to(h, "alice", "safety relay") == 1
    welcomes = [s for s in sim.sent if s.message.startswith("👋")]
    assert len(welcomes) == 6  # the five sample members and fern, once each

    await reload_and_wait(h, None)  # removed …
    await reload_and_wait(h, FERN_YAML)  # … and added again: welcomed again
    await h.to(FERN, "¡Hola, Fern!", since=len(sim.sent) - 2, timeout=10)
    assert count_to(h, FERN, "¡Hola, Fern!") == 2
    assert count_to(h, NUMBERS["elena"], "relé de seguridad") == 1


async def test_the_rules_can_switch_the_welcome_off(welcoming: Harness) -> None:
    h = welcoming
    await eventually(lambda: welcomer(h).passes >= 1)
    (rules_of(h) / "welcome.yaml").write_text("welcome:\n  enabled: false\n")
    await reload_and_wait(h, FERN_YAML)
    await h.says("alice", "HELP")  # the relay is running and answering
    await h.to("alice", "In danger? Send SOS")
    assert count_to(h, FERN, "Fern") == 0
