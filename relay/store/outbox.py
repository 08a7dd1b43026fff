"""The outbox: every outgoing message is written here (sealed) before it is sent.

A message leaves the table only when signal-cli-rest-api accepted it; the sender keeps order per
recipient and retries with capped backoff (`relay.runtime.sender`). A sent message's row is deleted
in
the transaction that records it sent: kept, its recipient tag, purpose, times and watch tied a
watch to its owner and to everyone alerted about it (issue 17). What a buddy's quote or reaction
still needs — which watch the message was about — goes to `sent_refs`, sealed, under a keyed tag
of Signal's timestamp. While unsent, the watch id is sealed with the recipient, not in a column.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

import aiosqlite

from relay.crypto.seal import Sealer, TamperedError, aad_for, new_row_key
from relay.store.db import Database
from relay.store.ids import delete_ids
from relay.store.phases import LIVE
from relay.store.times import from_ms, to_ms

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Queued:
    """A message ready to be written: the address is already resolved (number, uuid, group id)."""

    address: str
    text: str
    purpose: str
    watch_id: str | None = None
    label: str = ""  # an alias, a group or contact label: how notices about it name the recipient
    attachments: tuple[str, ...] = ()  # attachment vault keys
    withheld: tuple[str, tuple[str, ...]] | None = None  # a group's full alert (core.group_alert)
    fold: bool = False  # a repeat: folded into an unsent message of the same alert, if any


@dataclass(frozen=True, slots=True)
class Pending:
    id: int
    address: str
    text: str
    purpose: str
    watch_id: str | None
    created_at: datetime
    attempts: int
    last_error: str | None
    label: str
    attachments: tuple[str, ...] = ()
    withheld: tuple[str, tuple[str, ...]] | None = None


@dataclass(frozen=True, slots=True)
class Tried:
    """A send's outcome: sent at `at`, or failed with `error` and to be retried at `at`.

    `watch_id`: the watch a sent message was about, kept (sealed) for quotes and reactions."""

    id: int
    at: datetime
    signal_timestamp: int | None = None
    error: str | None = None
    watch_id: str | None = None


@dataclass(frozen=True, slots=True)
class Look:
    heads: list[Pending]
    stuck: list[Pending]
    next_attempt: datetime | None  # only when there are no heads


_HEADS = (
    "SELECT o.* FROM outbox o JOIN ("
    " SELECT MIN(id) AS id FROM outbox WHERE sent_at IS NULL GROUP BY recipient_tag"
    ") h ON o.id = h.id WHERE o.next_attempt_at <= ? ORDER BY o.id LIMIT ?"
)
_NEXT_ATTEMPT = (
    "SELECT MIN(o.next_attempt_at) FROM outbox o JOIN ("
    " SELECT MIN(id) AS id FROM outbox WHERE sent_at IS NULL GROUP BY recipient_tag"
    ") h ON o.id = h.id"
)
_FIRST_UNSENT = "SELECT MIN(id) FROM outbox WHERE recipient_tag = ? AND sent_at IS NULL"
_STUCK = (
    "SELECT * FROM outbox WHERE sent_at IS NULL AND purpose = 'alert' "
    "AND stuck_reported = 0 AND created_at <= ? ORDER BY id"
)
_SENT = "DELETE FROM outbox WHERE id = ?"
_REF = "INSERT OR IGNORE INTO sent_refs (tag, row_key, watch) VALUES (?, ?, ?)"
RECIPIENT_PURPOSE = "outbox-recipient"
"""The lookup purpose of `outbox.recipient_tag`."""
REF_PURPOSE = "sent-ref"
"""The lookup purpose of `sent_refs.tag`."""
_UNSENT_ALERT = (
    "SELECT id FROM outbox WHERE fold_tag = ? AND purpose = 'alert' AND sent_at IS NULL LIMIT 1"
)
# Failures a working send shows to be over (Signal, the container or the network was away);
# not a changed safety number, an unregistered number or a rate limit.
_WAKE = (
    "UPDATE outbox SET next_attempt_at = ? WHERE sent_at IS NULL AND next_attempt_at > ? "
    "AND (last_error IN ('refused', 'timeout', 'recipient_network_failure', 'http_400') "
    "OR last_error LIKE 'http_5%' OR last_error LIKE 'transport_%')"
)
_FAILED = (
    "UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ? WHERE id = ?"
)


def _head_rows(now_ms: int, limit: int, conn: sqlite3.Connection) -> list[sqlite3.Row]:
    return conn.execute(_HEADS, (now_ms, limit)).fetchall()


_INSERT = (
    "INSERT INTO outbox (row_key, recipient_tag, recipient, body, attachments, purpose, "
    "watch_id, created_at, next_attempt_at, fold_tag) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


class OutboxRepo:
    def __init__(self, db: Database, sealer: Sealer) -> None:
        self.db = db
        self.sealer = sealer
        self._tags: dict[str, bytes] = {}  # HMACs of addresses: members, groups, contacts

    def _tag(self, address: str) -> bytes:
        tag = self._tags.get(address)
        if tag is None:
            tag = self._tags[address] = recipient_tag(self.sealer, address)
        return tag

    async def add(self, conn: aiosqlite.Connection, item: Queued, now: datetime) -> None:
        """Queue inside the caller's transaction."""
        await self.add_many(conn, (item,), now)

    async def add_many(
        self, conn: aiosqlite.Connection, items: Sequence[Queued], now: datetime
    ) -> None:
        """Queue several, in this order, in one trip to the database thread."""
        if items:
            await conn.executemany(_INSERT, [row[:-1] for row in self.rows(items, now)])

    def rows(self, items: Sequence[Queued], now: datetime) -> list[tuple[object, ...]]:
        """Sealed rows for `store_rows` (sealing stays on the caller's thread)."""
        return [self._row(item, now) for item in items]

    @staticmethod
    def store_rows(conn: sqlite3.Connection, rows: list[tuple[object, ...]]) -> list[int | None]:
        """Queue, in this order, inside the caller's `Database.write`; their ids (None: folded).

        A repeat of an alert ("still nobody on her alert") to someone who still has an unsent
        message of that alert is folded into it: nothing new is queued. The unsent one says as
        much or more and renders its relative times when it leaves (relay.core.ages): after an
        outage she gets one current alert, not one per `repeat_every`. News of an open alert
        (she sent SOS again, a new place, photos) is never folded: it says something new."""
        ids: list[int | None] = []
        for row in rows:
            *insert, fold = row
            fold_tag = insert[-1]
            folded = fold and fold_tag is not None
            if folded and conn.execute(_UNSENT_ALERT, (fold_tag,)).fetchone() is not None:
                ids.append(None)
                continue
            cursor = conn.execute(_INSERT, insert)
            ids.append(int(cursor.lastrowid or 0))
        return ids

    @staticmethod
    def heads_among(conn: sqlite3.Connection, written: list[tuple[int, object]]) -> set[int]:
        """Of messages just written (id, recipient tag): those first in their recipient's queue."""
        heads = set()
        for tag in {tag for _, tag in written}:
            row = conn.execute(_FIRST_UNSENT, (tag,)).fetchone()
            if row is not None and row[0] is not None:
                heads.add(int(row[0]))
        return heads & {i for i, _ in written}

    def _row(self, item: Queued, now: datetime) -> tuple[object, ...]:
        row_key = new_row_key()
        payload: dict[str, object] = {
            "to": item.address,
            "label": item.label,
            "watch": item.watch_id,
        }
        if item.withheld is not None:
            payload["full"], payload["files"] = item.withheld[0], list(item.withheld[1])
        return (
            row_key,
            self._tag(item.address),
            self.sealer.seal_json(payload, aad=aad_for("outbox", "recipient", row_key)),
            self.sealer.seal_text(item.text, aad=aad_for("outbox", "body", row_key)),
            self.sealer.seal_json(
                list(item.attachments), aad=aad_for("outbox", "attachments", row_key)
            )
            if item.attachments
            else None,
            item.purpose,
            None,  # the watch id is sealed with the recipient: a column tied watch and recipient
            to_ms(now),
            to_ms(now),
            self._fold_tag(item),
            item.fold,  # not a column: whether `store_rows` may fold it (a repeat)
        )

    def _fold_tag(self, item: Queued) -> bytes | None:
        """A keyed tag of (recipient, watch) for an alert message: what a repeat folds into."""
        if item.purpose != "alert" or not item.watch_id:
            return None
        return self.sealer.lookup(f"{item.address}\n{item.watch_id}", purpose="outbox-fold")

    async def heads(self, now: datetime, limit: int = 64) -> list[Pending]:
        """For each recipient, her oldest unsent message, if it is due for a try."""
        rows = await self.db.synced_read(partial(_head_rows, to_ms(now), limit))
        return await self._opened(rows, now)

    async def look(self, now: datetime, stuck_after: timedelta, limit: int = 64) -> Look:
        """What the sender needs, in one trip: every commit so far made durable, then the heads
        due now, the alerts stuck longer than `stuck_after`, and the next retry time."""

        def read(conn: sqlite3.Connection) -> tuple[list[sqlite3.Row], ...]:
            heads = _head_rows(to_ms(now), limit, conn)
            stuck = conn.execute(_STUCK, (to_ms(now - stuck_after),)).fetchall()
            nxt = [] if heads else conn.execute(_NEXT_ATTEMPT).fetchall()
            return heads, stuck, nxt

        heads, stuck, nxt = await self.db.synced_read(read)
        return Look(
            heads=await self._opened(heads, now),
            stuck=await self._opened(stuck, now),
            next_attempt=from_ms(nxt[0][0]) if nxt and nxt[0][0] is not None else None,
        )

    async def _opened(self, rows: list[sqlite3.Row], now: datetime) -> list[Pending]:
        found = []
        for row in rows:
            try:
                found.append(self._load(row))
            except TamperedError as exc:
                # A damaged message must not hold up everything queued behind it.
                log.error(
                    "message #%d could not be opened (%s: %s); set aside",
                    row["id"],
                    exc.where,
                    exc.problem,
                )
                await self._set_aside(row["id"], now)
        return found

    async def _set_aside(self, message_id: int, now: datetime) -> None:
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE outbox SET sent_at = ?, last_error = 'unreadable' WHERE id = ?",
                (to_ms(now), message_id),
            )

    def _load(self, row: aiosqlite.Row) -> Pending:
        row_key = row["row_key"]
        payload = self.sealer.open_json(
            row["recipient"], aad=aad_for("outbox", "recipient", row_key)
        )
        assert isinstance(payload, dict)  # noqa: S101 — written by add() above
        return Pending(
            id=row["id"],
            address=str(payload["to"]),
            label=str(payload.get("label") or ""),
            text=self.sealer.open_text(row["body"], aad=aad_for("outbox", "body", row_key)),
            purpose=row["purpose"],
            # Rows written before migration 006 have it in the column.
            watch_id=_opt_str(payload.get("watch")) or row["watch_id"],
            created_at=from_ms(row["created_at"]),
            attempts=row["attempts"],
            last_error=row["last_error"],
            attachments=self._attachments(row),
            withheld=_withheld(payload),
        )

    def _attachments(self, row: aiosqlite.Row) -> tuple[str, ...]:
        if row["attachments"] is None:
            return ()
        aad = aad_for("outbox", "attachments", row["row_key"])
        keys = self.sealer.open_json(row["attachments"], aad=aad)
        return tuple(str(k) for k in keys) if isinstance(keys, list) else ()

    async def shift(self, conn: aiosqlite.Connection, delta: timedelta) -> None:
        """Move unsent messages' times by `delta` (the wall clock jumped): a retry due in a
        second stays due in a second, and "stuck for N minutes" counts real minutes."""
        ms = round(delta.total_seconds() * 1000)
        await conn.execute(
            "UPDATE outbox SET next_attempt_at = next_attempt_at + ?, created_at = created_at + ? "
            "WHERE sent_at IS NULL",
            (ms, ms),
        )

    async def mark_sent(
        self,
        message_id: int,
        signal_timestamp: int | None,
        now: datetime,
        watch_id: str | None = None,
    ) -> None:
        await self.record(
            [Tried(message_id, now, signal_timestamp=signal_timestamp, watch_id=watch_id)]
        )

    async def mark_failed(self, message_id: int, error: str, retry_at: datetime) -> None:
        await self.record([Tried(message_id, retry_at, error=error)])

    async def record(self, tries: Sequence[Tried]) -> None:
        """Outcomes of sends, in one transaction (telling nobody anything: no fsync owed).

        A sent message's row goes; if it was about a watch and Signal gave it a timestamp, a
        sealed ref stays so that a quote of it or a reaction to it finds its watch."""
        sent = [(t.id,) for t in tries if t.error is None]
        refs = {
            t.signal_timestamp: t.watch_id
            for t in tries
            if t.error is None and t.watch_id and t.signal_timestamp is not None
        }
        ref_rows = [self._ref_row(stamp, watch) for stamp, watch in refs.items()]
        failed = [(t.error, to_ms(t.at), t.id) for t in tries if t.error is not None]

        def work(conn: sqlite3.Connection) -> None:
            if sent:
                conn.executemany(_SENT, sent)
            if ref_rows:
                conn.executemany(_REF, ref_rows)
            if failed:
                conn.executemany(_FAILED, failed)

        await self.db.write(work, tells=False)

    async def wake_backed_off(self, now: datetime) -> int:
        """Every unsent message backing off from a transient failure is due now; how many."""

        def work(conn: sqlite3.Connection) -> int:
            return conn.execute(_WAKE, (to_ms(now), to_ms(now))).rowcount

        return await self.db.write(work, tells=False)

    async def stuck_alerts(self, now: datetime, older_than: timedelta) -> list[Pending]:
        """Unsent alerts older than `older_than` that the admin has not been told about."""
        rows = await self.db.conn.execute_fetchall(_STUCK, (to_ms(now - older_than),))
        return [self._load(row) for row in rows]

    async def mark_reported(self, conn: aiosqlite.Connection, message_ids: list[int]) -> None:
        await conn.executemany(
            "UPDATE outbox SET stuck_reported = 1 WHERE id = ?", [(i,) for i in message_ids]
        )

    async def count_unsent(self, purpose: str) -> int:
        """How many messages of `purpose` wait to be sent."""
        row = await self.db.one(
            "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL AND purpose = ?", (purpose,)
        )
        return int(row[0]) if row is not None else 0

    async def backlog(self) -> tuple[int, datetime | None]:
        """How many messages wait, and since when the oldest waits."""
        row = await self.db.one(
            "SELECT COUNT(*), MIN(created_at) FROM outbox WHERE sent_at IS NULL"
        )
        if row is None:
            return 0, None
        return int(row[0]), from_ms(row[1]) if row[1] is not None else None

    def _ref_tag(self, signal_timestamp: int) -> bytes:
        return self.sealer.lookup(str(signal_timestamp), purpose=REF_PURPOSE)

    def _ref_row(self, signal_timestamp: int, watch_id: str) -> tuple[object, ...]:
        row_key = new_row_key()
        sealed = self.sealer.seal_text(watch_id, aad=aad_for("sent_refs", "watch", row_key))
        return self._ref_tag(signal_timestamp), row_key, sealed

    def open_ref(self, row_key: str, sealed: bytes) -> str:
        return open_ref(self.sealer, row_key, sealed)

    async def watch_for_signal_timestamp(self, signal_timestamp: int) -> str | None:
        """Which watch's alert a relay message (quoted or reacted to) was: refs are kept for
        alert messages only, so an all-clear, a notice or a reply points at nothing."""
        row = await self.db.one(
            "SELECT row_key, watch FROM sent_refs WHERE tag = ?",
            (self._ref_tag(signal_timestamp),),
        )
        if row is not None:
            try:
                return self.open_ref(row[0], row[1])
            except TamperedError as exc:
                log.error("a sent-message ref could not be opened (%s)", exc.problem)
                return None
        # A message sent before migration 006 kept its row (until retention).
        row = await self.db.one(
            "SELECT watch_id FROM outbox WHERE signal_timestamp = ? AND purpose = 'alert'",
            (signal_timestamp,),
        )
        return None if row is None else _opt_str(row[0])


def recipient_tag(sealer: Sealer, address: str) -> bytes:
    """The keyed tag that keeps one recipient's messages in order (and finds them for FORGET)."""
    return sealer.lookup(address, purpose=RECIPIENT_PURPOSE)


def _opt_str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def open_ref(sealer: Sealer, row_key: str, sealed: bytes) -> str:
    """The watch id of a `sent_refs` row (`TamperedError` if it does not open)."""
    return sealer.open_text(sealed, aad=aad_for("sent_refs", "watch", row_key))


def drop_refs(
    conn: sqlite3.Connection, sealer: Sealer, keep: Callable[[str], bool]
) -> tuple[int, int]:
    """Delete every sent-message ref whose watch `keep` refuses, inside the caller's transaction:
    (deleted, unreadable). One that does not open goes too: it can only have named a watch, and
    a quote of its message then answers nothing, as for any message the relay no longer knows."""
    rows = conn.execute("SELECT tag, row_key, watch FROM sent_refs").fetchall()
    doomed: list[tuple[bytes]] = []
    unreadable = 0
    for row in rows:
        try:
            watch_id = open_ref(sealer, row[1], row[2])
        except TamperedError:
            unreadable += 1
            doomed.append((row[0],))
            continue
        if not keep(watch_id):
            doomed.append((row[0],))
    conn.executemany("DELETE FROM sent_refs WHERE tag = ?", doomed)
    return len(doomed), unreadable


def purge_sent(
    conn: sqlite3.Connection, sealer: Sealer, before: datetime
) -> tuple[int, set[str], int]:
    """Delete sent messages that went at or before `before`, except a live alert's, inside the
    caller's transaction: (deleted, their vault keys, unreadable).

    A sent row is normally deleted as it is recorded sent (`record`); what is left are rows an
    older release kept and rows set aside as unreadable. A live alert's stay: a buddy's quote
    of one must still find the alert. One whose attachments do not open goes all the same; the
    files it named, unknown, stay in the vault."""
    rows = conn.execute(
        "SELECT id, row_key, attachments FROM outbox WHERE sent_at IS NOT NULL AND sent_at <= ? "  # noqa: S608 — a fixed fragment
        f"AND (watch_id IS NULL OR watch_id NOT IN (SELECT id FROM watches WHERE {LIVE}))",
        (to_ms(before),),
    ).fetchall()
    keys: set[str] = set()
    unreadable = 0
    for row in rows:
        if row["attachments"] is None:
            continue
        aad = aad_for("outbox", "attachments", row["row_key"])
        try:
            listed = sealer.open_json(row["attachments"], aad=aad)
        except TamperedError as exc:
            unreadable += 1
            log.warning("retention: %s did not open; deleting the message anyway", exc.where)
            continue
        if isinstance(listed, list):
            keys.update(k for k in listed if isinstance(k, str))
    ids = [int(row["id"]) for row in rows]
    delete_ids(conn, "outbox", ids)
    return len(ids), keys, unreadable


def _withheld(payload: Mapping[str, object]) -> tuple[str, tuple[str, ...]] | None:
    full, files = payload.get("full"), payload.get("files")
    if not isinstance(full, str):
        return None
    return full, tuple(str(f) for f in files) if isinstance(files, list) else ()
