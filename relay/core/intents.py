"""What a member's message means, once parsed: one frozen dataclass per command.

The parser (`relay.core.commands`) produces these; the state machine consumes them.

Fields that hold what a member typed (notes, client details, report and log text, locations) are
left out of ``repr``: a stray ``log.debug("%r", intent)`` must not leak them. Equality still
compares every field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from relay.core.locations import Location


@dataclass(frozen=True, slots=True)
class CheckIn:
    """``IN [duration] [note]``: start (or restart) a check-in.

    ``duration`` None means the rules' default. ``location`` is set when the message also carried
    one (a location share with ``IN 90`` as its caption, or a maps link in the note).
    """

    duration: timedelta | None
    note: str | None = field(repr=False)
    location: Location | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class CheckOut:
    """``OUT`` / ``SAFE``: she is safe; end the check-in.

    ``verified``: None when the rules give her no check-in secret; True when she sent
    ``OUT <secret>`` with the right secret; False when a secret is configured and was missing or
    wrong (the state machine decides what an unverified OUT may do).
    """

    verified: bool | None = None


@dataclass(frozen=True, slots=True)
class Extend:
    """``EXTEND 30`` / ``+30``: push the deadline. ``duration`` None means the rules' default."""

    duration: timedelta | None
    location: Location | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class Ack:
    """``ACK``: a buddy answers an alert: "I'm on it".

    ``target`` is a hint (the first word after the keyword when it looks like a member alias,
    folded to lower case): the state machine must fall back sensibly when it names no open alert.
    ``note`` is everything after the keyword ("on my way, 5 min" → "5 min").
    """

    target: str | None = None
    note: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class Resolved:
    """``RESOLVED``: a buddy closes an alert. ``target``: as for `Ack` (``RESOLVED alice``)."""

    target: str | None = None


@dataclass(frozen=True, slots=True)
class Status:
    """``STATUS``: what the relay knows about her check-in."""


@dataclass(frozen=True, slots=True)
class Help:
    """``HELP`` / ``?`` / ``MENU`` and every language's "help" word: the command list.

    Never an alarm: its reply's first line says how to send SOS.
    """


@dataclass(frozen=True, slots=True)
class Sos:
    """``SOS``, a cry for help in her language, or a codeword: immediate alert, no grace period.
    Never refused for its arguments.

    ``guessed``: the relay read a near-miss as SOS (``S0S``, ``SOSS``, ``socoro``, ``SOS`` inside
    a sentence); her reply says so, and how to undo it (OUT).
    """

    note: str | None = field(default=None, repr=False)
    location: Location | None = field(default=None, repr=False)
    guessed: bool = False


@dataclass(frozen=True, slots=True)
class Duress:
    """Her duress word: must look exactly like a normal OUT to her, and raise a silent alert."""

    location: Location | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class Loc:
    """A location: a Signal share, a maps link, a ``geo:`` URI, ``LOC <coordinates or address>``.

    ``note`` is the rest of the message (a share's caption that is not a command, text around a
    link).
    """

    location: Location = field(repr=False)
    note: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class Client:
    """``CLIENT <details>``: client details for the current or next check-in (maybe with photos)."""

    text: str | None = field(repr=False)


@dataclass(frozen=True, slots=True)
class Report:
    """``REPORT <details>``: a bad-client warning (may come with photos)."""

    text: str | None = field(repr=False)


@dataclass(frozen=True, slots=True)
class Check:
    """``CHECK <number, plate or handle>``: screening. Extract with `relay.core.identifiers`."""

    query: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class Log:
    """``LOG <text>``: an entry for her own incident log (may come with photos)."""

    text: str | None = field(repr=False)


@dataclass(frozen=True, slots=True)
class Export:
    """``EXPORT``: her incident log back as a file."""


@dataclass(frozen=True, slots=True)
class Forget:
    """``FORGET``: delete her data. Only ``FORGET YES`` (a confirmation word) sets ``confirmed``."""

    confirmed: bool = False


@dataclass(frozen=True, slots=True)
class Who:
    """``WHO`` / ``CALL``: who is watching over her, and how to reach them."""


@dataclass(frozen=True, slots=True)
class Buddies:
    """``BUDDIES``: her buddies and circles."""


@dataclass(frozen=True, slots=True)
class Approve:
    """``APPROVE n``: a moderator publishes report ``n``."""

    number: int


@dataclass(frozen=True, slots=True)
class Reject:
    """``REJECT n [reason]``: a moderator declines report ``n``."""

    number: int
    reason: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class Withdraw:
    """``WITHDRAW n``: the author withdraws her report ``n``."""

    number: int


@dataclass(frozen=True, slots=True)
class Share:
    """``SHARE n [summary]``: a moderator sends approved report ``n`` to the partner collectives
    the rules name, with ``summary`` (her own words for sharing) instead of the report's text."""

    number: int
    summary: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class Drill:
    """``DRILL``: a practice alert to her first tier, and a report of who got it and answered."""


@dataclass(frozen=True, slots=True)
class Unknown:
    """Anything the parser could not read. Never ignored: answered with the help text, or — when
    it looks like a command — with one line naming the likeliest ones.

    ``reason``: ``"unknown"`` (no command), ``"empty"`` (nothing readable), ``"internal"`` (the
    parser failed; it never raises), ``"near"`` (one slip from the commands in ``likely``: a
    near-miss of OUT is asked about, never obeyed), ``"distress"`` (a cry for help the relay asks
    about before alerting: an "ask first" word of the rules, or a cry inside a sentence).
    ``likely``: command names, likeliest first (empty for the first three reasons).
    """

    reason: str = "unknown"
    likely: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class BadArgument:
    """A known command with an argument the parser could not read (e.g. ``IN soon``).

    ``command`` is the canonical command name. ``reason``: ``"missing"`` (``CHECK`` alone),
    ``"unreadable"`` (``IN soon``, ``LOC 91,0``), ``"out_of_range"`` (``IN 99999h``, ``IN 0``),
    ``"time_not_first"`` (``IN Ritz 2h``: a time in the note; she is asked to put it first).
    """

    command: str
    reason: str = "unreadable"


Intent = (
    CheckIn
    | CheckOut
    | Extend
    | Ack
    | Resolved
    | Status
    | Help
    | Sos
    | Duress
    | Loc
    | Client
    | Report
    | Check
    | Log
    | Export
    | Forget
    | Who
    | Buddies
    | Approve
    | Reject
    | Withdraw
    | Share
    | Drill
    | Unknown
    | BadArgument
)
