"""Durations in rule files: ``90s``, ``10m``, ``1h30m``, ``1h30``, ``1:30``, ``2h``, ``7d``, ``90``.

Pure functions: `parse_duration` for the rules' value types (`relay.rules.values`), and
`format_duration`, which writes a duration back the way this parser reads it. A bare number means
minutes, because that is what people mean when they write ``grace: 10``.

What members text (``IN 2h``, ``90 min``, ``dos horas``) is read by `relay.core.durations`, a
different grammar on purpose: lenient (four languages, number words, decimals, any script's
digits) and capped at a day, where a rule file is strict (ASCII digits, each unit once from weeks
down to seconds, no fractions) and may say weeks. Even their common shapes part ways:
``1h75``, ``1h30s`` and ``1000:00`` are durations here and not to the member parser, which must
not read ``1h30 second avenue`` as a time. So neither calls the other.
"""

from __future__ import annotations

import re
from datetime import timedelta

# The longest duration anything in the relay has a use for; it also keeps timedelta from
# overflowing on "99999999999w".
LONGEST = timedelta(days=3660)

_UNITS = {
    "w": timedelta(weeks=1),
    "d": timedelta(days=1),
    "h": timedelta(hours=1),
    "m": timedelta(minutes=1),
    "min": timedelta(minutes=1),
    "s": timedelta(seconds=1),
}
_MINUTES = re.compile(r"[0-9]{1,7}")  # ASCII only: int() would also take "١٢" but not "²"
_PART = re.compile(r"([0-9]{1,7})(min|w|d|h|m|s)")
_ORDER = ("w", "d", "h", "m", "s")  # each unit at most once, largest first: "30m1h" is a typo
_HOURS_MINUTES = re.compile(r"([0-9]{1,4})h([0-9]{1,2})")  # "1h30": minutes implied
_CLOCK = re.compile(r"([0-9]{1,4}):([0-5][0-9])")  # "1:30" = one hour thirty


def parse_duration(text: str) -> timedelta | None:
    """The duration ``text`` spells, or None if it is not one; zero is returned as zero.

    Case and spaces between parts are ignored (``1h 30m``); no signs, no fractions.
    """
    compact = "".join(text.split()).lower()
    if not compact or len(compact) > 32:
        return None
    if _MINUTES.fullmatch(compact):
        return _bounded(timedelta(minutes=int(compact)))
    match = _HOURS_MINUTES.fullmatch(compact) or _CLOCK.fullmatch(compact)
    if match is not None:
        return _bounded(timedelta(hours=int(match[1]), minutes=int(match[2])))
    total = timedelta(0)
    position = 0
    last_rank = -1
    for part in _PART.finditer(compact):
        if part.start() != position:
            return None
        unit = "m" if part[2] == "min" else part[2]
        rank = _ORDER.index(unit)
        if rank <= last_rank:
            return None
        last_rank = rank
        total += int(part[1]) * _UNITS[unit]
        if total > LONGEST:
            return None
        position = part.end()
    if position != len(compact):
        return None
    return total


def _bounded(value: timedelta) -> timedelta | None:
    return value if value <= LONGEST else None


def format_duration(value: timedelta) -> str:
    """The shortest spelling `parse_duration` reads back: ``1h30m``, ``45s``, ``2d``, ``0m``."""
    seconds = int(value.total_seconds())
    if seconds <= 0:
        return "0m"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)
