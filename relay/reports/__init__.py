"""Bad-client warnings: REPORT, moderation (APPROVE / REJECT), WITHDRAW, CHECK and screening of
CLIENT details, and their expiry.

- `ReportsFeature(vault)` — the feature the engine installs (`relay.feature_set`); what it
  answers is decided in `relay.reports.decisions` (pure), stored by `relay.store.reports`.
- `ClientScreen(...).screen(conn, member, text, now)` — CLIENT auto-screening in the database
  thread; `make_screener` (async, for the engine), `screen`, `render_warning`, `region_of`.
- `purge_expired` — the retention job's call; `rekey` — screening keys brought up to date at
  start-up.
"""

from relay.reports.expiry import purge_expired
from relay.reports.matching import region_of
from relay.reports.rekey import rekey
from relay.reports.reporting import ReportsFeature
from relay.reports.screening import (
    ClientScreen,
    Match,
    Screener,
    make_screener,
    render_warning,
    screen,
)

__all__ = [
    "ClientScreen",
    "Match",
    "ReportsFeature",
    "Screener",
    "make_screener",
    "purge_expired",
    "region_of",
    "rekey",
    "render_warning",
    "screen",
]
