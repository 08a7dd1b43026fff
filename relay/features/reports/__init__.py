"""Bad-client warnings: REPORT, moderation (APPROVE / REJECT), WITHDRAW, CHECK and screening of
CLIENT details, and their expiry.

- `ReportsFeature(vault)` — the feature the desk installs (`relay.features.installed`); what it
  answers is decided in `relay.features.reports.decisions` (pure), stored by `relay.store.reports`.
- `ClientScreen(...).screen(conn, member, text, now)` — CLIENT auto-screening in the database
  thread; `screen`, `render_warning`, `region_of`.
- `purge_expired` — the retention job's call; `rekey` — screening keys brought up to date at
  start-up.
"""

from relay.features.reports.expiry import purge_expired
from relay.features.reports.matching import region_of
from relay.features.reports.rekey import rekey
from relay.features.reports.reporting import ReportsFeature
from relay.features.reports.screening import (
    ClientScreen,
    Match,
    render_warning,
    screen,
)

__all__ = [
    "ClientScreen",
    "Match",
    "ReportsFeature",
    "purge_expired",
    "region_of",
    "rekey",
    "render_warning",
    "screen",
]
