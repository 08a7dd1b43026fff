"""The rules as the running relay reads them: immutable, validated, with the questions it asks.

A `Rules` value is built only by `relay.rules.load_rules` after every check passed, and never
changes; a reload builds a new one. Phone numbers, UUIDs, duress words and secrets are left out
of every ``repr`` so a stray log line cannot carry them.

Escalation tiers: ``TierRule.after`` counts from the moment the alert started (tier 1 normally at
zero). A tier whose ``after`` the rules leave out comes ``escalate_after`` (hers, if she has her
own timings) after the tier before it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from types import MappingProxyType
from typing import Literal, TypeVar

from relay.core.policy import Timings
from relay.core.state import Recipient, RecipientKind
from relay.core.types import GroupId, Language, MemberAlias, PhoneNumber, SignalUuid
from relay.rules.document import AlertKind
from relay.rules.issues import RuleIssue
from relay.rules.values import normalise_number

DEFAULT_TIMINGS = Timings(
    checkin=timedelta(hours=2),
    checkin_max=timedelta(hours=12),
    extend_max=timedelta(hours=4),
    reminder_before=timedelta(minutes=10),
    grace=timedelta(minutes=10),
    escalate_after=timedelta(minutes=15),
    repeat_every=timedelta(minutes=5),
)
"""What applies when the rules say nothing about a timing."""


_ENGLISH = Language("en")


@dataclass(frozen=True, slots=True)
class Member:
    alias: MemberAlias
    number: PhoneNumber = field(repr=False)
    uuid: SignalUuid | None = field(default=None, repr=False)
    language: Language = _ENGLISH
    timezone: str | None = None  # IANA; None = the collective's default (relay config)
    duress_word: str | None = field(default=None, repr=False)
    checkin_secret: str | None = field(default=None, repr=False)
    moderator: bool = False
    admin: bool = False
    pronouns: str | None = None  # "she" | "he" | "they"; None: messages use her name alone


@dataclass(frozen=True, slots=True)
class Circle:
    name: str
    members: tuple[MemberAlias, ...]
    group: GroupId | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class Contact:
    """Someone outside the collective that escalation may alert."""

    name: str
    number: PhoneNumber = field(repr=False)
    label: str
    language: Language = _ENGLISH


@dataclass(frozen=True, slots=True)
class TierSpec:
    """A tier as written; `after` None means "escalate_after after the previous tier"."""

    after: timedelta | None
    buddies: bool = False
    her_circles: bool = False
    circles: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    admin: bool = False
    contacts: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TierRule:
    """One resolved tier. ``after``: since the alert started; ``index``: 1 for the first."""

    index: int
    after: timedelta
    buddies: bool = False
    her_circles: bool = False
    circles: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    admin: bool = False
    contacts: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ReportPolicy:
    moderation: Literal["moderators", "direct"] = "moderators"
    share_with: str | None = None  # a circle; None = every member


@dataclass(frozen=True, slots=True)
class Retention:
    """How long each kind of record is kept; None = until the member deletes it herself."""

    checkins: timedelta = timedelta(hours=12)  # closed check-ins, notes, locations, client details
    # Hours, not days: a finished date's notes and locations are no use to anyone after it.
    alerts: timedelta = timedelta(days=30)
    reports: timedelta | None = timedelta(days=365)
    incident_logs: timedelta | None = None
    messages: timedelta = timedelta(days=2)  # stored copies of sent and received messages


@dataclass(frozen=True, slots=True)
class WelcomePolicy:
    """The welcome each member gets once, when she first appears in the rules."""

    enabled: bool = True
    run_by: str | None = None  # None: the welcome names the admin
    lines: Mapping[str, str] = field(default_factory=dict)  # language → the collective's words

    def line_for(self, language: str) -> str | None:
        return (
            self.lines.get(language)
            or self.lines.get(language.split("-")[0])
            or (self.lines.get("en"))
        )


@dataclass(frozen=True, slots=True)
class DrillSchedule:
    every: timedelta
    at: str  # "HH:MM", in the relay's time zone


@dataclass(frozen=True, slots=True)
class DrillPolicy:
    """Practice alerts: which tiers of her missed-check-in ladder, when she hears back, how
    often she may ask, and the schedule."""

    tiers: tuple[int, ...] = (1,)
    report_after: timedelta = timedelta(minutes=10)
    min_interval: timedelta = timedelta(days=1)
    schedule: DrillSchedule | None = None


@dataclass(frozen=True, slots=True)
class Partner:
    """Another collective's relay this one swaps bad-client warnings with (``peers.partners``)."""

    label: str  # what this collective's moderators see: "from bristol"
    number: PhoneNumber = field(repr=False)  # normalised E.164
    key: bytes = field(repr=False)  # 32 raw bytes, a valid Ed25519 public key
    sends: bool = False  # True when `send:` is given: SHARE may send it warnings
    min_severity: int = 1  # 1..3; a report nobody rated counts as 1
    categories: frozenset[str] | None = None  # None: every category
    accepts: bool = True  # its warnings come in (always to moderators first)
    daily_cap: int = 20  # warnings a day from it, and to it


def _no_partners() -> Mapping[str, Partner]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class PeerPolicy:
    """This collective's partner relays, and the name they know it by."""

    name: str | None = None  # sent with every warning; set whenever there are partners
    partners: Mapping[str, Partner] = field(default_factory=_no_partners)  # by label


@dataclass(frozen=True, slots=True)
class DirectoryEntry:
    name: str
    number: str  # E.164, or a short local number such as "116 123"
    what_for: str
    language: Language | None = None  # None: shown to everyone


_K = TypeVar("_K")
_V = TypeVar("_V")


def _frozen(mapping: Mapping[_K, _V]) -> Mapping[_K, _V]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True, eq=False)
class Rules:
    """A complete, valid set of rules. Build with `relay.rules.load_rules`."""

    members: Mapping[MemberAlias, Member]
    pairs: tuple[tuple[MemberAlias, MemberAlias], ...]
    """Buddy pairs, each once, names sorted within the pair."""
    watchers: Mapping[MemberAlias, tuple[MemberAlias, ...]]
    """Her one-way watchers (they get her alerts, she does not get theirs)."""
    circles: Mapping[str, Circle]
    contacts: Mapping[str, Contact]
    timings: Timings
    """The defaults; `timings_for` merges a member's own."""
    member_timings: Mapping[MemberAlias, Timings]
    tier_specs: Mapping[AlertKind, tuple[TierSpec, ...]]
    keywords: Mapping[str, Mapping[str, tuple[str, ...]]]
    """Language → command (or ``confirm``) → the collective's extra words."""
    reports: ReportPolicy
    retention: Retention
    strangers: Literal["silence", "neutral"]
    directory: tuple[DirectoryEntry, ...]
    welcome: WelcomePolicy = WelcomePolicy()
    drills: DrillPolicy = DrillPolicy()
    undelivered_after: timedelta | None = None
    """An alert tier that reached no phone within this long moves on at once (None: off)."""
    peers: PeerPolicy = PeerPolicy()
    """Partner relays (issue 20); none unless the rules have a peers: section."""
    warnings: tuple[RuleIssue, ...] = ()
    files: tuple[str, ...] = ()
    _by_number: Mapping[str, MemberAlias] = field(init=False, repr=False)
    _by_uuid: Mapping[str, MemberAlias] = field(init=False, repr=False)
    _partner_by_number: Mapping[str, Partner] = field(init=False, repr=False)
    _buddies: Mapping[MemberAlias, tuple[MemberAlias, ...]] = field(init=False, repr=False)
    _admins: tuple[MemberAlias, ...] = field(init=False, repr=False)
    _moderators: tuple[MemberAlias, ...] = field(init=False, repr=False)
    _circles_of: Mapping[MemberAlias, tuple[Circle, ...]] = field(init=False, repr=False)
    _watching: Mapping[MemberAlias, tuple[MemberAlias, ...]] = field(init=False, repr=False)
    # Ladders depend only on the kind and her escalate_after: built once each, on first use.
    _ladders: dict[tuple[AlertKind, timedelta], tuple[TierRule, ...]] = field(
        init=False, repr=False
    )

    def __post_init__(self) -> None:
        buddies: dict[MemberAlias, list[MemberAlias]] = {alias: [] for alias in self.members}
        for first, second in self.pairs:
            buddies.setdefault(first, []).append(second)
            buddies.setdefault(second, []).append(first)
        for alias, watchers in self.watchers.items():
            buddies.setdefault(alias, []).extend(watchers)
        setter = object.__setattr__  # frozen: the indexes are derived once, here
        for name in ("members", "watchers", "circles", "contacts", "member_timings", "tier_specs"):
            setter(self, name, _frozen(getattr(self, name)))  # read-only views: shared by tasks
        setter(self, "keywords", _frozen({k: _frozen(v) for k, v in self.keywords.items()}))
        setter(self, "_buddies", _frozen({a: _unique(b, a) for a, b in buddies.items()}))
        setter(self, "_by_number", _frozen({m.number: a for a, m in self.members.items()}))
        # Derived once: every alert path asks for the admins, so a scan per call made loading
        # 10,000 members quadratic (seconds at start-up).
        setter(self, "_admins", tuple(a for a, m in self.members.items() if m.admin))
        setter(self, "_moderators", tuple(a for a, m in self.members.items() if m.moderator))
        circles_of: dict[MemberAlias, list[Circle]] = {}
        for circle in self.circles.values():
            for alias in dict.fromkeys(circle.members):
                circles_of.setdefault(alias, []).append(circle)
        setter(self, "_circles_of", _frozen({a: tuple(c) for a, c in circles_of.items()}))
        watching: dict[MemberAlias, list[MemberAlias]] = {}
        for alias, theirs in self._buddies.items():
            for other in theirs:
                watching.setdefault(other, []).append(alias)
        setter(self, "_watching", _frozen({a: tuple(w) for a, w in watching.items()}))
        setter(self, "_ladders", {})
        setter(
            self,
            "_by_uuid",
            _frozen({m.uuid: a for a, m in self.members.items() if m.uuid is not None}),
        )
        peers = self.peers
        if not isinstance(peers.partners, MappingProxyType):
            setter(self, "peers", PeerPolicy(peers.name, _frozen(peers.partners)))
        setter(
            self,
            "_partner_by_number",
            _frozen({p.number: p for p in self.peers.partners.values()}),
        )

    def _finish(self, warnings: tuple[RuleIssue, ...], files: tuple[str, ...]) -> Rules:
        """Attach what the loader learns last, before anyone else holds the value."""
        object.__setattr__(self, "warnings", warnings)
        object.__setattr__(self, "files", files)
        return self

    def __repr__(self) -> str:
        return f"<Rules {len(self.members)} members, {len(self.circles)} circles>"

    # ---- who is who ----------------------------------------------------------------------

    def member(self, alias: str) -> Member | None:
        return self.members.get(MemberAlias(alias))

    def member_by_number(self, number: str) -> Member | None:
        """The member with this number, however it is formatted; None for a stranger."""
        normalised = normalise_number(number)
        alias = self._by_number.get(normalised) if normalised is not None else None
        return self.members[alias] if alias is not None else None

    def partner_by_number(self, number: str) -> Partner | None:
        """The partner relay with this number, however it is formatted; None for any other."""
        normalised = normalise_number(number)
        return self._partner_by_number.get(normalised) if normalised is not None else None

    def member_by_uuid(self, uuid: str) -> Member | None:
        alias = self._by_uuid.get(uuid.strip().lower())
        return self.members[alias] if alias is not None else None

    @property
    def admins(self) -> tuple[MemberAlias, ...]:
        return self._admins

    @property
    def moderators(self) -> tuple[MemberAlias, ...]:
        return self._moderators

    def buddies_of(self, alias: str) -> tuple[MemberAlias, ...]:
        """Who gets her alerts at the "buddies" tier: her buddy pairs, then her watchers."""
        return self._buddies.get(MemberAlias(alias), ())

    def watching(self, alias: str) -> tuple[MemberAlias, ...]:
        """Whose alerts she gets as a buddy or watcher (the reverse of `buddies_of`)."""
        return self._watching.get(MemberAlias(alias), ())

    def circles_of(self, alias: str) -> tuple[Circle, ...]:
        return self._circles_of.get(MemberAlias(alias), ())

    def circle_for_group(self, group_id: str) -> Circle | None:
        return next((c for c in self.circles.values() if c.group == group_id), None)

    # ---- time ----------------------------------------------------------------------------

    def timings_for(self, alias: str) -> Timings:
        """The defaults, with her own overrides applied."""
        return self.member_timings.get(MemberAlias(alias), self.timings)

    # ---- escalation ----------------------------------------------------------------------

    def escalation(self, kind: AlertKind, alias: str | None = None) -> tuple[TierRule, ...]:
        """The tiers for an alert of ``kind``, first first, with every ``after`` resolved.

        A tier the rules give no time comes ``escalate_after`` after the one before: hers when
        ``alias`` is given, else the default. Times never go backwards.
        """
        escalate = self.timings_for(alias).escalate_after if alias else self.timings.escalate_after
        ladder = self._ladders.get((kind, escalate))
        if ladder is None:
            ladder = self._ladders[(kind, escalate)] = self._ladder(kind, escalate)
        return ladder

    def _ladder(self, kind: AlertKind, escalate: timedelta) -> tuple[TierRule, ...]:
        tiers: list[TierRule] = []
        previous: timedelta | None = None
        for index, spec in enumerate(self.tier_specs[kind], start=1):
            if spec.after is not None:
                after = spec.after if previous is None else max(spec.after, previous)
            else:
                after = timedelta(0) if previous is None else previous + escalate
            tiers.append(
                TierRule(
                    index=index,
                    after=after,
                    buddies=spec.buddies,
                    her_circles=spec.her_circles,
                    circles=spec.circles,
                    groups=spec.groups,
                    admin=spec.admin,
                    contacts=spec.contacts,
                )
            )
            previous = after
        return tuple(tiers)

    def recipients_for(self, alias: str, tier: TierRule) -> tuple[Recipient, ...]:
        """Who this tier reaches for her alert, never herself, each once, in rule order.

        Someone reached by an earlier tier is listed again; the caller knows whom it alerted.
        """
        out: list[Recipient] = []
        members: list[MemberAlias] = []
        if tier.buddies:
            members.extend(self.buddies_of(alias))
        if tier.her_circles:
            for circle in self.circles_of(alias):
                members.extend(circle.members)
        for name in tier.circles:
            members.extend(self.circles[name].members)
        if tier.admin:
            members.extend(self.admins)
        out.extend(Recipient.member(m) for m in _unique(members, MemberAlias(alias)))
        for name in tier.groups:
            group = self.circles[name].group
            if group is not None:
                out.append(Recipient(RecipientKind.GROUP, group, label=name))
        for name in tier.contacts:
            contact = self.contacts[name]
            out.append(Recipient(RecipientKind.OUTSIDE, contact.number, label=contact.label))
        return tuple(out)

    def reaches_someone(self, alias: str, tier: TierRule) -> bool:
        """Whether `recipients_for` would name anyone, without listing a circle of thousands."""
        if tier.groups or tier.contacts:
            return True
        if tier.buddies and self.buddies_of(alias):
            return True
        circles = [self.circles[name] for name in tier.circles]
        if tier.her_circles:
            circles.extend(self.circles_of(alias))
        if any(other != alias for circle in circles for other in circle.members[:2]):
            return True
        return tier.admin and any(admin != alias for admin in self._admins[:2])

    def alert_path(
        self, alias: str, kind: AlertKind = "missed"
    ) -> tuple[tuple[TierRule, tuple[Recipient, ...]], ...]:
        """Every tier of her ``kind`` alerts with whom it reaches: what BUDDIES tells her."""
        return tuple(
            (tier, self.recipients_for(alias, tier)) for tier in self.escalation(kind, alias)
        )

    # ---- words ---------------------------------------------------------------------------

    def keyword_aliases(self, language: str) -> Mapping[str, tuple[str, ...]]:
        """Command name → the extra words the rules give it in ``language`` (built-ins aside).

        ``es-MX`` falls back to ``es`` when the rules have words for ``es`` only, as the
        parser's own languages do.
        """
        code = language.strip().lower().replace("_", "-")
        for key in (language, code, code.split("-")[0]):
            if key in self.keywords:
                return self.keywords[key]
        return MappingProxyType({})

    def directory_for(self, language: str) -> tuple[DirectoryEntry, ...]:
        """The "who to call" lines a member with ``language`` sees."""
        return tuple(e for e in self.directory if e.language in (None, language))


def _unique(aliases: Iterable[MemberAlias], without: MemberAlias) -> tuple[MemberAlias, ...]:
    return tuple(dict.fromkeys(a for a in aliases if a != without))
