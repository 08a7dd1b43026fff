"""`relay.core.policy.Policy` over the admin's rules: what the state machine may ask of them."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from relay.core.escalation import Tier
from relay.core.policy import MemberInfo, Timings
from relay.core.state import Kind
from relay.core.types import MemberAlias
from relay.rules import Rules

_ALERT_KIND = {Kind.CHECKIN: "missed", Kind.SOS: "sos", Kind.DURESS: "duress"}


class RulesPolicy:
    """`rules_for(alias)` gives the rules that govern one member: the current ones, or — for a
    member removed while her check-in was live — the last ones she was in (`RulesHolder`)."""

    def __init__(
        self,
        rules: Rules,
        default_timezone: str,
        default_language: str = "en",
        rules_for: Callable[[str], Rules] | None = None,
    ) -> None:
        self.rules = rules
        self.default_timezone = default_timezone
        self.default_language = default_language
        self.rules_for = rules_for or (lambda alias: rules)

    def member(self, alias: MemberAlias) -> MemberInfo | None:
        found = self.rules.member(alias) or self.rules_for(alias).member(alias)
        if found is None:
            return None
        return MemberInfo(
            alias, found.language, found.timezone or self.default_timezone, found.pronouns
        )

    def timings(self, alias: MemberAlias) -> Timings:
        return self.rules_for(alias).timings_for(alias)

    def tiers(self, alias: MemberAlias, kind: Kind) -> Sequence[Tier]:
        return [
            Tier(after=tier.after, recipients=recipients)
            for tier, recipients in self.rules_for(alias).alert_path(alias, _ALERT_KIND[kind])  # type: ignore[arg-type]
        ]

    def directory(self, language: str) -> Sequence[tuple[str, str, str]]:
        return [(e.name, e.number, e.what_for) for e in self.rules.directory_for(language)]
