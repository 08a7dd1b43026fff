"""Which alert an answer (ACK, RESOLVED, a quote, a 👍) acts on — decided here, never guessed.

An answer acts on exactly one alert:

1. the one it quotes or reacts to (`Pointer`), if that message was the alert itself (or one of its
   repeats), the alert is still open and she was sent it;
2. else the one it names (``ACK alice``), if she was sent an open alert of that member's;
3. else, when she was sent exactly one open alert, that one.

A quote or reaction to a closed alert, to an all-clear or to any other message acts on nothing.
A name that is a member's but not of an open alert she was sent acts on nothing (and says nothing
about that member). Two or more open alerts and no pointer or name: she is asked which, with the
names she may answer. Nobody acts on an alert she was not sent, except the admin, who may answer
any open alert.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from enum import StrEnum

from relay.core.lifecycle import is_open_alert
from relay.core.state import Recipient, RecipientKind, Watch
from relay.core.types import MemberAlias


@dataclass(frozen=True, slots=True)
class Pointer:
    """What a quote or reaction pointed at: the watch whose alert message it was, or None when it
    was some other message of the relay's (a reply, an all-clear, a notice) or nothing known."""

    watch: Watch | None


class Miss(StrEnum):
    NONE = "none"  # she has no open alert to answer
    CLOSED = "closed"  # the alert she pointed at is closed
    NOT_ALERT = "not_alert"  # she pointed at a message that is not an alert
    NOT_SENT = "not_sent"  # she named or pointed at an alert she was not sent
    AMBIGUOUS = "ambiguous"  # several open alerts, nothing to choose by


@dataclass(frozen=True, slots=True)
class Choice:
    watch: Watch | None
    miss: Miss | None = None
    among: tuple[Watch, ...] = ()  # the open alerts she may answer (for the question)


def sent_to(watch: Watch, who: MemberAlias, groups: Collection[str] = ()) -> bool:
    """Whether `who` was sent this alert: to herself, or to the Signal group of a circle of hers
    (`groups`: group ids, with or without ``group.``)."""
    if Recipient.member(who) in watch.alerted:
        return True
    wanted = {g.removeprefix("group.") for g in groups}
    return any(
        r.kind is RecipientKind.GROUP and r.address.removeprefix("group.") in wanted
        for r in watch.alerted
    )


def answerable(
    alerts: Sequence[Watch], who: MemberAlias, *, admin: bool, groups: Collection[str] = ()
) -> list[Watch]:
    """The open alerts `who` may answer: those she was sent; every open one for the admin."""
    return [
        w
        for w in alerts
        if is_open_alert(w) and w.member != who and (admin or sent_to(w, who, groups))
    ]


def choose(
    answering: Sequence[Watch],
    pointer: Pointer | None,
    name: str | None,
    is_member: bool,
) -> Choice:
    """The alert an answer acts on. `answering`: the open alerts she may answer (`answerable`);
    `name`: the word after ACK, lower-cased; `is_member`: whether that word is a member's alias."""
    among = tuple(sorted(answering, key=lambda w: (w.alert_started_at or w.started_at, w.id)))
    if pointer is not None:
        watch = pointer.watch
        if watch is None:
            return Choice(None, Miss.NOT_ALERT, among)
        for candidate in among:
            if candidate.id == watch.id:
                return Choice(candidate)
        if not is_open_alert(watch):
            return Choice(None, Miss.CLOSED, among)
        return Choice(None, Miss.NOT_SENT, among)
    if name:
        named = [w for w in among if w.member.lower() == name]
        if len(named) == 1:
            return Choice(named[0])
        if is_member:
            return Choice(None, Miss.NOT_SENT, among)
    if len(among) == 1:
        return Choice(among[0])
    if not among:
        return Choice(None, Miss.NONE)
    return Choice(None, Miss.AMBIGUOUS, among)
