"""Practice drills: a clearly marked practice alert to her first tier, the answers, the report.

A drill is not a watch. It has its own small state here (and its own table), and nothing in the
alert lifecycle (`relay.core.lifecycle`) knows it: a practice never escalates, never repeats,
never reaches a group or an outside contact, and its messages are `Purpose.DRILL`, never
`Purpose.ALERT` — so the targeting of answers (`relay.core.targeting`) can never take a reply to
a practice message for an answer to a real alert. Every practice text opens with 🧪 and says in
the reader's language that it is practice and nothing is wrong (a test checks each catalog).

**A real alert always wins:**

- real alerts go out exactly as always, whatever drills are running;
- an answer counts for a practice only when it quotes or reacts to a practice message, or when
  its sender has no real alert she may answer (`practice_answered`; `answer` records it);
- a drill whose member has an open real alert when its report is due ends quietly (her report
  would only be noise), and answers to it after that are told it is over;
- after her duress word, DRILL from her phone gets the reply a drill would get (her phone must
  show what it always shows), but nobody is sent a practice: her buddies are in a real alert.

Pure: the runtime (`relay.features.drills`, `relay.runtime.chain`) reads what these need, stores
drills, finds
what reached whose phone and sends.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from relay.core.decide import Outgoing, Purpose
from relay.core.delivery import Reach
from relay.core.escalation import Tier
from relay.core.lifecycle import is_open_alert
from relay.core.render import display, names, span
from relay.core.state import Kind, Phase, Recipient, RecipientKind, Watch
from relay.core.types import MemberAlias
from relay.core.voice import Voice


class DrillState(StrEnum):
    RUNNING = "running"  # practice sent; answers are counted until the report
    DONE = "done"  # reported (or ended quietly by her real alert)


class AskedBy(StrEnum):
    MEMBER = "member"  # she sent DRILL: rate-limited
    ADMIN = "admin"  # `peer-relay drill`, or the rules' schedule


@dataclass(frozen=True, slots=True)
class Asked:
    """One person sent the practice alert: in which tier of her ladder, and when she answered."""

    alias: MemberAlias
    tier: int
    answered_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Drill:
    id: str
    member: MemberAlias
    batch: str  # drills started together (the admin's, the schedule's) report to the admin together
    asked_by: AskedBy
    started_at: datetime
    report_at: datetime | None
    asked: tuple[Asked, ...] = ()
    state: DrillState = DrillState.RUNNING
    cover: bool = False  # from her phone after her duress word: a reply only, nobody was asked

    def waiting_on(self, alias: str) -> bool:
        """Whether `alias` was sent this practice, has not answered, and it still counts."""
        return (
            self.state is DrillState.RUNNING
            and not self.cover
            and any(a.alias == alias and a.answered_at is None for a in self.asked)
        )

    def was_asked(self, alias: str) -> bool:
        return not self.cover and any(a.alias == alias for a in self.asked)


@dataclass(frozen=True, slots=True)
class DrillSettings:
    """What the rules say about drills (`relay.rules.model.DrillPolicy`, as plain values)."""

    tiers: tuple[int, ...] = (1,)
    report_after: timedelta = timedelta(minutes=10)
    min_interval: timedelta = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Outcome:
    drill: Drill | None = None  # to store (new or changed); None: nothing to store
    messages: tuple[Outgoing, ...] = ()


def practice_list(tiers: Sequence[Tier], wanted: Sequence[int], owner: str) -> tuple[Asked, ...]:
    """Who gets her practice alert: the members of the tiers the rules name (1 = the first),
    each once, never herself; never a group post or an outside contact."""
    asked: list[Asked] = []
    seen: set[str] = set()
    for number in sorted(set(wanted)):
        if not 1 <= number <= len(tiers):
            continue
        for recipient in tiers[number - 1].recipients:
            alias = recipient.address
            if recipient.kind is RecipientKind.MEMBER and alias != owner and alias not in seen:
                seen.add(alias)
                asked.append(Asked(MemberAlias(alias), number))
    return tuple(asked)


def _say(
    voice: Voice, to: str, purpose: Purpose, key: str, ref: str | None = None, **params: object
) -> Outgoing:
    return Outgoing(Recipient.member(MemberAlias(to)), voice.text(to, key, **params), purpose, ref)


def start(
    voice: Voice,
    settings: DrillSettings,
    member: MemberAlias,
    tiers: Sequence[Tier],
    now: datetime,
    new_id: str,
    batch: str,
    asked_by: AskedBy,
    last_own: datetime | None,
    her_watch: Watch | None,
) -> Outcome:
    """DRILL from her (`AskedBy.MEMBER`) or for her (`AskedBy.ADMIN`). `last_own`: when she last
    ran one herself (the rate limit); `her_watch`: her live watch, if any."""
    asked = practice_list(tiers, settings.tiers, member)
    report_at = now + settings.report_after
    reply = Purpose.REPLY if asked_by is AskedBy.MEMBER else Purpose.NOTICE
    started_key = "drill_started" if asked_by is AskedBy.MEMBER else "drill_started_by_admin"
    if her_watch is not None and is_open_alert(her_watch):
        if her_watch.kind is Kind.DURESS:
            if asked_by is AskedBy.ADMIN:
                return Outcome()  # nothing may reach her phone that it would not get anyway
            cover = Drill(new_id, member, batch, asked_by, now, report_at, asked, cover=True)
            if not asked:
                return Outcome(None, (_say(voice, member, reply, "drill_nobody"),))
            return Outcome(cover, (_started(voice, member, reply, started_key, cover, now),))
        if asked_by is AskedBy.MEMBER:
            return Outcome(None, (_say(voice, member, reply, "drill_alert_open"),))
        return Outcome()  # her real alert is what matters now: no practice, no report
    if asked_by is AskedBy.MEMBER and last_own is not None:
        allowed = last_own + settings.min_interval
        if now < allowed:
            at = voice.clock(member, last_own, now)
            nxt = voice.clock(member, allowed, now)
            return Outcome(None, (_say(voice, member, reply, "drill_too_soon", at=at, next=nxt),))
    drill = Drill(new_id, member, batch, asked_by, now, report_at, asked)
    if not asked:
        # The admin's drill still reports her gap to the admin; her own needs no record.
        kept = drill if asked_by is AskedBy.ADMIN else None
        return Outcome(kept, (_say(voice, member, reply, "drill_nobody"),))
    messages = [
        _say(voice, a.alias, Purpose.DRILL, "drill_alert", drill.id, who=display(member))
        for a in asked
    ]
    messages.append(_started(voice, member, reply, started_key, drill, now))
    return Outcome(drill, tuple(messages))


def _started(
    voice: Voice, member: MemberAlias, purpose: Purpose, key: str, drill: Drill, now: datetime
) -> Outgoing:
    who = names([a.alias for a in drill.asked], "")
    at = voice.clock(member, drill.report_at or now, now)
    return _say(voice, member, purpose, key, drill.id, names=who, at=at)


def answer(voice: Voice, drill: Drill, who: MemberAlias, now: datetime) -> Outcome:
    """`who` answered `drill`'s practice alert (ACK, a quote of it, a 👍 on it)."""
    if drill.state is not DrillState.RUNNING or not drill.was_asked(who):
        return Outcome(None, (_say(voice, who, Purpose.REPLY, "drill_over"),))
    asked = next(a for a in drill.asked if a.alias == who)
    if asked.answered_at is not None:
        took = span(asked.answered_at - drill.started_at)
        return Outcome(None, (_say(voice, who, Purpose.REPLY, "drill_answered_again", took=took),))
    changed = replace(
        drill,
        asked=tuple(replace(a, answered_at=now) if a.alias == who else a for a in drill.asked),
    )
    took = span(now - drill.started_at)
    reply = _say(voice, who, Purpose.REPLY, "drill_answered", who=display(drill.member), took=took)
    return Outcome(changed, (reply,))


def named(drills: Sequence[Drill], name: str | None) -> list[Drill]:
    """The drills an answer names (``ACK alice``); all she was asked in when it names none of
    theirs."""
    if name:
        chosen = [d for d in drills if d.member.lower() == name.strip().lower()]
        if chosen:
            return chosen
    return list(drills)


def practice_answered(
    *,
    pointing: bool,
    at_alert: bool,
    quoted_drill: str | None,
    asking: Sequence[Drill],
    real_to_answer: bool,
    name: str | None,
) -> list[str] | None:
    """Which practice drills a 1:1 answer (ACK, RESOLVED, a 👍, a quoting reply) answers — their
    ids — or None: it is not a practice answer, the core answers it.

    `pointing`: it quotes or reacts to a message; `at_alert`: that message was a real alert's;
    `quoted_drill`: the drill whose practice message it was, if one. Otherwise `asking` are the
    drills still waiting on her answer and `real_to_answer` whether she may answer a real alert:
    a real alert always wins a plain ACK."""
    if pointing:
        if at_alert or quoted_drill is None:
            return None  # a real alert's, or something else: the core decides
        return [quoted_drill]
    if not asking or real_to_answer:
        return None
    return [d.id for d in named(asking, name)]


def real_first(watches: Sequence[Watch], alias: str) -> Watch | None:
    """After a plain answer from someone a practice still waits on: the real alert it answered
    (she took it, or closed it), which she is told came first."""
    return next(
        (
            w
            for w in watches
            if w.member != alias and (w.acked_by == alias or w.phase is Phase.CLOSED)
        ),
        None,
    )


@dataclass(frozen=True, slots=True)
class Report:
    drill: Drill  # DONE
    messages: tuple[Outgoing, ...]  # her report (none when her real alert overtook the drill)
    gap: bool  # nobody answered: the admin hears of it (`admin_block`)


def report(
    voice: Voice,
    drill: Drill,
    reaches: Mapping[str, Reach],
    now: datetime,
    her_watch: Watch | None,
) -> Report:
    """The drill's time is up: her report, per person — on the phone or not, answered or not,
    how fast. `reaches`: what reached whose phone, by alias."""
    done = replace(drill, state=DrillState.DONE, report_at=None)
    if her_watch is not None and is_open_alert(her_watch) and her_watch.kind is not Kind.DURESS:
        return Report(done, (), False)  # her real alert won: a practice report is only noise
    seen = {} if drill.cover else reaches
    parts = [
        voice.text(
            drill.member, "drill_report_title", at=voice.clock(drill.member, drill.started_at, now)
        )
    ]
    parts += lines(voice, drill.member, drill, seen, now)
    parts.append(_summary(voice, drill.member, drill))
    message = Outgoing(Recipient.member(drill.member), "\n".join(parts), Purpose.NOTICE, drill.id)
    gap = not drill.cover and not any(a.answered_at for a in drill.asked)
    return Report(done, (message,), gap)


def lines(
    voice: Voice, to: str, drill: Drill, reaches: Mapping[str, Reach], now: datetime
) -> list[str]:
    """One line per person asked, for reader `to`."""
    out = []
    for asked in drill.asked:
        who = display(asked.alias)
        reach = reaches.get(asked.alias)
        on = reach.on_phone if reach is not None else None
        if asked.answered_at is not None:
            took = span(asked.answered_at - drill.started_at)
            if on is not None:
                at = voice.clock(to, on, now)
                out.append(voice.text(to, "drill_line_answered", who=who, took=took, at=at))
            else:
                out.append(voice.text(to, "drill_line_answered_no_receipt", who=who, took=took))
        elif reach is not None and on is not None and reach.read_at is not None:
            at, read = voice.clock(to, on, now), voice.clock(to, reach.read_at, now)
            out.append(voice.text(to, "drill_line_read", who=who, at=at, read=read))
        elif on is not None:
            out.append(voice.text(to, "drill_line_on_phone", who=who, at=voice.clock(to, on, now)))
        elif reach is not None:
            sent = voice.clock(to, reach.sent_at, now)
            out.append(voice.text(to, "drill_line_not_on_phone", who=who, sent=sent))
        else:
            out.append(voice.text(to, "drill_line_not_sent", who=who))
    return out


def _summary(voice: Voice, to: str, drill: Drill) -> str:
    asked = len(drill.asked)
    answered = sum(1 for a in drill.asked if a.answered_at is not None)
    if asked == 0:
        return voice.text(to, "drill_summary_nobody")
    if answered == 0:
        return voice.text(to, "drill_summary_none")
    if answered == asked:
        return voice.text(to, "drill_summary_all", count=asked)
    return voice.text(to, "drill_summary_some", answered=answered, asked=asked)


def admin_report(
    voice: Voice,
    admin: MemberAlias,
    gaps: Sequence[tuple[Drill, Mapping[str, Reach]]],
    now: datetime,
) -> Outgoing | None:
    """One message to the admin for drills that ended together with a gap (nobody answered):
    for each such member, the same lines she got."""
    if not gaps:
        return None
    parts = [voice.text(admin, "drill_admin_title", count=len(gaps))]
    for drill, reaches in gaps:
        parts.append(voice.text(admin, "drill_admin_member", who=display(drill.member)))
        parts += lines(voice, admin, drill, reaches, now) or [
            voice.text(admin, "drill_admin_nobody")
        ]
    return Outgoing(Recipient.member(admin), "\n".join(parts), Purpose.NOTICE)
