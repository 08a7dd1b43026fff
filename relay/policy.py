"""`relay.core.policy.Policy` over the admin's rules: what the state machine may ask of them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from relay.core.policy import MemberInfo, Tier, Timings
from relay.core.state import Kind, Recipient, RecipientKind
from relay.core.types import MemberAlias
from relay.rules import Rules


class RulesPolicy:
    def __init__(self, rules: Rules, default_timezone: str, admin: MemberAlias | None) -> None:
        self.rules = rules
        self.default_timezone = default_timezone
        self.admin = admin
        self.default_language = "en"

    def member(self, alias: MemberAlias) -> MemberInfo | None:
        found = self.rules.members.get(alias)
        if found is None:
            return None
        return MemberInfo(alias, found.language, found.timezone or self.default_timezone)

    def timings(self, alias: MemberAlias) -> Timings:
        t = self.rules.timings_for(alias)
        return Timings(
            checkin=t.checkin,
            checkin_max=t.checkin_max,
            extend_max=t.extend_max,
            reminder_before=t.reminder_before,
            grace=t.grace,
            escalate_after=t.escalate_after,
            repeat_every=t.repeat_every,
        )

    def tiers(self, alias: MemberAlias, kind: Kind) -> Sequence[Tier]:
        ladder: list[Tier] = []
        for tier in self.rules.escalation(kind.value if kind is not Kind.CHECKIN else "missed"):
            recipients = tuple(
                _recipient(r) for r in self.rules.recipients_for(alias, tier) if r is not None
            )
            ladder.append(Tier(after=tier.after, recipients=recipients))
        if not ladder:
            ladder = self._default_ladder(alias)
        return ladder

    def _default_ladder(self, alias: MemberAlias) -> list[Tier]:
        buddies = tuple(Recipient.member(b) for b in self.rules.buddies_of(alias))
        ladder = [Tier(timedelta(0), buddies)]
        if self.admin is not None and self.admin != alias:
            after = self.rules.timings_for(alias).escalate_after
            ladder.append(Tier(after, (Recipient.member(self.admin),)))
        return ladder


def _recipient(r: Any) -> Recipient:
    """The rules' recipient → the core's. Members by alias; groups and outside numbers as is."""
    if isinstance(r, Recipient):
        return r
    kind = getattr(r, "kind", "member")
    if kind == "member":
        return Recipient(RecipientKind.MEMBER, str(r.alias), str(r.alias))
    if kind == "group":
        return Recipient(RecipientKind.GROUP, str(r.group_id), str(getattr(r, "label", "") or ""))
    return Recipient(RecipientKind.OUTSIDE, str(r.number), str(getattr(r, "label", "") or ""))
