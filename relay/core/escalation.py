"""Escalation in one place: the one `Tier` type, and the ladder walked by the functions here.

The rules (`relay.rules`) only supply data: for her alert of a given kind, the tiers in order,
each with its delay and whom it reaches (`Policy.tiers`). Everything else — which tiers are due,
who is still to be alerted, when to wake next, whether anyone at all can be reached — is decided
here, from plain values, so the state machine (`relay.core.decide`) asks one module.

A recipient is *unreachable* when signal-cli said no retry soon fixes a send to them (not on
Signal, a changed safety number): the runtime keeps that list and passes it in. Nobody is told
someone knows unless someone reachable does.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from relay.core.state import Recipient
from relay.core.types import MemberAlias


@dataclass(frozen=True, slots=True)
class Tier:
    """One rung of the escalation ladder. `after` counts from the moment the alert started."""

    after: timedelta
    recipients: tuple[Recipient, ...]


def reachable(
    recipients: Iterable[Recipient], unreachable: Collection[Recipient]
) -> list[Recipient]:
    """`recipients` less the unreachable (listed without labels: a label is how she is shown)."""
    return [r for r in recipients if Recipient(r.kind, r.address) not in unreachable]


def first_watchers(
    tiers: Sequence[Tier], unreachable: Collection[Recipient], owner: MemberAlias
) -> list[Recipient]:
    """Who hears first: the reachable recipients of the first tier that reaches anyone."""
    for tier in tiers:
        found = reachable(fresh(tier, (), owner), unreachable)
        if found:
            return found
    return []


def anyone_reachable(
    tiers: Sequence[Tier], unreachable: Collection[Recipient], owner: MemberAlias
) -> bool:
    return bool(first_watchers(tiers, unreachable, owner))


def fresh(tier: Tier, alerted: Sequence[Recipient], owner: MemberAlias) -> list[Recipient]:
    """Who this tier adds: never the member herself, never anyone already alerted."""
    return [r for r in tier.recipients if r not in alerted and r.address != owner]


def due(tiers: Sequence[Tier], done: int, started: datetime, now: datetime) -> range:
    """Indexes of the tiers whose time has come and that were not alerted yet (in order)."""
    end = done
    while end < len(tiers) and started + tiers[end].after <= now:
        end += 1
    return range(done, end)


def next_wake(
    tiers: Sequence[Tier],
    done: int,
    started: datetime,
    now: datetime,
    repeat_every: timedelta,
    alerted_anyone: bool,
) -> datetime | None:
    """When the ladder must act next: the next tier's time, or the next repeat."""
    candidates = []
    if done < len(tiers):
        candidates.append(started + tiers[done].after)
    if alerted_anyone and repeat_every > timedelta(0):
        candidates.append(max(now, started) + repeat_every)
    return min(candidates) if candidates else None


def still_hopeful(
    tiers: Sequence[Tier],
    done: int,
    alerted: Sequence[Recipient],
    unreachable: Collection[Recipient],
    owner: MemberAlias,
) -> bool:
    """Whether anyone reachable was alerted or is still to come: False means nobody can get it."""
    if reachable(alerted, unreachable):
        return True
    return any(reachable(fresh(t, alerted, owner), unreachable) for t in tiers[done:])
