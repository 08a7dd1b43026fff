"""LOG and EXPORT: a member's own incident log, on her terms.

LOG adds an entry — her text and photos, sealed, timestamped by the relay's clock (never her
phone's), chained to the entry before and signed. Nobody else can read it or is told of it.
EXPORT sends the whole log back to her in the chat: a readable file, a JSON file that
`peer-relay verify` checks, and the photos (copies: the log keeps its own). The files an export
makes are recorded, so FORGET and retention delete them too.

The feature interface (`relay.features.base`): `enrich` keeps a LOG's photos in the vault (and
hashes
them); `handle`, in the database thread, reads her log's head (`relay.store.incident_log`),
decides with `relay.features.incidents.answers` (pure) and returns the writes.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from relay.core import intents
from relay.core.normalize import clean, strip_ends
from relay.features.base import Handled, Scope
from relay.features.incidents import answers
from relay.features.incidents.entries import fresh_head, new_entry
from relay.features.incidents.export import build_export
from relay.rules import Member
from relay.signal.events import Incoming
from relay.store import incident_log
from relay.store.incident_log import Photo

if TYPE_CHECKING:
    from relay.runtime.vault import AttachmentVault

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Kept:
    """What `enrich` did with her attachments: how many she sent, the photos kept."""

    sent: int = 0
    photos: tuple[Photo, ...] = ()


class IncidentLogFeature:
    """Claims LOG and EXPORT. Without a vault, photos are not kept and EXPORT cannot send."""

    claims: tuple[type, ...] = (intents.Log, intents.Export)

    def __init__(self, vault: AttachmentVault | None = None) -> None:
        self.vault = vault

    async def enrich(self, member: Member, intent: intents.Intent, event: Incoming) -> Kept:
        """A LOG's photos, sealed into the vault, each with its SHA-256 (the chain lists it)."""
        sent = len(event.attachments)
        vault = self.vault
        if not isinstance(intent, intents.Log) or not sent or vault is None:
            return Kept(sent)
        photos = []
        for key in await vault.keep_all(event.attachments):
            try:
                data, content_type, _ = vault.open(key)
            except OSError:
                continue
            photos.append(Photo(hashlib.sha256(data).hexdigest(), content_type, key))
        return Kept(sent, tuple(photos))

    def handle(
        self,
        conn: sqlite3.Connection,
        scope: Scope,
        member: Member,
        intent: intents.Intent,
        enriched: object,
        now: datetime,
    ) -> Handled:
        kept = enriched if isinstance(enriched, Kept) else Kept()
        if isinstance(intent, intents.Log):
            return _log(conn, scope, member, intent.text, kept, now)
        return self._export(conn, scope, member, now)

    def _export(
        self, conn: sqlite3.Connection, scope: Scope, member: Member, now: datetime
    ) -> Handled:
        b = answers.builder(scope.rules, scope.catalog, scope.timezone, now)
        head = incident_log.head(conn, scope.sealer, member.alias)
        entries = incident_log.entries(conn, scope.sealer, member.alias) if head else []
        if head is None or not entries:
            return Handled(answers.export_empty(b, member))
        vault = self.vault
        if vault is None:
            return Handled(answers.export_unavailable(b, member))
        # The files are made here, in the database thread, not in `enrich`: they must hold
        # every entry, including one an earlier message of the same batch just added.
        zone = member.timezone or scope.timezone
        files = build_export(scope.sealer, head, entries, now, scope.catalog, member.language, zone)
        readable = vault.put(files.readable, "text/plain", files.readable_name)
        document = vault.put(files.document, "application/json", files.document_name)
        copies = []
        for photo in files.photos:
            try:
                data, content_type, _ = vault.open(photo.key)
            except OSError:
                continue  # deleted meanwhile (FORGET); the JSON still lists its hash
            copies.append(vault.put(data, content_type, photo.name))
        decision = answers.exported(b, member, len(entries), (readable, document), copies)
        made = [readable, document, *copies]
        sealer, alias = scope.sealer, member.alias
        log.info("an incident log was exported (%d entries)", len(entries))
        return Handled(decision, lambda c: incident_log.exported(c, sealer, alias, made, now))


def _log(
    conn: sqlite3.Connection,
    scope: Scope,
    member: Member,
    raw: str | None,
    kept: Kept,
    now: datetime,
) -> Handled:
    b = answers.builder(scope.rules, scope.catalog, scope.timezone, now)
    text = strip_ends(clean(raw or ""))
    head = incident_log.head(conn, scope.sealer, member.alias) or fresh_head()
    decision, adds = answers.log(b, member, text, kept.sent, len(kept.photos), head.seq + 1)
    if not adds:
        return Handled(decision)
    entry = new_entry(scope.sealer, head, now, text, kept.photos)
    sealer, alias = scope.sealer, member.alias
    # Whose log it is stays out of the journal: keeping one is itself sensitive.
    log.info("an incident-log entry was added")
    return Handled(decision, lambda c: incident_log.append(c, sealer, alias, head, entry))
