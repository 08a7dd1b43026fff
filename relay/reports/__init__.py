"""Bad-client warnings: REPORT, moderation (APPROVE / REJECT), WITHDRAW, CHECK and screening of
CLIENT details, and their expiry.

- `ReportsFeature` — the feature the engine installs (`relay.feature_set`).
- `screen`, `render_warning`, `make_screener`, `region_of` — CLIENT auto-screening.
- `purge_expired` — the retention job's call.
"""

from relay.reports.feature import ReportsFeature
from relay.reports.matching import region_of
from relay.reports.retention import purge_expired
from relay.reports.screening import Match, Screener, make_screener, render_warning, screen

__all__ = [
    "Match",
    "ReportsFeature",
    "Screener",
    "make_screener",
    "purge_expired",
    "region_of",
    "render_warning",
    "screen",
]
