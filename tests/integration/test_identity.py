"""`peer-relay identity` as an admin runs it: on a fresh data directory, as a subprocess, and the
pairing it serves — what one relay prints is what the other's rules take and check shows."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from relay.admin.qr import qr_lines
from relay.crypto.keys import load_key
from relay.crypto.peer_keys import decode_public, encode_public, fingerprint
from relay.crypto.seal import Sealer
from relay.exitcodes import EXIT_CHECK_FAILED, EXIT_CONFIG, EXIT_KEY, EXIT_OK

REPO = Path(__file__).resolve().parents[2]
KEY_LINE = re.compile(r"^  key:         (ed25519:\S+)$", re.MULTILINE)
PRINT_LINE = re.compile(r"^  fingerprint: ([0-9 ]+)$", re.MULTILINE)


def peer_relay(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CREDENTIALS_DIRECTORY"}
    return subprocess.run(
        [sys.executable, "-m", "relay", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
        cwd=REPO,
    )


def relay_config(folder: Path, number: str = "+12025550100", *, init: bool = True) -> Path:
    """A config for a fresh relay in ``folder``: the sample rules, and a key made by `init`."""
    folder.mkdir(parents=True, exist_ok=True)
    rules = folder / "rules"
    shutil.copytree(REPO / "rules", rules)
    if init:
        made = peer_relay("init", "--data-dir", str(folder / "data"))
        assert made.returncode == EXIT_OK, made.stderr
    doc = yaml.safe_load((REPO / "config.sample.yaml").read_text(encoding="utf-8"))
    doc["signal"]["number"] = number
    doc.update(
        rules_dir=str(rules),
        data_dir=str(folder / "data"),
        allow_placeholder_numbers=True,
        admin="dana",
    )
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


def test_it_prints_the_number_the_key_its_fingerprint_and_a_qr_code(tmp_path: Path) -> None:
    config = relay_config(tmp_path)
    result = peer_relay("identity", "--config", str(config))
    assert result.returncode == EXIT_OK, result.stdout + result.stderr
    assert result.stderr == ""
    out = result.stdout
    own = Sealer(load_key(tmp_path / "data")).peer_public_key()
    assert "  number:      +12025550100\n" in out
    key_match = KEY_LINE.search(out)
    assert key_match is not None and key_match.group(1) == encode_public(own)
    print_match = PRINT_LINE.search(out)
    assert print_match is not None and print_match.group(1) == fingerprint(own)
    # The QR code holds exactly the key's text.
    assert "\n".join(qr_lines(encode_public(own))) in out
    # The sample's two partners, each with the fingerprint of the key written in peers.yaml.
    sample = yaml.safe_load((REPO / "rules" / "peers.yaml").read_text(encoding="utf-8"))
    for label, partner in sample["peers"]["partners"].items():
        raw = decode_public(partner["key"])
        assert raw is not None
        assert re.search(rf"^  {label} +{fingerprint(raw)}$", out, re.MULTILINE), out


def test_the_peer_key_is_not_the_incident_log_key(tmp_path: Path) -> None:
    config = relay_config(tmp_path)
    out = peer_relay("identity", "--config", str(config)).stdout
    sealer = Sealer(load_key(tmp_path / "data"))
    assert encode_public(sealer.public_key_bytes()) not in out
    assert encode_public(sealer.peer_public_key()) in out


def test_two_admins_pair_their_relays_and_read_the_same_digits(tmp_path: Path) -> None:
    """A's identity → pasted into B's peers.yaml → B's `check` and `identity` show for A the
    digits A's own identity shows: what the admins compare on the phone."""
    a = relay_config(tmp_path / "a", "+12025550140")
    b = relay_config(tmp_path / "b", "+12025550141")
    a_out = peer_relay("identity", "--config", str(a)).stdout
    a_key = KEY_LINE.search(a_out)
    a_print = PRINT_LINE.search(a_out)
    assert a_key is not None and a_print is not None
    peers = tmp_path / "b" / "rules" / "peers.yaml"
    peers.write_text(
        "peers:\n  name: Night Owls\n  partners:\n    east:\n"
        f'      number: "+1 202-555-0140"\n      key: "{a_key.group(1)}"\n',
        encoding="utf-8",
    )
    b_out = peer_relay("identity", "--config", str(b))
    assert b_out.returncode == EXIT_OK, b_out.stdout
    assert re.search(rf"^  east  {a_print.group(1)}$", b_out.stdout, re.MULTILINE), b_out.stdout
    check = peer_relay("check", str(tmp_path / "b" / "rules"))
    assert check.returncode == EXIT_OK, check.stdout
    assert f"  partner east: key {a_print.group(1)} — send: nothing; accept;" in check.stdout
    # One character changed on the way: refused by check, at the key's line.
    flipped = (
        a_key.group(1)[:20] + ("B" if a_key.group(1)[20] != "B" else "C") + a_key.group(1)[21:]
    )
    peers.write_text(peers.read_text(encoding="utf-8").replace(a_key.group(1), flipped))
    check = peer_relay("check", str(tmp_path / "b" / "rules"))
    if decode_public(flipped) is None:  # usually: not a point of the curve
        assert check.returncode == EXIT_CHECK_FAILED
        assert check.stdout.startswith(f"{peers}:6: peers.partners.east.key: not a valid key")
    else:  # else another key: the digits the admins compare differ
        assert check.returncode == EXIT_OK
        assert a_print.group(1) not in check.stdout


def test_a_relay_with_no_partners_says_so(tmp_path: Path) -> None:
    config = relay_config(tmp_path)
    (tmp_path / "rules" / "peers.yaml").unlink()
    result = peer_relay("identity", "--config", str(config))
    assert result.returncode == EXIT_OK
    assert "Partners: none yet in" in result.stdout


def test_a_partner_given_this_relays_own_key_is_pointed_out(tmp_path: Path) -> None:
    config = relay_config(tmp_path)
    own = encode_public(Sealer(load_key(tmp_path / "data")).peer_public_key())
    peers = tmp_path / "rules" / "peers.yaml"
    text = peers.read_text(encoding="utf-8")
    peers.write_text(text.replace("ed25519:avsodMKuPOVwwDN+ECcZCRklaoCNUGdiqwZFjlkAI0Q=", own))
    result = peer_relay("identity", "--config", str(config))
    assert result.returncode == EXIT_OK
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("  leeds")]
    assert "this relay's OWN key" in line


def test_without_a_key_it_is_exit_77_in_one_line(tmp_path: Path) -> None:
    config = relay_config(tmp_path, init=False)
    result = peer_relay("identity", "--config", str(config))
    assert result.returncode == EXIT_KEY
    assert len(result.stdout.strip().splitlines()) == 1
    assert "relay.key" in result.stdout and "ed25519:" not in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_a_broken_config_is_exit_78_naming_the_line(tmp_path: Path) -> None:
    config = relay_config(tmp_path)
    config.write_text(config.read_text(encoding="utf-8") + "colour: blue\n", encoding="utf-8")
    result = peer_relay("identity", "--config", str(config))
    assert result.returncode == EXIT_CONFIG
    assert re.fullmatch(rf"{re.escape(str(config))}:\d+: colour: unknown key.*\n", result.stdout)


def test_broken_rules_still_print_the_identity_then_exit_78(tmp_path: Path) -> None:
    config = relay_config(tmp_path)
    (tmp_path / "rules" / "collective.yaml").write_text("strangers: loud\n", encoding="utf-8")
    result = peer_relay("identity", "--config", str(config))
    assert result.returncode == EXIT_CONFIG
    assert KEY_LINE.search(result.stdout) is not None
    assert "have 1 problem(s): run  peer-relay check --config" in result.stdout


def test_help_says_what_it_prints_and_the_exit_codes() -> None:
    result = peer_relay("identity", "--help")
    assert result.returncode == EXIT_OK
    for words in ("--config", "fingerprint", "peers.yaml", "77", "78"):
        assert words in result.stdout
    assert "identity" in peer_relay("--help").stdout
