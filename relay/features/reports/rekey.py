"""Stored reports get the screening tags of today's `KEYS_VERSION`, once, at start-up.

The tags are keyed HMACs (`relay.features.reports.matching`), so only the running relay, which
holds the
key, can compute them — not a SQL migration. A counter in the store remembers it was done.
"""

from __future__ import annotations

import sqlite3
from typing import Final

from relay.crypto.seal import Sealer
from relay.features.reports.matching import all_tags
from relay.store import reports
from relay.store.db import Database

KEYS_VERSION: Final = 2
"""Which screening tags a stored report has: 2 adds number endings and plate starts."""


async def rekey(db: Database, sealer: Sealer) -> int:
    """Give every stored report the tags of `KEYS_VERSION` (once); how many were re-keyed."""

    def work(conn: sqlite3.Connection) -> int:
        if reports.counter(conn, reports.KEYS_COUNTER) >= KEYS_VERSION:
            return 0
        stored = reports.every_report(conn, sealer)
        for report in stored:
            reports.add_keys(conn, report.number, all_tags(sealer, report.identifiers, index=True))
        reports.set_counter(conn, reports.KEYS_COUNTER, KEYS_VERSION)
        return len(stored)

    return await db.write(work)
