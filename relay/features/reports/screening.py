"""Screening: which approved, unexpired warnings a number, plate or handle matches.

Used by CHECK and, before a date, on the identifiers in her CLIENT details. A match carries what
a member may see — number, severity, date, a summary — and never who reported it.

How the check-in flow calls it: in the database thread, inside the batch's transaction,
``ClientScreen(sealer, catalog, default_timezone).screen(conn, member, text, now)`` gives the
lines to add to her reply (none when nothing matches) — the pipeline calls it so
(`relay.runtime.pipeline`), where a warning approved earlier in the same batch is seen. Or
directly: ``find(conn, sealer, identifiers, now)``, ``await screen(db, sealer, text, region,
now)`` and, if any, ``render_warning(catalog, member.language, matches, zone)``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from relay.core.identifiers import Identifier, IdentifierKind, extract_identifiers
from relay.core.render import Catalog
from relay.crypto.seal import Sealer
from relay.features.reports.matching import PARTIAL, all_tags, matched_kinds, region_of
from relay.features.reports.wording import lines, match_line, summary
from relay.rules import Member
from relay.store import reports
from relay.store.db import Database


@dataclass(frozen=True)
class Match:
    """One approved warning that matches. Nothing here says who reported it."""

    number: int
    severity: int | None
    reported_at: datetime
    summary: str = field(repr=False)
    kinds: tuple[IdentifierKind, ...] = ()
    origin: str | None = None  # the partner collective that reported it, if one did


def find(
    conn: sqlite3.Connection, sealer: Sealer, identifiers: Sequence[Identifier], now: datetime
) -> list[Match]:
    """Approved, unexpired reports that really match one of ``identifiers``, oldest first."""
    matches = []
    for report in reports.candidates(conn, sealer, all_tags(sealer, identifiers), now):
        kinds = matched_kinds(report.identifiers, identifiers)
        if kinds:
            matches.append(
                Match(
                    number=report.number,
                    severity=report.severity,
                    reported_at=report.created_at,
                    summary=summary(report.text),
                    kinds=kinds,
                    origin=report.origin,
                )
            )
    return matches


async def screen(
    db: Database, sealer: Sealer, text: str, region: str | None, now: datetime
) -> list[Match]:
    """The warnings matching any phone number, plate, email or handle in ``text``.

    ``region`` reads national numbers (``"US"``, ``"GB"``): `region_of` her own number.
    """
    identifiers = extract_identifiers(text, region)
    if not identifiers:
        return []
    return await db.run(lambda conn: find(conn, sealer, identifiers, now))


def _match_lines(catalog: Catalog, language: str, matches: Sequence[Match], zone: str) -> list[str]:
    return [
        match_line(
            catalog, language, zone, m.number, m.severity, m.reported_at, m.summary, m.origin
        )
        for m in matches
    ]


def render_warning(catalog: Catalog, language: str, matches: Sequence[Match], zone: str) -> str:
    """What she reads after CLIENT details that match warnings (empty when none match)."""
    if not matches:
        return ""
    head = catalog.text(language, "screen_warning", count=len(matches))
    foot = catalog.text(language, "screen_footer")
    return "\n".join([head, *_match_lines(catalog, language, matches, zone), foot])


def render_check(catalog: Catalog, language: str, matches: Sequence[Match], zone: str) -> str:
    """The answer to CHECK. A match on only part of a number or plate says it may be someone
    else: the last six digits or a plate's start are shared by other people's."""
    if not matches:
        return lines(catalog, language, ("check_none", {}))
    head = catalog.text(language, "check_found", count=len(matches))
    foot = catalog.text(language, "check_footer")
    partial = [catalog.text(language, "check_partial")] if any(_partial(m) for m in matches) else []
    return "\n".join([head, *_match_lines(catalog, language, matches, zone), *partial, foot])


def _partial(match: Match) -> bool:
    return bool(match.kinds) and all(kind in PARTIAL for kind in match.kinds)


class ClientScreen:
    """Her CLIENT text → the warning to add to her reply (none when nothing matches), read in
    the database thread: the pipeline calls `screen` inside the batch's transaction."""

    def __init__(self, sealer: Sealer, catalog: Catalog, default_timezone: str) -> None:
        self.sealer = sealer
        self.catalog = catalog
        self.default_timezone = default_timezone

    def screen(
        self, conn: sqlite3.Connection, member: Member, text: str, now: datetime
    ) -> tuple[str, ...]:
        identifiers = extract_identifiers(text, region_of(member.number))
        if not identifiers:
            return ()
        matches = find(conn, self.sealer, identifiers, now)
        if not matches:
            return ()
        zone = member.timezone or self.default_timezone
        return (render_warning(self.catalog, member.language, matches, zone),)
