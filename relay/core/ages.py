"""Relative times ("6s ago") that stay true however long a message waits in the outbox.

A decision is rendered when it is made, but an alert may leave minutes later (Signal down, a
backoff): "ended at 21:30 (4s ago)" would then be false comfort about how fresh it is. So the
core writes a marker for the moment (`since`), and the sender renders it (`render`) as the span
from that moment to when the message is handed to signal-cli. Pure: `now` is passed in.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from relay.core.render import span

# U+2063 (invisible separator) around it: nothing a member types, and invisible were it ever
# to slip through unrendered.
_MARK = "\u2063ago:{ms}\u2063"
_FOUND = re.compile("\u2063ago:(-?\\d{1,16})\u2063")


def since(moment: datetime) -> str:
    """A placeholder for "how long ago `moment` was", rendered at hand-over."""
    return _MARK.format(ms=round(moment.timestamp() * 1000))


def render(text: str, now: datetime) -> str:
    """`text` with every `since` placeholder replaced by the span up to `now` (``40s``)."""
    if "\u2063" not in text:
        return text
    return _FOUND.sub(
        lambda m: span(now - datetime.fromtimestamp(int(m.group(1)) / 1000, tz=UTC)), text
    )
