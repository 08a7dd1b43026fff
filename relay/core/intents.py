"""What a member's message means, once parsed: one frozen dataclass per command.

The parser (`relay.core.commands`) produces these; the state machine consumes them.
Later commands (SOS, LOC, CLIENT, REPORT, LOG …) add classes here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True, slots=True)
class CheckIn:
    """``IN [duration] [note]``: start (or restart) a check-in."""

    duration: timedelta | None
    note: str | None


@dataclass(frozen=True, slots=True)
class CheckOut:
    """``OUT`` / ``SAFE``: she is safe; end the check-in."""


@dataclass(frozen=True, slots=True)
class Extend:
    """``EXTEND 30`` / ``+30``: push the deadline."""

    duration: timedelta | None


@dataclass(frozen=True, slots=True)
class Ack:
    """``ACK``: a buddy answers an alert: "I'm on it"."""

    target: str | None = None


@dataclass(frozen=True, slots=True)
class Resolved:
    """``RESOLVED``: a buddy closes an alert."""


@dataclass(frozen=True, slots=True)
class Status:
    """``STATUS``: what the relay knows about her check-in."""


@dataclass(frozen=True, slots=True)
class Help:
    """``HELP`` / ``?`` / ``MENU``: the command list. Never an alarm."""


@dataclass(frozen=True, slots=True)
class Unknown:
    """Anything the parser could not read. Answered with the help text, never ignored."""

    reason: str = "unknown"


@dataclass(frozen=True, slots=True)
class BadArgument:
    """A known command with an argument the parser could not read (e.g. ``IN soon``)."""

    command: str


Intent = CheckIn | CheckOut | Extend | Ack | Resolved | Status | Help | Unknown | BadArgument
