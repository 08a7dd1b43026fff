"""The words of reports and screening: severity labels, dates, summaries, warning lines.

Templates live in ``relay/locales/<lang>/reports.yaml``; this module fills them. Dates are ISO
(``2026-03-12``) in the reader's time zone: the same in every language, and unambiguous.
Pure functions.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from relay.core.identifiers import Identifier
from relay.core.render import Catalog

SUMMARY_CHARS = 160


def severity_label(catalog: Catalog, language: str, severity: int | None) -> str:
    key = f"severity_{severity}" if severity in (1, 2, 3) else "severity_none"
    return catalog.text(language, key)


def day(moment: datetime, zone: str) -> str:
    return moment.astimezone(ZoneInfo(zone)).date().isoformat()


def summary(text: str, limit: int = SUMMARY_CHARS) -> str:
    """The report text on one line, cut at a word near ``limit`` characters."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[:limit].rsplit(" ", 1)[0] if " " in flat[:limit] else flat[:limit]
    return cut.rstrip(" ,;:.") + "…"


def shown(identifiers: Iterable[Identifier]) -> str:
    """Identifiers as a moderator checks them: the normalised forms CHECK will match."""
    return ", ".join(identifier.value for identifier in identifiers)


def lines(catalog: Catalog, language: str, *parts: tuple[str, dict[str, object]]) -> str:
    return "\n".join(catalog.text(language, key, **params) for key, params in parts)


def match_line(
    catalog: Catalog,
    language: str,
    zone: str,
    number: int,
    severity: int | None,
    reported_at: datetime,
    text: str,
    origin: str | None = None,
) -> str:
    """One matching warning; ``origin``: the partner collective that reported it, if one did."""
    return catalog.text(
        language,
        "report_match_line" if origin is None else "report_match_line_partner",
        number=number,
        date=day(reported_at, zone),
        severity=severity_label(catalog, language, severity),
        summary=summary(text),
        partner=origin or "",
    )


def in_languages(texts: Sequence[str]) -> str:
    """One post for a group whose members read several languages: each version once."""
    return "\n\n".join(dict.fromkeys(texts))
