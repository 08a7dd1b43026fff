"""Reports leave on schedule: `purge_expired` deletes every report past its time (for the lead's
retention job), with its screening keys and photos, and records a who-less "expired" line.

A report's expiry is fixed when it is made (``retention.reports`` then); a shorter retention in
today's rules also applies to older reports, so an admin who shortens it is obeyed at once.
"""

from __future__ import annotations

import logging
import sqlite3
from datetime import datetime
from typing import TYPE_CHECKING

from relay.rules import Rules
from relay.store import reports
from relay.store.db import Database

if TYPE_CHECKING:
    from relay.runtime.vault import AttachmentVault

log = logging.getLogger(__name__)


async def purge_expired(
    db: Database, now: datetime, rules: Rules, vault: AttachmentVault | None = None
) -> int:
    """Delete expired reports; return how many. Pass the vault so their photo files go too."""
    retention = rules.retention.reports
    cutoff = now - retention if retention is not None else None

    def work(conn: sqlite3.Connection) -> tuple[int, list[str]]:
        numbers = reports.expired(conn, now, cutoff)
        photos = [key for n in numbers for key in reports.delete(conn, n, "expired", now)]
        return len(numbers), photos

    count, photos = await db.write(work)
    if vault is not None:
        for key in photos:
            vault.forget(key)
    elif photos:
        log.warning(
            "%d photo(s) of expired reports left in the vault (no vault given)", len(photos)
        )
    if count:
        log.info("%d report(s) expired and deleted", count)
    return count
