"""`peer-relay link` against the simulator's signal-cli-rest-api over real HTTP: the QR code in the
terminal, waiting for the phone, and the ways it can go wrong."""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import segno

from relay.admin.link import link, qr_lines
from relay.exitcodes import EXIT_CHECK_FAILED, EXIT_OK, EXIT_SIGNAL
from relay.sim import SignalSim
from tests.e2e.conftest import RELAY_NUMBER, write_env

HALF = {" ": (1, 1), "▀": (0, 1), "▄": (1, 0), "█": (0, 0)}  # (top, bottom): 1 = dark


class Terminal(io.StringIO):
    """What the admin sees; `waiting` is set once the code is on screen."""

    def __init__(self) -> None:
        super().__init__()
        self.waiting = asyncio.Event()

    def write(self, text: str) -> int:
        if "Waiting up to" in text:
            self.waiting.set()
        return super().write(text)


def modules(lines: list[str]) -> list[list[int]]:
    """The half-block lines back into rows of modules (1 = dark)."""
    rows: list[list[int]] = []
    for line in lines:
        pairs = [HALF[ch] for ch in line]
        rows.append([top for top, _ in pairs])
        rows.append([bottom for _, bottom in pairs])
    return rows


def qr_block(screen: str) -> list[str]:
    return [line for line in screen.splitlines() if line and set(line) <= set(HALF)]


@pytest.fixture
async def unlinked() -> AsyncIterator[SignalSim]:
    async with SignalSim(RELAY_NUMBER) as sim:
        sim.linked = False
        yield sim


@pytest.mark.parametrize(
    "text",
    ["sgnl://linkdevice?uuid=abc&pub_key=BQ%2Bx", "sgnl://linkdevice?uuid=" + "x" * 200],
)
def test_the_terminal_code_is_the_qr_code_of_the_text_with_a_quiet_zone(text: str) -> None:
    rows = modules(qr_lines(text))
    expected = [[1 if m else 0 for m in row] for row in segno.make(text, micro=False).matrix]
    size = len(expected)
    assert all(len(row) == size + 8 for row in rows)
    assert rows[4 : 4 + size] == [[0] * 4 + row + [0] * 4 for row in expected]
    assert all(not any(row) for row in rows[:4] + rows[4 + size :])  # light all around
    if len(text) < 150:  # a real link URI is about 110 characters: it fits 80 columns
        assert len(qr_lines(text)[0]) <= 80


async def test_link_shows_the_code_and_finishes_when_the_phone_scans_it(
    unlinked: SignalSim,
) -> None:
    screen = Terminal()
    running = asyncio.create_task(
        link(unlinked.service, RELAY_NUMBER, "Kitchen Pi", screen, wait=30, poll=0.05)
    )
    await asyncio.wait_for(screen.waiting.wait(), timeout=10)
    assert unlinked.link_requests == ["Kitchen Pi"]
    block = qr_block(screen.getvalue())
    assert len(block) > 10 and len({len(line) for line in block}) == 1
    assert not running.done()  # still waiting for the phone

    unlinked.linked = True  # the phone scanned it; signal-cli finished the link
    assert await asyncio.wait_for(running, timeout=10) == EXIT_OK
    assert "Linked." in screen.getvalue()


async def test_an_already_linked_number_is_left_alone() -> None:
    async with SignalSim(RELAY_NUMBER) as sim:
        screen = Terminal()
        assert await link(sim.service, RELAY_NUMBER, "peer-relay", screen) == EXIT_OK
        assert "already registered or linked" in screen.getvalue()
        assert sim.link_requests == []


async def test_another_account_linked_instead_is_reported(unlinked: SignalSim) -> None:
    screen = Terminal()
    running = asyncio.create_task(
        link(unlinked.service, "+12025550199", "peer-relay", screen, wait=30, poll=0.05)
    )
    await asyncio.wait_for(screen.waiting.wait(), timeout=10)
    unlinked.linked = True  # signal-cli now has its own account, not the configured number
    assert await asyncio.wait_for(running, timeout=10) == EXIT_CHECK_FAILED
    assert "different account" in screen.getvalue()


async def test_no_scan_in_time_says_to_run_it_again(unlinked: SignalSim) -> None:
    screen = Terminal()
    code = await link(unlinked.service, RELAY_NUMBER, "peer-relay", screen, wait=0.2, poll=0.05)
    assert code == EXIT_CHECK_FAILED
    assert "Run the command again" in screen.getvalue()


async def test_signal_cli_away_or_in_the_wrong_mode_is_named() -> None:
    async with SignalSim(RELAY_NUMBER, mode="normal") as sim:
        screen = Terminal()
        assert await link(sim.service, RELAY_NUMBER, "peer-relay", screen) == EXIT_SIGNAL
        assert "MODE=json-rpc" in screen.getvalue()
        service = sim.service
    screen = Terminal()
    assert await link(service, RELAY_NUMBER, "peer-relay", screen) == EXIT_SIGNAL
    assert "not reachable" in screen.getvalue()


async def test_the_command_line_as_the_deploy_guide_gives_it(
    unlinked: SignalSim, tmp_path: Path
) -> None:
    config = write_env(tmp_path, unlinked.service)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "relay",
        "link",
        "--config",
        str(config),
        "--device-name",
        "peer-relay",
        stdout=asyncio.subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONIOENCODING": "utf-8"},
    )
    assert proc.stdout is not None
    screen = ""
    async with asyncio.timeout(30):
        while "Waiting up to" not in screen:
            chunk = await proc.stdout.read(4096)
            assert chunk, screen
            screen += chunk.decode()
        unlinked.linked = True
        rest, _ = await proc.communicate()
    screen += rest.decode()
    assert proc.returncode == EXIT_OK, screen
    assert qr_block(screen) and "Linked." in screen
    assert unlinked.link_requests == ["peer-relay"]
