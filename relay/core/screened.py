"""Which words a member sends are screened against the collective's warnings, and where the
warnings go.

Client details (``CLIENT …``) and the note of a check-in (``IN 90 Hotel Rex, +44 7700 900123``)
are screened: a number or plate written in either is looked up at once and a match warns her
in the reply. The look-up itself is `relay.features.reports.screening` (it reads the store); this
module
only names the text and places the warning lines — pure, no I/O.
"""

from __future__ import annotations

from dataclasses import replace

from relay.core import intents
from relay.core.decide import Decision, Purpose
from relay.core.state import Recipient
from relay.core.types import MemberAlias


def screened_text(intent: intents.Intent) -> str | None:
    """The text of this message to screen, or None — also when it cannot hold a number, plate,
    email or handle (no digit, no ``@``): such a message skips the look-up in the store and is
    decided with the others of its burst, in one trip."""
    match intent:
        case intents.Client(text=text) if text and _may_identify(text):
            return text
        case intents.CheckIn(note=note) if note and _may_identify(note):
            return note
    return None


def _may_identify(text: str) -> bool:
    return "@" in text or any(ch.isdigit() for ch in text)


def with_screening(
    decision: Decision, sender: MemberAlias, intent: intents.Intent, notices: tuple[str, ...]
) -> Decision:
    """Warning lines added to her reply. CLIENT's reply carries them already (the state machine
    adds them); a check-in's note gets them here."""
    if not notices or isinstance(intent, intents.Client):
        return decision
    me = Recipient.member(sender)
    messages = list(decision.messages)
    for index, message in enumerate(messages):
        if message.to == me and message.purpose is Purpose.REPLY:
            messages[index] = replace(message, text="\n".join([message.text, *notices]))
            return replace(decision, messages=tuple(messages))
    return decision
