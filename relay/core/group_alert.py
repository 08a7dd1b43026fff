"""What a Signal group may read of an alert, and who in a group may answer one (pure).

A group's membership is managed in Signal, not in the rules: anyone an admin of the group adds
reads what the relay posts there. So an alert to a group is written twice: a safe version — who,
what happened, since when, how to answer, and that the details go privately to whoever answers —
and the full one. The sender posts the full one only if a check through signal-cli-rest-api's
group API, made just before, found every member of the group in the rules and in the circle the
group belongs to (`relay.runtime.group_guard`); otherwise the safe one, without photos. Whoever
answers it gets
the full alert to herself (`relay.core.decide`).

Someone in the circle a group belongs to was sent what the group was sent, so she may ACK or
RESOLVE it (`answerable`); a stranger in the group is not a member and cannot.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

Part = tuple[str, dict[str, object]]

SAFE_KEYS: Final = frozenset(
    {
        "alert_missed",
        "alert_sos",
        "alert_duress",
        "alert_no_secret",
        "alert_escalated",
        "alert_how_to_ack",
        "alert_late",
        "alert_update",
        "alert_sos_again",
        "alert_duress_again",
    }
)
"""The parts of an alert a group reads before its membership is checked: who, what, since when,
how to answer. Never her note, places, client details, photos or what happened on her phone."""

PRIVATE_NOTICE: Final = "alert_group_private"


def safe_parts(parts: Sequence[Part]) -> list[Part]:
    """An alert's parts (`decide._alert_parts`) as a group may read them unchecked: the safe
    ones, in order, with the line saying the details go to whoever answers before how to answer."""
    kept = [part for part in parts if part[0] in SAFE_KEYS]
    where = next((i for i, (key, _) in enumerate(kept) if key == "alert_how_to_ack"), len(kept))
    return [*kept[:where], (PRIVATE_NOTICE, {}), *kept[where:]]
