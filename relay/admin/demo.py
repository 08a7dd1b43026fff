"""`peer-relay demo`: the whole flow against the built-in simulator, narrated in the terminal.

It starts the simulator and the relay (in this process) in a temporary directory with the sample
rules and short timings, then plays a missed check-in: Alice checks in with a note and does not
check out; she gets the reminder and the "are you OK?"; the grace passes; Bob gets the alert with
her note; Bob answers ACK; Alice is told Bob is on it. `--interactive` lets a person type as any
member instead (`alice: IN 5m`).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import sys
import tempfile
import textwrap
from pathlib import Path

import yaml

from relay.config import load_config
from relay.crypto.keys import init_data_dir, load_key
from relay.crypto.seal import Sealer
from relay.exitcodes import EXIT_CHECK_FAILED, EXIT_OK, EXIT_SOFTWARE
from relay.rules import load_rules
from relay.runtime.logs import setup_logging
from relay.runtime.supervisor import Relay
from relay.sim import SignalSim
from relay.sim.records import SentMessage

RELAY_NUMBER = "+12025550100"
DEMO_TIMINGS = {
    "checkin": "20s",
    "checkin_max": "12h",
    "extend_max": "4h",
    "reminder_before": "8s",
    "grace": "6s",
    "escalate_after": "20s",
    "repeat_every": "20s",
}


def _sample_rules() -> Path | None:
    """The repository's rules/ (the demo runs from a checkout: `pip install -e .`)."""
    here = Path(__file__).resolve().parents[2] / "rules"
    return here if (here / "members.yaml").is_file() else None


def _say(line: str = "") -> None:
    print(line, flush=True)


class Narrator:
    """Prints every message the relay hands to the simulator, as it passes."""

    def __init__(self, sim: SignalSim, names: dict[str, str]) -> None:
        self.sim = sim
        self.names = names
        self.shown = 0

    def name(self, address: str) -> str:
        return self.names.get(address, address)

    def show(self, sent: SentMessage) -> None:
        to = ", ".join(self.name(r) for r in sent.recipients)
        _say(f"  📱 relay → {to}:")
        for line in sent.message.splitlines():
            _say(textwrap.indent(textwrap.fill(line, 76), "       "))

    def flush(self) -> None:
        while self.shown < len(self.sim.sent):
            self.show(self.sim.sent[self.shown])
            self.shown += 1

    async def run(self) -> None:
        while True:
            await self.sim.wait_for_sent(since=self.shown, timeout=3600)
            self.flush()


def run_demo(interactive: bool = False) -> int:
    rules = _sample_rules()
    if rules is None:
        sys.stderr.write("peer-relay: demo: cannot find the sample rules/ (run from a checkout)\n")
        return EXIT_SOFTWARE
    try:
        return asyncio.run(_demo(rules, interactive))
    except KeyboardInterrupt:
        return EXIT_OK


async def _demo(sample_rules: Path, interactive: bool) -> int:
    setup_logging("WARNING")
    with tempfile.TemporaryDirectory(prefix="peer-relay-demo-") as tmp_name:
        tmp = Path(tmp_name)
        socket = tmp / "signal-cli.sock"
        # signal-cli as the Ansible role runs it: manual receive mode, the relay on its socket.
        async with SignalSim(RELAY_NUMBER, receive_mode="manual", socket_path=socket) as sim:
            config_path = _prepare(tmp, sample_rules, sim.service, socket, welcome=interactive)
            config = load_config(config_path)
            rules = load_rules(config.rules_dir, allow_placeholders=True)
            names = {str(m.number): alias.capitalize() for alias, m in rules.members.items()}
            numbers = {str(alias): str(m.number) for alias, m in rules.members.items()}
            relay = Relay(
                config=config,
                rules=rules,
                sealer=Sealer(load_key(config.data_dir)),
                install_signals=False,
            )
            task = asyncio.create_task(relay.run())
            await relay.ready.wait()
            await sim.wait_for_subscriber(timeout=10)
            narrator = Narrator(sim, names)
            printer = asyncio.create_task(narrator.run())
            try:
                if interactive:
                    result = await _interactive(sim, numbers)
                else:
                    result = await _scripted(sim, numbers, narrator)
            finally:
                await asyncio.sleep(0.3)  # let the last messages print
                narrator.flush()
                printer.cancel()
                relay.stop_event.set()
                with contextlib.suppress(asyncio.CancelledError):
                    await printer
                await task
            return result


def _prepare(tmp: Path, sample_rules: Path, service: str, socket: Path, *, welcome: bool) -> Path:
    rules_dir = tmp / "rules"
    shutil.copytree(sample_rules, rules_dir)
    (rules_dir / "timings.yaml").write_text(yaml.safe_dump({"timings": DEMO_TIMINGS}))
    # The scripted story is a missed check-in; the interactive one starts with the welcome.
    (rules_dir / "welcome.yaml").write_text(yaml.safe_dump({"welcome": {"enabled": welcome}}))
    data_dir = tmp / "data"
    init_data_dir(data_dir)
    config = {
        "signal": {"service": service, "number": RELAY_NUMBER, "socket": str(socket)},
        "rules_dir": str(rules_dir),
        "data_dir": str(data_dir),
        "admin": "dana",
        "timezone": "Europe/London",
        "log_level": "WARNING",
        "allow_placeholder_numbers": True,
    }
    path = tmp / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


async def _member(sim: SignalSim, numbers: dict[str, str], alias: str, text: str) -> None:
    _say(f"💬 {alias.capitalize()} → relay: {text}")
    await sim.member_sends(numbers[alias], text)


async def _scripted(sim: SignalSim, numbers: dict[str, str], narrator: Narrator) -> int:
    _say("peer-relay demo — a missed check-in, start to finish (about 35 seconds).")
    _say("The simulator stands in for Signal; timings are seconds instead of minutes.")
    _say("Alice's buddy is Bob; Carol also watches her.\n")
    alice, bob = numbers["alice"], numbers["bob"]

    await _member(sim, numbers, "alice", "IN 20s Hotel Rex room 12, client says his name is Tom")
    await sim.wait_for_sent(lambda s: s.reached(alice) and "Checked in" in s.message)
    narrator.flush()
    _say("⏳ Alice doesn't check out. The relay keeps time…")
    await sim.wait_for_sent(lambda s: s.reached(alice) and "left" in s.message, timeout=30)
    await sim.wait_for_sent(lambda s: s.reached(alice) and "Are you OK?" in s.message, timeout=30)
    narrator.flush()
    _say("⏳ No answer from Alice. The grace period runs out…")
    alert = await sim.wait_for_sent(lambda s: s.reached(bob) and "ALERT" in s.message, timeout=30)
    await asyncio.sleep(1)
    narrator.flush()
    _say("📲 Bob sees the alert and answers.")
    mark = len(sim.sent)
    await _member(sim, numbers, "bob", "ACK")
    told = await sim.wait_for_sent(
        lambda s: s.reached(alice) and "Bob" in s.message, since=mark, timeout=10
    )
    ok = "Hotel Rex room 12" in alert.message and "on it" in told.message
    await asyncio.sleep(0.3)
    narrator.flush()
    _say("✅ Bob got the alert with Alice's note, and Alice was told Bob is on it." if ok else "❌")
    return EXIT_OK if ok else EXIT_CHECK_FAILED


async def _interactive(sim: SignalSim, numbers: dict[str, str]) -> int:
    _say("peer-relay demo — interactive. Type as a member:  alice: IN 5m Hotel Rex")
    _say(
        f"Members: {', '.join(numbers)}. Timings are short (see relay/admin/demo.py). 'quit' ends."
    )
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line or line.strip().lower() in {"quit", "exit"}:
            return EXIT_OK
        alias, sep, text = line.partition(":")
        alias = alias.strip().lower()
        if not sep or alias not in numbers:
            _say(f"  (write it as  name: message  — names: {', '.join(numbers)})")
            continue
        await sim.member_sends(numbers[alias], text.strip())
