"""FORGET: a member deletes what the relay stores about her, and is told what went.

``FORGET`` alone only asks (and says what would go). ``FORGET YES`` — any of her language's
confirmation words — within `CONFIRM_WITHIN` of that question deletes, in the same transaction
as the reply that lists what was deleted:

- her check-ins, alerts and drafts, with their notes, places, client details and photos;
- the messages the relay sent her, and the sent messages about her check-ins (alerts to her
  buddies); her replies still waiting to go out;
- her pending reports; her shared reports stay as the collective's warnings but lose every link
  to her (`relay.features.reports`);
- her incident log, with its photos.

Then at once, not at the next retention pass: the WAL is checkpointed and truncated. With
``secure_delete`` on (`relay.store.db`) the deleted rows' cells and freed pages were overwritten
with zeros; the checkpoint writes those zeroed pages over the old ones in the main file and empties
the WAL, whose older frames still held her sealed values byte for byte. Her vault files were
unlinked in the transaction.

What stays: her membership (the rules are the admin's); messages still waiting to reach others
(an alert she is a buddy on, an all-clear about her: someone's safety depends on them); the
reports' who-less moderation record; de-duplication tags (keyed HMACs, gone within two days).

After her duress word FORGET deletes nothing either, but her phone is answered as if she had
really checked out (and those alerted hear what it sent). While she has a live check-in or alert
FORGET deletes nothing and says why: an alert must never
be dropped silently, and whoever holds her phone must not be able to make it vanish.

The question is remembered in memory only: after a restart she is simply asked again.

`decide` is pure (tested with plain values); `ForgetFeature.handle` reads her live watch and, when
the answer counts what goes, her rows (`relay.store.erasure.find`), in the database thread, and
returns the answer with the deletion (`relay.store.erasure.erase`) as its writes.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from functools import partial
from typing import TYPE_CHECKING, Final

from relay.core import intents
from relay.core.decide import Context, Decision, Outgoing, Purpose, forwarded
from relay.core.state import Kind, Recipient, Watch
from relay.core.types import MemberAlias
from relay.crypto.seal import TamperedError
from relay.features.base import Handled, Scope, Writes
from relay.rules import Member
from relay.rules.core_policy import RulesPolicy
from relay.signal.events import Incoming
from relay.store import erasure
from relay.store.db import Database
from relay.store.watches import WatchRepo

if TYPE_CHECKING:
    from relay.runtime.vault import AttachmentVault

log = logging.getLogger(__name__)

CONFIRM_WITHIN: Final = timedelta(minutes=10)

Say = Callable[..., str]
"""Her language's text for a catalog key: ``say(key, **params)``."""


class Step(Enum):
    """What FORGET does with this message."""

    ASK = "ask"  # ask her to confirm (nothing deleted)
    LIVE = "live"  # refuse: a check-in or alert of hers is live
    ERASE = "erase"  # she confirmed in time: delete and say what went
    COVER = "cover"  # after her duress word: answer as after a real OUT, delete nothing


def step(
    own: Watch | None,
    confirmed: bool,
    asked_at: datetime | None,
    now: datetime,
    within: timedelta = CONFIRM_WITHIN,
) -> Step:
    """Which answer FORGET gives (pure). Under duress `COVER` stands in for `ERASE`: her phone
    is told what went, and nothing goes."""
    duress = own is not None and own.kind is Kind.DURESS and own.live
    if own is not None and own.live:
        covered = own.cover_until is not None and own.cover_until > now
        if not duress or covered:
            return Step.LIVE
    if not confirmed or asked_at is None or now - asked_at > within:
        return Step.ASK
    return Step.COVER if duress else Step.ERASE


@dataclass(frozen=True)
class Answer:
    """What FORGET decided: the messages, and when she was asked (None: no question open)."""

    decision: Decision
    asked_at: datetime | None


def decide(
    say: Say,
    me: Recipient,
    chosen: Step,
    found: erasure.Hers | None,
    now: datetime,
    forward: tuple[Outgoing, ...] = (),
    within: timedelta = CONFIRM_WITHIN,
) -> Answer:
    """Her answer for `chosen` (pure). `found`: what `erasure.find` found (ERASE and COVER),
    None if a row of hers did not open. `forward`: what her phone sent, to those alerted, after
    her duress word."""
    asked_at: datetime | None = None
    if chosen is Step.ASK:
        asked_at = now
        text = say("forget_ask", minutes=round(within.total_seconds() / 60))
    elif chosen is Step.LIVE:
        text = say("forget_live")
    elif found is None:
        text = say("forget_failed")
    else:
        text = done_text(say, found)
    return Answer(Decision(messages=(Outgoing(me, text, Purpose.REPLY), *forward)), asked_at)


def done_text(say: Say, hers: erasure.Hers) -> str:
    """What went, counted (pure)."""
    counted = [
        ("forget_count_checkins", len(hers.watches)),
        ("forget_count_messages", len(hers.messages)),
        ("forget_count_photos", len(hers.photos)),
        ("forget_count_reports", hers.pending_reports),
        ("forget_count_log", hers.log_entries),
    ]
    deleted = ", ".join(say(key, count=count) for key, count in counted if count)
    lines = [say("forget_done", deleted=deleted or say("forget_count_none"))]
    if hers.shared_reports:
        lines.append(say("forget_shared_reports", count=hers.shared_reports))
    lines.append(say("forget_what_stays"))
    return "\n".join(lines)


class ForgetFeature:
    """Claims `intents.Forget`. One per relay (it remembers who was asked)."""

    claims: tuple[type, ...] = (intents.Forget,)

    def __init__(
        self,
        db: Database,
        vault: AttachmentVault | None,
        confirm_within: timedelta = CONFIRM_WITHIN,
    ) -> None:
        self.db = db  # for the checkpoint once her rows are committed gone
        self.vault = vault
        self.confirm_within = confirm_within
        # Only `handle` touches it, one message at a time, in the database thread.
        self.asked: dict[MemberAlias, datetime] = {}

    async def enrich(self, member: Member, intent: intents.Intent, event: Incoming) -> object:
        """What her phone sent: after her duress word, those alerted see it."""
        return event.text

    def handle(
        self,
        conn: sqlite3.Connection,
        scope: Scope,
        member: Member,
        intent: intents.Intent,
        enriched: object,
        now: datetime,
    ) -> Handled:
        alias = member.alias
        watches = WatchRepo(self.db, scope.sealer)
        mine = watches.opened_here(conn, watches.live_rows(conn, alias))
        own = mine[0] if mine else None
        confirmed = isinstance(intent, intents.Forget) and intent.confirmed
        chosen = step(own, confirmed, self.asked.get(alias), now, self.confirm_within)
        found: erasure.Hers | None = None
        if chosen in (Step.ERASE, Step.COVER):
            try:
                found = erasure.find(conn, scope.sealer, alias, member.number)
            except TamperedError as exc:
                if chosen is Step.ERASE:  # under duress, nothing that tells her phone apart
                    log.warning("FORGET stopped: %s did not open", exc.where)
        forward = self._forward(scope, own, enriched, now) if own is not None else ()
        answer = decide(
            partial(scope.catalog.text, member.language),
            Recipient.member(alias),
            chosen,
            found,
            now,
            forward,
            self.confirm_within,
        )
        if answer.asked_at is None:
            self.asked.pop(alias, None)
        else:
            self.asked[alias] = answer.asked_at
        if chosen is Step.LIVE and (own is None or own.kind is not Kind.DURESS):
            log.info("FORGET refused while a check-in or alert is live")
        if chosen is not Step.ERASE or found is None:
            return Handled(answer.decision)
        log.info(
            # Whose data went is hers to know: no alias in the journal.
            "FORGET: %d watch(es), %d message(s), %d photo(s), %d report(s), %d log entr(ies)",
            len(found.watches),
            len(found.messages),
            len(found.photos),
            found.pending_reports + found.shared_reports,
            found.log_entries,
        )
        return Handled(
            answer.decision,
            writes=self._eraser(scope, alias, found, now),
            after=partial(_empty_the_log, self.db),
        )

    def _forward(
        self, scope: Scope, own: Watch, said: object, now: datetime
    ) -> tuple[Outgoing, ...]:
        """After her duress word, what her phone sent goes to those alerted."""
        if own.kind is not Kind.DURESS or not own.live:
            return ()
        context = Context(RulesPolicy(scope.rules, scope.timezone), scope.catalog, scope.timezone)
        return forwarded(context, own, said if isinstance(said, str) else None, now)

    def _eraser(
        self, scope: Scope, alias: MemberAlias, found: erasure.Hers, now: datetime
    ) -> Writes:
        """The deletion, run in the transaction that also queues her reply.

        Vault files go inside it, after the rows, not after the commit: a crash in between
        would leave her sealed files on the disk, named by nothing, for good. If this message's
        part of the batch (or the batch's commit) then failed, she is told nothing, sends FORGET
        again, and the rows go then; what they named is gone already, as she asked.
        """

        def erase(conn: sqlite3.Connection) -> None:
            files = erasure.erase(conn, scope.sealer, alias, found, now)
            if self.vault is not None:
                for key in sorted(files):
                    self.vault.forget(key)

        return erase


async def _empty_the_log(db: Database) -> None:
    """After her rows are committed gone: the WAL's old pages of them go too, now."""
    if not await db.checkpoint():
        # Another connection (`peer-relay status`, a backup) was reading; the sender empties
        # the log `outbox.wipe_after` after her reply goes.
        log.warning("FORGET: the write-ahead log was in use; it is emptied shortly")
