"""FORGET's statements: finding every row that is hers, and deleting them in one transaction.

`find` reads what FORGET would delete (so her reply can count it) and `erase` deletes it; both
run in the database thread inside the transaction that also queues her reply
(`relay.features.forget`
decides). What stays, and why, is `relay.features.forget`'s docstring.

Closed watches carry random tags and reports a tag per row (issue 17): her closed check-ins are
found by opening each closed watch's sealed detail, her reports by recomputing each row's tag.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from relay.core.types import MemberAlias
from relay.crypto.seal import Sealer, TamperedError, aad_for
from relay.store import incident_log, reports
from relay.store.ids import chunks, delete_ids
from relay.store.outbox import drop_refs, recipient_tag
from relay.store.phases import CLOSED
from relay.store.purges import photo_keys, vault_keys_in_use
from relay.store.watches import member_tag

log = logging.getLogger(__name__)


@dataclass
class Hers:
    """What FORGET will delete, found before the reply is written so the reply can count it."""

    watches: list[str] = field(default_factory=list)
    messages: list[int] = field(default_factory=list)
    photos: set[str] = field(default_factory=set)  # vault keys she sent (watches, reports, log)
    borrowed: set[str] = field(default_factory=set)  # vault keys on the messages (exports …)
    pending_reports: int = 0
    shared_reports: int = 0
    log_entries: int = 0


def find(conn: sqlite3.Connection, sealer: Sealer, alias: MemberAlias, number: str) -> Hers:
    """Everything FORGET deletes for her. Raises `TamperedError` if a row of hers does not open."""
    hers = Hers()
    # Her draft by its tag; closed watches carry random tags (relay.store.watches), so each is
    # opened to see whose it is. Retention keeps few: hours of check-ins, weeks of alerts.
    tag = member_tag(sealer, alias)
    rows = conn.execute(
        f"SELECT id, member_tag, detail FROM watches WHERE member_tag = ? OR {CLOSED}",  # noqa: S608 — a fixed fragment
        (tag,),
    ).fetchall()
    for row in rows:
        aad = aad_for("watches", "detail", row["id"])
        try:
            detail = sealer.open_json(row["detail"], aad=aad)
        except TamperedError:
            if row["member_tag"] == tag:
                raise  # hers, and unreadable: stop and say so (forget_failed)
            log.warning("FORGET: a closed watch did not open; left to retention")
            continue
        if not isinstance(detail, dict) or detail.get("member") != alias:
            continue
        hers.watches.append(str(row["id"]))
        hers.photos.update(photo_keys(detail))
    hers.messages, hers.borrowed = _messages(conn, sealer, number, hers.watches)

    for report, status, _, _ in reports.authored(conn, sealer, alias):
        if status != "pending":
            hers.shared_reports += 1
            continue
        hers.pending_reports += 1
        photos = conn.execute("SELECT vault_key FROM report_photos WHERE number = ?", (report,))
        hers.photos.update(str(row[0]) for row in photos.fetchall())

    for entry in incident_log.entries(conn, sealer, alias):
        hers.log_entries += 1
        hers.photos.update(photo.key for photo in entry.photos)
    return hers


def _messages(
    conn: sqlite3.Connection, sealer: Sealer, number: str, watch_ids: Sequence[str]
) -> tuple[list[int], set[str]]:
    """Outbox rows FORGET deletes: every sent one to her or about her check-ins; unsent ones to
    her that are hers (replies, news of her own check-ins). Returns ids and their vault keys."""
    ids: set[int] = set()
    keys: set[str] = set()
    mine = set(watch_ids)
    columns = "id, row_key, watch_id, sent_at, purpose, attachments, recipient"
    rows = conn.execute(
        f"SELECT {columns} FROM outbox WHERE recipient_tag = ?",  # noqa: S608 — fixed names
        (recipient_tag(sealer, number),),
    ).fetchall()
    for chunk in chunks(watch_ids):
        marks = ",".join("?" * len(chunk))
        rows += conn.execute(
            f"SELECT {columns} FROM outbox WHERE sent_at IS NOT NULL AND watch_id IN ({marks})",  # noqa: S608 — placeholders only
            chunk,
        ).fetchall()
    for row in rows:
        watch_id = row["watch_id"]  # rows written before migration 006; later ones seal it
        if watch_id is None and row["sent_at"] is None and row["purpose"] != "reply":
            aad = aad_for("outbox", "recipient", row["row_key"])
            payload = sealer.open_json(row["recipient"], aad=aad)
            watch_id = payload.get("watch") if isinstance(payload, dict) else None
        if row["sent_at"] is None and row["purpose"] != "reply" and watch_id not in mine:
            # On its way to her and not about her: an alert she is a buddy on, a notice for the
            # admin about someone's alert. Someone's safety depends on it arriving.
            continue
        ids.add(int(row["id"]))
        if row["attachments"] is not None:
            aad = aad_for("outbox", "attachments", row["row_key"])
            listed = sealer.open_json(row["attachments"], aad=aad)
            if isinstance(listed, list):
                keys.update(k for k in listed if isinstance(k, str))
    return sorted(ids), keys


def erase(
    conn: sqlite3.Connection, sealer: Sealer, alias: MemberAlias, hers: Hers, now: datetime
) -> set[str]:
    """Delete what `find` found, inside the caller's transaction; the vault files to delete.

    Her own photos go whatever else still names them (she asked). Files the deleted messages
    carried (export copies, photos borrowed from elsewhere) go unless a remaining row names
    them; if some row does not open, they stay.
    """
    delete_ids(conn, "watches", hers.watches)
    delete_ids(conn, "outbox", hers.messages)
    mine = set(hers.watches)
    drop_refs(conn, sealer, lambda watch_id: watch_id not in mine)
    photos = set(hers.photos)
    photos.update(reports.forget_author(conn, sealer, alias, now))
    photos.update(incident_log.forget(conn, sealer, alias))
    in_use = vault_keys_in_use(conn, sealer)
    borrowed = hers.borrowed - in_use if in_use is not None else set()
    return photos | borrowed
