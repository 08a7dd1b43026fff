"""The state machine: given the watches an event touches, the event and the time, decide.

`on_message` and `on_timer` return a `Decision`: the watches to store (new or changed) and the
messages to send. They never read a clock, the database or the network; the daemon carries the
decision out (store first, then send).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from relay.core import intents
from relay.core.ages import since
from relay.core.locations import Location, osm_link
from relay.core.policy import MemberInfo, Policy, Tier, Timings
from relay.core.render import Catalog, clock, display, names, span
from relay.core.state import (
    MAX_CLIENT_NOTES,
    MAX_PHOTOS,
    MAX_PINS,
    ClientNote,
    Kind,
    Mark,
    Phase,
    Pin,
    Recipient,
    RecipientKind,
    Watch,
)
from relay.core.types import MemberAlias

LATE_AFTER = timedelta(seconds=5)
"""A timer firing later than this says so in the alert (the relay was down or asleep)."""


class Purpose(StrEnum):
    REPLY = "reply"  # an answer to what she just sent (every member message gets one)
    REMINDER = "reminder"
    ALERT = "alert"  # carries a member's safety: retried forever, the admin told if stuck
    NOTICE = "notice"  # ack / all-clear / resolved news to those alerted


@dataclass(frozen=True, slots=True)
class Outgoing:
    to: Recipient
    text: str
    purpose: Purpose
    watch_id: str | None = None
    attachments: tuple[str, ...] = ()  # attachment vault keys (photos, exported files)


@dataclass(frozen=True, slots=True)
class Decision:
    watches: tuple[Watch, ...] = ()
    messages: tuple[Outgoing, ...] = ()


@dataclass(frozen=True, slots=True)
class Context:
    policy: Policy
    catalog: Catalog
    default_timezone: str


@dataclass(slots=True)
class _Builder:
    """Collects messages while one decision is worked out."""

    ctx: Context
    now: datetime
    watches: list[Watch] = field(default_factory=list)
    messages: list[Outgoing] = field(default_factory=list)
    # One decision asks for the same alert path up to three times (alert, escalate, next
    # wake-up); each ask lists every tier's recipients again. Once per decision is enough.
    _tiers: dict[tuple[MemberAlias, Kind], Sequence[Tier]] = field(default_factory=dict)

    def tiers(self, alias: MemberAlias, kind: Kind) -> Sequence[Tier]:
        found = self._tiers.get((alias, kind))
        if found is None:
            found = self._tiers[alias, kind] = self.ctx.policy.tiers(alias, kind)
        return found

    def info(self, alias: MemberAlias) -> MemberInfo:
        found = self.ctx.policy.member(alias)
        if found is None:  # removed from the rules while her watch is live: keep speaking to her
            return MemberInfo(alias, self.ctx.policy.default_language, self.ctx.default_timezone)
        return found

    def language(self, to: Recipient) -> str:
        if to.kind is RecipientKind.MEMBER:
            return self.info(MemberAlias(to.address)).language
        return self.ctx.policy.default_language

    def zone(self, to: Recipient) -> str:
        if to.kind is RecipientKind.MEMBER:
            return self.info(MemberAlias(to.address)).timezone
        return self.ctx.default_timezone

    def text(self, to: Recipient, *parts: tuple[str, dict[str, object]]) -> str:
        language = self.language(to)
        return "\n".join(self.ctx.catalog.text(language, key, **params) for key, params in parts)

    def send(
        self,
        to: Recipient,
        purpose: Purpose,
        *parts: tuple[str, dict[str, object]],
        watch: Watch | None = None,
        attachments: tuple[str, ...] = (),
    ) -> None:
        text = self.text(to, *parts)
        self.messages.append(Outgoing(to, text, purpose, watch.id if watch else None, attachments))

    def clock(self, moment: datetime, to: Recipient) -> str:
        weekdays = self.ctx.catalog.weekdays(self.language(to))
        return clock(moment, self.zone(to), self.now, weekdays)

    def done(self) -> Decision:
        return Decision(tuple(self.watches), tuple(self.messages))


def _p(key: str, **params: object) -> tuple[str, dict[str, object]]:
    return key, params


def _member_recipients(recipients: Sequence[Recipient]) -> list[MemberAlias]:
    return [MemberAlias(r.address) for r in recipients if r.kind is RecipientKind.MEMBER]


def _watchers(b: _Builder, alias: MemberAlias, kind: Kind) -> list[Recipient]:
    """Who hears first: the first tier that reaches anyone."""
    for tier in b.tiers(alias, kind):
        if tier.recipients:
            return list(tier.recipients)
    return []


def _watcher_names(b: _Builder, alias: MemberAlias, kind: Kind) -> str:
    shown = [r.label or r.address for r in _watchers(b, alias, kind)]
    language = b.info(alias).language
    return names(shown, b.ctx.catalog.text(language, "watchers_none"))


# --- member messages ---------------------------------------------------------------------------


def on_message(
    ctx: Context,
    sender: MemberAlias,
    intent: intents.Intent,
    own: Watch | None,
    answering: Sequence[Watch],
    now: datetime,
    new_id: str,
    photos: tuple[str, ...] = (),
    notices: tuple[str, ...] = (),
) -> Decision:
    """A member's parsed message. `own` is her watch (live or draft); `answering` the live alerts
    she was sent; `photos` the attachments she sent (vault keys); `notices` lines the engine adds
    to her reply (screening warnings, already in her language).

    Every path sends her exactly one reply, so a silent relay is noticed at once — except a duress
    word, whose reply is exactly the OUT reply.
    """
    b = _Builder(ctx, now)
    me = Recipient.member(sender)
    live = own if own is not None and own.live else None
    match intent:
        case intents.CheckIn(duration=duration, note=note, location=location):
            _check_in(b, sender, own, duration, note, new_id, _pin(location, now), photos)
        case intents.CheckOut(verified=False) if live is not None:
            # A secret is set and was missing: someone else may hold her phone. Her screen shows
            # the normal OUT reply; nothing closes; her buddies get a silent alert.
            _check_out_reply(b, sender, live)
            _raise_alarm(b, sender, _mark(live, "no_secret", now), Kind.DURESS)
        case intents.CheckOut():
            _check_out(b, sender, live)
        case intents.Extend(duration=duration, location=location):
            _extend(b, sender, live, duration, _pin(location, now))
        case intents.Ack(target=target):
            _ack(b, sender, answering, target)
        case intents.Resolved():
            _resolve(b, sender, answering)
        case intents.Status():
            _status(b, sender, own, answering)
        case intents.Help():
            b.send(me, Purpose.REPLY, _p("help"))
        case intents.Sos(note=note, location=location):
            watch = _gather(b, sender, own, new_id, _pin(location, now), note=note)
            _raise_alarm(b, sender, watch, Kind.SOS)
        case intents.Duress(location=location):
            # Her screen must show exactly what OUT shows; the alert goes out silently.
            _check_out_reply(b, sender, live)
            watch = _gather(b, sender, own, new_id, _pin(location, now))
            _raise_alarm(b, sender, watch, Kind.DURESS)
        case intents.Loc(location=location, note=note):
            _keep(b, sender, own, new_id, "loc", pin=_pin(location, now), note=note)
        case intents.Client(text=text):
            if not (text and text.strip()) and not photos:
                b.send(me, Purpose.REPLY, _p("client_empty"))
            else:
                client = ClientNote(now, text.strip()) if text and text.strip() else None
                _keep(
                    b, sender, own, new_id, "client", client=client, photos=photos, notices=notices
                )
        case intents.Who():
            _who(b, sender)
        case intents.Buddies():
            _buddies(b, sender)
        case intents.BadArgument(command="in"):
            b.send(me, Purpose.REPLY, _p("bad_argument_in"))
        case intents.BadArgument(command="extend"):
            b.send(me, Purpose.REPLY, _p("bad_argument_extend"))
        case intents.BadArgument():
            b.send(me, Purpose.REPLY, _p("bad_argument"), _p("help"))
        case intents.Unknown():
            b.send(me, Purpose.REPLY, _p("not_understood"), _p("help"))
        case _:
            b.send(me, Purpose.REPLY, _p("not_yet"), _p("help"))
    return b.done()


def _pin(location: Location | None, now: datetime) -> Pin | None:
    if location is None:
        return None
    return Pin(now, location.lat, location.lng, location.label, location.original)


def _with(
    watch: Watch,
    pin: Pin | None = None,
    client: ClientNote | None = None,
    photos: tuple[str, ...] = (),
) -> Watch:
    """Her watch with what she just sent added (oldest dropped past the caps)."""
    pins = (*watch.pins, pin)[-MAX_PINS:] if pin else watch.pins
    notes = (*watch.client, client)[-MAX_CLIENT_NOTES:] if client else watch.client
    kept = (*watch.photos, *photos)[-MAX_PHOTOS:]
    return watch.evolve(pins=pins, client=notes, photos=kept)


def _mark(watch: Watch, what: str, now: datetime) -> Watch:
    return watch.evolve(marks=(*watch.marks, Mark(now, what)))


def _draft(alias: MemberAlias, now: datetime, new_id: str) -> Watch:
    return Watch(alias, Kind.CHECKIN, Phase.DRAFT, now, now, None, id=new_id)


def _gather(
    b: _Builder,
    alias: MemberAlias,
    own: Watch | None,
    new_id: str,
    pin: Pin | None,
    note: str | None = None,
) -> Watch:
    """The watch an alarm starts from: her live one or her draft (with all she shared), or new."""
    base = own if own is not None else _draft(alias, b.now, new_id)
    if note:
        base = base.evolve(note=f"{base.note}\n{note}" if base.note else note)
    return _with(base, pin)


def _keep(
    b: _Builder,
    alias: MemberAlias,
    own: Watch | None,
    new_id: str,
    what: str,
    pin: Pin | None = None,
    client: ClientNote | None = None,
    photos: tuple[str, ...] = (),
    note: str | None = None,
    notices: tuple[str, ...] = (),
) -> None:
    """A location or client details: onto her live check-in, or kept for her next one."""
    me = Recipient.member(alias)
    base = own if own is not None else _draft(alias, b.now, new_id)
    if note and pin is not None and base.live:
        base = base.evolve(note=f"{base.note}\n{note}" if base.note else note)
    watch = _with(base, pin, client, photos)
    b.watches.append(watch)
    key = f"{what}_saved" if watch.live else f"{what}_saved_next"
    parts = [_p(key)]
    b.send(me, Purpose.REPLY, *parts)
    if notices:
        b.messages[-1] = Outgoing(
            me, "\n".join([b.messages[-1].text, *notices]), Purpose.REPLY, b.messages[-1].watch_id
        )


def _who(b: _Builder, alias: MemberAlias) -> None:
    me = Recipient.member(alias)
    entries = b.ctx.policy.directory(b.info(alias).language)
    if not entries:
        b.send(me, Purpose.REPLY, _p("who_empty"))
        return
    lines = [_p("who_title")]
    lines += [_p("who_line", name=name, number=number, what=what) for name, number, what in entries]
    b.send(me, Purpose.REPLY, *lines)


def _buddies(b: _Builder, alias: MemberAlias) -> None:
    me = Recipient.member(alias)
    tiers = b.tiers(alias, Kind.CHECKIN)
    reached = [t for t in tiers if t.recipients]
    if not reached:
        b.send(me, Purpose.REPLY, _p("nobody_watching"))
        return
    parts = [_p("buddies_title")]
    for number, tier in enumerate(tiers, start=1):
        who = names([r.label or r.address for r in tier.recipients], "—")
        if tier.after <= timedelta(0):
            parts.append(_p("buddies_tier_now", n=number, who=who))
        else:
            parts.append(_p("buddies_tier_after", n=number, who=who, after=span(tier.after)))
    b.send(me, Purpose.REPLY, *parts)


def _check_in(
    b: _Builder,
    alias: MemberAlias,
    own: Watch | None,
    duration: timedelta | None,
    note: str | None,
    new_id: str,
    pin: Pin | None = None,
    photos: tuple[str, ...] = (),
) -> None:
    me = Recipient.member(alias)
    if own is not None and own.phase in (Phase.ALERTED, Phase.ACKED):
        b.send(me, Purpose.REPLY, _p("alert_open_for_you"))
        return
    timings = b.ctx.policy.timings(alias)
    length = duration or timings.checkin
    parts = []
    if length > timings.checkin_max:
        length = timings.checkin_max
        parts.append(_p("checkin_capped", cap=span(timings.checkin_max)))
    deadline = b.now + length
    restarting = own is not None and own.live
    base = own if own is not None else _draft(alias, b.now, new_id)
    watch = _with(
        base.evolve(
            kind=Kind.CHECKIN,
            phase=Phase.ACTIVE,
            started_at=base.started_at if restarting else b.now,
            deadline=deadline,
            next_at=_first_wake(b.now, deadline, timings),
            note=note if note else base.note,
            reminded=False,
        ),
        pin,
        photos=photos,
    )
    b.watches.append(watch)
    reply = [
        _p(
            "checkin_restarted" if restarting else "checkin_started",
            until=b.clock(deadline, me),
            duration=span(length),
            watchers=_watcher_names(b, alias, Kind.CHECKIN),
        ),
        *parts,
    ]
    if not any(t.recipients for t in b.tiers(alias, Kind.CHECKIN)):
        reply.append(_p("nobody_watching"))
    b.send(me, Purpose.REPLY, *reply)


def _first_wake(now: datetime, deadline: datetime, timings: Timings) -> datetime:
    reminder = deadline - timings.reminder_before
    if timings.reminder_before > timedelta(0) and reminder > now:
        return reminder
    return deadline


def _check_out_reply(b: _Builder, alias: MemberAlias, own: Watch | None) -> None:
    key = "checkout" if own is not None else "checkout_nothing"
    b.send(Recipient.member(alias), Purpose.REPLY, _p(key))


def _check_out(b: _Builder, alias: MemberAlias, own: Watch | None) -> None:
    _check_out_reply(b, alias, own)
    if own is None:
        return
    b.watches.append(own.evolve(phase=Phase.CLOSED, closed_at=b.now, next_at=None))
    if own.phase in (Phase.ALERTED, Phase.ACKED):
        for to in own.alerted:
            b.send(
                to,
                Purpose.NOTICE,
                _p("allclear", who=display(alias), at=b.clock(b.now, to)),
                watch=own,
            )


def _extend(
    b: _Builder,
    alias: MemberAlias,
    own: Watch | None,
    duration: timedelta | None,
    pin: Pin | None = None,
) -> None:
    me = Recipient.member(alias)
    if own is None:
        b.send(me, Purpose.REPLY, _p("extend_nothing"))
        return
    if own.phase in (Phase.ALERTED, Phase.ACKED):
        b.send(me, Purpose.REPLY, _p("alert_open_for_you"))
        return
    timings = b.ctx.policy.timings(alias)
    added = duration or timedelta(minutes=30)
    parts = []
    if added > timings.extend_max:
        added = timings.extend_max
        parts.append(_p("extend_capped", cap=span(timings.extend_max)))
    deadline = max(own.deadline, b.now) + added
    watch = _with(
        own.evolve(
            phase=Phase.ACTIVE,
            deadline=deadline,
            next_at=_first_wake(b.now, deadline, timings),
            reminded=False,
        ),
        pin,
    )
    b.watches.append(watch)
    b.send(me, Purpose.REPLY, _p("extended", until=b.clock(deadline, me)), *parts)


def _pick(answering: Sequence[Watch], target: str | None) -> list[Watch]:
    found = [w for w in answering if w.phase in (Phase.ALERTED, Phase.ACKED)]
    if target:
        # "ACK alice" picks her alert; "ACK on my way" names nobody, so it answers the newest.
        wanted = target.strip().lower()
        named = [w for w in found if w.member.lower() == wanted]
        found = named or found
    return sorted(found, key=lambda w: w.alert_started_at or w.started_at, reverse=True)


def _ack(b: _Builder, buddy: MemberAlias, answering: Sequence[Watch], target: str | None) -> None:
    me = Recipient.member(buddy)
    found = _pick(answering, target)
    if not found:
        b.send(me, Purpose.REPLY, _p("ack_nothing"))
        return
    watch = found[0]
    if watch.phase is Phase.ACKED and watch.acked_by is not None and watch.acked_by != buddy:
        b.send(
            me,
            Purpose.REPLY,
            _p("ack_already", buddy=display(watch.acked_by), who=display(watch.member)),
        )
        return
    b.watches.append(watch.evolve(phase=Phase.ACKED, acked_by=buddy, next_at=None))
    b.send(me, Purpose.REPLY, _p("ack_to_acker", who=display(watch.member)), watch=watch)
    _tell_her_and_the_others(b, watch, me, "ack_to_member", "ack_to_others", buddy)


def _resolve(b: _Builder, buddy: MemberAlias, answering: Sequence[Watch]) -> None:
    me = Recipient.member(buddy)
    found = _pick(answering, None)
    if not found:
        b.send(me, Purpose.REPLY, _p("resolved_nothing"))
        return
    watch = found[0]
    b.watches.append(watch.evolve(phase=Phase.CLOSED, closed_at=b.now, next_at=None))
    b.send(
        me, Purpose.REPLY, _p("resolved_to_all", who=display(watch.member), buddy=display(buddy))
    )
    _tell_her_and_the_others(b, watch, me, "resolved_to_member", "resolved_to_all", buddy)


def _tell_her_and_the_others(
    b: _Builder, watch: Watch, me: Recipient, to_her: str, to_others: str, buddy: MemberAlias
) -> None:
    """News of her alert: to her (never after duress: someone else may hold her phone), and to
    everyone else who was alerted."""
    if watch.kind is not Kind.DURESS:
        b.send(Recipient.member(watch.member), Purpose.NOTICE, _p(to_her, buddy=display(buddy)))
    for to in watch.alerted:
        if to != me:
            params = {"buddy": display(buddy), "who": display(watch.member)}
            b.send(to, Purpose.NOTICE, _p(to_others, **params))


def _status(b: _Builder, alias: MemberAlias, own: Watch | None, answering: Sequence[Watch]) -> None:
    me = Recipient.member(alias)
    parts = []
    if own is not None and own.phase is Phase.DRAFT:
        parts.append(_p("status_none"))
        parts.append(
            _p("status_draft", pins=len(own.pins), client=len(own.client) + len(own.photos))
        )
    elif own is None:
        parts.append(_p("status_none"))
    elif own.phase in (Phase.ALERTED, Phase.ACKED):
        acked = b.text(
            me,
            _p("status_acked_by", buddy=display(own.acked_by))
            if own.acked_by
            else _p("status_not_acked"),
        )
        since = own.alert_started_at or own.deadline
        parts.append(_p("status_alerted", since=b.clock(since, me), acked=acked))
    else:
        parts.append(
            _p(
                "status_live",
                until=b.clock(own.deadline, me),
                left=span(own.deadline - b.now),
                watchers=_watcher_names(b, alias, own.kind),
            )
        )
    for watch in _pick(answering, None):
        since = watch.alert_started_at or watch.started_at
        parts.append(_p("status_watching", who=display(watch.member), since=b.clock(since, me)))
    b.send(me, Purpose.REPLY, *parts)


# --- alarms and timers -------------------------------------------------------------------------


def _raise_alarm(b: _Builder, alias: MemberAlias, base: Watch, kind: Kind) -> None:
    """SOS or duress: alert tier 1 now, no grace. A live check-in (or an open alert, or her draft
    with what she shared) becomes the alert; everyone is alerted afresh with the new kind."""
    watch = base.evolve(
        kind=kind,
        phase=Phase.ACTIVE,
        deadline=b.now if base.phase is Phase.DRAFT else base.deadline,
        alerted=(),
        tiers_alerted=0,
        acked_by=None,
    )
    watch = _start_alert(b, watch, b.now, late=timedelta(0))
    b.watches.append(watch)
    if kind is Kind.SOS:
        me = Recipient.member(alias)
        if watch.alerted:
            who = names([r.label or r.address for r in watch.alerted], "")
            b.send(me, Purpose.REPLY, _p("sos_sent", watchers=who), watch=watch)
        else:
            b.send(me, Purpose.REPLY, _p("sos_nobody"), watch=watch)


def _alert_parts(
    b: _Builder, watch: Watch, to: Recipient, late: timedelta, escalated: bool
) -> list[tuple[str, dict[str, object]]]:
    who = display(watch.member)
    if watch.kind is Kind.SOS:
        parts = [_p("alert_sos", who=who, at=b.clock(watch.alert_started_at or b.now, to))]
    elif watch.kind is Kind.DURESS:
        at = b.clock(watch.alert_started_at or b.now, to)
        key = (
            "alert_no_secret" if any(m.what == "no_secret" for m in watch.marks) else "alert_duress"
        )
        parts = [_p(key, who=who, at=at)]
    else:
        parts = [
            _p(
                "alert_missed",
                who=who,
                until=b.clock(watch.deadline, to),
                ago=since(watch.deadline),  # rendered when handed to signal-cli (relay.core.ages)
            )
        ]
    if watch.note:
        parts.append(_p("alert_note", note=watch.note))
    for pin in reversed(watch.pins[-3:]):  # newest first
        parts.append(_pin_part(b, pin, to))
    for client in watch.client:
        parts.append(_p("alert_client", text=client.text))
    if watch.photos:
        parts.append(_p("alert_photos", count=len(watch.photos)))
    for mark in watch.marks:
        if mark.what in ("deleted", "edited"):
            parts.append(_p(f"alert_mark_{mark.what}", at=b.clock(mark.at, to)))
    if escalated:
        parts.append(_p("alert_escalated"))
    parts.append(_p("alert_how_to_ack"))
    if late > LATE_AFTER:
        parts.append(_p("alert_late", late=span(late)))
    return parts


def _pin_part(b: _Builder, pin: Pin, to: Recipient) -> tuple[str, dict[str, object]]:
    loc = Location(pin.lat, pin.lng, pin.label, "coordinates", pin.original)
    try:
        link = osm_link(loc)
    except ValueError:
        link = pin.original
    original = "" if pin.original in (link, pin.label) else f"\n{pin.original}"
    return _p(
        "alert_pin",
        label=pin.label or "—",
        link=link + original,
        ago=since(pin.at),
        at=b.clock(pin.at, to),
    )


def _alert_tier(b: _Builder, watch: Watch, tier: Tier, late: timedelta) -> Watch:
    fresh = [r for r in tier.recipients if r not in watch.alerted and r.address != watch.member]
    for to in fresh:
        parts = _alert_parts(b, watch, to, late, escalated=watch.tiers_alerted > 0)
        b.send(to, Purpose.ALERT, *parts, watch=watch, attachments=watch.photos)
    return watch.evolve(alerted=watch.alerted + tuple(fresh), tiers_alerted=watch.tiers_alerted + 1)


def _start_alert(b: _Builder, watch: Watch, started: datetime, late: timedelta) -> Watch:
    watch = watch.evolve(phase=Phase.ALERTED, alert_started_at=started, repeats=0)
    tiers = b.tiers(watch.member, watch.kind)
    if tiers:
        watch = _alert_tier(b, watch, tiers[0], late)  # tier 1 at once, whatever its delay
    watch, _ = _alert_due_tiers(b, watch, late)
    return watch.evolve(next_at=_next_alert_wake(b, watch))


def _alert_due_tiers(b: _Builder, watch: Watch, late: timedelta) -> tuple[Watch, bool]:
    """Alert every tier whose time has come, in order (after downtime, several at once)."""
    tiers = b.tiers(watch.member, watch.kind)
    started = watch.alert_started_at or b.now
    progressed = False
    while watch.tiers_alerted < len(tiers) and started + tiers[watch.tiers_alerted].after <= b.now:
        watch = _alert_tier(b, watch, tiers[watch.tiers_alerted], late)
        progressed = True
    return watch, progressed


def _next_alert_wake(b: _Builder, watch: Watch) -> datetime | None:
    tiers = b.tiers(watch.member, watch.kind)
    timings = b.ctx.policy.timings(watch.member)
    started = watch.alert_started_at or b.now
    candidates = []
    if watch.tiers_alerted < len(tiers):
        candidates.append(started + tiers[watch.tiers_alerted].after)
    if watch.alerted and timings.repeat_every > timedelta(0):
        base = max(b.now, started)
        candidates.append(base + timings.repeat_every)
    return min(candidates) if candidates else None


def on_timer(ctx: Context, watch: Watch, now: datetime) -> Decision:
    """The timer woke for `watch`. Overdue steps are taken at once, and the alert says how late."""
    b = _Builder(ctx, now)
    if not watch.live or watch.next_at is None or now < watch.next_at:
        return b.done()  # stale wake-up: the watch moved on since the timer was set
    late = now - watch.next_at
    timings = ctx.policy.timings(watch.member)
    me = Recipient.member(watch.member)
    alert_at = watch.deadline + timings.grace
    if watch.phase is Phase.ACTIVE and watch.kind is Kind.CHECKIN:
        if now < watch.deadline:
            left = span(watch.deadline - now)
            until = b.clock(watch.deadline, me)
            b.send(me, Purpose.REMINDER, _p("reminder", left=left, until=until), watch=watch)
            watch = watch.evolve(reminded=True, next_at=watch.deadline)
        elif now < alert_at:
            b.send(me, Purpose.REMINDER, _p("due", grace=span(timings.grace)), watch=watch)
            watch = watch.evolve(phase=Phase.DUE, next_at=alert_at)
        else:
            until = b.clock(watch.deadline, me)
            b.send(me, Purpose.REMINDER, _p("due_late", until=until), watch=watch)
            watch = _start_alert(b, watch, alert_at, now - alert_at)
    elif watch.phase is Phase.DUE:
        watch = _start_alert(b, watch, alert_at, late)
    elif watch.phase is Phase.ALERTED:
        watch = _escalate(b, watch, late)
    else:
        watch = watch.evolve(next_at=None)
    b.watches.append(watch)
    return b.done()


def _escalate(b: _Builder, watch: Watch, late: timedelta) -> Watch:
    watch, progressed = _alert_due_tiers(b, watch, late)
    if not progressed:
        since = watch.alert_started_at or b.now
        for to in watch.alerted:
            b.send(
                to,
                Purpose.ALERT,
                _p("alert_repeat", who=display(watch.member), since=b.clock(since, to)),
                watch=watch,
            )
        watch = watch.evolve(repeats=watch.repeats + 1)
    return watch.evolve(next_at=_next_alert_wake(b, watch))


def alerted_members(watch: Watch) -> list[MemberAlias]:
    """Members who were sent this watch's alert (they may ACK or RESOLVE it)."""
    return _member_recipients(watch.alerted)


def on_mark(watch: Watch, what: str, now: datetime) -> Decision:
    """She deleted or edited a message while her watch is live: record it, change nothing else.

    An edit or a delete never cancels an alert (someone else may hold her phone); buddies see it
    in the alert and its repeats."""
    if not watch.live:
        return Decision()
    return Decision(watches=(_mark(watch, what, now),))


def on_undeliverable(ctx: Context, watch: Watch, now: datetime) -> Decision:
    """An alert could not reach someone (changed safety number, not on Signal): do not wait for
    the tier's delay — alert the next tier now."""
    b = _Builder(ctx, now)
    if watch.phase is not Phase.ALERTED:
        return b.done()
    tiers = ctx.policy.tiers(watch.member, watch.kind)
    if watch.tiers_alerted >= len(tiers):
        return b.done()
    watch = _alert_tier(b, watch, tiers[watch.tiers_alerted], timedelta(0))
    b.watches.append(watch.evolve(next_at=_next_alert_wake(b, watch)))
    return b.done()
