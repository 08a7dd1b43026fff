"""FORGET: a member deletes what the relay stores about her, and is told what went.

``FORGET`` alone only asks (and says what would go). ``FORGET YES`` — any of her language's
confirmation words — within `CONFIRM_WITHIN` of that question deletes, in the same transaction
as the reply that lists what was deleted:

- her check-ins, alerts and drafts, with their notes, places, client details and photos;
- the messages the relay sent her, and the sent messages about her check-ins (alerts to her
  buddies); her replies still waiting to go out;
- her pending reports; her shared reports stay as the collective's warnings but lose every link
  to her (`relay.reports`);
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
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Final

import aiosqlite

from relay.core import intents
from relay.core.decide import Context, Decision, Outgoing, Purpose, forwarded
from relay.core.state import Kind, Recipient, Watch
from relay.core.types import MemberAlias
from relay.crypto.seal import Sealer, TamperedError, aad_for
from relay.features import FeatureContext, FeatureResult, Write
from relay.policy import RulesPolicy
from relay.retention import vault_keys_in_use
from relay.rules import Member
from relay.signal.events import Incoming
from relay.store.db import Database
from relay.store.incident_log import LogRepo
from relay.store.outbox import drop_refs
from relay.store.reports import ReportRepo
from relay.store.watches import WatchRepo

log = logging.getLogger(__name__)

CONFIRM_WITHIN: Final = timedelta(minutes=10)

OUTBOX_RECIPIENT_PURPOSE: Final = "outbox-recipient"
"""The lookup purpose `relay.store.outbox.OutboxRepo` tags recipients with."""

_CHUNK: Final = 500


@dataclass
class _Plan:
    """What FORGET will delete, found before the reply is written so the reply can count it."""

    watches: list[str] = field(default_factory=list)
    messages: list[int] = field(default_factory=list)
    photos: set[str] = field(default_factory=set)  # vault keys she sent (watches, reports, log)
    borrowed: set[str] = field(default_factory=set)  # vault keys on the messages (exports …)
    pending_reports: int = 0
    shared_reports: int = 0
    log_entries: int = 0


class ForgetFeature:
    """Claims `intents.Forget`. One per relay (it remembers who was asked)."""

    claims: tuple[type, ...] = (intents.Forget,)

    def __init__(self, confirm_within: timedelta = CONFIRM_WITHIN) -> None:
        self.confirm_within = confirm_within
        self.asked: dict[MemberAlias, datetime] = {}

    async def handle(
        self,
        ctx: FeatureContext,
        member: Member,
        intent: intents.Intent,
        event: Incoming,
        now: datetime,
    ) -> FeatureResult:
        alias = member.alias
        me = Recipient.member(alias)

        def reply(*parts: str) -> FeatureResult:
            text = "\n".join(parts)
            return FeatureResult(Decision(messages=(Outgoing(me, text, Purpose.REPLY),)))

        def say(key: str, **params: object) -> str:
            return ctx.catalog.text(member.language, key, **params)

        own = await WatchRepo(ctx.db, ctx.sealer).live_for(alias)
        if own is not None and own.kind is Kind.DURESS and own.live:
            return await self._under_duress(ctx, member, intent, event, now, own)
        if own is not None and own.live:
            self.asked.pop(alias, None)
            log.info("FORGET refused while a check-in or alert is live")
            return reply(say("forget_live"))
        asked_at = self.asked.get(alias)
        confirmed = isinstance(intent, intents.Forget) and intent.confirmed
        if not confirmed or asked_at is None or now - asked_at > self.confirm_within:
            self.asked[alias] = now
            minutes = round(self.confirm_within.total_seconds() / 60)
            return reply(say("forget_ask", minutes=minutes))
        del self.asked[alias]
        try:
            plan = await _plan(ctx, member)
        except TamperedError as exc:
            log.warning("FORGET stopped: %s did not open", exc.where)
            return reply(say("forget_failed"))
        log.info(
            # Whose data went is hers to know: no alias in the journal.
            "FORGET: %d watch(es), %d message(s), %d photo(s), %d report(s), %d log entr(ies)",
            len(plan.watches),
            len(plan.messages),
            len(plan.photos),
            plan.pending_reports + plan.shared_reports,
            plan.log_entries,
        )
        return FeatureResult(
            Decision(messages=(Outgoing(me, _done_text(ctx, member, plan), Purpose.REPLY),)),
            write=_eraser(ctx, alias, plan, now),
            after=partial(_empty_the_log, ctx.db),
        )

    async def _under_duress(
        self,
        ctx: FeatureContext,
        member: Member,
        intent: intents.Intent,
        event: Incoming,
        now: datetime,
        own: Watch,
    ) -> FeatureResult:
        """After the duress word her phone sees what it would see had she really checked out,
        and nothing is deleted: the open alert, and her log, may be all her buddies have. Those
        alerted hear what her phone sent."""
        alias = member.alias
        cover = own.cover_until is not None and own.cover_until > now
        asked_at = self.asked.get(alias)
        confirmed = isinstance(intent, intents.Forget) and intent.confirmed
        if cover:
            self.asked.pop(alias, None)
            text = ctx.catalog.text(member.language, "forget_live")
        elif not confirmed or asked_at is None or now - asked_at > self.confirm_within:
            self.asked[alias] = now
            minutes = round(self.confirm_within.total_seconds() / 60)
            text = ctx.catalog.text(member.language, "forget_ask", minutes=minutes)
        else:
            del self.asked[alias]
            text = _done_text(ctx, member, await _plan(ctx, member))
        context = Context(RulesPolicy(ctx.rules, ctx.timezone), ctx.catalog, ctx.timezone)
        forward = forwarded(context, own, event.text, now)
        me = Recipient.member(alias)
        return FeatureResult(Decision(messages=(Outgoing(me, text, Purpose.REPLY), *forward)))


async def _empty_the_log(db: Database) -> None:
    """After her rows are committed gone: the WAL's old pages of them go too, now."""
    if not await db.checkpoint():
        # Another connection (`peer-relay status`, a backup) was reading; the sender empties
        # the log `outbox.wipe_after` after her reply goes.
        log.warning("FORGET: the write-ahead log was in use; it is emptied shortly")


def _done_text(ctx: FeatureContext, member: Member, plan: _Plan) -> str:
    def say(key: str, **params: object) -> str:
        return ctx.catalog.text(member.language, key, **params)

    counted = [
        ("forget_count_checkins", len(plan.watches)),
        ("forget_count_messages", len(plan.messages)),
        ("forget_count_photos", len(plan.photos)),
        ("forget_count_reports", plan.pending_reports),
        ("forget_count_log", plan.log_entries),
    ]
    deleted = ", ".join(say(key, count=count) for key, count in counted if count)
    lines = [say("forget_done", deleted=deleted or say("forget_count_none"))]
    if plan.shared_reports:
        lines.append(say("forget_shared_reports", count=plan.shared_reports))
    lines.append(say("forget_what_stays"))
    return "\n".join(lines)


async def _plan(ctx: FeatureContext, member: Member) -> _Plan:
    """Everything FORGET deletes for her. Raises `TamperedError` if a row of hers does not open."""
    plan = _Plan()
    conn = ctx.db.conn
    sealer = ctx.sealer
    watches = WatchRepo(ctx.db, sealer)
    # Her draft by its tag; closed watches carry random tags (relay.store.watches), so each is
    # opened to see whose it is. Retention keeps few: hours of check-ins, weeks of alerts.
    tag = watches.member_tag(member.alias)
    async with conn.execute(
        "SELECT id, member_tag, detail FROM watches WHERE member_tag = ? OR phase = 'closed'",
        (tag,),
    ) as cursor:
        for row in await cursor.fetchall():
            aad = aad_for("watches", "detail", row["id"])
            try:
                detail = sealer.open_json(row["detail"], aad=aad)
            except TamperedError:
                if row["member_tag"] == tag:
                    raise  # hers, and unreadable: stop and say so (forget_failed)
                log.warning("FORGET: a closed watch did not open; left to retention")
                continue
            if not isinstance(detail, dict) or detail.get("member") != member.alias:
                continue
            plan.watches.append(str(row["id"]))
            listed = detail.get("photos")
            if isinstance(listed, list):
                plan.photos.update(k for k in listed if isinstance(k, str))
    plan.messages, plan.borrowed = await _messages(conn, sealer, member.number, plan.watches)

    for number, status, _, _ in await ReportRepo(ctx.db, sealer).authored(conn, member.alias):
        if status != "pending":
            plan.shared_reports += 1
            continue
        plan.pending_reports += 1
        async with conn.execute(
            "SELECT vault_key FROM report_photos WHERE number = ?", (number,)
        ) as cursor:
            plan.photos.update(str(row[0]) for row in await cursor.fetchall())

    entries = await LogRepo(ctx.db, sealer).entries(member.alias)
    plan.log_entries = len(entries)
    plan.photos.update(photo.key for entry in entries for photo in entry.photos)
    return plan


async def _messages(
    conn: aiosqlite.Connection, sealer: Sealer, number: str, watch_ids: Sequence[str]
) -> tuple[list[int], set[str]]:
    """Outbox rows FORGET deletes: every sent one to her or about her check-ins; unsent ones to
    her that are hers (replies, news of her own check-ins). Returns ids and their vault keys."""
    recipient_tag = sealer.lookup(number, purpose=OUTBOX_RECIPIENT_PURPOSE)
    ids: set[int] = set()
    keys: set[str] = set()
    mine = set(watch_ids)
    async with conn.execute(
        "SELECT id, row_key, watch_id, sent_at, purpose, attachments, recipient FROM outbox "
        "WHERE recipient_tag = ?",
        (recipient_tag,),
    ) as cursor:
        rows = list(await cursor.fetchall())
    for start in range(0, len(watch_ids), _CHUNK):
        chunk = list(watch_ids[start : start + _CHUNK])
        marks = ",".join("?" * len(chunk))
        async with conn.execute(
            "SELECT id, row_key, watch_id, sent_at, purpose, attachments, recipient FROM outbox "  # noqa: S608 — placeholders only
            f"WHERE sent_at IS NOT NULL AND watch_id IN ({marks})",
            chunk,
        ) as cursor:
            rows += await cursor.fetchall()
    for row in rows:
        watch_id = row["watch_id"]  # rows written before migration 006; later ones seal it
        if watch_id is None and row["sent_at"] is None and row["purpose"] != "reply":
            aad = aad_for("outbox", "recipient", row["row_key"])
            payload = sealer.open_json(row["recipient"], aad=aad)
            watch_id = payload.get("watch") if isinstance(payload, dict) else None
        if row["sent_at"] is None and row["purpose"] != "reply" and watch_id not in mine:
            # On its way to her and not about her: an alert she is a buddy on, a notice for the
            # admin about someone's alert. Someone's safety depends on it arriving.
            continue
        ids.add(int(row["id"]))
        if row["attachments"] is not None:
            aad = aad_for("outbox", "attachments", row["row_key"])
            listed = sealer.open_json(row["attachments"], aad=aad)
            if isinstance(listed, list):
                keys.update(k for k in listed if isinstance(k, str))
    return sorted(ids), keys


def _eraser(ctx: FeatureContext, alias: MemberAlias, plan: _Plan, now: datetime) -> Write:
    """The deletion, run in the transaction that also queues her reply.

    Vault files go inside it, after the rows: if the commit then failed, she would be told
    nothing, send FORGET again, and the rows would go then.
    """

    async def erase(conn: aiosqlite.Connection) -> None:
        for table, column, ids in (
            ("watches", "id", list(plan.watches)),
            ("outbox", "id", list(plan.messages)),
        ):
            for start in range(0, len(ids), _CHUNK):
                chunk = ids[start : start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                await conn.execute(f"DELETE FROM {table} WHERE {column} IN ({marks})", chunk)  # noqa: S608 — fixed names, placeholders
        mine = set(plan.watches)
        await drop_refs(conn, ctx.sealer, lambda watch_id: watch_id not in mine)
        photos = set(plan.photos)
        photos.update(await ReportRepo(ctx.db, ctx.sealer).forget_author(conn, alias, now))
        photos.update(await LogRepo(ctx.db, ctx.sealer).forget(conn, alias))
        if ctx.vault is None:
            return
        # Her own photos go whatever else still names them (she asked). Files the deleted
        # messages carried (export copies, photos borrowed from elsewhere) go unless a remaining
        # row names them; if some row does not open, they stay.
        in_use = await vault_keys_in_use(conn, ctx.sealer)
        borrowed = plan.borrowed - in_use if in_use is not None else set()
        for key in sorted(photos | borrowed):
            ctx.vault.forget(key)

    return erase
