"""Incident-log entries leave on schedule, when the rules say so (``retention.incident_logs``;
the sample keeps them until she deletes them herself); the files EXPORT sent leave with the other
copies of sent messages (``retention.messages``).

Only the oldest entries go, as a run from the start: the chain's head is kept, and the log
remembers the first entry left (``first_seq``), which every later export signs, so
`peer-relay verify` reports "entries before N were deleted under retention" instead of a
missing entry.
"""

from __future__ import annotations

import logging
import sqlite3
from datetime import datetime
from typing import TYPE_CHECKING

from relay.crypto.seal import Sealer
from relay.features.incidents import hashchain
from relay.rules import Rules
from relay.store import incident_log
from relay.store.db import Database

if TYPE_CHECKING:
    from relay.runtime.vault import AttachmentVault

log = logging.getLogger(__name__)


async def purge_expired_entries(
    db: Database,
    sealer: Sealer,
    now: datetime,
    rules: Rules,
    vault: AttachmentVault | None = None,
) -> int:
    """Delete entries older than the rules keep them; return how many. Files sent by EXPORT go
    once older than ``retention.messages`` (they were only kept to be sent)."""
    before = now - rules.retention.messages
    photos = await db.write(lambda conn: incident_log.drop_exports(conn, before))
    retention = rules.retention.incident_logs
    if retention is None:
        _forget(vault, photos)
        return 0
    cutoff = hashchain.stamp(now - retention)

    def work(conn: sqlite3.Connection) -> int:
        deleted = 0
        for owner_tag, first in incident_log.logs(conn):
            last_gone = None
            for entry in incident_log.entries_of(conn, sealer, owner_tag):
                # Stamps are fixed-width UTC ISO strings, so they compare as times.
                if entry.at >= cutoff:
                    break
                photos.extend(p.key for p in entry.photos)
                last_gone = entry.seq
            if last_gone is not None:
                deleted += incident_log.drop_through(conn, owner_tag, last_gone, first)
        return deleted

    deleted = await db.write(work)
    _forget(vault, photos)
    if deleted:
        log.info("%d incident-log entr(ies) deleted under retention", deleted)
    return deleted


def _forget(vault: AttachmentVault | None, keys: list[str]) -> None:
    if vault is None:
        if keys:
            log.warning("%d incident-log file(s) left in the vault (no vault given)", len(keys))
        return
    for key in keys:
        vault.forget(key)
