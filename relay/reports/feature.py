"""REPORT, CHECK, APPROVE, REJECT and WITHDRAW: bad-client warnings from report to broadcast.

A report is stored sealed with its screening keys; per the rules it goes to the moderators for
review (without the reporter's name) or straight to the members. An approved warning goes to the
audience the rules name (`relay.reports.audience`) in each reader's language, never saying who
sent it. REJECT on a shared warning removes it, and the audience is told to disregard it; so is
the author's WITHDRAW. Every step is recorded without saying who took it.

Answers go out in the same transaction that stores the change (see `relay.features`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import aiosqlite

from relay.core import intents
from relay.core.decide import Decision, Outgoing, Purpose
from relay.core.identifiers import extract_identifiers
from relay.core.normalize import clean, strip_ends
from relay.core.state import Recipient
from relay.core.types import Language, MemberAlias
from relay.features import FeatureContext, FeatureResult, Write
from relay.reports.audience import Audience, audience
from relay.reports.matching import query_identifiers, region_of
from relay.reports.render import day, in_languages, severity_label, shown
from relay.reports.screening import find, render_check
from relay.reports.severity import severity_answer, severity_of
from relay.reports.store import Action, NewReport, ReportRepo, StoredReport, delete
from relay.rules import Member
from relay.signal.events import Incoming

log = logging.getLogger(__name__)

Part = tuple[str, dict[str, object]]


def _p(key: str, **params: object) -> Part:
    return key, params


@dataclass
class _Flow:
    """One member message being answered: who, when, and the messages built so far."""

    ctx: FeatureContext
    member: Member
    now: datetime
    repo: ReportRepo
    messages: list[Outgoing] = field(default_factory=list)

    @property
    def alias(self) -> MemberAlias:
        return self.member.alias

    def language(self, alias: str) -> Language:
        member = self.ctx.rules.member(alias)
        return member.language if member is not None else Language("en")

    def zone(self, alias: str) -> str:
        member = self.ctx.rules.member(alias)
        return (member.timezone if member is not None else None) or self.ctx.timezone

    def text(self, language: str, *parts: Part) -> str:
        return "\n".join(self.ctx.catalog.text(language, key, **params) for key, params in parts)

    def tell(
        self,
        alias: str,
        *parts: Part,
        purpose: Purpose = Purpose.NOTICE,
        photos: Sequence[str] = (),
    ) -> None:
        text = self.text(self.language(alias), *parts)
        to = Recipient.member(MemberAlias(alias))
        self.messages.append(Outgoing(to, text, purpose, attachments=tuple(photos)))

    def reply(self, *parts: Part) -> None:
        self.tell(self.alias, *parts, purpose=Purpose.REPLY)

    def done(self, write: Write | None = None) -> FeatureResult:
        return FeatureResult(Decision(messages=tuple(self.messages)), write)

    # --- who ------------------------------------------------------------------------------

    def reviewers(self, author: MemberAlias | None) -> tuple[MemberAlias, ...]:
        """Moderators who review a report: all but its author — unless she is the only one."""
        moderators = self.ctx.rules.moderators
        others = tuple(m for m in moderators if m != author)
        return others or moderators

    def audience_label(self, to: Audience, language: str) -> str:
        if to.group is not None:
            return self.ctx.catalog.text(language, "report_audience_group", name=to.name or "")
        return self.ctx.catalog.text(language, "report_audience_members", count=len(to.members))

    # --- what goes out --------------------------------------------------------------------

    def broadcast(self, report: StoredReport | NewReport, photos: Sequence[str]) -> None:
        to = audience(self.ctx.rules)

        def text(language: str, zone: str) -> str:
            return self.text(
                language,
                _p(
                    "report_broadcast",
                    number=report.number,
                    severity=severity_label(self.ctx.catalog, language, report.severity),
                    date=day(report.created_at, zone),
                    text=report.text or "—",
                ),
            )

        for recipient, language in to.members:
            body = text(language, self.zone(recipient.address))
            self.messages.append(
                Outgoing(recipient, body, Purpose.NOTICE, attachments=tuple(photos))
            )
        if to.group is not None:
            body = in_languages([text(lang, self.ctx.timezone) for lang in to.group_languages])
            self.messages.append(
                Outgoing(to.group, body, Purpose.NOTICE, attachments=tuple(photos))
            )

    def retract(self, number: int) -> None:
        to = audience(self.ctx.rules)
        for recipient, language in to.members:
            body = self.text(language, _p("report_retracted", number=number))
            self.messages.append(Outgoing(recipient, body, Purpose.NOTICE))
        if to.group is not None:
            texts = [
                self.text(lang, _p("report_retracted", number=number))
                for lang in to.group_languages
            ]
            self.messages.append(Outgoing(to.group, in_languages(texts), Purpose.NOTICE))

    def review(self, report: NewReport) -> None:
        """Send the report to its reviewers (photos attached, author never named)."""
        reviewers = self.reviewers(report.author)
        for moderator in reviewers:
            language = self.language(moderator)
            found = shown(report.identifiers) or self.ctx.catalog.text(
                language, "report_found_none"
            )
            self.tell(
                moderator,
                _p(
                    "report_review",
                    number=report.number,
                    severity=severity_label(self.ctx.catalog, language, report.severity),
                    text=report.text or "—",
                    found=found,
                ),
                photos=report.photos,
            )


class ReportsFeature:
    """Claims REPORT, CHECK, APPROVE, REJECT and WITHDRAW."""

    claims: tuple[type, ...] = (
        intents.Report,
        intents.Check,
        intents.Approve,
        intents.Reject,
        intents.Withdraw,
    )

    async def handle(
        self,
        ctx: FeatureContext,
        member: Member,
        intent: intents.Intent,
        event: Incoming,
        now: datetime,
    ) -> FeatureResult:
        flow = _Flow(ctx, member, now, ReportRepo(ctx.db, ctx.sealer))
        match intent:
            case intents.Report(text=text):
                return await _report(flow, text, event)
            case intents.Check(query=query):
                return await _check(flow, query)
            case intents.Approve(number=number):
                return await _approve(flow, number)
            case intents.Reject(number=number, reason=reason):
                return await _reject(flow, number, reason)
            case intents.Withdraw(number=number):
                return await _withdraw(flow, number)
        return flow.done()


# --- REPORT ------------------------------------------------------------------------------------


async def _keep_photos(flow: _Flow, event: Incoming) -> tuple[str, ...]:
    vault = flow.ctx.vault
    if vault is None:
        return ()
    return await vault.keep_all(event.attachments)


async def _report(flow: _Flow, raw: str | None, event: Incoming) -> FeatureResult:
    text = strip_ends(clean(raw or ""))
    answer = severity_answer(text)
    if answer is not None and not event.attachments:
        return await _rate(flow, answer)
    if not text and not event.attachments:
        flow.reply(_p("report_usage"))
        return flow.done()
    if answer is not None:
        text = ""  # "REPORT 3" with photos: a new report, rated 3, with nothing else to say
    photos = await _keep_photos(flow, event)
    identifiers = tuple(extract_identifiers(text, region_of(flow.member.number))) if text else ()
    severity = answer if answer is not None else severity_of(text)
    direct = flow.ctx.rules.reports.moderation == "direct"
    retention = flow.ctx.rules.retention.reports
    report = NewReport(
        number=await flow.repo.next_number(),
        author=flow.alias,
        text=text,
        identifiers=identifiers,
        severity=severity,
        status="approved" if direct else "pending",
        created_at=flow.now,
        expires_at=flow.now + retention if retention is not None else None,
        photos=photos,
    )
    parts: list[Part] = []
    if direct:
        label = flow.audience_label(audience(flow.ctx.rules), flow.language(flow.alias))
        parts.append(_p("report_received_direct", number=report.number, audience=label))
    else:
        parts.append(_p("report_received_moderated", number=report.number))
        if not flow.ctx.rules.moderators:
            parts.append(_p("report_no_moderator"))
    if not identifiers:
        parts.append(_p("report_no_identifiers"))
    if severity is None:
        parts.append(_p("report_ask_severity"))
    if len(photos) < len(event.attachments):
        parts.append(_p("report_photos_lost", count=len(event.attachments) - len(photos)))
    flow.reply(*parts)  # her answer first, then the warning or the review
    if direct:
        flow.broadcast(report, photos)
    else:
        flow.review(report)

    async def write(conn: aiosqlite.Connection) -> None:
        await flow.repo.add(conn, report)

    # Never the alias beside a report number: the log must not say who reported what.
    log.info("report #%d received (%s)", report.number, report.status)
    return flow.done(write)


async def _rate(flow: _Flow, severity: int) -> FeatureResult:
    number = await flow.repo.newest_unrated(flow.alias)
    if number is None:
        flow.reply(_p("report_usage"))
        return flow.done()
    language = flow.language(flow.alias)
    label = severity_label(flow.ctx.catalog, language, severity)
    flow.reply(_p("report_rated", number=number, severity=label))

    async def write(conn: aiosqlite.Connection) -> None:
        await flow.repo.rate(conn, number, severity, flow.now)

    return flow.done(write)


# --- CHECK -------------------------------------------------------------------------------------


async def _check(flow: _Flow, query: str) -> FeatureResult:
    identifiers = query_identifiers(query, region_of(flow.member.number))
    if not identifiers:
        flow.reply(_p("check_unreadable"))
        return flow.done()
    matches = await find(flow.repo, identifiers, flow.now)
    language = flow.language(flow.alias)
    text = render_check(flow.ctx.catalog, language, matches, flow.zone(flow.alias))
    flow.messages.append(Outgoing(Recipient.member(flow.alias), text, Purpose.REPLY))
    log.info("a CHECK of %d identifier(s): %d match(es)", len(identifiers), len(matches))
    return flow.done()


# --- moderation --------------------------------------------------------------------------------


async def _closed(flow: _Flow, number: int) -> FeatureResult:
    """APPROVE or REJECT of a number that is not (or no longer) a report."""
    action = await flow.repo.last_action(number)
    if action in ("withdrawn", "rejected", "removed", "expired"):
        flow.reply(_p(f"report_gone_{action}", number=number))
    else:
        flow.reply(_p("report_not_found", number=number))
    return flow.done()


async def _approve(flow: _Flow, number: int) -> FeatureResult:
    if not flow.member.moderator:
        flow.reply(_p("report_not_moderator"))
        return flow.done()
    report = await flow.repo.get(number)
    if report is None:
        return await _closed(flow, number)
    if report.status == "approved":
        flow.reply(_p("report_already_shared", number=number))
        return flow.done()
    others = [m for m in flow.ctx.rules.moderators if m != flow.alias]
    if report.author == flow.alias and others:
        flow.reply(_p("report_own_needs_other", number=number))
        return flow.done()
    label = flow.audience_label(audience(flow.ctx.rules), flow.language(flow.alias))
    flow.reply(_p("report_approved_moderator", number=number, audience=label))
    flow.broadcast(report, report.photos)
    _tell_author(flow, report, _p("report_approved_author", number=number))
    _tell_reviewers(flow, report, _p("report_approved_other", number=number))

    async def write(conn: aiosqlite.Connection) -> None:
        await flow.repo.approve(conn, number, flow.now)

    log.info("report #%d approved", number)  # who-less, like the moderation record
    return flow.done(write)


async def _reject(flow: _Flow, number: int, reason: str | None) -> FeatureResult:
    if not flow.member.moderator:
        flow.reply(_p("report_not_moderator"))
        return flow.done()
    report = await flow.repo.get(number)
    if report is None:
        return await _closed(flow, number)
    why = strip_ends(clean(reason or ""))
    because = [_p("report_reason", reason=why)] if why else []
    action: Action
    if report.status == "approved":
        action = "removed"
        flow.retract(number)
        flow.reply(_p("report_removed_moderator", number=number))
        _tell_author(flow, report, _p("report_removed_author", number=number), *because)
        _tell_reviewers(flow, report, _p("report_removed_other", number=number))
    else:
        action = "rejected"
        flow.reply(_p("report_rejected_moderator", number=number))
        _tell_author(flow, report, _p("report_rejected_author", number=number), *because)
        _tell_reviewers(flow, report, _p("report_rejected_other", number=number))

    async def write(conn: aiosqlite.Connection) -> None:
        await delete(conn, number, action, flow.now)
        _forget(flow, report.photos)

    log.info("report #%d %s", number, action)
    return flow.done(write)


async def _withdraw(flow: _Flow, number: int) -> FeatureResult:
    report = await flow.repo.get(number)
    if report is None or not await flow.repo.is_author(number, flow.alias):
        # Whether someone else's report has this number is not hers to learn.
        flow.reply(_p("report_not_yours", number=number))
        return flow.done()
    if report.status == "approved":
        flow.retract(number)
        flow.reply(_p("report_withdrawn_shared", number=number))
    else:
        flow.reply(_p("report_withdrawn", number=number))
        for moderator in flow.reviewers(flow.alias):
            if moderator != flow.alias:
                flow.tell(moderator, _p("report_withdrawn_other", number=number))

    async def write(conn: aiosqlite.Connection) -> None:
        await delete(conn, number, "withdrawn", flow.now)
        _forget(flow, report.photos)

    log.info("report #%d withdrawn by its author", number)
    return flow.done(write)


def _tell_author(flow: _Flow, report: StoredReport, *parts: Part) -> None:
    author = report.author
    if author is None or author == flow.alias or flow.ctx.rules.member(author) is None:
        return
    flow.tell(author, *parts)


def _tell_reviewers(flow: _Flow, report: StoredReport, *parts: Part) -> None:
    for moderator in flow.reviewers(report.author):
        if moderator != flow.alias:
            flow.tell(moderator, *parts)


def _forget(flow: _Flow, photos: Sequence[str]) -> None:
    if flow.ctx.vault is not None:
        for key in photos:
            flow.ctx.vault.forget(key)
