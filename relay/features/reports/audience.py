"""Who a shared warning (and its retraction) reaches, per the rules' ``reports.share_with``.

The circle's Signal group when it has one (one post, in every language its members read);
otherwise each member of the circle — or of the collective, when the rules name none — in her
own language. The reporter gets it like everyone else: a warning that reached every member but
one would single her out to anyone comparing phones. Pure: reads the rules only.
"""

from __future__ import annotations

from dataclasses import dataclass

from relay.core.state import Recipient, RecipientKind
from relay.core.types import Language
from relay.rules import Rules


@dataclass(frozen=True)
class Audience:
    members: tuple[tuple[Recipient, Language], ...] = ()
    group: Recipient | None = None
    group_languages: tuple[Language, ...] = ()
    name: str | None = None  # the circle's name when the share goes to a circle

    @property
    def empty(self) -> bool:
        return not self.members and self.group is None


def audience(rules: Rules) -> Audience:
    name = rules.reports.share_with
    circle = rules.circles.get(name) if name is not None else None
    aliases = circle.members if circle is not None else tuple(rules.members)
    if circle is not None and circle.group is not None:
        languages: list[Language] = []
        for alias in circle.members:
            member = rules.member(alias)
            if member is not None and member.language not in languages:
                languages.append(member.language)
        return Audience(
            group=Recipient(RecipientKind.GROUP, circle.group, label=circle.name),
            group_languages=tuple(languages) or (Language("en"),),
            name=circle.name,
        )
    members = []
    for alias in aliases:
        member = rules.member(alias)
        if member is not None:
            members.append((Recipient.member(alias), member.language))
    return Audience(members=tuple(members), name=circle.name if circle is not None else None)
