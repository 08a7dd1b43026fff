"""Everything that affects the check-in / alert state machine lives in this file and in `decide.py`.

A `Watch` is one thing the relay keeps time for: a member's check-in (a date), or an alert raised by
SOS or a duress word. Which phases and kinds it may move between, and on which events, is the table
in `relay.core.lifecycle` (drawn in its docstring); nothing changes a phase but that table.
`next_at` is when the timer must wake for this watch; the store keeps it, so a restart rebuilds
every deadline from the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import StrEnum

from relay.core.types import MemberAlias


class Phase(StrEnum):
    DRAFT = "draft"  # client details or a location sent before IN: kept for her next check-in
    ACTIVE = "active"  # the date is on; the deadline is in the future
    DUE = "due"  # the deadline passed; she was asked "are you OK?"; grace runs
    ALERTED = "alerted"  # buddies (and later tiers) were alerted; nobody answered yet
    ACKED = "acked"  # someone answered "I'm on it"
    CLOSED = "closed"


class Kind(StrEnum):
    CHECKIN = "checkin"  # a date with a deadline
    SOS = "sos"  # she asked for help: alert at once, no grace
    DURESS = "duress"  # she used her duress word (or OUT without her secret): silent alert


class RecipientKind(StrEnum):
    MEMBER = "member"
    GROUP = "group"
    OUTSIDE = "outside"  # an outside contact number named in the rules


@dataclass(frozen=True, slots=True, order=True)
class Recipient:
    """Who a message goes to. Members by alias (resolved to a number when it is queued)."""

    kind: RecipientKind
    address: str  # alias, group id, or E.164 number
    label: str = ""

    @classmethod
    def member(cls, alias: MemberAlias) -> Recipient:
        return cls(RecipientKind.MEMBER, alias)


@dataclass(frozen=True, slots=True)
class Pin:
    """A location she sent, with when. Shown only inside an alert."""

    at: datetime
    lat: float | None
    lng: float | None
    label: str | None
    original: str


@dataclass(frozen=True, slots=True)
class ClientNote:
    """Client details she sent (`CLIENT …`). Sealed; shown only inside an alert."""

    at: datetime
    text: str


@dataclass(frozen=True, slots=True)
class Mark:
    """Something that happened to her messages while the watch was live (a delete, an edit).

    Recorded, never obeyed: someone else may be holding her phone."""

    at: datetime
    what: str  # "deleted" | "edited" | "no_secret"


MAX_PINS = 5
MAX_CLIENT_NOTES = 5
MAX_PHOTOS = 6

LIVE_PHASES = frozenset({Phase.ACTIVE, Phase.DUE, Phase.ALERTED, Phase.ACKED})
ALERT_PHASES = frozenset({Phase.ALERTED, Phase.ACKED})  # an alert went out and is not closed


@dataclass(frozen=True, slots=True)
class Watch:
    """One check-in or alert, as stored. `id` is empty until the store assigns one."""

    member: MemberAlias
    kind: Kind
    phase: Phase
    started_at: datetime
    deadline: datetime
    next_at: datetime | None
    note: str | None = None
    reminded: bool = False
    alert_started_at: datetime | None = None
    tiers_alerted: int = 0  # how many escalation tiers have been alerted so far
    repeats: int = 0  # how many times the alert was repeated since the last tier
    alerted: tuple[Recipient, ...] = ()  # everyone alerted, in the order they were alerted
    acked_by: MemberAlias | None = None
    closed_at: datetime | None = None
    pins: tuple[Pin, ...] = ()  # oldest first
    client: tuple[ClientNote, ...] = ()
    photos: tuple[str, ...] = ()  # attachment vault keys
    marks: tuple[Mark, ...] = ()
    # After the duress word her phone is shown a *cover*: what it would see had she really checked
    # out. `cover_until` is the end of a check-in her phone started since (None: none running).
    cover_until: datetime | None = None
    told_nobody: bool = False  # she (and the admin) were told nobody can get this alert
    id: str = field(default="", compare=False)

    @property
    def live(self) -> bool:
        return self.phase in LIVE_PHASES

    def evolve(self, **changes: object) -> Watch:
        # What `dataclasses.replace` does, at half its cost (a timer's decision evolves a watch
        # three times; ten thousand overdue at start-up): every field through __init__, so an
        # unknown name is still a TypeError.
        values = {name: getattr(self, name) for name in _WATCH_FIELDS}
        values.update(changes)
        return Watch(**values)


_WATCH_FIELDS = tuple(f.name for f in fields(Watch))
