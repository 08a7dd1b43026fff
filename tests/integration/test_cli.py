"""`peer-relay` as a person runs it: one-line errors, named exit codes, the demo, the simulator."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import yaml

from relay.crypto.keys import load_key
from relay.crypto.seal import Sealer
from relay.exitcodes import EXIT_CONFIG, EXIT_KEY, EXIT_OK
from relay.store.db import Database
from relay.store.keycheck import check_key

REPO = Path(__file__).resolve().parents[2]


def peer_relay(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "relay", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def good_config(tmp_path: Path, **changes: object) -> Path:
    rules = tmp_path / "rules"
    shutil.copytree(REPO / "rules", rules)
    doc = yaml.safe_load((REPO / "config.sample.yaml").read_text())
    doc.update(
        rules_dir=str(rules),
        data_dir=str(tmp_path / "data"),
        allow_placeholder_numbers=True,
        admin="dana",
    )
    doc["signal"]["service"] = "127.0.0.1:9"  # nothing listens: run must still start cleanly
    doc.update(changes)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_help_lists_every_command_and_the_exit_codes() -> None:
    result = peer_relay("--help")
    assert result.returncode == EXIT_OK
    for command in ("run", "check", "init", "demo", "sim", "status"):
        assert command in result.stdout
    assert "78" in result.stdout and "77" in result.stdout


def test_config_errors_are_one_line_each_naming_file_line_and_key(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(
        "signal:\n  service: nowhere\n  number: '+12025550100'\n"
        "rules_dir: /x\ndata_dir: /y\nadmin: alice\ntimezone: Mars/Olympus\ncolour: blue\n"
    )
    result = peer_relay("run", "--config", str(path))
    assert result.returncode == EXIT_CONFIG
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 3
    assert any(f"{path}:2: signal.service:" in line for line in lines)
    assert any(f"{path}:7: timezone:" in line for line in lines)
    assert any(f"{path}:8: colour: unknown key" in line for line in lines)
    assert "Traceback" not in result.stderr


def test_missing_key_is_exit_77_in_one_line(tmp_path: Path) -> None:
    result = peer_relay("run", "--config", str(good_config(tmp_path)))
    assert result.returncode == EXIT_KEY
    assert len(result.stderr.strip().splitlines()) == 1
    assert "relay.key" in result.stderr


def test_init_creates_a_private_key_and_refuses_to_overwrite(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert peer_relay("init", "--data-dir", str(data)).returncode == EXIT_OK
    key = data / "relay.key"
    assert key.stat().st_mode & 0o777 == 0o600
    before = key.read_bytes()
    again = peer_relay("init", "--data-dir", str(data))
    assert again.returncode == EXIT_KEY and key.read_bytes() == before


def test_run_refuses_sample_numbers_without_the_demo_switch(tmp_path: Path) -> None:
    config = good_config(tmp_path, allow_placeholder_numbers=False)
    result = peer_relay("run", "--config", str(config))
    assert result.returncode == EXIT_CONFIG
    assert "members.yaml:" in result.stderr


def test_check_accepts_the_samples_and_the_config(tmp_path: Path) -> None:
    assert peer_relay("check", str(REPO / "rules")).returncode == EXIT_OK
    result = peer_relay("check", "--config", str(good_config(tmp_path)))
    assert result.returncode == EXIT_OK, result.stdout + result.stderr


def test_demo_exits_0_and_shows_the_alert_and_the_ack() -> None:
    result = peer_relay("demo", timeout=120)
    assert result.returncode == EXIT_OK, result.stdout[-2000:] + result.stderr[-2000:]
    out = result.stdout
    bob_alert = re.search(r"relay → [^\n]*Bob[^\n]*:\n +🚨 ALERT: Alice", out)
    told = out.index("relay → Alice:\n       💜 Bob is on it.")
    assert bob_alert is not None and bob_alert.start() < told
    assert "Hotel Rex room 12" in out[bob_alert.start() : told]
    # Part two: Carol's SHARE crosses to the Harbour relay, signed; Erin approves it there;
    # Fay's CHECK finds it. Alice's words and name stay with the Night Owls.
    crossed = out.index("Night Owls relay → Harbour relay:\n       PEER-RELAY/1 ")
    held = out.index("Harbour relay → Erin:\n       📝 Warning #1 from the partner collective")
    found = out.index("(a partner collective reported it: night-owls)")
    assert told < crossed < held < found
    harbour = "".join(  # what the Harbour relay sent: its indented message lines only
        line
        for block in out[crossed:].split("  📱 ")
        if block.startswith("Harbour relay")
        for line in block.splitlines(keepends=True)
        if line.startswith("       ")
    )
    assert "tall man, choked a worker" in harbour
    assert "alice" not in harbour.lower() and "he choked me" not in harbour


def test_interactive_demo_takes_typed_messages() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "relay", "demo", "--interactive"],
        input="alice: IN 5m Hotel Rex\nnobody: hi\nquit\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == EXIT_OK
    assert "Night Owls relay → Alice:" in result.stdout and "Checked in until" in result.stdout
    assert "write it as  name: message" in result.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_sim_command_serves_the_api_on_loopback() -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "relay", "sim", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/health") as resp:
                    assert resp.status == 204
                    break
            except OSError:
                assert time.monotonic() < deadline, "simulator did not start"
                time.sleep(0.2)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_a_different_valid_key_is_refused_at_start_with_exit_77(tmp_path: Path) -> None:
    config = good_config(tmp_path, admin="dana")
    data = tmp_path / "data"
    assert peer_relay("init", "--data-dir", str(data)).returncode == EXIT_OK

    async def first_start() -> None:  # what the relay does first: seal the check value
        db = await Database.open(data)
        await check_key(db, Sealer(load_key(data)))
        await db.close()

    asyncio.run(first_start())
    (data / "relay.key").unlink()
    assert peer_relay("init", "--data-dir", str(data)).returncode == EXIT_OK  # a new, valid key
    second = peer_relay("run", "--config", str(config), timeout=30)
    assert second.returncode == EXIT_KEY
    assert "does not open this database" in second.stderr
