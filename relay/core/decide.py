"""The state machine: given the watches an event touches, the event and the time, decide.

`on_message`, `on_timer`, `on_undeliverable` and `on_mark` return a `Decision`: the watches to
store (new or changed) and the messages to send. They never read a clock, the database or the
network; the runtime carries the decision out (store first, then send). Every change of a watch's
kind or phase goes through `relay.core.lifecycle`; the ladder through `relay.core.escalation`;
which alert an answer acts on through `relay.core.targeting`.

Three promises are kept here:

- **Duress is sticky and silent.** Once her duress word (or OUT without her secret) has raised an
  alert, every reply her phone gets is what it would get had she really checked out; what her
  phone sends is forwarded to those alerted, marked as sent after the duress word; only someone
  alerted, the admin, or ``OUT <secret>`` ends it.
- **No false comfort.** Every "X knows" names only recipients who can be reached; when nobody can,
  she is told at once, with whom to call (never on a duress alert: the admin is told instead).
- **Caps are caps.** A check-in never lasts longer than ``checkin_max`` in all, however reached.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from relay.core import escalation, group_alert, intents
from relay.core.ages import since
from relay.core.builder import Builder as _Builder
from relay.core.builder import Context as Context
from relay.core.builder import Decision as Decision
from relay.core.builder import Outgoing as Outgoing
from relay.core.builder import Purpose as Purpose
from relay.core.builder import p as _p
from relay.core.escalation import Tier
from relay.core.guesses import short_answer
from relay.core.lifecycle import Event, is_open_alert, moved
from relay.core.locations import Location, osm_link
from relay.core.policy import Timings
from relay.core.render import display, names, span
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
from relay.core.targeting import Choice, Miss, Pointer, choose
from relay.core.types import MemberAlias

LATE_AFTER = timedelta(seconds=5)
"""A timer firing later than this says so in the alert (the relay was down or asleep)."""

ALERT_PINS = 3
"""An alert shows her newest locations, at most this many (saying so when she sent more)."""


def _label(recipients: Sequence[Recipient], none: str) -> str:
    return names([r.label or r.address for r in recipients], none)


def _watcher_names(b: _Builder, alias: MemberAlias, kind: Kind) -> str:
    language = b.info(alias).language
    return _label(b.watchers(alias, kind), b.ctx.catalog.text(language, "watchers_none"))


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
    pointer: Pointer | None = None,
    said: str | None = None,
) -> Decision:
    """A member's parsed message. `own` is her watch (live or draft); `answering` the open alerts
    she may answer (`relay.core.targeting.answerable`); `photos` the attachments she sent (vault
    keys); `notices` lines the runtime adds to her reply (screening warnings, in her language);
    `pointer` what her quote or reaction pointed at; `said` her text as sent (forwarded to those
    alerted when it comes after her duress word).

    Every path sends her exactly one reply, so a silent relay is noticed at once.
    """
    b = _Builder(ctx, now)
    if own is not None and own.kind is Kind.DURESS and own.live:
        _under_duress(b, sender, intent, own, answering, photos, notices, pointer, said)
        return b.done()
    me = Recipient.member(sender)
    live = own if own is not None and own.live else None
    match intent:
        case intents.CheckIn(duration=duration, note=note, location=location):
            _check_in(b, sender, own, duration, note, new_id, _pin(location, now), photos)
        case intents.CheckOut(verified=False) if live is not None:
            # A secret is set and was missing: someone else may hold her phone. Her screen shows
            # the normal OUT reply; nothing closes; her buddies get a silent alert.
            _check_out_reply(b, sender, live)
            _raise_alarm(b, sender, _mark(live, "no_secret", now), Event.DURESS)
        case intents.CheckOut(verified=verified):
            _check_out(b, sender, live, Event.OUT_SECRET if verified else Event.OUT)
        case intents.Extend(duration=duration, location=location):
            _extend(b, sender, live, duration, _pin(location, now))
        case intents.Ack(target=target):
            _answer(b, sender, answering, pointer, target, resolve=False)
        case intents.Resolved(target=target):
            _answer(b, sender, answering, pointer, target, resolve=True)
        case intents.Status():
            _status(b, sender, own, answering)
        case intents.Sos(note=note, location=location, guessed=guessed):
            pin = _pin(location, now)
            watch = _gather(b, sender, own, new_id, pin, note=note, photos=photos)
            _raise_alarm(b, sender, watch, Event.SOS, pin, note, photos)
            if guessed:  # a near-miss read as SOS: she is told, and how to undo it
                _lead(b, me, _p("sos_guessed"))
        case intents.Duress(location=location):
            # Her screen must show exactly what OUT shows; the alert goes out silently.
            _check_out_reply(b, sender, live)
            pin = _pin(location, now)
            watch = _gather(b, sender, own, new_id, pin, photos=photos)
            _raise_alarm(b, sender, watch, Event.DURESS, pin, None, photos)
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
        case _:
            _plain_reply(b, sender, intent)
    return b.done()


def _plain_reply(b: _Builder, sender: MemberAlias, intent: intents.Intent) -> None:
    """Replies that depend on nothing she has running (the same under duress)."""
    me = Recipient.member(sender)
    match intent:
        case intents.Help():
            b.send(me, Purpose.REPLY, _p("help"))
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
        case intents.Unknown(reason=reason, likely=likely) if likely:
            # One line naming the likeliest commands, never the whole menu (relay.core.guesses).
            b.send(me, Purpose.REPLY, short_answer(reason, likely, b.language(me)))
        case intents.Unknown():
            b.send(me, Purpose.REPLY, _p("not_understood"), _p("help"))
        case _:
            b.send(me, Purpose.REPLY, _p("not_yet"), _p("help"))


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
    if pin is None and client is None and not photos:
        return watch
    pins = (*watch.pins, pin)[-MAX_PINS:] if pin else watch.pins
    notes = (*watch.client, client)[-MAX_CLIENT_NOTES:] if client else watch.client
    kept = (*watch.photos, *photos)[-MAX_PHOTOS:]
    return watch.evolve(pins=pins, client=notes, photos=kept)


def _mark(watch: Watch, what: str, now: datetime) -> Watch:
    return moved(watch, Event.MARK, marks=(*watch.marks, Mark(now, what)))


def draft(alias: MemberAlias, now: datetime, new_id: str) -> Watch:
    """A new draft: what she shares before IN is kept on it for her next check-in."""
    return Watch(alias, Kind.CHECKIN, Phase.DRAFT, now, now, None, id=new_id)


def _noted(watch: Watch, note: str | None) -> Watch:
    if not note:
        return watch
    return watch.evolve(note=f"{watch.note}\n{note}" if watch.note else note)


def _gather(
    b: _Builder,
    alias: MemberAlias,
    own: Watch | None,
    new_id: str,
    pin: Pin | None,
    note: str | None = None,
    photos: tuple[str, ...] = (),
) -> Watch:
    """The watch an alarm starts from: her live one or her draft (with all she shared), or new."""
    base = own if own is not None else draft(alias, b.now, new_id)
    return _noted(_with(base, pin, photos=photos), note)


def _lead(b: _Builder, to: Recipient, part: tuple[str, dict[str, object]]) -> None:
    """Put a line first in the reply already written to `to`."""
    for index, message in enumerate(b.messages):
        if message.to == to and message.purpose is Purpose.REPLY:
            text = b.text(to, part) + "\n" + message.text
            b.messages[index] = Outgoing(
                to, text, message.purpose, message.watch_id, message.attachments
            )
            return


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
    base = own if own is not None else draft(alias, b.now, new_id)
    if pin is not None and base.live:
        base = _noted(base, note)
    watch = moved(_with(base, pin, client, photos), Event.KEEP)
    b.watches.append(watch)
    key = f"{what}_saved" if watch.live else f"{what}_saved_next"
    _reply(b, me, (_p(key),), notices)
    if is_open_alert(watch):
        _news_of(b, watch, pin=pin, client=client, photos=photos)


def _reply(
    b: _Builder,
    me: Recipient,
    parts: Sequence[tuple[str, dict[str, object]]],
    notices: tuple[str, ...] = (),
    watch: Watch | None = None,
) -> None:
    text = "\n".join([b.text(me, *parts), *notices])
    b.messages.append(Outgoing(me, text, Purpose.REPLY, watch.id if watch else None))


def _news_of(
    b: _Builder,
    watch: Watch,
    pin: Pin | None = None,
    client: ClientNote | None = None,
    photos: tuple[str, ...] = (),
    note: str | None = None,
    lead: tuple[str, dict[str, object]] | None = None,
) -> None:
    """What she added to an open alert goes to everyone already alerted, in one short message."""
    if lead is None and pin is None and client is None and not photos and not note:
        return
    for to in watch.alerted:
        parts = [lead] if lead is not None else [_p("alert_update", who=display(watch.member))]
        if note:
            parts.append(_p("alert_note", note=note, who=display(watch.member)))
        if pin is not None:
            parts.append(_pin_part(b, pin, to))
        if client is not None:
            parts.append(_p("alert_client", text=client.text))
        if photos:
            parts.append(_p("alert_photos", count=len(photos)))
        _send_alert(b, to, watch, parts, photos)


def _who(b: _Builder, alias: MemberAlias) -> None:
    me = Recipient.member(alias)
    entries = b.ctx.policy.directory(b.info(alias).language)
    if not entries:
        b.send(me, Purpose.REPLY, _p("who_empty"))
        return
    b.send(me, Purpose.REPLY, _p("who_title"), *_directory(b, alias))


def _directory(b: _Builder, alias: MemberAlias) -> list[tuple[str, dict[str, object]]]:
    entries = b.ctx.policy.directory(b.info(alias).language)
    return [_p("who_line", name=name, number=number, what=what) for name, number, what in entries]


def _buddies(b: _Builder, alias: MemberAlias) -> None:
    me = Recipient.member(alias)
    tiers = b.tiers(alias, Kind.CHECKIN)
    if not b.watchers(alias, Kind.CHECKIN):
        b.send(me, Purpose.REPLY, _p("nobody_watching"), *_directory(b, alias))
        return
    parts = [_p("buddies_title")]
    for number, tier in enumerate(tiers, start=1):
        who = _label(tier.recipients, "—")
        if tier.after <= timedelta(0):
            parts.append(_p("buddies_tier_now", n=number, who=who))
        else:
            parts.append(_p("buddies_tier_after", n=number, who=who, after=span(tier.after)))
    b.send(me, Purpose.REPLY, *parts)


def _length(b: _Builder, alias: MemberAlias, started: datetime, wanted: datetime) -> datetime:
    """`wanted` as an end time, never more than ``checkin_max`` after the check-in started."""
    return min(wanted, started + b.ctx.policy.timings(alias).checkin_max)


def _start_parts(
    b: _Builder,
    alias: MemberAlias,
    started: datetime,
    wanted: datetime,
    restarting: bool,
) -> tuple[datetime, list[tuple[str, dict[str, object]]]]:
    """The end time IN grants, and her reply (as a fresh check-in or an updated one)."""
    me = Recipient.member(alias)
    timings = b.ctx.policy.timings(alias)
    deadline = _length(b, alias, started, wanted)
    parts = [
        _p(
            "checkin_restarted" if restarting else "checkin_started",
            until=b.clock(deadline, me),
            duration=span(deadline - b.now),
            watchers=_watcher_names(b, alias, Kind.CHECKIN),
        )
    ]
    if deadline < wanted:
        parts.append(_p("checkin_capped_total", cap=span(timings.checkin_max)))
    if not b.watchers(alias, Kind.CHECKIN):
        parts.append(_p("nobody_watching"))
        parts.extend(_directory(b, alias))
    return deadline, parts


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
    if own is not None and is_open_alert(own):
        watch = moved(_noted(_with(own, pin, photos=photos), note), Event.KEEP)
        b.watches.append(watch)
        _tell_alert_is_on(b, alias, watch)
        _news_of(b, watch, pin=pin, photos=photos, note=note)
        return
    timings = b.ctx.policy.timings(alias)
    restarting = own is not None and own.live
    base = own if own is not None else draft(alias, b.now, new_id)
    started = base.started_at if restarting else b.now
    deadline, parts = _start_parts(
        b, alias, started, b.now + (duration or timings.checkin), restarting
    )
    watch = _with(
        moved(
            base,
            Event.RESTART if restarting else Event.START,
            started_at=started,
            deadline=deadline,
            next_at=_first_wake(b.now, deadline, timings),
            note=note if note else base.note,
            reminded=False,
        ),
        pin,
        photos=photos,
    )
    b.watches.append(watch)
    b.send(me, Purpose.REPLY, *parts)


def _tell_alert_is_on(b: _Builder, alias: MemberAlias, watch: Watch) -> None:
    """IN or EXTEND while her (not silent) alert is open: true news of who has it."""
    me = Recipient.member(alias)
    got = b.reachable(watch.alerted)
    if got:
        b.send(me, Purpose.REPLY, _p("alert_open_known", watchers=_label(got, "")))
    else:
        b.send(me, Purpose.REPLY, _p("alert_open_nobody"), *_directory(b, alias))


def _first_wake(now: datetime, deadline: datetime, timings: Timings) -> datetime:
    reminder = deadline - timings.reminder_before
    if timings.reminder_before > timedelta(0) and reminder > now:
        return reminder
    return deadline


def _check_out_reply(b: _Builder, alias: MemberAlias, running: object | None) -> None:
    """What OUT shows her: `running` is her live check-in (or, after duress, her cover's end)."""
    key = "checkout" if running is not None else "checkout_nothing"
    b.send(Recipient.member(alias), Purpose.REPLY, _p(key))


def _check_out(b: _Builder, alias: MemberAlias, own: Watch | None, event: Event) -> None:
    _check_out_reply(b, alias, own)
    if own is None:
        return
    b.watches.append(moved(own, event, closed_at=b.now, next_at=None))
    if is_open_alert(own):
        _all_clear(b, own)


def _all_clear(b: _Builder, watch: Watch) -> None:
    for to in watch.alerted:
        b.send(
            to,
            Purpose.NOTICE,
            _p("allclear", who=display(watch.member), at=b.clock(b.now, to)),
            watch=watch,
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
    if is_open_alert(own):
        watch = moved(_with(own, pin), Event.KEEP)
        b.watches.append(watch)
        _tell_alert_is_on(b, alias, watch)
        _news_of(b, watch, pin=pin)
        return
    timings = b.ctx.policy.timings(alias)
    deadline, parts = _extended(b, alias, own.started_at, own.deadline, duration)
    watch = _with(
        moved(
            own,
            Event.EXTEND,
            deadline=deadline,
            next_at=_first_wake(b.now, deadline, timings),
            reminded=False,
        ),
        pin,
    )
    b.watches.append(watch)
    b.send(me, Purpose.REPLY, *parts)


def _extended(
    b: _Builder,
    alias: MemberAlias,
    started: datetime,
    deadline: datetime,
    duration: timedelta | None,
) -> tuple[datetime, list[tuple[str, dict[str, object]]]]:
    """The end time EXTEND grants (within ``extend_max`` at a time and ``checkin_max`` in all),
    and her reply saying what was granted."""
    me = Recipient.member(alias)
    timings = b.ctx.policy.timings(alias)
    wanted = duration or timedelta(minutes=30)
    added = min(wanted, timings.extend_max)
    base = max(deadline, b.now)
    new = _length(b, alias, started, base + added)
    if new < base:
        new = base  # already past the cap (rules shortened it): never take time away
    parts = [_p("extended", until=b.clock(new, me))]
    if new < base + added:
        parts.append(_p("extend_capped_total", cap=span(timings.checkin_max)))
    elif added < wanted:
        parts.append(_p("extend_capped", cap=span(timings.extend_max)))
    return new, parts


# --- answers to alerts -------------------------------------------------------------------------


def _answer(
    b: _Builder,
    buddy: MemberAlias,
    answering: Sequence[Watch],
    pointer: Pointer | None,
    name: str | None,
    *,
    resolve: bool,
) -> None:
    me = Recipient.member(buddy)
    wanted = name.strip().lower() if name else None
    is_member = wanted is not None and b.ctx.policy.member(MemberAlias(wanted)) is not None
    choice = choose(answering, pointer, wanted, is_member)
    if choice.watch is None:
        _missed(b, me, choice, resolve)
    elif resolve:
        _resolve(b, buddy, choice.watch)
    else:
        _ack(b, buddy, choice.watch)


def _missed(b: _Builder, me: Recipient, choice: Choice, resolve: bool) -> None:
    """An answer that acts on nothing: say why, briefly; ask when it could mean several."""
    miss = choice.miss or Miss.NONE
    if miss is Miss.AMBIGUOUS:
        shown = [display(w.member) for w in choice.among]
        word = "RESOLVED" if resolve else "ACK"
        example = f"{word} {choice.among[0].member}"
        b.send(me, Purpose.REPLY, _p("answer_which", names=", ".join(shown), example=example))
    elif miss is Miss.NONE:
        b.send(me, Purpose.REPLY, _p("resolved_nothing" if resolve else "ack_nothing"))
    else:
        b.send(me, Purpose.REPLY, _p(f"answer_{miss.value}"))


def _ack(b: _Builder, buddy: MemberAlias, watch: Watch) -> None:
    me = Recipient.member(buddy)
    if watch.phase is Phase.ACKED:
        if watch.acked_by is not None and watch.acked_by != buddy:
            params = {"buddy": display(watch.acked_by), "who": display(watch.member)}
            b.send(me, Purpose.REPLY, _p("ack_already", **params))
        else:
            b.send(me, Purpose.REPLY, _p("ack_to_acker", who=display(watch.member)), watch=watch)
        return
    b.watches.append(moved(watch, Event.ACK, acked_by=buddy, next_at=None))
    b.send(me, Purpose.REPLY, _p("ack_to_acker", who=display(watch.member)), watch=watch)
    if me not in watch.alerted:  # she had it through a group: the details come to her alone
        parts = _alert_parts(b, watch, me, timedelta(0), escalated=False)
        b.send(me, Purpose.ALERT, *parts, watch=watch, attachments=watch.photos)
    _tell_her_and_the_others(b, watch, me, "ack_to_member", "ack_to_others", buddy)


def _resolve(b: _Builder, buddy: MemberAlias, watch: Watch) -> None:
    me = Recipient.member(buddy)
    b.watches.append(moved(watch, Event.RESOLVE, closed_at=b.now, next_at=None))
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
    elif is_open_alert(own):
        acked = b.text(
            me,
            _p("status_acked_by", buddy=display(own.acked_by))
            if own.acked_by
            else _p("status_not_acked"),
        )
        since = own.alert_started_at or own.deadline
        parts.append(_p("status_alerted", since=b.clock(since, me), acked=acked))
        if not b.reachable(own.alerted):
            parts.append(_p("alert_open_nobody"))
            parts.extend(_directory(b, alias))
    else:
        parts.append(_status_live(b, alias, own.deadline))
    parts.extend(_watching(b, me, answering))
    b.send(me, Purpose.REPLY, *parts)


def _status_live(b: _Builder, alias: MemberAlias, until: datetime) -> tuple[str, dict[str, object]]:
    return _p(
        "status_live",
        until=b.clock(until, Recipient.member(alias)),
        left=span(until - b.now),
        watchers=_watcher_names(b, alias, Kind.CHECKIN),
    )


def _watching(
    b: _Builder, me: Recipient, answering: Sequence[Watch]
) -> list[tuple[str, dict[str, object]]]:
    ordered = sorted(answering, key=lambda w: w.alert_started_at or w.started_at, reverse=True)
    return [
        _p(
            "status_watching",
            who=display(w.member),
            since=b.clock(w.alert_started_at or w.started_at, me),
        )
        for w in ordered
    ]


# --- after the duress word ---------------------------------------------------------------------


def _under_duress(
    b: _Builder,
    alias: MemberAlias,
    intent: intents.Intent,
    own: Watch,
    answering: Sequence[Watch],
    photos: tuple[str, ...],
    notices: tuple[str, ...],
    pointer: Pointer | None,
    said: str | None,
) -> None:
    """Her duress alert is open. Her phone gets exactly what it would get had she really checked
    out (a *cover* check-in, if her phone starts one); nothing it sends ends the alert, except
    OUT with her secret; what it sends is forwarded to those alerted."""
    me = Recipient.member(alias)
    timings = b.ctx.policy.timings(alias)
    cover = own.cover_until if own.cover_until is not None and own.cover_until > b.now else None
    watch = own
    match intent:
        case intents.CheckOut(verified=True):
            _check_out(b, alias, own, Event.OUT_SECRET)
            return
        case intents.CheckIn(duration=duration, location=location):
            wanted = b.now + (duration or timings.checkin)
            until, parts = _start_parts(b, alias, b.now, wanted, cover is not None)
            watch = moved(_with(own, _pin(location, b.now), photos=photos), Event.COVER)
            watch = watch.evolve(cover_until=until)
            b.send(me, Purpose.REPLY, *parts)
        case intents.Duress():
            # The duress word again: what OUT shows; those alerted hear it, never the word.
            _check_out_reply(b, alias, cover)
            watch = moved(own, Event.DURESS, cover_until=None)
            at = b.clock(b.now, me)
            _news_of(b, watch, lead=_p("alert_duress_again", who=display(alias), at=at))
            b.watches.append(watch)
            return
        case intents.CheckOut():
            _check_out_reply(b, alias, cover)
            watch = moved(own, Event.COVER, cover_until=None)
        case intents.Extend(duration=duration, location=location):
            watch = moved(_with(own, _pin(location, b.now), photos=photos), Event.COVER)
            if cover is None:
                b.send(me, Purpose.REPLY, _p("extend_nothing"))
            else:
                until, parts = _extended(b, alias, b.now, cover, duration)
                watch = watch.evolve(cover_until=until)
                b.send(me, Purpose.REPLY, *parts)
        case intents.Status():
            parts = [_p("status_none") if cover is None else _status_live(b, alias, cover)]
            b.send(me, Purpose.REPLY, *parts, *_watching(b, me, answering))
        case intents.Sos(location=location):
            # What a fresh SOS would answer; those alerted hear she sent SOS again.
            watch = moved(_with(own, _pin(location, b.now), photos=photos), Event.SOS)
            got = b.reachable(watch.alerted) or b.watchers(alias, Kind.SOS)
            if got:
                b.send(me, Purpose.REPLY, _p("sos_sent", watchers=_label(got, "")))
            else:
                b.send(me, Purpose.REPLY, _p("sos_nobody"), *_directory(b, alias))
        case intents.Loc(location=location):
            watch = moved(_with(own, _pin(location, b.now)), Event.KEEP)
            b.send(me, Purpose.REPLY, _p("loc_saved" if cover else "loc_saved_next"))
        case intents.Client(text=text):
            client = ClientNote(b.now, text.strip()) if text and text.strip() else None
            if client is None and not photos:
                b.send(me, Purpose.REPLY, _p("client_empty"))
            else:
                watch = moved(_with(own, client=client, photos=photos), Event.KEEP)
                key = "client_saved" if cover else "client_saved_next"
                _reply(b, me, (_p(key),), notices)
        case intents.Ack(target=target):
            _answer(b, alias, answering, pointer, target, resolve=False)
        case intents.Resolved(target=target):
            _answer(b, alias, answering, pointer, target, resolve=True)
        case _:
            _plain_reply(b, alias, intent)
    if photos and photos[-1] not in watch.photos:  # photos always travel (relay.core.photos)
        watch = moved(_with(watch, photos=photos), Event.KEEP)
    if watch is not own:
        b.watches.append(watch)
    if not isinstance(intent, intents.Ack | intents.Resolved):
        _forward(b, watch, said, photos)


def forwarded(ctx: Context, watch: Watch, said: str | None, now: datetime) -> tuple[Outgoing, ...]:
    """What her phone sent after the duress word, as messages to those alerted (for features,
    such as FORGET, that answer her phone themselves)."""
    b = _Builder(ctx, now)
    _forward(b, watch, said, ())
    return tuple(b.messages)


def _forward(b: _Builder, watch: Watch, said: str | None, photos: tuple[str, ...]) -> None:
    """What her phone sent after the duress word, to everyone alerted, marked as such."""
    text = (said or "").strip()
    if not text and not photos:
        return
    for to in watch.alerted:
        parts = [_p("duress_forward", who=display(watch.member), at=b.clock(b.now, to))]
        if text:
            parts.append(_p("duress_forward_text", text=text))
        if photos:
            parts.append(_p("alert_photos", count=len(photos)))
        _send_alert(b, to, watch, parts, photos)


# --- alarms and timers -------------------------------------------------------------------------


def _raise_alarm(
    b: _Builder,
    alias: MemberAlias,
    base: Watch,
    event: Event,
    pin: Pin | None = None,
    note: str | None = None,
    photos: tuple[str, ...] = (),
) -> None:
    """SOS or duress. A check-in that has not alerted yet (or her draft) becomes the alert and
    tier 1 is alerted now, no grace. An alert already open is joined: it keeps who was alerted
    and who is on it; they hear one short line (with what she just sent), and — while nobody is
    on it — tiers the new kind reaches at once are added. `base` already holds what she sent."""
    if is_open_alert(base):
        _join(b, alias, base, event, pin, note, photos)
        return
    watch = moved(
        base,
        event,
        deadline=b.now if base.phase is Phase.DRAFT else base.deadline,
        alerted=(),
        tiers_alerted=0,
        acked_by=None,
    )
    # An SOS's reply tells her when nobody can be reached; a duress alert's never may.
    watch = _start_alert(b, watch, b.now, late=timedelta(0), tell_her=False)
    b.watches.append(watch)
    if watch.kind is Kind.SOS:
        _tell_sos(b, alias, watch)


def _tell_sos(b: _Builder, alias: MemberAlias, watch: Watch) -> None:
    me = Recipient.member(alias)
    got = b.reachable(watch.alerted)
    if got:
        b.send(me, Purpose.REPLY, _p("sos_sent", watchers=_label(got, "")), watch=watch)
    else:
        b.send(me, Purpose.REPLY, _p("sos_nobody"), *_directory(b, alias), watch=watch)


def _join(
    b: _Builder,
    alias: MemberAlias,
    base: Watch,
    event: Event,
    pin: Pin | None,
    note: str | None,
    photos: tuple[str, ...],
) -> None:
    watch = moved(base, event)
    at = b.clock(b.now, Recipient.member(alias))
    if watch.kind is Kind.DURESS and base.kind is not Kind.DURESS:
        lead = _p(_duress_key(watch), who=display(alias), at=at)
    elif event is Event.DURESS:
        lead = _p("alert_duress_again", who=display(alias), at=at)
    else:
        lead = _p("alert_sos_again", who=display(alias), at=at)
    _news_of(b, watch, pin=pin, note=note, photos=photos, lead=lead)
    if watch.phase is Phase.ALERTED:
        # The new kind's ladder may reach others (an SOS alerts every tier at once): add them.
        watch, _ = _alert_due_tiers(b, watch.evolve(tiers_alerted=0), timedelta(0))
        watch = _nobody_check(b, watch.evolve(next_at=_next_alert_wake(b, watch)), tell_her=False)
    b.watches.append(watch)
    if watch.kind is Kind.SOS:
        _tell_sos(b, alias, watch)


def _alert_parts(
    b: _Builder, watch: Watch, to: Recipient, late: timedelta, escalated: bool
) -> list[tuple[str, dict[str, object]]]:
    who = display(watch.member)
    if watch.kind is Kind.SOS:
        parts = [_p("alert_sos", who=who, at=b.clock(watch.alert_started_at or b.now, to))]
    elif watch.kind is Kind.DURESS:
        at = b.clock(watch.alert_started_at or b.now, to)
        parts = [_p(_duress_key(watch), who=who, at=at)]
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
        parts.append(_p("alert_note", note=watch.note, who=who))
    if len(watch.pins) > ALERT_PINS:  # say that older ones exist: no false picture of her night
        parts.append(_p("alert_pins_some", shown=ALERT_PINS, count=len(watch.pins)))
    for pin in reversed(watch.pins[-ALERT_PINS:]):  # newest first
        parts.append(_pin_part(b, pin, to))
    for client in watch.client:
        parts.append(_p("alert_client", text=client.text))
    if watch.photos:
        parts.append(_p("alert_photos", count=len(watch.photos)))
    for mark in watch.marks:
        if mark.what in ("deleted", "edited"):
            parts.append(_p(f"alert_mark_{mark.what}", at=b.clock(mark.at, to), who=who))
    if escalated:
        parts.append(_p("alert_escalated", who=who))
    parts.append(_p("alert_how_to_ack"))
    if late > LATE_AFTER:
        parts.append(_p("alert_late", late=span(late)))
    return parts


def _duress_key(watch: Watch) -> str:
    return "alert_no_secret" if any(m.what == "no_secret" for m in watch.marks) else "alert_duress"


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
    fresh = escalation.fresh(tier, watch.alerted, watch.member)
    for to in fresh:
        parts = _alert_parts(b, watch, to, late, escalated=watch.tiers_alerted > 0)
        _send_alert(b, to, watch, parts, watch.photos)
    return watch.evolve(alerted=watch.alerted + tuple(fresh), tiers_alerted=watch.tiers_alerted + 1)


def _send_alert(
    b: _Builder,
    to: Recipient,
    watch: Watch,
    parts: Sequence[tuple[str, dict[str, object]]],
    attachments: tuple[str, ...] = (),
) -> None:
    """An alert (or news of one) to `to`. A Signal group reads only the safe parts until the
    sender has checked its members (`relay.core.group_alert`); the rest is withheld."""
    if to.kind is RecipientKind.GROUP:
        full = (b.text(to, *parts, about=watch.member), attachments)
        safe = b.text(to, *group_alert.safe_parts(parts), about=watch.member)
        b.messages.append(Outgoing(to, safe, Purpose.ALERT, watch.id, withheld=full))
        return
    b.send(to, Purpose.ALERT, *parts, watch=watch, attachments=attachments)


def _start_alert(
    b: _Builder, watch: Watch, started: datetime, late: timedelta, tell_her: bool = True
) -> Watch:
    """Tier 1 now (whatever its delay), then every tier whose time has come; then, if nobody
    reachable got it, she (`tell_her`) and the admin are told."""
    watch = watch.evolve(alert_started_at=started, repeats=0)
    tiers = b.tiers(watch.member, watch.kind)
    if tiers:
        watch = _alert_tier(b, watch, tiers[0], late)
    watch, _ = _alert_due_tiers(b, watch, late)
    watch = watch.evolve(next_at=_next_alert_wake(b, watch))
    return _nobody_check(b, watch, tell_her=tell_her)


def _alert_due_tiers(b: _Builder, watch: Watch, late: timedelta) -> tuple[Watch, bool]:
    """Alert every tier whose time has come, in order (after downtime, several at once)."""
    tiers = b.tiers(watch.member, watch.kind)
    started = watch.alert_started_at or b.now
    due = escalation.due(tiers, watch.tiers_alerted, started, b.now)
    for index in due:
        watch = _alert_tier(b, watch, tiers[index], late)
    return watch, bool(due)


def _next_alert_wake(b: _Builder, watch: Watch) -> datetime | None:
    return escalation.next_wake(
        b.tiers(watch.member, watch.kind),
        watch.tiers_alerted,
        watch.alert_started_at or b.now,
        b.now,
        b.ctx.policy.timings(watch.member).repeat_every,
        bool(watch.alerted),
    )


def _nobody_check(b: _Builder, watch: Watch, tell_her: bool = True) -> Watch:
    """If no recipient of any tier can get this alert, say so at once — to her (never on a
    duress alert: her phone may not be hers now) and to the admin — once per alert."""
    if watch.told_nobody:
        return watch
    tiers = b.tiers(watch.member, watch.kind)
    done, unreachable = watch.tiers_alerted, b.ctx.unreachable
    if escalation.still_hopeful(tiers, done, watch.alerted, unreachable, watch.member):
        return watch
    me = Recipient.member(watch.member)
    if tell_her and watch.kind is not Kind.DURESS:
        b.send(me, Purpose.ALERT, _p("alert_nobody"), *_directory(b, watch.member), watch=watch)
    admin = b.ctx.admin
    if admin is not None and admin != watch.member:
        to = Recipient.member(admin)
        b.send(to, Purpose.ALERT, _p("admin_nobody", who=display(watch.member)), watch=watch)
    return watch.evolve(told_nobody=True)


def on_timer(ctx: Context, watch: Watch, now: datetime) -> Decision:
    """The timer woke for `watch`. Overdue steps are taken at once, and the alert says how late."""
    b = _Builder(ctx, now)
    if not watch.live or watch.next_at is None or now < watch.next_at:
        return b.done()  # stale wake-up: the watch moved on since the timer was set
    late = now - watch.next_at
    timings = ctx.policy.timings(watch.member)
    me = Recipient.member(watch.member)
    alert_at = watch.deadline + timings.grace
    if watch.phase is Phase.ACTIVE:
        if now < watch.deadline:
            left = span(watch.deadline - now)
            until = b.clock(watch.deadline, me)
            b.send(me, Purpose.REMINDER, _p("reminder", left=left, until=until), watch=watch)
            watch = moved(watch, Event.REMIND, reminded=True, next_at=watch.deadline)
        elif now < alert_at:
            if b.watchers(watch.member, watch.kind):
                watchers = _watcher_names(b, watch.member, watch.kind)
                parts = [_p("due", grace=span(timings.grace), watchers=watchers)]
            else:
                parts = [_p("due_nobody"), *_directory(b, watch.member)]
            b.send(me, Purpose.REMINDER, *parts, watch=watch)
            watch = moved(watch, Event.DUE, next_at=alert_at)
        else:
            until = b.clock(watch.deadline, me)
            b.send(me, Purpose.REMINDER, _p("due_late", until=until), watch=watch)
            watch = _start_alert(b, moved(watch, Event.ALERT), alert_at, now - alert_at)
    elif watch.phase is Phase.DUE:
        watch = _start_alert(b, moved(watch, Event.ALERT), alert_at, late)
    elif watch.phase is Phase.ALERTED:
        watch = _escalate(b, moved(watch, Event.ESCALATE), late)
    else:
        watch = watch.evolve(next_at=None)
    b.watches.append(watch)
    return b.done()


def _escalate(b: _Builder, watch: Watch, late: timedelta) -> Watch:
    watch, progressed = _alert_due_tiers(b, watch, late)
    if not progressed:
        since = watch.alert_started_at or b.now
        for to in watch.alerted:
            text = b.text(
                to,
                _p("alert_repeat", who=display(watch.member), since=b.clock(since, to)),
                about=watch.member,
            )
            b.messages.append(Outgoing(to, text, Purpose.ALERT, watch.id, repeat=True))
        watch = watch.evolve(repeats=watch.repeats + 1)
    watch = watch.evolve(next_at=_next_alert_wake(b, watch))
    return _nobody_check(b, watch)


def alerted_members(watch: Watch) -> list[MemberAlias]:
    """Members who were sent this watch's alert (they may ACK or RESOLVE it)."""
    return [MemberAlias(r.address) for r in watch.alerted if r.kind is RecipientKind.MEMBER]


def on_mark(watch: Watch, what: str, now: datetime) -> Decision:
    """She deleted or edited a message while her watch is live: record it, change nothing else.

    An edit or a delete never cancels an alert (someone else may hold her phone); buddies see it
    in the alert and its repeats."""
    if not watch.live:
        return Decision()
    return Decision(watches=(_mark(watch, what, now),))


@dataclass(frozen=True, slots=True)
class Unreached:
    """Who an alert message could not reach (as shown: alias or label), and signal-cli's why."""

    recipient: str
    failure: str


def on_undeliverable(
    ctx: Context, watch: Watch, now: datetime, unreached: Unreached | None = None
) -> Decision:
    """An alert could not reach someone (changed safety number, not on Signal; already in
    `ctx.unreachable`): do not wait for the tier's delay — alert the next tier now. When nobody
    at all can be reached, she and the admin are told. The admin also hears whom the alert
    could not reach (`unreached`), in the same decision — only when the next tier really was
    alerted now."""
    b = _Builder(ctx, now)
    if watch.phase is not Phase.ALERTED:
        return b.done()  # someone is on it, or it is over
    watch = moved(watch, Event.UNDELIVERABLE)
    tiers = b.tiers(watch.member, watch.kind)
    before = watch.tiers_alerted
    # Tiers that would add nobody reachable are passed over on the way to one that does.
    while watch.tiers_alerted < len(tiers):
        tier = tiers[watch.tiers_alerted]
        hopeful = b.reachable(escalation.fresh(tier, watch.alerted, watch.member))
        watch = _alert_tier(b, watch, tier, timedelta(0))
        if hopeful:
            break
    watch = watch.evolve(next_at=_next_alert_wake(b, watch))
    b.watches.append(_nobody_check(b, watch))
    if unreached is not None and ctx.admin is not None and watch.tiers_alerted > before:
        admin = Recipient(RecipientKind.MEMBER, ctx.admin, ctx.admin)
        notice = _p(
            "undeliverable_next_tier",
            who=display(watch.member),
            recipient=display(unreached.recipient) or "someone",
            reason=unreached.failure.replace("_", " "),
        )
        b.send(admin, Purpose.NOTICE, notice)
    return b.done()


@dataclass(frozen=True, slots=True)
class Stuck:
    """An alert message still unsent after the outbox's limit: whose alert, to whom, since when."""

    watch: Watch | None
    recipient: str  # how the recipient is shown (alias or label)
    queued_at: datetime
    failure: str | None


def on_stuck(ctx: Context, stuck: Sequence[Stuck], now: datetime) -> Decision:
    """Alerts still unsent after a while: the admin must reach those people another way."""
    b = _Builder(ctx, now)
    if ctx.admin is None:
        return b.done()
    admin = Recipient(RecipientKind.MEMBER, ctx.admin, ctx.admin)
    lines = [
        _p(
            "undeliverable",
            who=display(item.watch.member) if item.watch else "?",
            recipient=display(item.recipient) or "?",
            age=span(now - item.queued_at),
            reason=(item.failure or "unknown").replace("_", " "),
        )
        for item in stuck
    ]
    if lines:
        b.send(admin, Purpose.NOTICE, *lines)  # one notice for them all
    return b.done()
