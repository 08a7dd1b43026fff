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
from datetime import datetime
from typing import TYPE_CHECKING

from relay.crypto.seal import Sealer, aad_for
from relay.incidents import chain
from relay.incidents.store import photo_records
from relay.rules import Rules
from relay.store.db import Database
from relay.store.times import to_ms

if TYPE_CHECKING:
    from relay.attachments import AttachmentVault

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
    photos = await _purge_export_files(db, now - rules.retention.messages)
    retention = rules.retention.incident_logs
    if retention is None:
        _forget(vault, photos)
        return 0
    cutoff = chain.stamp(now - retention)
    deleted = 0
    async with db.transaction() as conn:
        async with conn.execute("SELECT owner_tag, first_seq FROM incident_logs") as cur:
            logs = [(bytes(row[0]), int(row[1])) for row in await cur.fetchall()]
        for owner_tag, first in logs:
            async with conn.execute(
                "SELECT seq, row_key, content FROM incident_entries WHERE owner_tag = ? "
                "ORDER BY seq",
                (owner_tag,),
            ) as cur:
                rows = await cur.fetchall()
            last_gone = None
            for row in rows:
                aad = aad_for("incident_entries", "content", row["row_key"])
                body = sealer.open_json(row["content"], aad=aad)
                # Stamps are fixed-width UTC ISO strings, so they compare as times.
                if not isinstance(body, dict) or str(body.get("at", "")) >= cutoff:
                    break
                photos += [str(p["key"]) for p in photo_records(body)]
                last_gone = int(row["seq"])
            if last_gone is None:
                continue
            cur2 = await conn.execute(
                "DELETE FROM incident_entries WHERE owner_tag = ? AND seq <= ?",
                (owner_tag, last_gone),
            )
            deleted += max(cur2.rowcount, 0)
            await conn.execute(
                "UPDATE incident_logs SET first_seq = ? WHERE owner_tag = ?",
                (max(first, last_gone + 1), owner_tag),
            )
    _forget(vault, photos)
    if deleted:
        log.info("%d incident-log entr(ies) deleted under retention", deleted)
    return deleted


async def _purge_export_files(db: Database, before: datetime) -> list[str]:
    async with db.transaction() as conn:
        async with conn.execute(
            "SELECT vault_key FROM incident_exports WHERE created_at <= ?", (to_ms(before),)
        ) as cur:
            keys = [str(row[0]) for row in await cur.fetchall()]
        await conn.execute("DELETE FROM incident_exports WHERE created_at <= ?", (to_ms(before),))
    return keys


def _forget(vault: AttachmentVault | None, keys: list[str]) -> None:
    if vault is None:
        if keys:
            log.warning("%d incident-log file(s) left in the vault (no vault given)", len(keys))
        return
    for key in keys:
        vault.forget(key)
