"""`peer-relay check [RULES_DIR] [--config FILE]`: what an admin runs after editing.

Errors: one line each (``file:line: field: message``), exit 1. No errors: the warnings (such as
the sample's made-up numbers), then a one-line summary, exit 0. When there are errors the
warnings are held back, so the admin sees exactly what she must fix.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path
from typing import Any, TextIO

import yaml

from relay.exitcodes import EXIT_CHECK_FAILED, EXIT_OK
from relay.rules.document import ALERT_KINDS
from relay.rules.issues import RulesInvalid
from relay.rules.loader import load_rules
from relay.rules.model import Rules

DEFAULT_RULES_DIR = Path("rules")


def run_check(rules_dir: Path | None, config_path: Path | None, out: TextIO) -> int:
    """Check the rules (and the config file, if given); print the result; return the exit code.

    Without ``rules_dir`` the config's ``rules_dir`` is checked, or ``rules/``.
    """
    errors: list[str] = []
    config: Any = None
    if config_path is not None:
        config, config_errors = _check_config(config_path)
        errors.extend(config_errors)
    if rules_dir is None:
        if errors:  # the config names the rules folder, and it could not be read
            return _print(errors, out)
        configured = getattr(config, "rules_dir", None)
        rules_dir = Path(configured) if configured is not None else DEFAULT_RULES_DIR
    rules: Rules | None = None
    try:
        rules = load_rules(rules_dir, allow_placeholders=True)
    except RulesInvalid as exc:
        errors.extend(str(issue) for issue in exc.errors)
    if rules is not None and config is not None and config_path is not None:
        errors.extend(_config_against_rules(config, config_path, rules))
    if errors:
        return _print(errors, out)
    assert rules is not None  # noqa: S101 — no errors means the rules loaded
    for warning in rules.warnings:
        out.write(f"{warning}\n")
    out.write(summary(rules_dir, rules) + "\n")
    if config_path is not None:
        out.write(f"{config_path}: OK\n")
    return EXIT_OK


def _print(errors: list[str], out: TextIO) -> int:
    for line in errors:
        out.write(line + "\n")
    return EXIT_CHECK_FAILED


def summary(rules_dir: Path, rules: Rules) -> str:
    """``rules: OK — 5 members, 3 buddy pairs, 1 watcher, 2 circles; tiers: missed 3, …``."""
    watchers = sum(len(w) for w in rules.watchers.values())
    tiers = ", ".join(f"{kind} {len(rules.tier_specs[kind])}" for kind in ALERT_KINDS)
    counts = [
        _count(len(rules.members), "member"),
        _count(len(rules.pairs), "buddy pair"),
        _count(watchers, "watcher"),
        _count(len(rules.circles), "circle"),
        _count(len(rules.contacts), "outside contact"),
    ]
    warned = f" ({_count(len(rules.warnings), 'warning')})" if rules.warnings else ""
    return f"{rules_dir}: OK{warned} — {', '.join(counts)}; tiers: {tiers}"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _check_config(path: Path) -> tuple[Any, list[str]]:
    # Imported by name: the config module belongs to the daemon, and the rules must stay
    # checkable even in a build where it is missing or broken.
    try:
        module = importlib.import_module("relay.config")
        load_config = module.load_config
        config_invalid = module.ConfigInvalid
    except (ImportError, AttributeError):
        return None, [f"{path}: this build of peer-relay cannot check config files"]
    try:
        return load_config(path), []
    except config_invalid as exc:
        return None, [str(line) for line in getattr(exc, "issues", [str(exc)])]


def _config_against_rules(config: Any, config_path: Path, rules: Rules) -> list[str]:
    admin = getattr(config, "admin", None)
    if isinstance(admin, str) and rules.member(admin) is None:
        line = _top_level_line(config_path, "admin")
        where = f"{config_path}:{line}" if line else str(config_path)
        return [f"{where}: admin: '{admin}' is not a member in the rules"]
    return []


def _top_level_line(path: Path, key: str) -> int | None:
    try:
        node = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except (OSError, ValueError, yaml.YAMLError):
        return None
    if isinstance(node, yaml.MappingNode):
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
                return int(key_node.start_mark.line) + 1
    return None


def main(argv: list[str] | None = None) -> int:
    """``python -m relay.rules.check [RULES_DIR] [--config FILE]``."""
    parser = argparse.ArgumentParser(prog="peer-relay check", description=__doc__)
    parser.add_argument("rules_dir", nargs="?", type=Path, help="the rules folder (or one file)")
    parser.add_argument("--config", type=Path, help="also check this config file")
    args = parser.parse_args(argv)
    return run_check(args.rules_dir, args.config, sys.stdout)


if __name__ == "__main__":
    sys.exit(main())
