"""The project's own rules: lint and types clean, and the README's commands are what CI runs."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True, check=False
    )


def test_ruff_lint_and_format_are_clean() -> None:
    lint = _run("ruff", "check", "relay", "tests")
    assert lint.returncode == 0, lint.stdout + lint.stderr
    fmt = _run("ruff", "format", "--check", "relay", "tests")
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


def test_mypy_strict_is_clean() -> None:
    result = _run("mypy")
    assert result.returncode == 0, result.stdout + result.stderr


def _readme_commands() -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    return re.findall(r"```sh\n(.+?)\n```", text)


def test_readme_opens_with_the_demo_and_the_test_command() -> None:
    demo, tests = _readme_commands()[:2]
    assert demo.endswith("peer-relay demo") and "pip install" in demo
    assert "pytest" in tests and "pip install" in tests


def test_ci_runs_exactly_the_readme_test_command() -> None:
    tests = _readme_commands()[1]
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert tests in ci
