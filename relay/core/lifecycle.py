"""The alert lifecycle as data: every phase a watch can be in, every event, and the table of allowed
transitions for each kind of watch. Everything that changes a watch's kind or phase goes through
`step` (or `moved`); an event the table does not allow is an `IllegalTransition`, never a silent
no-op.

The machine, one edge per line (a test checks this drawing against `TABLE`; ``*`` means "the same
phase"):

    checkin: draft   --keep-->      draft
    checkin: draft   --start-->     active
    checkin: draft   --sos-->       sos: alerted
    checkin: draft   --duress-->    duress: alerted
    checkin: draft   --mark-->      draft
    checkin: active  --keep-->      active
    checkin: active  --restart-->   active
    checkin: active  --extend-->    active
    checkin: active  --remind-->    active
    checkin: active  --due-->       due
    checkin: active  --alert-->     alerted
    checkin: active  --out-->       closed
    checkin: active  --out_secret-->closed
    checkin: active  --sos-->       sos: alerted
    checkin: active  --duress-->    duress: alerted
    checkin: active  --mark-->      active
    checkin: due     --keep-->      due
    checkin: due     --restart-->   active
    checkin: due     --extend-->    active
    checkin: due     --alert-->     alerted
    checkin: due     --out-->       closed
    checkin: due     --out_secret-->closed
    checkin: due     --sos-->       sos: alerted
    checkin: due     --duress-->    duress: alerted
    checkin: due     --mark-->      due
    checkin: alerted --keep-->      alerted
    checkin: alerted --escalate-->  alerted
    checkin: alerted --undeliverable--> alerted
    checkin: alerted --ack-->       acked
    checkin: alerted --out-->       closed
    checkin: alerted --out_secret-->closed
    checkin: alerted --resolve-->   closed
    checkin: alerted --sos-->       sos: alerted
    checkin: alerted --duress-->    duress: alerted
    checkin: alerted --mark-->      alerted
    checkin: acked   --keep-->      acked
    checkin: acked   --out-->       closed
    checkin: acked   --out_secret-->closed
    checkin: acked   --resolve-->   closed
    checkin: acked   --sos-->       sos: acked
    checkin: acked   --duress-->    duress: acked
    checkin: acked   --mark-->      acked
    sos:     alerted --keep-->      alerted
    sos:     alerted --escalate-->  alerted
    sos:     alerted --undeliverable--> alerted
    sos:     alerted --ack-->       acked
    sos:     alerted --out-->       closed
    sos:     alerted --out_secret-->closed
    sos:     alerted --resolve-->   closed
    sos:     alerted --sos-->       sos: alerted
    sos:     alerted --duress-->    duress: alerted
    sos:     alerted --mark-->      alerted
    sos:     acked   --keep-->      acked
    sos:     acked   --out-->       closed
    sos:     acked   --out_secret-->closed
    sos:     acked   --resolve-->   closed
    sos:     acked   --sos-->       sos: acked
    sos:     acked   --duress-->    duress: acked
    sos:     acked   --mark-->      acked
    duress:  alerted --keep-->      alerted
    duress:  alerted --escalate-->  alerted
    duress:  alerted --undeliverable--> alerted
    duress:  alerted --cover-->     alerted
    duress:  alerted --ack-->       acked
    duress:  alerted --out_secret-->closed
    duress:  alerted --resolve-->   closed
    duress:  alerted --sos-->       duress: alerted
    duress:  alerted --duress-->    duress: alerted
    duress:  alerted --mark-->      alerted
    duress:  acked   --keep-->      acked
    duress:  acked   --cover-->     acked
    duress:  acked   --out_secret-->closed
    duress:  acked   --resolve-->   closed
    duress:  acked   --sos-->       duress: acked
    duress:  acked   --duress-->    duress: acked
    duress:  acked   --mark-->      acked

What the table holds by construction:

- **A duress alert is sticky.** No edge leaves it from her phone except ``out_secret`` (``OUT``
  with her check-in secret, where she has one); a plain ``out`` is not an edge of a duress alert
  at all. ``resolve`` (someone who was alerted, or the admin) closes it. Her phone's ``IN``,
  ``EXTEND`` and ``OUT`` after the duress word only move her *cover* (``cover``): what her screen
  shows, nothing more.
- **An SOS or duress never starts twice.** ``sos`` and ``duress`` on an open alert keep its phase
  and its history (who was alerted, who is on it): the alert grows, it does not begin again.
- **Duress outranks SOS.** An SOS on a duress alert stays duress (her phone stays silent).
- **Only the timer alerts and escalates** (``remind``, ``due``, ``alert``, ``escalate``), and
  only the send path's news that someone is unreachable (``undeliverable``) moves the ladder
  early.
- **Closed is final.** No edge leaves ``closed``.
"""

from __future__ import annotations

from enum import StrEnum

from relay.core.state import Kind, Phase, Watch


class Event(StrEnum):
    KEEP = "keep"  # a location, client details or photos added (her draft or her open watch)
    START = "start"  # IN with nothing running
    RESTART = "restart"  # IN while a check-in runs: a new end time
    EXTEND = "extend"  # +30 / EXTEND
    REMIND = "remind"  # the timer: reminder before the deadline
    DUE = "due"  # the timer: the deadline passed; "are you OK?"
    ALERT = "alert"  # the timer: grace is over, tier 1 is alerted
    ESCALATE = "escalate"  # the timer: the next tier, or a repeat
    UNDELIVERABLE = "undeliverable"  # a recipient cannot be reached: the next tier now
    ACK = "ack"  # someone alerted (or the admin) is on it
    OUT = "out"  # a plain OUT from a member with no check-in secret
    OUT_SECRET = "out_secret"  # noqa: S105 — an event's name, not a secret: OUT with her secret
    RESOLVE = "resolve"  # someone alerted (or the admin) closes it
    SOS = "sos"  # SOS (or a codeword, or a cry for help)
    DURESS = "duress"  # her duress word, or OUT without her secret where she has one
    COVER = "cover"  # her phone's IN / EXTEND / OUT after the duress word: her screen only
    MARK = "mark"  # one of her messages was deleted or edited (recorded, never obeyed)


class IllegalTransition(RuntimeError):
    """An event the lifecycle table does not allow for the watch's kind and phase."""

    def __init__(self, kind: Kind, phase: Phase, event: Event) -> None:
        super().__init__(f"{event} is not allowed on a {kind} watch in phase {phase}")
        self.kind, self.phase, self.event = kind, phase, event


_C, _S, _D = Kind.CHECKIN, Kind.SOS, Kind.DURESS
_DRAFT, _ACTIVE, _DUE = Phase.DRAFT, Phase.ACTIVE, Phase.DUE
_ALERTED, _ACKED, _CLOSED = Phase.ALERTED, Phase.ACKED, Phase.CLOSED
E = Event


def _same(kind: Kind, phases: tuple[Phase, ...], *events: Event) -> dict[Key, Target]:
    return {(kind, p, e): (kind, p) for p in phases for e in events}


def _to(kind: Kind, phases: tuple[Phase, ...], event: Event, target: Target) -> dict[Key, Target]:
    return {(kind, p, event): target for p in phases}


Key = tuple[Kind, Phase, Event]
Target = tuple[Kind, Phase]

_OPEN = (_ALERTED, _ACKED)  # an alert that went out and is not closed

TABLE: dict[Key, Target] = {
    # A check-in: her draft, the date, the deadline, the alert.
    **_same(_C, (_DRAFT, _ACTIVE, _DUE, _ALERTED, _ACKED), E.KEEP, E.MARK),
    (_C, _DRAFT, E.START): (_C, _ACTIVE),
    **_to(_C, (_ACTIVE, _DUE), E.RESTART, (_C, _ACTIVE)),
    **_to(_C, (_ACTIVE, _DUE), E.EXTEND, (_C, _ACTIVE)),
    (_C, _ACTIVE, E.REMIND): (_C, _ACTIVE),
    (_C, _ACTIVE, E.DUE): (_C, _DUE),
    **_to(_C, (_ACTIVE, _DUE), E.ALERT, (_C, _ALERTED)),
    **_same(_C, (_ALERTED,), E.ESCALATE, E.UNDELIVERABLE),
    (_C, _ALERTED, E.ACK): (_C, _ACKED),
    **_to(_C, (_ACTIVE, _DUE, *_OPEN), E.OUT, (_C, _CLOSED)),
    **_to(_C, (_ACTIVE, _DUE, *_OPEN), E.OUT_SECRET, (_C, _CLOSED)),
    **_to(_C, _OPEN, E.RESOLVE, (_C, _CLOSED)),
    **_to(_C, (_DRAFT, _ACTIVE, _DUE, _ALERTED), E.SOS, (_S, _ALERTED)),
    (_C, _ACKED, E.SOS): (_S, _ACKED),
    **_to(_C, (_DRAFT, _ACTIVE, _DUE, _ALERTED), E.DURESS, (_D, _ALERTED)),
    (_C, _ACKED, E.DURESS): (_D, _ACKED),
    # An SOS: alerted at once; she may still end it with OUT (a false alarm costs one OUT).
    **_same(_S, _OPEN, E.KEEP, E.MARK, E.SOS),
    **_same(_S, (_ALERTED,), E.ESCALATE, E.UNDELIVERABLE),
    (_S, _ALERTED, E.ACK): (_S, _ACKED),
    **_to(_S, _OPEN, E.OUT, (_S, _CLOSED)),
    **_to(_S, _OPEN, E.OUT_SECRET, (_S, _CLOSED)),
    **_to(_S, _OPEN, E.RESOLVE, (_S, _CLOSED)),
    (_S, _ALERTED, E.DURESS): (_D, _ALERTED),
    (_S, _ACKED, E.DURESS): (_D, _ACKED),
    # Duress: silent and sticky. Nothing from her phone ends it but OUT with her secret.
    **_same(_D, _OPEN, E.KEEP, E.MARK, E.SOS, E.DURESS, E.COVER),
    **_same(_D, (_ALERTED,), E.ESCALATE, E.UNDELIVERABLE),
    (_D, _ALERTED, E.ACK): (_D, _ACKED),
    **_to(_D, _OPEN, E.OUT_SECRET, (_D, _CLOSED)),
    **_to(_D, _OPEN, E.RESOLVE, (_D, _CLOSED)),
}


def allowed(kind: Kind, phase: Phase, event: Event) -> bool:
    return (kind, phase, event) in TABLE


def step(kind: Kind, phase: Phase, event: Event) -> Target:
    """The kind and phase `event` leads to; `IllegalTransition` if the table has no such edge."""
    found = TABLE.get((kind, phase, event))
    if found is None:
        raise IllegalTransition(kind, phase, event)
    return found


def moved(watch: Watch, event: Event, **changes: object) -> Watch:
    """`watch` after `event`: its kind and phase from the table, with `changes` to other fields."""
    kind, phase = step(watch.kind, watch.phase, event)
    if "kind" in changes or "phase" in changes:
        raise TypeError("kind and phase come from the lifecycle table, not from the caller")
    if kind is watch.kind and phase is watch.phase and not changes:
        return watch
    return watch.evolve(kind=kind, phase=phase, **changes)


def is_open_alert(watch: Watch) -> bool:
    """An alert that went out and is not closed: the only thing ACK and RESOLVED may act on."""
    return watch.phase in _OPEN
