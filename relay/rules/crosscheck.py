"""Second pass: what no single field can say, then the `Rules` value itself.

A buddy who is not a member, a number used twice, a reminder longer than the check-in, a tier
naming an unknown circle, a duress word that is also a command, a word given to two commands,
placeholders left from the sample, a member whose alerts would reach nobody, a partner relay's
key that is not a key (or is another partner's).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import timedelta

from relay.core.commands import KeywordTable
from relay.core.durations import MAX_DURATION as LONGEST_CHECKIN
from relay.core.policy import Timings
from relay.core.types import GroupId, Language, MemberAlias, PhoneNumber, SignalUuid
from relay.crypto.peer_keys import ENCODED_CHARS, PREFIX, decode_public
from relay.rules import document as doc
from relay.rules import keywords
from relay.rules.issues import Severity, sort_issues
from relay.rules.keywords import Catalog
from relay.rules.model import (
    DEFAULT_TIMINGS,
    Circle,
    Contact,
    DirectoryEntry,
    DrillPolicy,
    DrillSchedule,
    Member,
    Partner,
    PeerPolicy,
    ReportPolicy,
    Retention,
    Rules,
    TierSpec,
    WelcomePolicy,
)
from relay.rules.rule_durations import format_duration
from relay.rules.source import PathT
from relay.rules.validate import Reporter, Sections, suggest
from relay.rules.values import (
    is_placeholder_group,
    is_placeholder_number,
    is_placeholder_peer_key,
)

_TIMING_FIELDS = tuple(doc.TimingsIn.model_fields)


def crosscheck(
    parts: Sections,
    report: Reporter,
    *,
    allow_placeholders: bool,
    catalog: Catalog,
) -> Rules | None:
    """Check what spans fields; return the rules, or None when `report` holds errors."""
    members = parts.members
    if not parts.member_names and parts.complete:
        report.add((), "no members: add a members: section (see the sample rules)")
    _check_references(parts, report)
    _check_numbers(parts, report, allow_placeholders=allow_placeholders)
    defaults, member_timings = _check_timings(parts, report)
    tier_specs = _tier_specs(parts, report)
    words = _check_keywords(parts, report, catalog)
    _check_reports(parts, report)
    _check_drills(parts, tier_specs, report)
    keys = _check_peers(parts, report)
    if report.failed:
        return None
    rules = Rules(
        members={MemberAlias(a): _member(a, m) for a, m in members.items()},
        pairs=_pairs(members),
        watchers={
            MemberAlias(a): tuple(dict.fromkeys(MemberAlias(w) for w in m.watchers if w != a))
            for a, m in members.items()
            if m.watchers
        },
        circles={
            name: Circle(
                name,
                tuple(dict.fromkeys(MemberAlias(a) for a in c.members)),
                GroupId(c.group) if c.group else None,
            )
            for name, c in parts.circles.items()
        },
        contacts={
            name: Contact(name, PhoneNumber(c.number), c.label, Language(c.language))
            for name, c in parts.contacts.items()
        },
        timings=defaults,
        member_timings=member_timings,
        tier_specs=tier_specs,
        keywords=words,
        reports=_reports(parts.reports),
        retention=_retention(parts.retention),
        strangers=parts.strangers,
        directory=tuple(
            DirectoryEntry(e.name, e.number, e.for_, Language(e.language) if e.language else None)
            for e in parts.directory
        ),
        welcome=_welcome(parts.welcome),
        drills=_drills(parts.drills),
        undelivered_after=parts.escalation.undelivered_after if parts.escalation else None,
        peers=_peer_policy(parts, keys),
    )
    _check_alert_paths(rules, report)
    if report.failed:
        return None
    warnings = tuple(sort_issues(issue for issue in report.issues if not issue.is_error))
    return rules._finish(warnings, rules.files)  # built once: thousands of members are slow


# ---- members, circles, references --------------------------------------------------------------


def _member(alias: str, m: doc.MemberIn) -> Member:
    return Member(
        alias=MemberAlias(alias),
        number=PhoneNumber(m.number),
        uuid=SignalUuid(m.uuid) if m.uuid else None,
        language=Language(m.language),
        timezone=m.timezone,
        duress_word=m.duress_word,
        checkin_secret=m.checkin_secret,
        moderator=m.moderator,
        admin=m.admin,
        pronouns=m.pronouns,
    )


def _pairs(members: Mapping[str, doc.MemberIn]) -> tuple[tuple[MemberAlias, MemberAlias], ...]:
    pairs: set[tuple[MemberAlias, MemberAlias]] = set()
    for alias, member in members.items():
        for buddy in member.buddies:
            if buddy != alias and buddy in members:
                first, second = sorted((alias, buddy))
                pairs.add((MemberAlias(first), MemberAlias(second)))
    return tuple(sorted(pairs))


def _check_references(parts: Sections, report: Reporter) -> None:
    names = parts.member_names
    for alias, member in parts.members.items():
        for field in ("buddies", "watchers"):
            listed: set[str] = set()
            for index, other in enumerate(getattr(member, field)):
                path: PathT = ("members", alias, field, index)
                if other == alias:
                    report.add(path, f"she cannot be in her own {field}")
                elif other not in names:
                    report.add(path, f"'{other}' is not a member{suggest(other, names)}")
                elif other in listed:
                    report.warn(path, f"'{other}' is listed twice")
                listed.add(other)
    for name, circle in parts.circles.items():
        if not circle.members:
            report.add(("circles", name, "members"), "a circle needs at least one member")
        for index, other in enumerate(circle.members):
            if other not in names:
                report.add(
                    ("circles", name, "members", index),
                    f"'{other}' is not a member{suggest(other, names)}",
                )
    groups: dict[str, str] = {}
    for name, circle in parts.circles.items():
        if circle.group is None:
            continue
        if circle.group in groups:
            report.add(
                ("circles", name, "group"),
                f"the same Signal group as circle '{groups[circle.group]}'",
            )
        groups.setdefault(circle.group, name)


def _check_numbers(parts: Sections, report: Reporter, *, allow_placeholders: bool) -> None:
    severity: Severity = "warning" if allow_placeholders else "error"
    seen: dict[str, str] = {}
    entries: list[tuple[PathT, str, str]] = [
        (("members", a, "number"), f"member '{a}'", m.number) for a, m in parts.members.items()
    ]
    entries += [
        (("contacts", n, "number"), f"contact '{n}'", c.number) for n, c in parts.contacts.items()
    ]
    entries += [
        (("peers", "partners", n, "number"), f"partner '{n}'", p.number)
        for n, p in parts.partners.items()
    ]
    for path, owner, number in entries:
        if number in seen:
            report.add(path, f"the same number as {seen[number]}")
        seen.setdefault(number, owner)
        if is_placeholder_number(number):
            report.add(path, _PLACEHOLDER, severity)
    uuids: dict[str, str] = {}
    for alias, member in parts.members.items():
        if member.uuid is None:
            continue
        if member.uuid in uuids:
            report.add(
                ("members", alias, "uuid"), f"the same UUID as member '{uuids[member.uuid]}'"
            )
        uuids.setdefault(member.uuid, alias)
    for index, entry in enumerate(parts.directory):
        if is_placeholder_number(entry.number):
            report.add(("directory", index, "number"), _PLACEHOLDER, severity)
    for name, circle in parts.circles.items():
        if circle.group is not None and is_placeholder_group(circle.group):
            report.add(
                ("circles", name, "group"),
                "the sample's made-up group id: put the real one here, or remove group:",
                severity,
            )
    for name, partner in parts.partners.items():
        if is_placeholder_peer_key(partner.key):
            report.add(
                ("peers", "partners", name, "key"),
                "the sample's made-up key: put the partner's real one here (from its "
                "`peer-relay identity`)",
                severity,
            )


_PLACEHOLDER = "a made-up number from the sample rules: put the real number here"


# ---- timings ---------------------------------------------------------------------------------


def _apply(base: Timings, override: doc.TimingsIn | None) -> Timings:
    if override is None:
        return base
    given = {k: v for k in _TIMING_FIELDS if (v := getattr(override, k)) is not None}
    return replace(base, **given)


def _check_timings(parts: Sections, report: Reporter) -> tuple[Timings, dict[MemberAlias, Timings]]:
    defaults = _apply(DEFAULT_TIMINGS, parts.timings)
    defaults_ok = _timing_problems(defaults, ("timings",), parts.timings, report)
    own: dict[MemberAlias, Timings] = {}
    for alias, member in parts.members.items():
        if member.timings is None:
            continue
        mine = _apply(defaults, member.timings)
        own[MemberAlias(alias)] = mine
        if defaults_ok:
            _timing_problems(mine, ("members", alias, "timings"), member.timings, report)
    return defaults, own


def _timing_problems(
    t: Timings, where: PathT, written: doc.TimingsIn | None, report: Reporter
) -> bool:
    """Report contradictions at the field the admin wrote (the first one that is hers)."""

    def at(*fields: str) -> PathT:
        for name in fields:
            if written is not None and getattr(written, name) is not None:
                return (*where, name)
        return where

    ok = True
    if t.checkin > t.checkin_max:
        report.add(
            at("checkin", "checkin_max"),
            f"checkin ({_d(t.checkin)}) is longer than checkin_max ({_d(t.checkin_max)})",
        )
        ok = False
    if t.reminder_before >= t.checkin:
        report.add(
            at("reminder_before", "checkin"),
            f"reminder_before ({_d(t.reminder_before)}) must be shorter than the check-in "
            f"({_d(t.checkin)})",
        )
        ok = False
    for name in ("checkin_max", "extend_max"):
        value = getattr(t, name)
        if value > LONGEST_CHECKIN:
            report.add(
                at(name),
                f"{name} ({_d(value)}) is longer than the {_d(LONGEST_CHECKIN)} a member can ask "
                "for in one message",
            )
            ok = False
    if t.extend_max > t.checkin_max:
        report.add(
            at("extend_max", "checkin_max"),
            f"extend_max ({_d(t.extend_max)}) is longer than checkin_max ({_d(t.checkin_max)})",
        )
        ok = False
    return ok


def _d(value: timedelta) -> str:
    return format_duration(value)


# ---- escalation ------------------------------------------------------------------------------


def _tier_specs(parts: Sections, report: Reporter) -> dict[doc.AlertKind, tuple[TierSpec, ...]]:
    escalation = parts.escalation
    if escalation is None:
        if parts.escalation_valid and parts.complete:  # else its errors are reported already
            where: PathT = ("escalation",) if "escalation" in parts.present else ()
            report.add(where, "no escalation: add an escalation: section with missed: tiers")
        return {}
    if escalation.missed is None:
        report.add(
            ("escalation",), "missed: is required (who is alerted when she misses a check-in)"
        )
        return {}
    specs: dict[doc.AlertKind, tuple[TierSpec, ...]] = {}
    for kind in doc.ALERT_KINDS:
        written = getattr(escalation, kind)
        if written is None:
            continue
        tiers = []
        for index, tier in enumerate(written):
            path: PathT = ("escalation", kind, index)
            _check_tier(parts, report, kind, path, tier)
            tiers.append(_spec(tier))
        _check_order(report, kind, written)
        specs[kind] = tuple(tiers)
    missed = specs["missed"]
    # SOS: every tier at once; duress: the same ladder, but never posted in a group — a group
    # message would show on her own phone, in front of whoever is making her type the word.
    specs.setdefault("sos", tuple(replace(t, after=timedelta(0)) for t in missed))
    specs.setdefault(
        "duress", tuple(t for t in (replace(t, groups=()) for t in missed) if _names(t))
    )
    return specs


def _spec(tier: doc.TierIn) -> TierSpec:
    return TierSpec(
        after=tier.after,
        buddies=tier.buddies,
        her_circles=tier.her_circles,
        circles=tuple(tier.circles),
        groups=tuple(tier.groups),
        admin=tier.admin,
        contacts=tuple(tier.contacts),
    )


def _names(tier: TierSpec) -> bool:
    return bool(
        tier.buddies
        or tier.her_circles
        or tier.circles
        or tier.groups
        or tier.admin
        or tier.contacts
    )


def _check_tier(
    parts: Sections, report: Reporter, kind: str, path: PathT, tier: doc.TierIn
) -> None:
    for index, name in enumerate(tier.circles):
        if name not in parts.circle_names:
            report.add(
                (*path, "circles", index),
                f"'{name}' is not a circle{suggest(name, parts.circle_names)}",
            )
    for index, name in enumerate(tier.groups):
        if name not in parts.circle_names:
            report.add(
                (*path, "groups", index),
                f"'{name}' is not a circle{suggest(name, parts.circle_names)}",
            )
        elif name in parts.circles and parts.circles[name].group is None:
            report.add(
                (*path, "groups", index), f"circle '{name}' has no Signal group (add group: to it)"
            )
    if kind == "duress" and tier.groups:
        report.add(
            (*path, "groups"),
            "a duress alert must stay silent: a group post would show on her own phone",
        )
    for index, name in enumerate(tier.contacts):
        if name not in parts.contact_names:
            report.add(
                (*path, "contacts", index),
                f"'{name}' is not a contact{suggest(name, parts.contact_names)}",
            )
    if tier.admin and parts.all_members_valid and not any(m.admin for m in parts.members.values()):
        report.add((*path, "admin"), "no member has admin: true")


def _check_order(report: Reporter, kind: str, tiers: Sequence[doc.TierIn]) -> None:
    latest: timedelta | None = None
    for index, tier in enumerate(tiers):
        if tier.after is None:
            continue
        if latest is not None and tier.after < latest:
            report.add(
                ("escalation", kind, index, "after"),
                f"comes before an earlier tier ({_d(latest)}): 'after' counts from the start "
                "of the alert",
            )
        latest = tier.after if latest is None else max(latest, tier.after)


# ---- keywords, duress words ------------------------------------------------------------------


def _check_keywords(
    parts: Sections, report: Reporter, catalog: Catalog
) -> dict[str, dict[str, tuple[str, ...]]]:
    written = {language: kw.words() for language, kw in parts.keywords.items()}
    for language, by_command in written.items():
        built_in = keywords.table(language, catalog, None)
        # In the order they were written, so a clash between two aliases is reported at the
        # later one — the one the admin most likely just added.
        entries = sorted(
            (report.place_key(("keywords", language, command, index)), command, index, word)
            for command, words in by_command.items()
            for index, word in enumerate(words)
        )
        so_far: dict[str, list[str]] = {}
        whole = keywords.table(language, catalog, by_command)
        for _, command, index, word in entries:
            if command == "ask_first":
                if whole.command_for(word) != "sos":
                    report.add(
                        ("keywords", language, command, index),
                        f"'{word}' is not an SOS word: ask_first only softens SOS words",
                    )
                continue
            hit = built_in.command_for(word)
            if hit is None and so_far:
                hit = keywords.table(language, {}, so_far).command_for(word)
            if hit is not None and hit != command:
                report.add(
                    ("keywords", language, command, index),
                    f"'{word}' is already a word for '{hit}'",
                )
            so_far.setdefault(command, []).append(word)
    available = sorted(catalog)
    aliased = sorted(written)
    tables: dict[tuple[str, str | None], KeywordTable] = {}
    # Her language → (has no built-in words, the language of the aliases she gets): a few
    # languages among thousands of members, so each is resolved once.
    languages: dict[str, tuple[bool, str | None]] = {}
    for alias, member in parts.members.items():
        resolved = languages.get(member.language)
        if resolved is None:
            resolved = languages[member.language] = (
                bool(available) and keywords.resolve_language(member.language, available) is None,
                keywords.resolve_language(member.language, aliased),
            )
        no_words, own = resolved
        if no_words:
            report.warn(
                ("members", alias, "language"),
                "no built-in words in this language yet: she gets the English ones",
            )
        # One table per language, not per member: building one costs milliseconds, and a
        # collective of thousands made `check` (and start-up) take seconds per thousand.
        hers = tables.get((member.language, own))
        if hers is None:
            hers = keywords.table(member.language, catalog, written.get(own) if own else None)
            tables[(member.language, own)] = hers
        for field, label in (("duress_word", "duress word"), ("checkin_secret", "check-in secret")):
            word = getattr(member, field)
            hit = hers.command_for(word) if word is not None else None
            if hit is not None:
                report.add(
                    ("members", alias, field),
                    f"her {label} is also the word for '{hit}': pick a word that is not a command",
                )
        if (
            member.duress_word is not None
            and member.checkin_secret is not None
            and keywords.same_phrase(member.duress_word, member.checkin_secret)
        ):
            report.add(
                ("members", alias, "checkin_secret"), "must not be the same as her duress word"
            )
    return written


# ---- reports, retention ----------------------------------------------------------------------


def _check_reports(parts: Sections, report: Reporter) -> None:
    reports = parts.reports
    moderators = any(m.moderator for m in parts.members.values())
    if reports is not None:
        if reports.moderation == "moderators" and parts.all_members_valid and not moderators:
            report.add(
                ("reports", "moderation"),
                "no member has moderator: true, so reports would never be approved",
            )
        name = reports.share_with
        if name is not None and name not in parts.circle_names:
            report.add(
                ("reports", "share_with"),
                f"'{name}' is not a circle{suggest(name, parts.circle_names)}",
            )
    elif parts.all_members_valid and not moderators:
        report.warn(
            (), "no moderators: reports will wait for one (or set reports: moderation: direct)"
        )


def _reports(written: doc.ReportsIn | None) -> ReportPolicy:
    if written is None:
        return ReportPolicy()
    return ReportPolicy(moderation=written.moderation, share_with=written.share_with)


def _retention(written: doc.RetentionIn | None) -> Retention:
    if written is None:
        return Retention()
    return Retention(
        checkins=written.checkins,
        alerts=written.alerts,
        reports=written.reports,
        incident_logs=written.incident_logs,
        messages=written.messages,
    )


# ---- welcome and drills ------------------------------------------------------------------------


def _welcome(written: doc.WelcomeIn | None) -> WelcomePolicy:
    if written is None:
        return WelcomePolicy()
    return WelcomePolicy(enabled=written.enabled, run_by=written.run_by, lines=dict(written.lines))


def _drills(written: doc.DrillsIn | None) -> DrillPolicy:
    if written is None:
        return DrillPolicy()
    schedule = written.schedule
    return DrillPolicy(
        tiers=tuple(sorted(set(written.tiers))),
        report_after=written.report_after,
        min_interval=written.min_interval,
        schedule=DrillSchedule(schedule.every, schedule.at) if schedule is not None else None,
    )


def _check_drills(
    parts: Sections, specs: Mapping[doc.AlertKind, Sequence[TierSpec]], report: Reporter
) -> None:
    """A drill tier the missed-check-in ladder does not have would practise with nobody."""
    if parts.drills is None or "missed" not in specs:
        return
    count = len(specs["missed"])
    for index, tier in enumerate(parts.drills.tiers):
        if tier > count:
            report.add(
                ("drills", "tiers", index),
                f"there is no tier {tier}: escalation.missed has {count} tier(s)",
            )


# ---- partner relays ----------------------------------------------------------------------------


def _check_peers(parts: Sections, report: Reporter) -> dict[str, bytes]:
    """Each partner's key as raw bytes (only the ones that decode), after every check."""
    # parts.peers is None when its own fields were wrong: that error is reported already.
    if parts.partner_names and parts.peers is not None and parts.peers.name is None:
        report.add(
            ("peers",),
            "name: is required with partners: how partner collectives see this one "
            "(e.g. name: Night Owls)",
        )
    keys: dict[str, bytes] = {}
    owners: dict[bytes, str] = {}
    for label, partner in parts.partners.items():
        path: PathT = ("peers", "partners", label, "key")
        raw = decode_public(partner.key)
        if raw is None:
            report.add(path, _key_problem(partner.key))
            continue
        if raw in owners:
            report.add(path, f"the same key as partner '{owners[raw]}'")
        owners.setdefault(raw, label)
        keys[label] = raw
        if "send" in partner.model_fields_set and partner.send is None:
            report.warn(
                ("peers", "partners", label, "send"),
                "send: is empty, so nothing is sent to this partner: write send: {} to let "
                "SHARE send it every approved report, or remove the line",
            )
    return keys


def _key_problem(text: str) -> str:
    # Never the key itself: it is public, but the line already points at it.
    fix = "copy it again, exactly as the partner's `peer-relay identity` prints it"
    if not text.startswith(PREFIX):
        return f"not a partner key: it starts with {PREFIX} ({fix})"
    length = len(text) - len(PREFIX)
    if length != ENCODED_CHARS:
        return f"the key has {length} characters after {PREFIX} instead of {ENCODED_CHARS}: {fix}"
    return f"not a valid key (a character is wrong or changed): {fix}"


def _peer_policy(parts: Sections, keys: Mapping[str, bytes]) -> PeerPolicy:
    partners = {}
    for label, written in parts.partners.items():
        send = written.send
        partners[label] = Partner(
            label=label,
            number=PhoneNumber(written.number),
            key=keys[label],
            sends=send is not None,
            min_severity=send.min_severity if send is not None else 1,
            categories=frozenset(send.categories) if send and send.categories else None,
            accepts=written.accept,
            daily_cap=written.daily_cap,
        )
    return PeerPolicy(name=parts.peers.name if parts.peers else None, partners=partners)


# ---- does every alert reach someone? ---------------------------------------------------------


def _check_alert_paths(rules: Rules, report: Reporter) -> None:
    for alias in rules.members:
        for kind in doc.ALERT_KINDS:
            tiers = rules.escalation(kind, alias)
            # The later tiers matter only when the first reaches nobody (it usually reaches her
            # buddies): asking about every tier took 0.04 s more per 10,000 members.
            first = bool(tiers) and rules.reaches_someone(alias, tiers[0])
            if not first and not any(rules.reaches_someone(alias, tier) for tier in tiers[1:]):
                report.add(
                    ("members", alias),
                    f"her {kind} alerts would reach nobody: give her buddies or watchers, "
                    "or add tiers that reach others",
                )
                break
            if kind == "missed" and not first:
                report.warn(
                    ("members", alias),
                    "the first tier of her alerts reaches nobody (no buddies or watchers)",
                )
