"""The canary's "alerts may be delayed" line, added to the replies that rely on alerts.

While the relay's own end-to-end probe says alerts are not getting through (`relay.runtime`'s
canary), a member who starts or extends a check-in, asks STATUS or sends SOS is told so in the
same reply: she must not believe her buddies will be alerted on time when they may not be.
"""

from __future__ import annotations

from dataclasses import replace

from relay.core import intents
from relay.core.decide import Decision, Purpose
from relay.core.state import Recipient
from relay.core.types import MemberAlias

DEGRADED_NOTICE = "degraded_notice"  # the catalog key of the line
NOTICE_INTENTS = (intents.CheckIn, intents.Extend, intents.Status, intents.Sos)


def with_notice(decision: Decision, to: MemberAlias, intent: intents.Intent, line: str) -> Decision:
    """`decision` with `line` added to her reply, when `intent` is one that relies on alerts."""
    if not isinstance(intent, NOTICE_INTENTS):
        return decision
    me = Recipient.member(to)
    messages = list(decision.messages)
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        if message.purpose is Purpose.REPLY and message.to == me:
            messages[index] = replace(message, text=f"{message.text}\n{line}")
            return replace(decision, messages=tuple(messages))
    return decision
