"""Speaking to one person in her language and time zone, for the pure modules beside `decide.py`
(practice drills, delivery news, the welcome): catalog text and wall-clock times, nothing else.

A member is found through the `Policy` (her language and zone); anyone else (a group, an outside
number) gets the collective's default language and zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from relay.core.policy import Policy
from relay.core.render import Catalog, clock
from relay.core.types import MemberAlias


@dataclass(frozen=True, slots=True)
class Voice:
    policy: Policy
    catalog: Catalog
    default_timezone: str

    def language(self, alias: str | None) -> str:
        info = self.policy.member(MemberAlias(alias)) if alias else None
        return info.language if info is not None else self.policy.default_language

    def zone(self, alias: str | None) -> str:
        info = self.policy.member(MemberAlias(alias)) if alias else None
        return info.timezone if info is not None else self.default_timezone

    def text(self, alias: str | None, key: str, **params: object) -> str:
        return self.catalog.text(self.language(alias), key, **params)

    def clock(self, alias: str | None, moment: datetime, now: datetime) -> str:
        weekdays = self.catalog.weekdays(self.language(alias))
        return clock(moment, self.zone(alias), now, weekdays)
