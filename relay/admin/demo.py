"""`peer-relay demo`: the whole flow against the built-in simulator, narrated in the terminal.

It starts the simulator and two relays (in this process) in a temporary directory: the Night
Owls with the sample rules and short timings, and a second collective in another city, the
Harbour Collective (two members, Erin and Fay), each naming the other as a partner relay in
its peers.yaml with the other's real key. Then it plays

1. a missed check-in: Alice checks in with a note and does not check out; she gets the reminder
   and the "are you OK?"; the grace passes; Bob gets the alert with her note; Bob answers ACK;
   Alice is told Bob is on it;
2. a warning between collectives: Alice reports a violent client; Carol approves it and SHAREs it
   with a summary in her own words; it reaches the Harbour relay signed, waits there for Erin
   (its moderator), who approves it; Fay's CHECK of the client's number finds it, "a partner
   collective reported it".

`--interactive` lets a person type as any member of either collective instead (`alice: IN 5m`,
`erin: APPROVE 1`).
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
from relay.crypto.peer_keys import encode_public
from relay.crypto.seal import Sealer
from relay.exitcodes import EXIT_CHECK_FAILED, EXIT_OK, EXIT_SOFTWARE
from relay.rules import load_rules
from relay.runtime.logs import setup_logging
from relay.runtime.supervisor import Relay
from relay.sim import SignalSim
from relay.sim.records import SentMessage

RELAY_NUMBER = "+12025550100"
HARBOUR_NUMBER = "+12025550170"
HARBOUR_MEMBERS = {"erin": "+12025550161", "fay": "+12025550162"}
HARBOUR_RULES = {
    "members.yaml": {
        "members": {
            "erin": {
                "number": "+1 202-555-0161",
                "moderator": True,
                "admin": True,
                "buddies": ["fay"],
            },
            "fay": {"number": "+1 202-555-0162"},
        }
    },
    "escalation.yaml": {"escalation": {"missed": [{"buddies": True}, {"admin": True}]}},
}
REPORT = "REPORT he choked me and took the money back. His number +44 7700 900123, car AB12 CDE"
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
    """Prints every message either relay hands to the simulator, as it passes."""

    def __init__(self, sim: SignalSim, names: dict[str, str]) -> None:
        self.sim = sim
        self.names = names
        self.shown = 0

    def name(self, address: str) -> str:
        return self.names.get(address, address)

    def show(self, sent: SentMessage) -> None:
        to = ", ".join(self.name(r) for r in sent.recipients)
        _say(f"  📱 {self.name(sent.number)} → {to}:")
        if sent.message.startswith("PEER-RELAY/"):
            head = sent.message[:40]
            _say(f"       {head}… (one signed message, {len(sent.message)} characters)")
            return
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
        # signal-cli as the Ansible role runs it: manual receive mode, each relay on its socket,
        # one container holding both collectives' accounts.
        async with SignalSim(RELAY_NUMBER, receive_mode="manual", socket_path=socket) as sim:
            sim.add_account(HARBOUR_NUMBER, name="Harbour relay")
            owls = _prepare(tmp / "owls", sample_rules, sim.service, socket, welcome=interactive)
            group = _night_shift_group(sim, owls.parent / "rules")
            harbour = _prepare_harbour(tmp / "harbour", sim.service, socket)
            _pair(owls, harbour)
            relays = [_relay(owls), _relay(harbour)]
            rules = relays[0].rules
            names = {str(m.number): alias.capitalize() for alias, m in rules.members.items()}
            names |= {n: a.capitalize() for a, n in HARBOUR_MEMBERS.items()}
            names |= {RELAY_NUMBER: "Night Owls relay", HARBOUR_NUMBER: "Harbour relay"}
            names[group] = "the Night shift group"
            members = {
                str(alias): (str(m.number), RELAY_NUMBER) for alias, m in rules.members.items()
            }
            members |= {a: (n, HARBOUR_NUMBER) for a, n in HARBOUR_MEMBERS.items()}
            tasks = [asyncio.create_task(relay.run()) for relay in relays]
            for relay in relays:
                await relay.ready.wait()
            await sim.wait_for_subscriber(timeout=10, count=2)
            narrator = Narrator(sim, names)
            printer = asyncio.create_task(narrator.run())
            try:
                if interactive:
                    result = await _interactive(sim, members)
                else:
                    result = await _scripted(sim, members, narrator)
                    if result == EXIT_OK:
                        result = await _partners(sim, members, narrator)
            finally:
                await asyncio.sleep(0.3)  # let the last messages print
                narrator.flush()
                printer.cancel()
                for relay in relays:
                    relay.stop_event.set()
                with contextlib.suppress(asyncio.CancelledError):
                    await printer
                await asyncio.gather(*tasks)
            return result


def _relay(config_path: Path) -> Relay:
    config = load_config(config_path)
    return Relay(
        config=config,
        rules=load_rules(config.rules_dir, allow_placeholders=True),
        sealer=Sealer(load_key(config.data_dir)),
        install_signals=False,
    )


def _prepare(tmp: Path, sample_rules: Path, service: str, socket: Path, *, welcome: bool) -> Path:
    rules_dir = tmp / "rules"
    shutil.copytree(sample_rules, rules_dir)
    (rules_dir / "timings.yaml").write_text(yaml.safe_dump({"timings": DEMO_TIMINGS}))
    # The scripted story is a missed check-in; the interactive one starts with the welcome.
    (rules_dir / "welcome.yaml").write_text(yaml.safe_dump({"welcome": {"enabled": welcome}}))
    return _config(tmp, service, socket, RELAY_NUMBER, "dana")


def _night_shift_group(sim: SignalSim, rules_dir: Path) -> str:
    """The sample's night-shift circle posts in a Signal group: one the simulator knows (the
    sample's own id is made up)."""
    circles = rules_dir / "circles.yaml"
    doc = yaml.safe_load(circles.read_text())
    rules = load_rules(rules_dir, allow_placeholders=True)
    numbers = [str(rules.members[m].number) for m in rules.circles["night-shift"].members]
    group = sim.add_group("Night shift", numbers).id
    doc["circles"]["night-shift"]["group"] = group
    circles.write_text(yaml.safe_dump(doc))
    return group


def _prepare_harbour(tmp: Path, service: str, socket: Path) -> Path:
    """The second collective: two members, Erin (moderator and admin) and Fay."""
    rules_dir = tmp / "rules"
    rules_dir.mkdir(parents=True)
    for name, doc in HARBOUR_RULES.items():
        (rules_dir / name).write_text(yaml.safe_dump(doc))
    return _config(tmp, service, socket, HARBOUR_NUMBER, "erin")


def _config(tmp: Path, service: str, socket: Path, number: str, admin: str) -> Path:
    data_dir = tmp / "data"
    init_data_dir(data_dir)
    config = {
        "signal": {"service": service, "number": number, "socket": str(socket)},
        "rules_dir": str(tmp / "rules"),
        "data_dir": str(data_dir),
        "admin": admin,
        "timezone": "Europe/London",
        "log_level": "WARNING",
        "allow_placeholder_numbers": True,
    }
    path = tmp / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _pair(owls: Path, harbour: Path) -> None:
    """What two admins do after comparing fingerprints: each names the other in peers.yaml.
    The Night Owls send the Harbour relay every report a moderator SHAREs."""
    key = {
        p: encode_public(Sealer(load_key(p.parent / "data")).peer_public_key())
        for p in (owls, harbour)
    }
    (owls.parent / "rules" / "peers.yaml").write_text(
        yaml.safe_dump(
            {
                "peers": {
                    "name": "Night Owls",
                    "partners": {
                        "harbour": {"number": HARBOUR_NUMBER, "key": key[harbour], "send": {}}
                    },
                }
            }
        )
    )
    (harbour.parent / "rules" / "peers.yaml").write_text(
        yaml.safe_dump(
            {
                "peers": {
                    "name": "Harbour Collective",
                    "partners": {"night-owls": {"number": RELAY_NUMBER, "key": key[owls]}},
                }
            }
        )
    )


Members = dict[str, tuple[str, str]]
"""A member's alias → her number and the relay (account) she texts."""


async def _member(sim: SignalSim, members: Members, alias: str, text: str) -> None:
    number, relay = members[alias]
    where = "Night Owls relay" if relay == RELAY_NUMBER else "Harbour relay"
    _say(f"💬 {alias.capitalize()} → {where}: {text}")
    await sim.member_sends(number, text, account=relay)


async def _scripted(sim: SignalSim, numbers: Members, narrator: Narrator) -> int:
    _say("peer-relay demo — a missed check-in, start to finish (about 35 seconds), then a")
    _say("warning shared with another city's collective. The simulator stands in for Signal;")
    _say("timings are seconds instead of minutes. Alice's buddy is Bob; Carol also watches her.\n")
    alice, bob = numbers["alice"][0], numbers["bob"][0]

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


async def _partners(sim: SignalSim, members: Members, narrator: Narrator) -> int:
    _say("\n— Part two: a warning between collectives —")
    _say("The Harbour Collective, in another city, runs its own relay. Its admin and Dana compared")
    _say("key fingerprints (peer-relay identity) and named each other in rules/peers.yaml.\n")
    carol, erin, fay = (members[a][0] for a in ("carol", "erin", "fay"))
    await _member(sim, members, "alice", REPORT)
    review = await sim.wait_for_sent(lambda s: s.reached(carol) and "to review" in s.message)
    number = review.message.split("#", 1)[1].split(" ", 1)[0]
    narrator.flush()
    await _member(sim, members, "carol", f"APPROVE {number}")
    await sim.wait_for_sent(lambda s: s.reached(carol) and "SHARE" in s.message)
    narrator.flush()
    _say("🤝 Carol sends it on, in her own words: Alice's might say who she is.")
    await _member(
        sim, members, "carol", f"SHARE {number} tall man, choked a worker, took the money back"
    )
    await sim.wait_for_sent(lambda s: s.reached(HARBOUR_NUMBER))
    held = await sim.wait_for_sent(lambda s: s.reached(erin) and "partner collective" in s.message)
    narrator.flush()
    _say("🔏 The Harbour relay checked the signature; the warning waits for its own moderator.")
    local = held.message.split("#", 1)[1].split(" ", 1)[0]
    await _member(sim, members, "erin", f"APPROVE {local}")
    await sim.wait_for_sent(lambda s: s.reached(fay) and "partner collective" in s.message)
    narrator.flush()
    mark = len(sim.sent)
    await _member(sim, members, "fay", "CHECK +44 7700 900123")
    found = await sim.wait_for_sent(lambda s: s.reached(fay) and "match" in s.message, since=mark)
    await asyncio.sleep(0.3)
    narrator.flush()
    ok = "a partner collective reported it" in found.message
    _say(
        "✅ Fay's CHECK found the Night Owls' warning. Alice's name never left her collective."
        if ok
        else "❌"
    )
    return EXIT_OK if ok else EXIT_CHECK_FAILED


async def _interactive(sim: SignalSim, members: Members) -> int:
    _say("peer-relay demo — interactive. Type as a member:  alice: IN 5m Hotel Rex")
    _say(
        f"Night Owls: {', '.join(a for a, (_, r) in members.items() if r == RELAY_NUMBER)}; "
        "Harbour Collective (a partner relay): erin, fay. Timings are short "
        "(see relay/admin/demo.py). 'quit' ends."
    )
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line or line.strip().lower() in {"quit", "exit"}:
            return EXIT_OK
        alias, sep, text = line.partition(":")
        alias = alias.strip().lower()
        if not sep or alias not in members:
            _say(f"  (write it as  name: message  — names: {', '.join(members)})")
            continue
        number, relay = members[alias]
        await sim.member_sends(number, text.strip(), account=relay)
