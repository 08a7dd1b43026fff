"""The admin's rules: members, buddies, circles, timings, escalation, words, reports, retention,
partner relays.

`load_rules(path)` reads a folder of YAML files into an immutable `Rules`, or raises
`RulesInvalid` with every problem as a ``file:line: field: message`` line. `relay.rules.check`
is `peer-relay check`; `relay.rules.reload` swaps rules in a running relay; `relay.rules.schema`
writes the JSON Schema editors use.
"""

from relay.core.policy import Timings
from relay.core.state import Recipient, RecipientKind
from relay.rules.document import ALERT_KINDS, COMMANDS, AlertKind, Command
from relay.rules.issues import RuleIssue, RulesInvalid
from relay.rules.loader import fingerprint, load_rules, rule_files
from relay.rules.model import (
    DEFAULT_TIMINGS,
    Circle,
    Contact,
    DirectoryEntry,
    Member,
    Partner,
    PeerPolicy,
    ReportPolicy,
    Retention,
    Rules,
    TierRule,
)
from relay.rules.rule_durations import format_duration, parse_duration
from relay.rules.values import normalise_number

__all__ = [
    "ALERT_KINDS",
    "COMMANDS",
    "DEFAULT_TIMINGS",
    "AlertKind",
    "Circle",
    "Command",
    "Contact",
    "DirectoryEntry",
    "Member",
    "Partner",
    "PeerPolicy",
    "Recipient",
    "RecipientKind",
    "ReportPolicy",
    "Retention",
    "RuleIssue",
    "Rules",
    "RulesInvalid",
    "TierRule",
    "Timings",
    "fingerprint",
    "format_duration",
    "load_rules",
    "normalise_number",
    "parse_duration",
    "rule_files",
]
