"""What the state machine needs to know from the rules, as a narrow protocol.

`relay.rules.core_policy.RulesPolicy` implements it over the admin's rules; tests may implement it
directly.
Keeping the core behind this seam means a rules reload never reaches into a running decision.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from relay.core.escalation import Tier
from relay.core.state import Kind
from relay.core.types import MemberAlias


@dataclass(frozen=True, slots=True)
class Timings:
    checkin: timedelta  # length of a check-in when she gives none
    checkin_max: timedelta  # longest check-in
    extend_max: timedelta  # most one EXTEND may add
    reminder_before: timedelta  # reminder this long before the deadline
    grace: timedelta  # after the deadline, wait this long for OUT before alerting
    escalate_after: timedelta  # unacknowledged this long → next tier
    repeat_every: timedelta  # unacknowledged alerts repeat this often


@dataclass(frozen=True, slots=True)
class MemberInfo:
    alias: MemberAlias
    language: str
    timezone: str
    pronouns: str | None = None  # "she", "he", "they"; None: messages use her name alone


class Policy(Protocol):
    default_language: str

    def member(self, alias: MemberAlias) -> MemberInfo | None:
        """None when she is no longer in the rules (her live watch still runs to its end)."""

    def timings(self, alias: MemberAlias) -> Timings: ...

    def tiers(self, alias: MemberAlias, kind: Kind) -> Sequence[Tier]:
        """The ladder for her alert, tier 1 first; tier 1 normally has ``after == 0``."""

    def directory(self, language: str) -> Sequence[tuple[str, str, str]]:
        """The "who to call" list in her language: (name, number, what for)."""
