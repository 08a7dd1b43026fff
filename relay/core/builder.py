"""What a decision is made of, and the builder every decision is written with.

A decision (`Decision`) is the watches to store and the messages (`Outgoing`) to send, each with
its `Purpose`; it is decided in a `Context` (the rules as a `Policy`, the catalog, the default
zone, who is unreachable). `Builder` collects the messages of one decision: text from catalog
parts (`p(key, **params)`) in the reader's language, people with their pronouns, times in the
reader's zone. The state machine (`relay.core.decide`) and the features (`relay.features.reports`,
`relay.features.incidents`, …) write their answers with it, so a message reads the same whoever
sends it.
Pure: no clock, no database, no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from relay.core import escalation
from relay.core.escalation import Tier
from relay.core.policy import MemberInfo, Policy
from relay.core.render import Catalog, Name, When, with_pronouns
from relay.core.state import Kind, Recipient, RecipientKind, Watch
from relay.core.types import MemberAlias

Part = tuple[str, dict[str, object]]
"""One catalog entry and its values: a line of a message, in whoever reads it's language."""


class Purpose(StrEnum):
    REPLY = "reply"  # an answer to what she just sent (every member message gets one)
    REMINDER = "reminder"
    ALERT = "alert"  # carries a member's safety: retried forever, the admin told if stuck
    NOTICE = "notice"  # ack / all-clear / resolved news to those alerted
    DRILL = "drill"  # a practice alert and its news (relay.core.drills): never an alert


@dataclass(frozen=True, slots=True)
class Outgoing:
    to: Recipient
    text: str
    purpose: Purpose
    watch_id: str | None = None
    attachments: tuple[str, ...] = ()  # attachment vault keys (photos, exported files)
    # To a Signal group: the full alert and its photos, sent instead of `text` only if the
    # group's members check out just before sending (relay.core.group_alert,
    # relay.runtime.group_guard).
    withheld: tuple[str, tuple[str, ...]] | None = None
    # A repeat ("still nobody on her alert"): the outbox folds it into an unsent message of the
    # same alert to the same person (no pile after an outage). News is never folded.
    repeat: bool = False


@dataclass(frozen=True, slots=True)
class Decision:
    watches: tuple[Watch, ...] = ()
    messages: tuple[Outgoing, ...] = ()


@dataclass(frozen=True, slots=True)
class Context:
    policy: Policy
    catalog: Catalog
    default_timezone: str
    admin: MemberAlias | None = None
    # Recipients signal-cli said no retry soon reaches (not on Signal, changed safety number).
    unreachable: frozenset[Recipient] = frozenset()


@dataclass(slots=True)
class Builder:
    """Collects messages while one decision is worked out: `send` puts catalog parts into the
    reader's language, with people's pronouns and times in her zone; `done` is the decision."""

    ctx: Context
    now: datetime
    watches: list[Watch] = field(default_factory=list)
    messages: list[Outgoing] = field(default_factory=list)
    # One decision asks for the same alert path up to three times (alert, escalate, next
    # wake-up); each ask lists every tier's recipients again. Once per decision is enough.
    _tiers: dict[tuple[MemberAlias, Kind], Sequence[Tier]] = field(default_factory=dict)

    def tiers(self, alias: MemberAlias, kind: Kind) -> Sequence[Tier]:
        found = self._tiers.get((alias, kind))
        if found is None:
            found = self._tiers[alias, kind] = self.ctx.policy.tiers(alias, kind)
        return found

    def info(self, alias: MemberAlias) -> MemberInfo:
        found = self.ctx.policy.member(alias)
        if found is None:  # removed from the rules while her watch is live: keep speaking to her
            return MemberInfo(alias, self.ctx.policy.default_language, self.ctx.default_timezone)
        return found

    def language(self, to: Recipient) -> str:
        if to.kind is RecipientKind.MEMBER:
            return self.info(MemberAlias(to.address)).language
        return self.ctx.policy.default_language

    def zone(self, to: Recipient) -> str:
        if to.kind is RecipientKind.MEMBER:
            return self.info(MemberAlias(to.address)).timezone
        return self.ctx.default_timezone

    def text(
        self,
        to: Recipient,
        *parts: tuple[str, dict[str, object]],
        about: MemberAlias | None = None,
    ) -> str:
        """Parts in the reader's language; people with their pronouns; times about `about` (else
        the member named `who`) labelled when her clock differs from the reader's."""
        language = self.language(to)
        return "\n".join(
            self.ctx.catalog.text(language, key, **self._values(to, params, about))
            for key, params in parts
        )

    def _values(
        self, to: Recipient, params: dict[str, object], about: MemberAlias | None
    ) -> dict[str, object]:
        values = with_pronouns(params, lambda alias: self.info(MemberAlias(alias)).pronouns)
        who = params.get("who")
        subject = about or (MemberAlias(who.alias) if isinstance(who, Name) else None)
        if subject is not None and not (to.kind is RecipientKind.MEMBER and to.address == subject):
            theirs = self.info(subject).timezone
            values = {k: v.about(theirs) if isinstance(v, When) else v for k, v in values.items()}
        return values

    def send(
        self,
        to: Recipient,
        purpose: Purpose,
        *parts: tuple[str, dict[str, object]],
        watch: Watch | None = None,
        attachments: tuple[str, ...] = (),
    ) -> None:
        text = self.text(to, *parts, about=watch.member if watch else None)
        self.messages.append(Outgoing(to, text, purpose, watch.id if watch else None, attachments))

    def clock(self, moment: datetime, to: Recipient) -> When:
        """A time for `to`: in her zone, labelled later if the message is about someone else."""
        return When(moment, self.zone(to), self.now, group=to.kind is not RecipientKind.MEMBER)

    def reachable(self, recipients: Sequence[Recipient]) -> list[Recipient]:
        return escalation.reachable(recipients, self.ctx.unreachable)

    def watchers(self, alias: MemberAlias, kind: Kind) -> list[Recipient]:
        return escalation.first_watchers(self.tiers(alias, kind), self.ctx.unreachable, alias)

    def done(self) -> Decision:
        return Decision(tuple(self.watches), tuple(self.messages))


def p(key: str, **params: object) -> Part:
    return key, params
