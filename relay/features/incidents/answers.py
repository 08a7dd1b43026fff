"""What LOG and EXPORT answer: pure.

Plain values in — who asked, what she sent, what her log holds (read beforehand by
`relay.features.incidents.logbook`) — and the core's decision out, written with
`relay.core.builder.Builder` in her language and zone. Only she is ever told anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Final
from zoneinfo import ZoneInfo

from relay.core.builder import Builder, Context, Decision, Part, Purpose, p
from relay.core.render import Catalog
from relay.core.state import Recipient
from relay.rules import Member, Rules
from relay.rules.core_policy import RulesPolicy

PHOTOS_PER_MESSAGE: Final = 10
"""Signal shows a message with many attachments as a grid; keep them readable."""


def builder(rules: Rules, catalog: Catalog, timezone: str, now: datetime) -> Builder:
    return Builder(Context(RulesPolicy(rules, timezone), catalog, timezone), now)


def log(
    b: Builder, member: Member, text: str, sent: int, kept: int, seq: int
) -> tuple[Decision, bool]:
    """LOG: ``text`` cleaned, ``sent`` photos of which ``kept`` were kept, ``seq`` the number
    the entry would get. The decision, and whether an entry is to be added."""
    if not text and not sent:
        return _reply(b, member, p("log_usage")), False
    if not text and not kept:
        return _reply(b, member, p("log_photos_lost", count=sent), p("log_usage")), False
    me = Recipient.member(member.alias)
    local = b.now.astimezone(ZoneInfo(b.zone(me))).strftime("%Y-%m-%d %H:%M")
    parts = [p("log_saved", seq=seq, time=local)]
    if kept < sent:
        parts.append(p("log_photos_lost", count=sent - kept))
    return _reply(b, member, *parts), True


def export_empty(b: Builder, member: Member) -> Decision:
    return _reply(b, member, p("export_empty"))


def export_unavailable(b: Builder, member: Member) -> Decision:
    """EXPORT on a relay without an attachment vault: no files can be sent."""
    return _reply(b, member, p("export_unavailable"))


def exported(
    b: Builder, member: Member, count: int, files: tuple[str, str], photos: Sequence[str]
) -> Decision:
    """EXPORT of ``count`` entries: the two ``files`` (readable, JSON) with the answer, then the
    ``photos`` (vault keys of copies) in captioned messages of `PHOTOS_PER_MESSAGE`."""
    me = Recipient.member(member.alias)
    b.send(me, Purpose.REPLY, p("export_sent", count=count), attachments=files)
    batches = [
        photos[i : i + PHOTOS_PER_MESSAGE] for i in range(0, len(photos), PHOTOS_PER_MESSAGE)
    ]
    for part, batch in enumerate(batches, start=1):
        caption = p("export_photos", part=part, parts=len(batches))
        b.send(me, Purpose.REPLY, caption, attachments=tuple(batch))
    return b.done()


def _reply(b: Builder, member: Member, *parts: Part) -> Decision:
    b.send(Recipient.member(member.alias), Purpose.REPLY, *parts)
    return b.done()
