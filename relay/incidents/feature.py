"""LOG and EXPORT: a member's own incident log, on her terms.

LOG adds an entry — her text and photos, sealed, timestamped by the relay's clock (never her
phone's), chained to the entry before and signed. Nobody else can read it or is told of it.
EXPORT sends the whole log back to her in the chat: a readable file, a JSON file that
`peer-relay verify` checks, and the photos (copies: the log keeps its own). The files an export
makes are recorded, so FORGET and retention delete them too.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime
from zoneinfo import ZoneInfo

import aiosqlite

from relay.core import intents
from relay.core.decide import Decision, Outgoing, Purpose
from relay.core.normalize import clean, strip_ends
from relay.core.state import Recipient
from relay.features import FeatureContext, FeatureResult
from relay.incidents.export import build_export
from relay.incidents.store import LogRepo, Photo, fresh_head, new_entry
from relay.rules import Member
from relay.signal.events import Incoming

log = logging.getLogger(__name__)

PHOTOS_PER_MESSAGE = (
    10  # Signal shows a message with many attachments as a grid; keep them readable
)


class IncidentLogFeature:
    """Claims LOG and EXPORT."""

    claims: tuple[type, ...] = (intents.Log, intents.Export)

    async def handle(
        self,
        ctx: FeatureContext,
        member: Member,
        intent: intents.Intent,
        event: Incoming,
        now: datetime,
    ) -> FeatureResult:
        repo = LogRepo(ctx.db, ctx.sealer)
        if isinstance(intent, intents.Log):
            return await _log(ctx, repo, member, intent.text, event, now)
        return await _export(ctx, repo, member, now)


def _reply(ctx: FeatureContext, member: Member, *keys: tuple[str, dict[str, object]]) -> Outgoing:
    text = "\n".join(ctx.catalog.text(member.language, key, **params) for key, params in keys)
    return Outgoing(Recipient.member(member.alias), text, Purpose.REPLY)


async def _photos(ctx: FeatureContext, event: Incoming) -> list[Photo]:
    vault = ctx.vault
    if vault is None:
        return []
    photos = []
    for key in await vault.keep_all(event.attachments):
        try:
            data, content_type, _ = vault.open(key)
        except OSError:
            continue
        photos.append(Photo(hashlib.sha256(data).hexdigest(), content_type, key))
    return photos


async def _log(
    ctx: FeatureContext,
    repo: LogRepo,
    member: Member,
    raw: str | None,
    event: Incoming,
    now: datetime,
) -> FeatureResult:
    text = strip_ends(clean(raw or ""))
    if not text and not event.attachments:
        return FeatureResult(Decision(messages=(_reply(ctx, member, ("log_usage", {})),)))
    photos = await _photos(ctx, event)
    if not text and not photos:
        lost: tuple[str, dict[str, object]] = ("log_photos_lost", {"count": len(event.attachments)})
        return FeatureResult(Decision(messages=(_reply(ctx, member, lost, ("log_usage", {})),)))
    head = await repo.head(member.alias) or fresh_head()
    entry = new_entry(ctx.sealer, head, now, text, photos)
    zone = member.timezone or ctx.timezone
    local = now.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")
    parts: list[tuple[str, dict[str, object]]] = [("log_saved", {"seq": entry.seq, "time": local})]
    if len(photos) < len(event.attachments):
        parts.append(("log_photos_lost", {"count": len(event.attachments) - len(photos)}))

    async def write(conn: aiosqlite.Connection) -> None:
        await repo.append(conn, member.alias, head, entry)

    # Whose log it is stays out of the journal: keeping one is itself sensitive.
    log.info("an incident-log entry was added")
    return FeatureResult(Decision(messages=(_reply(ctx, member, *parts),)), write)


async def _export(
    ctx: FeatureContext, repo: LogRepo, member: Member, now: datetime
) -> FeatureResult:
    head = await repo.head(member.alias)
    entries = await repo.entries(member.alias) if head is not None else []
    if head is None or not entries:
        return FeatureResult(Decision(messages=(_reply(ctx, member, ("export_empty", {})),)))
    vault = ctx.vault
    if vault is None:
        return FeatureResult(Decision(messages=(_reply(ctx, member, ("export_unavailable", {})),)))
    zone = member.timezone or ctx.timezone
    files = build_export(ctx.sealer, head, entries, now, ctx.catalog, member.language, zone)
    readable = vault.put(files.readable, "text/plain", files.readable_name)
    document = vault.put(files.document, "application/json", files.document_name)
    copies = []
    for photo in files.photos:
        try:
            data, content_type, _ = vault.open(photo.key)
        except OSError:
            continue  # deleted meanwhile (FORGET); the JSON still lists its hash
        copies.append(vault.put(data, content_type, photo.name))
    me = Recipient.member(member.alias)
    text = _reply(ctx, member, ("export_sent", {"count": len(entries)})).text
    messages = [Outgoing(me, text, Purpose.REPLY, attachments=(readable, document))]
    batches = [
        copies[i : i + PHOTOS_PER_MESSAGE] for i in range(0, len(copies), PHOTOS_PER_MESSAGE)
    ]
    for part, batch in enumerate(batches, start=1):
        caption = ctx.catalog.text(member.language, "export_photos", part=part, parts=len(batches))
        messages.append(Outgoing(me, caption, Purpose.REPLY, attachments=tuple(batch)))
    made = [readable, document, *copies]

    async def write(conn: aiosqlite.Connection) -> None:
        await repo.exported(conn, member.alias, made, now)

    log.info("an incident log was exported (%d entries)", len(entries))
    return FeatureResult(Decision(messages=tuple(messages)), write)
