"""`peer-relay check`: the samples pass, mistakes are listed one per line, the config too."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from relay.admin.startup_check import run_config_check
from relay.exitcodes import EXIT_CHECK_FAILED, EXIT_OK
from relay.rules.check import run_check

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "rules"


def check(rules_dir: Path | None, config: Path | None = None) -> tuple[int, list[str]]:
    out = io.StringIO()
    code = run_check(rules_dir, out) if config is None else run_config_check(config, rules_dir, out)
    return code, out.getvalue().splitlines()


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    target = tmp_path / "rules"
    shutil.copytree(SAMPLES, target)
    return target


def test_the_samples_pass_with_warnings_about_their_made_up_numbers() -> None:
    code, lines = check(SAMPLES)
    assert code == EXIT_OK
    *warnings, summary, bristol, leeds = lines
    assert warnings and all(": warning: " in line and "made-up" in line for line in warnings)
    assert summary.startswith(
        f"{SAMPLES}: OK ({len(warnings)} warnings) — 5 members, 3 buddy pairs"
    )
    assert "2 partner relays; tiers: missed 3, sos 2, duress 2" in summary
    # Each partner with its key's fingerprint, for the admins to compare (rules/peers.yaml).
    assert bristol.startswith("  partner bristol: key 95933 25833 14296 68881 04685 00067 — ")
    assert "send: severity 2+ (violence, sexual-violence, stealthing, threats)" in bristol
    assert leeds.startswith("  partner leeds: key 05099 97758 29486 93963 63740 82554 — ")
    assert "accept: no" in leeds


def test_errors_are_printed_alone_and_exit_1(copy: Path) -> None:
    members = copy / "members.yaml"
    members.write_text(
        members.read_text(encoding="utf-8").replace("buddies: [bob]", "buddies: [bobb]"),
        encoding="utf-8",
    )
    code, lines = check(copy)
    assert code == EXIT_CHECK_FAILED
    assert lines == [
        f"{members}:20: members.alice.buddies[0]: 'bobb' is not a member (did you mean 'bob'?)"
    ]


def test_a_config_file_is_checked_with_its_rules(tmp_path: Path, copy: Path) -> None:
    config = tmp_path / "relay.yaml"
    config.write_text(
        "signal:\n  service: 127.0.0.1:8080\n  number: '+12025550100'\n"
        f"rules_dir: {copy}\ndata_dir: {tmp_path / 'data'}\nadmin: dana\n"
        "timezone: Europe/London\nallow_placeholder_numbers: true\n",
        encoding="utf-8",
    )
    code, lines = check(None, config)
    assert code == EXIT_OK, lines
    assert lines[-4].startswith(f"{copy}: OK") and lines[-1] == f"{config}: OK"
    assert lines[-3].startswith("  partner bristol: key ")
    assert lines[-2].startswith("  partner leeds: key ")

    # The samples' made-up numbers pass only where the config allows them, as in `run`.
    config.write_text(config.read_text(encoding="utf-8").replace("true", "false"))
    code, lines = check(None, config)
    assert code == EXIT_CHECK_FAILED
    assert lines and all("made-up" in line and ": warning: " not in line for line in lines)
    config.write_text(config.read_text(encoding="utf-8").replace("false", "true"))

    config.write_text(config.read_text(encoding="utf-8").replace("admin: dana", "admin: zoe"))
    code, lines = check(None, config)
    assert code == EXIT_CHECK_FAILED
    assert lines == [f"{config}:6: admin: 'zoe' is not a member in the rules"]


def test_config_errors_and_rules_errors_are_listed_together(tmp_path: Path, copy: Path) -> None:
    config = tmp_path / "relay.yaml"
    config.write_text("signal: {}\nrules_dir: x\n", encoding="utf-8")
    (copy / "collective.yaml").write_text("strangers: loud\n", encoding="utf-8")
    code, lines = check(copy, config)
    assert code == EXIT_CHECK_FAILED
    assert any(line.startswith(f"{config}:") for line in lines)
    assert f"{copy / 'collective.yaml'}:1: strangers: expected 'silence' or 'neutral'" in lines


def test_the_command_line_end_to_end(copy: Path) -> None:
    ok = subprocess.run(
        [sys.executable, "-m", "relay", "check", str(SAMPLES)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert ok.returncode == EXIT_OK, ok.stderr
    assert ": OK" in ok.stdout and "Traceback" not in ok.stderr
    (copy / "timings.yaml").write_text("timings:\n  grace: [\n", encoding="utf-8")
    bad = subprocess.run(
        [sys.executable, "-m", "relay", "check", str(copy)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert bad.returncode == EXIT_CHECK_FAILED
    assert bad.stdout.startswith(f"{copy / 'timings.yaml'}:")
    assert "Traceback" not in bad.stdout + bad.stderr


def test_a_broken_config_without_a_rules_folder_reports_the_config_alone(tmp_path: Path) -> None:
    config = tmp_path / "relay.yaml"
    config.write_text("signal: [\n", encoding="utf-8")
    code, lines = check(None, config)
    assert code == EXIT_CHECK_FAILED
    assert len(lines) == 1 and lines[0].startswith(f"{config}:")
