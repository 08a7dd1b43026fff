"""What REPORT, CHECK, APPROVE, REJECT and WITHDRAW answer, and what they change: pure.

Each function takes plain values — the rules in force, who sent it, what the store holds about
the report in question (read beforehand by `relay.features.reports.reporting`) — and returns an
`Answer`:
the core's decision (messages written with `relay.core.builder.Builder`) and the change to
store, as data (`Add`, `Rate`, `Approve`, `Delete`). No database, no clock, no vault.

A report never names its author to anyone but her: reviews, broadcasts, retractions and news
to moderators say only its number.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from relay.core.builder import Builder, Context, Decision, Outgoing, Part, Purpose, p
from relay.core.identifiers import extract_identifiers
from relay.core.render import Catalog
from relay.core.state import Recipient
from relay.core.types import MemberAlias
from relay.features.peers.categories import categories_of
from relay.features.reports.audience import Audience, audience
from relay.features.reports.matching import region_of
from relay.features.reports.screening import Match, render_check
from relay.features.reports.severity import severity_answer, severity_of
from relay.features.reports.wording import day, in_languages, severity_label, shown
from relay.rules import Member, Rules
from relay.rules.core_policy import RulesPolicy
from relay.store.reports import Action, NewReport, StoredReport

# --- what changes ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Add:
    report: NewReport

    @property
    def number(self) -> int:
        return self.report.number


@dataclass(frozen=True)
class Rate:
    number: int
    severity: int


@dataclass(frozen=True)
class Approve:
    number: int


@dataclass(frozen=True)
class Delete:
    number: int
    action: Action
    photos: tuple[str, ...]  # vault keys: the files go with the report


Change = Add | Rate | Approve | Delete


@dataclass(frozen=True)
class Answer:
    decision: Decision
    change: Change | None = None


# --- who is told what --------------------------------------------------------------------------


class Desk:
    """One member's message being answered: the rules in force, who sent it, and the builder
    collecting the messages (in each reader's language and zone)."""

    def __init__(
        self, rules: Rules, catalog: Catalog, timezone: str, member: Member | None, now: datetime
    ) -> None:
        self._member = member  # None: a partner relay's message, no member sent it
        self.rules = rules
        self.now = now
        context = Context(RulesPolicy(rules, timezone), catalog, timezone)
        self.b = Builder(context, now)

    @property
    def member(self) -> Member:
        if self._member is None:
            raise LookupError("no member sent this")
        return self._member

    @property
    def alias(self) -> MemberAlias:
        return self.member.alias

    @property
    def sender(self) -> MemberAlias | None:
        return self._member.alias if self._member is not None else None

    @property
    def catalog(self) -> Catalog:
        return self.b.ctx.catalog

    def language(self, alias: str) -> str:
        return self.b.language(Recipient.member(MemberAlias(alias)))

    def tell(self, alias: str, *parts: Part, photos: Sequence[str] = ()) -> None:
        to = Recipient.member(MemberAlias(alias))
        self.b.send(to, Purpose.NOTICE, *parts, attachments=tuple(photos))

    def reply(self, *parts: Part) -> None:
        self.b.send(Recipient.member(self.alias), Purpose.REPLY, *parts)

    def done(self, change: Change | None = None) -> Answer:
        return Answer(self.b.done(), change)

    def reviewers(self, author: MemberAlias | None) -> tuple[MemberAlias, ...]:
        """Moderators who review a report: all but its author — unless she is the only one.
        A partner collective's warning (no author) goes to the admins when there is no
        moderator: it never goes straight to members."""
        moderators = self.rules.moderators
        if author is None and not moderators:
            return self.rules.admins
        others = tuple(m for m in moderators if m != author)
        return others or moderators

    def audience_label(self, to: Audience, language: str) -> str:
        if to.group is not None:
            return self.catalog.text(language, "report_audience_group", name=to.name or "")
        return self.catalog.text(language, "report_audience_members", count=len(to.members))

    def broadcast(self, report: StoredReport | NewReport, photos: Sequence[str]) -> None:
        to = audience(self.rules)

        def text(language: str, zone: str) -> str:
            part = p(
                "report_broadcast" if report.origin is None else "report_broadcast_partner",
                number=report.number,
                severity=severity_label(self.catalog, language, report.severity),
                date=day(report.created_at, zone),
                text=report.text or "—",
                partner=report.origin or "",
            )
            return self.catalog.text(language, part[0], **part[1])

        for recipient, language in to.members:
            body = text(language, self.b.zone(recipient))
            self._post(recipient, body, photos)
        if to.group is not None:
            body = in_languages(
                [text(lang, self.b.ctx.default_timezone) for lang in to.group_languages]
            )
            self._post(to.group, body, photos)

    def retract(self, number: int) -> None:
        to = audience(self.rules)
        for recipient, language in to.members:
            self._post(recipient, self.catalog.text(language, "report_retracted", number=number))
        if to.group is not None:
            texts = [
                self.catalog.text(lang, "report_retracted", number=number)
                for lang in to.group_languages
            ]
            self._post(to.group, in_languages(texts))

    def _post(self, to: Recipient, text: str, photos: Sequence[str] = ()) -> None:
        """A message already in its readers' language (the audience says which)."""
        self.b.messages.append(Outgoing(to, text, Purpose.NOTICE, attachments=tuple(photos)))

    def review(self, report: NewReport) -> None:
        """Send the report to its reviewers (photos attached, author never named)."""
        for moderator in self.reviewers(report.author):
            language = self.language(moderator)
            found = shown(report.identifiers) or self.catalog.text(language, "report_found_none")
            self.tell(
                moderator,
                p(
                    "report_review" if report.origin is None else "report_review_partner",
                    number=report.number,
                    severity=severity_label(self.catalog, language, report.severity),
                    text=report.text or "—",
                    found=found,
                    partner=report.origin or "",
                ),
                photos=report.photos,
            )

    def tell_author(self, report: StoredReport, *parts: Part) -> None:
        author = report.author
        if author is None or author == self.sender or self.rules.member(author) is None:
            return
        self.tell(author, *parts)

    def tell_reviewers(self, report: StoredReport, *parts: Part) -> None:
        for moderator in self.reviewers(report.author):
            if moderator != self.sender:
                self.tell(moderator, *parts)


def partners_for(rules: Rules, report: StoredReport | NewReport) -> tuple[str, ...]:
    """The partner collectives whose `send` rules take this report (SHARE sends it to them)."""
    severity = report.severity or 1  # not rated: the mildest
    kinds = set(report.categories) or {"other"}
    return tuple(
        label
        for label, partner in rules.peers.partners.items()
        if partner.sends
        and severity >= partner.min_severity
        and (partner.categories is None or kinds & partner.categories)
    )


# --- REPORT ------------------------------------------------------------------------------------


def rating(text: str, sent: int) -> int | None:
    """The severity a ``REPORT 3`` (no photos) gives her newest unrated report; None when the
    message is a report (or its usage) instead. ``text`` is cleaned; ``sent``: photos she sent."""
    answer = severity_answer(text)
    return answer if answer is not None and not sent else None


def report(desk: Desk, text: str, sent: int, photos: tuple[str, ...], number: int) -> Answer:
    """A new report (``text`` cleaned; ``photos`` the vault keys of the ``sent`` she sent that
    were kept), stored as report ``number``."""
    answer = severity_answer(text)
    if not text and not sent:
        desk.reply(p("report_usage"))
        return desk.done()
    if answer is not None:
        text = ""  # "REPORT 3" with photos: a new report, rated 3, with nothing else to say
    identifiers = tuple(extract_identifiers(text, region_of(desk.member.number))) if text else ()
    severity = answer if answer is not None else severity_of(text)
    direct = desk.rules.reports.moderation == "direct"
    retention = desk.rules.retention.reports
    new = NewReport(
        number=number,
        author=desk.alias,
        text=text,
        identifiers=identifiers,
        severity=severity,
        status="approved" if direct else "pending",
        created_at=desk.now,
        expires_at=desk.now + retention if retention is not None else None,
        photos=photos,
        categories=categories_of(text) if text else ("other",),
    )
    parts: list[Part] = []
    if direct:
        label = desk.audience_label(audience(desk.rules), desk.language(desk.alias))
        parts.append(p("report_received_direct", number=number, audience=label))
    else:
        parts.append(p("report_received_moderated", number=number))
        if not desk.rules.moderators:
            parts.append(p("report_no_moderator"))
    if not identifiers:
        parts.append(p("report_no_identifiers"))
    if severity is None:
        parts.append(p("report_ask_severity"))
    if len(photos) < sent:
        parts.append(p("report_photos_lost", count=sent - len(photos)))
    desk.reply(*parts)  # her answer first, then the warning or the review
    if direct:
        desk.broadcast(new, photos)
    else:
        desk.review(new)
    return desk.done(Add(new))


def rate(desk: Desk, severity: int, unrated: int | None) -> Answer:
    """``REPORT 3``: her newest unrated report (``unrated``, if any) is rated."""
    if unrated is None:
        desk.reply(p("report_usage"))
        return desk.done()
    label = severity_label(desk.catalog, desk.language(desk.alias), severity)
    desk.reply(p("report_rated", number=unrated, severity=label))
    return desk.done(Rate(unrated, severity))


# --- CHECK -------------------------------------------------------------------------------------


def unreadable(desk: Desk) -> Answer:
    """A CHECK with no number, plate, email or handle in it."""
    desk.reply(p("check_unreadable"))
    return desk.done()


def check(desk: Desk, matches: Sequence[Match]) -> Answer:
    me = Recipient.member(desk.alias)
    text = render_check(desk.catalog, desk.b.language(me), matches, desk.b.zone(me))
    desk.b.messages.append(Outgoing(me, text, Purpose.REPLY))
    return desk.done()


# --- moderation --------------------------------------------------------------------------------


def may_moderate(desk: Desk) -> bool:
    """Moderators approve and reject; where the rules name none (reports go straight to
    members), the admins do — a partner collective's warning waits for them (`reviewers`)."""
    member = desk.member
    return member.moderator or (member.admin and not desk.rules.moderators)


def tell_gone(desk: Desk, number: int, last: str | None) -> None:
    """A number that is not (or no longer) a report, answered; ``last``: the last line of its
    moderation record (why it went, if it ever was one)."""
    if last in ("withdrawn", "rejected", "removed", "expired", "retracted"):
        desk.reply(p(f"report_gone_{last}", number=number))
    else:
        desk.reply(p("report_not_found", number=number))


def _closed(desk: Desk, number: int, last: str | None) -> Answer:
    """APPROVE or REJECT of a number that is not (or no longer) a report."""
    tell_gone(desk, number, last)
    return desk.done()


def approve(desk: Desk, number: int, stored: StoredReport | None, last: str | None) -> Answer:
    if not may_moderate(desk):
        desk.reply(p("report_not_moderator"))
        return desk.done()
    if stored is None:
        return _closed(desk, number, last)
    if stored.status == "approved":
        desk.reply(p("report_already_shared", number=number))
        return desk.done()
    others = [m for m in desk.rules.moderators if m != desk.alias]
    if stored.author == desk.alias and others:
        desk.reply(p("report_own_needs_other", number=number))
        return desk.done()
    label = desk.audience_label(audience(desk.rules), desk.language(desk.alias))
    parts = [p("report_approved_moderator", number=number, audience=label)]
    takers = partners_for(desk.rules, stored) if stored.origin is None else ()
    if takers:
        parts.append(p("report_share_hint", number=number, partners=", ".join(takers)))
    desk.reply(*parts)
    desk.broadcast(stored, stored.photos)
    desk.tell_author(stored, p("report_approved_author", number=number))
    desk.tell_reviewers(stored, p("report_approved_other", number=number))
    return desk.done(Approve(number))


def reject(
    desk: Desk, number: int, why: str, stored: StoredReport | None, last: str | None
) -> Answer:
    """``why``: the moderator's reason, cleaned (empty: none given)."""
    if not may_moderate(desk):
        desk.reply(p("report_not_moderator"))
        return desk.done()
    if stored is None:
        return _closed(desk, number, last)
    because = [p("report_reason", reason=why)] if why else []
    action: Action
    if stored.status == "approved":
        action = "removed"
        desk.retract(number)
        desk.reply(p("report_removed_moderator", number=number))
        desk.tell_author(stored, p("report_removed_author", number=number), *because)
        desk.tell_reviewers(stored, p("report_removed_other", number=number))
    else:
        action = "rejected"
        desk.reply(p("report_rejected_moderator", number=number))
        desk.tell_author(stored, p("report_rejected_author", number=number), *because)
        desk.tell_reviewers(stored, p("report_rejected_other", number=number))
    return desk.done(Delete(number, action, stored.photos))


def withdraw(desk: Desk, number: int, stored: StoredReport | None, hers: bool) -> Answer:
    """``hers``: the store says she wrote report ``number``."""
    if stored is None or not hers:
        # Whether someone else's report has this number is not hers to learn.
        desk.reply(p("report_not_yours", number=number))
        return desk.done()
    if stored.status == "approved":
        desk.retract(number)
        desk.reply(p("report_withdrawn_shared", number=number))
    else:
        desk.reply(p("report_withdrawn", number=number))
        for moderator in desk.reviewers(desk.alias):
            if moderator != desk.alias:
                desk.tell(moderator, p("report_withdrawn_other", number=number))
    return desk.done(Delete(number, "withdrawn", stored.photos))
