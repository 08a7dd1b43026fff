"""Times in the database are integer milliseconds since the epoch, UTC (some cut to the hour)."""

from __future__ import annotations

from datetime import UTC, datetime


def to_ms(moment: datetime) -> int:
    return round(moment.timestamp() * 1000)


def from_ms(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1000, tz=UTC)


def opt_ms(moment: datetime | None) -> int | None:
    return None if moment is None else to_ms(moment)


def opt_dt(value: int | None) -> datetime | None:
    return None if value is None else from_ms(value)


HOUR_MS = 3_600_000


def hour_ms(moment: datetime, *, up: bool = False) -> int:
    """`to_ms` cut to the hour: down, or `up` where a period is counted from it (so nothing is
    deleted before its time).

    Columns that say *when* without being a deadline the timer needs are kept to the hour, and
    the exact time, where anything needs it, is sealed with the row (issue 17): a report's
    creation time equalled, to the millisecond, the outbox row of the reply to its author.
    """
    ms = to_ms(moment)
    down = ms - ms % HOUR_MS
    return down + HOUR_MS if up and down != ms else down
