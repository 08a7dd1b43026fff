"""Reports leave on schedule: `purge_expired` deletes every report past its time (for the lead's
retention job), with its screening keys and photos, and records a who-less "expired" line.

A report's expiry is fixed when it is made (``retention.reports`` then); a shorter retention in
today's rules also applies to older reports, so an admin who shortens it is obeyed at once.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from relay.reports.store import delete
from relay.rules import Rules
from relay.store.db import Database
from relay.store.times import to_ms

if TYPE_CHECKING:
    from relay.attachments import AttachmentVault

log = logging.getLogger(__name__)


async def purge_expired(
    db: Database, now: datetime, rules: Rules, vault: AttachmentVault | None = None
) -> int:
    """Delete expired reports; return how many. Pass the vault so their photo files go too."""
    retention = rules.retention.reports
    cutoff = to_ms(now - retention) if retention is not None else None
    photos: list[str] = []
    async with db.transaction() as conn:
        async with conn.execute(
            "SELECT number FROM reports WHERE (expires_at IS NOT NULL AND expires_at <= ?) "
            "OR (? IS NOT NULL AND created_at <= ?) ORDER BY number",
            (to_ms(now), cutoff, cutoff),
        ) as cur:
            numbers = [int(row[0]) for row in await cur.fetchall()]
        for number in numbers:
            photos += await delete(conn, number, "expired", now)
    if vault is not None:
        for key in photos:
            vault.forget(key)
    elif photos:
        log.warning(
            "%d photo(s) of expired reports left in the vault (no vault given)", len(photos)
        )
    if numbers:
        log.info("%d report(s) expired and deleted", len(numbers))
    return len(numbers)
