"""Message catalogs and the few formatting rules every message shares (times, spans, names).

Catalog data lives in `relay/locales/<lang>/messages.yaml` (loaded by `relay.locales`); this module
only fills templates, so it stays pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

FALLBACK_LANGUAGE = "en"


@dataclass(frozen=True)
class Catalog:
    """`messages[lang][key]` → template with ``{placeholders}``."""

    messages: Mapping[str, Mapping[str, str]]

    def text(self, language: str, key: str, **params: object) -> str:
        table = self.messages.get(language) or self.messages[FALLBACK_LANGUAGE]
        template = table.get(key)
        if template is None:
            template = self.messages[FALLBACK_LANGUAGE][key]
        return template.format(**params)

    def weekdays(self, language: str) -> tuple[str, ...]:
        """Her language's seven short weekday names, Monday first (the ``weekdays`` key)."""
        names = tuple(self.text(language, "weekdays").split())
        return names if len(names) == 7 else WEEKDAYS


def span(delta: timedelta) -> str:
    """A duration as people say it: ``40s``, ``25 min``, ``1h 30m``, ``2d 3h``."""
    seconds = max(0, round(delta.total_seconds()))
    if seconds < 60:
        return f"{seconds}s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h {minutes:02d}m" if minutes else f"{hours}h"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h" if hours else f"{days}d"


WEEKDAYS: Final = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
"""English short weekday names, Monday first (the catalogs' ``weekdays`` key, for each language)."""


def clock(moment: datetime, zone: str, now: datetime, weekdays: Sequence[str] = WEEKDAYS) -> str:
    """A wall-clock time in her zone: ``23:10``; with the weekday when it is not today
    (``Tue 23:10``, in her language's `weekdays`: never the box's locale)."""
    tz = ZoneInfo(zone)
    local = moment.astimezone(tz)
    if local.date() == now.astimezone(tz).date():
        return f"{local:%H:%M}"
    return f"{weekdays[local.weekday()]} {local:%H:%M}"


def display(alias: str | None) -> str:
    """An alias as a name in a sentence: ``bob`` → ``Bob``."""
    return (alias or "")[:1].upper() + (alias or "")[1:]


def names(aliases: Iterable[str], none: str) -> str:
    """Aliases as a list a person reads: ``Bob, Carol``."""
    shown = [display(alias) for alias in aliases]
    return ", ".join(shown) if shown else none
