"""Speaking to one person in her language and time zone, for the pure modules beside `decide.py`
(practice drills, delivery news, the welcome): catalog text and wall-clock times, nothing else.

A member is found through the `Policy` (her language and zone); anyone else (a group, an outside
number) gets the collective's default language and zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from relay.core.policy import Policy
from relay.core.render import Catalog, When, with_pronouns
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

    def pronouns(self, alias: str) -> str | None:
        info = self.policy.member(MemberAlias(alias))
        return info.pronouns if info is not None else None

    def text(self, alias: str | None, key: str, **params: object) -> str:
        """The catalog's `key` for `alias`: names with the pronouns the rules give them."""
        values = with_pronouns(params, self.pronouns)
        return self.catalog.text(self.language(alias), key, **values)

    def clock(self, alias: str | None, moment: datetime, now: datetime) -> When:
        """A time as `alias` reads it: in her zone, with the weekday when not today."""
        return When(moment, self.zone(alias), now)
