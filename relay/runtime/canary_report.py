"""What the end-to-end canary knows (`relay.runtime.canary`), as the watchdog and status file read
it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

State = Literal["unknown", "ok", "degraded"]


@dataclass(frozen=True, slots=True)
class CanaryReport:
    """What the canary knows, for the watchdog, the status file and the admin."""

    state: State
    previous: State
    last_ok_at: datetime | None  # the last proof (a receipt for one of our messages)
    checked_at: datetime | None  # the last verdict, proof or miss
    failing_since: datetime | None  # the first miss of the current run of misses
    reason: str | None  # "no_receipt" or "send_failed", while misses run
    misses: int
