"""`peer-relay check [RULES_DIR]`: what an admin runs after editing the rules.

Errors: one line each (``file:line: field: message``), exit 1. No errors: the warnings (such as
the sample's made-up numbers), then a one-line summary and a line for each partner relay with
its key's fingerprint (to compare with what the partner's admin reads out), exit 0. When there
are errors the warnings are held back, so the admin sees exactly what she must fix. With
``--config`` the start-up check runs instead (relay.admin.startup_check): everything `run` would
refuse.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from relay.core.report_categories import CATEGORIES
from relay.crypto.peer_keys import fingerprint
from relay.exitcodes import EXIT_CHECK_FAILED, EXIT_OK
from relay.rules.document import ALERT_KINDS
from relay.rules.issues import RulesInvalid
from relay.rules.loader import load_rules
from relay.rules.model import Partner, Rules

DEFAULT_RULES_DIR = Path("rules")


def run_check(rules_dir: Path | None, out: TextIO) -> int:
    """Check the rules (``rules/`` without ``rules_dir``); print the result; return the exit code.

    With a config file, `peer-relay check --config` runs the start-up check instead
    (relay.admin.startup_check), which reads the rules as `run` does.
    """
    folder = rules_dir if rules_dir is not None else DEFAULT_RULES_DIR
    try:
        rules = load_rules(folder, allow_placeholders=True)
    except RulesInvalid as exc:
        return _print([str(issue) for issue in exc.errors], out)
    for warning in rules.warnings:
        out.write(f"{warning}\n")
    for line in summary_lines(folder, rules):
        out.write(line + "\n")
    return EXIT_OK


def _print(errors: list[str], out: TextIO) -> int:
    for line in errors:
        out.write(line + "\n")
    return EXIT_CHECK_FAILED


def summary_lines(rules_dir: Path, rules: Rules) -> list[str]:
    """The `summary`, then one indented line per partner relay (`partner_line`)."""
    return [summary(rules_dir, rules), *(partner_line(p) for p in rules.peers.partners.values())]


def partner_line(partner: Partner) -> str:
    """``  partner bristol: key 12345 67890 … — send: severity 2+ (violence); accept``.

    The fingerprint is what the two admins compare: the partner's admin reads hers from
    `peer-relay identity`. No number: the label is enough to know which partner it is.
    """
    if not partner.sends:
        send = "send: nothing"
    else:
        chosen = partner.categories
        kinds = ", ".join(c for c in CATEGORIES if c in chosen) if chosen else "every kind"
        send = f"send: severity {partner.min_severity}+ ({kinds})"
    accept = "accept" if partner.accepts else "accept: no"
    return (
        f"  partner {partner.label}: key {fingerprint(partner.key)} — {send}; {accept}; "
        f"at most {partner.daily_cap} a day"
    )


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
    if rules.peers.partners:
        counts.append(_count(len(rules.peers.partners), "partner relay"))
    warned = f" ({_count(len(rules.warnings), 'warning')})" if rules.warnings else ""
    return f"{rules_dir}: OK{warned} — {', '.join(counts)}; tiers: {tiers}"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def main(argv: list[str] | None = None) -> int:
    """``python -m relay.rules.check [RULES_DIR]`` (the config: ``peer-relay check --config``)."""
    parser = argparse.ArgumentParser(prog="peer-relay check", description=__doc__)
    parser.add_argument("rules_dir", nargs="?", type=Path, help="the rules folder (or one file)")
    args = parser.parse_args(argv)
    return run_check(args.rules_dir, sys.stdout)


if __name__ == "__main__":
    sys.exit(main())
