"""Photos always travel: where a photo she sent goes when the command it came with had no place
for it, and what she is told.

A photo sent with SOS, a check-in or client details is placed by the state machine itself
(`relay.core.decide`). Every other photo — alone, or with any other text — is placed here, after
the decision, so none is ever dropped:

- onto her live check-in or alert (sealed in the vault already; kept on the watch), so it goes
  with the alert if one goes out;
- if the alert is already out, straight on to everyone it reached, with the next alerts too;
- with no check-in running, kept for her next one (as client details sent early are).

She is told they were kept — except with OUT and her duress word, whose reply must stay the
plain OUT reply, byte for byte; and while a silent alert is open she is told what she would be
told had she really checked out ("kept for your next check-in"). Pure: no I/O, no clock.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from relay.core import group_alert, intents
from relay.core.decide import Context, Decision, Outgoing, Purpose, draft
from relay.core.render import display
from relay.core.state import MAX_PHOTOS, Kind, Phase, Recipient, RecipientKind, Watch
from relay.core.types import MemberAlias

_SILENT = (intents.CheckOut, intents.Duress)
"""Intents whose reply must not change with a photo: OUT, and the duress word that mimics it."""


def photos_along(
    ctx: Context,
    decision: Decision,
    sender: MemberAlias,
    intent: intents.Intent,
    own: Watch | None,
    photos: tuple[str, ...],
    now: datetime,
    new_id: str,
) -> Decision:
    """`decision` with the photos she sent placed and her reply saying so (see the module)."""
    if not photos:
        return decision
    watches = list(decision.watches)
    messages = list(decision.messages)
    index = next((i for i in range(len(watches) - 1, -1, -1) if watches[i].member == sender), None)
    hers = watches[index] if index is not None else own
    if hers is None or photos[-1] not in hers.photos:
        base = hers if hers is not None else draft(sender, now, new_id)
        hers = base.evolve(photos=(*base.photos, *photos)[-MAX_PHOTOS:])
        if index is not None:
            watches[index] = hers
        else:
            watches.append(hers)
        if hers.phase in (Phase.ALERTED, Phase.ACKED):
            messages += _forward(ctx, hers, photos)
    if not isinstance(intent, _SILENT):
        line = _told(ctx, sender, hers, len(photos), now)
        alone = isinstance(intent, intents.Unknown) and intent.reason == "empty"
        messages = _with_line(messages, Recipient.member(sender), line, replace_reply=alone)
    return Decision(tuple(watches), tuple(messages))


def _language(ctx: Context, to: Recipient) -> str:
    if to.kind is RecipientKind.MEMBER:
        info = ctx.policy.member(MemberAlias(to.address))
        if info is not None:
            return info.language
    return ctx.policy.default_language


def _forward(ctx: Context, watch: Watch, photos: tuple[str, ...]) -> list[Outgoing]:
    """The new photos to everyone her open alert already reached (the next tiers get them with
    the alert itself). A Signal group gets them only once its members are checked
    (`relay.core.group_alert`): until then, who and that details go to whoever answers."""
    who = display(watch.member)
    out = []
    for to in watch.alerted:
        language = _language(ctx, to)
        text = ctx.catalog.text(language, "alert_photos_more", who=who, count=len(photos))
        if to.kind is RecipientKind.GROUP:
            safe = "\n".join(
                ctx.catalog.text(language, key, who=who)
                for key in ("alert_update", group_alert.PRIVATE_NOTICE)
            )
            out.append(Outgoing(to, safe, Purpose.ALERT, watch.id, withheld=(text, photos)))
        else:
            out.append(Outgoing(to, text, Purpose.ALERT, watch.id, photos))
    return out


def _told(ctx: Context, sender: MemberAlias, watch: Watch, count: int, now: datetime) -> str:
    if watch.kind is Kind.DURESS:
        # A silent alert: her screen shows what it would show had she really checked out (with
        # the check-in her phone started since, if any).
        cover = watch.cover_until is not None and watch.cover_until > now
        key = "photos_kept" if cover else "photos_kept_next"
    elif not watch.live:
        key = "photos_kept_next"
    elif watch.phase in (Phase.ALERTED, Phase.ACKED):
        key = "photos_kept_alert"
    else:
        key = "photos_kept"
    return ctx.catalog.text(_language(ctx, Recipient.member(sender)), key, count=count)


def _with_line(
    messages: list[Outgoing], to: Recipient, line: str, *, replace_reply: bool
) -> list[Outgoing]:
    for index, message in enumerate(messages):
        if message.to == to and message.purpose is Purpose.REPLY:
            text = line if replace_reply else f"{message.text}\n{line}"
            messages[index] = replace(message, text=text)
            return messages
    return [*messages, Outgoing(to, line, Purpose.REPLY)]
