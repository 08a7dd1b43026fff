"""What reached whose phone: the facts receipts give about an alert, and what they may mean.

A `Reach` is one recipient of one alert (or practice alert): when the relay's message was first
accepted by signal-cli for her, when her phone sent a **delivery receipt** (the message is on the
phone: it was on and had a connection) and, where she has them switched on, a **read receipt**
(she opened the chat). The runtime (`relay.features.delivery`) stores them; everything said about
them is
decided here, from plain values.

What "reached her phone" means — and what it does not:

- it means her phone had the message at that time: it was on, connected, and Signal ran;
- it does not mean she saw it: a phone in a bag, on silent, or with the chat muted sends the same
  receipt. Only an answer (ACK) says someone is on it;
- no receipt does not prove her phone is off: receipts can be late (her phone comes back after
  the alert), and a receipt can be lost with the relay's connection. So it moves an alert on
  sooner (`tier_unreached`), never later, and it is shown as "not on the phone yet", never as
  "she will not come";
- a read receipt can be switched off by her (Signal → Privacy → Read receipts): no read receipt
  is never taken to mean anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from relay.core.render import display
from relay.core.state import Phase, Recipient, RecipientKind, Watch
from relay.core.voice import Voice

STATUS_SHOWN = 8
"""STATUS lists this many recipients of her alert; the rest as a count."""


@dataclass(frozen=True, slots=True)
class Reach:
    label: str  # how she is shown: an alias, or a group's or contact's label
    group: bool
    tier: int  # the tier of the ladder she was first alerted in (1 for the first)
    sent_at: datetime
    delivered_at: datetime | None = None
    read_at: datetime | None = None

    @property
    def on_phone(self) -> datetime | None:
        """When it was known to be on her phone: a delivery or (a phone that skipped the
        delivery receipt) a read receipt."""
        times = [t for t in (self.delivered_at, self.read_at) if t is not None]
        return min(times) if times else None


def tier_unreached(reaches: Sequence[Reach], tier: int) -> bool:
    """Whether the alert reached no phone in `tier` (False when that tier alerted nobody new)."""
    mine = [r for r in reaches if r.tier == tier]
    return bool(mine) and all(r.on_phone is None for r in mine)


def moves_on(watch: Watch | None, tier: int, reaches: Sequence[Reach]) -> bool:
    """The look `undelivered_after` past `tier`'s first message: whether the alert moves on to
    the next tier now — it still waits at that tier with nobody on it (not answered, not over,
    the ladder not moved on meanwhile) and nobody of that tier has it on her phone."""
    if watch is None or watch.phase is not Phase.ALERTED or watch.tiers_alerted != tier:
        return False
    return tier_unreached(reaches, tier)


def shown(reach: Reach, voice: Voice, to: str) -> str:
    """Her name as a reader sees it (a group marked as a group)."""
    name = reach.label if reach.group else display(reach.label)
    return voice.text(to, "reach_group", name=name) if reach.group else name


def label_of(recipient: Recipient) -> str:
    """The label a recipient's messages are tracked under (as the outbox labels them)."""
    if recipient.label:
        return recipient.label
    return recipient.address if recipient.kind is RecipientKind.MEMBER else ""


def status_lines(
    voice: Voice,
    to: str,
    alerted: Sequence[Recipient],
    reaches: Sequence[Reach],
    now: datetime,
    acked_by: str | None = None,
) -> list[str]:
    """Her STATUS, for her open alert: one line per person alerted — on the phone when, read
    when, sent and not on the phone yet, or not even sent yet (the relay is still trying) — so
    she knows whom the alert really reached.

    Never for a duress alert (her phone may not be hers now): the caller makes sure."""
    lines = []
    by_label = {r.label: r for r in reaches}
    for recipient in alerted[:STATUS_SHOWN]:
        label = label_of(recipient)
        reach = by_label.get(label)
        if reach is None:
            group = recipient.kind is RecipientKind.GROUP
            who = shown(Reach(label, group, 0, now), voice, to)
            on_it = acked_by is not None and label == acked_by and not group
            lines.append(voice.text(to, "reach_on_it" if on_it else "reach_not_sent", who=who))
            continue
        who = shown(reach, voice, to)
        at = reach.on_phone
        if acked_by is not None and reach.label == acked_by and not reach.group:
            key, params = "reach_on_it", {}
        elif at is None:
            key, params = "reach_waiting", {"sent": voice.clock(to, reach.sent_at, now)}
        elif reach.read_at is not None:
            key = "reach_read"
            params = {"at": voice.clock(to, at, now), "read": voice.clock(to, reach.read_at, now)}
        else:
            key, params = "reach_on_phone", {"at": voice.clock(to, at, now)}
        lines.append(voice.text(to, key, who=who, **params))
    if len(alerted) > STATUS_SHOWN:
        lines.append(voice.text(to, "reach_more", count=len(alerted) - STATUS_SHOWN))
    return lines
