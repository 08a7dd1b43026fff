"""Features beyond check-ins (reports, screening, incident logs, FORGET, drills …) plug in here.

A feature claims some intents. A member's message carrying one goes through the same inbound
pipeline as every other (`relay.runtime.pipeline`): first `enrich` — the I/O that must happen
before any decision and outside the database transaction (photos fetched into the vault) — then,
in the database thread and inside the batch's one durable transaction, `handle`: it reads what
the decision needs through the store's synchronous calls on `conn`, decides with a pure function
(tested without a database) and returns the decision plus the writes. The writes run in the same
transaction as the outbox rows and the envelope's de-duplication tag — so a member is never told
"recorded" for something that was not — and the next message of the batch sees them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import aiosqlite

from relay.core import intents
from relay.core.decide import Decision
from relay.core.render import Catalog
from relay.core.state import Watch
from relay.core.targeting import Pointer
from relay.crypto.seal import Sealer
from relay.rules import Member, Rules
from relay.signal.events import Incoming

Writes = Callable[[sqlite3.Connection], None]
"""A feature's writes, run in the database thread inside the decision's transaction."""


@dataclass(frozen=True)
class Handled:
    """What a feature decided: the core's decision (messages, watches) and its own writes."""

    decision: Decision
    writes: Writes | None = None
    after: Callable[[], Awaitable[None]] | None = None
    """Run once the writes are committed: work that cannot run inside a transaction, such as
    FORGET's WAL checkpoint."""


@dataclass(frozen=True)
class Scope:
    """What a feature may use while deciding. `rules` is the set in force for this event."""

    sealer: Sealer
    rules: Rules
    catalog: Catalog
    timezone: str


class Feature(Protocol):
    claims: tuple[type, ...]  # the intent classes it handles

    async def enrich(self, member: Member, intent: intents.Intent, event: Incoming) -> object:
        """I/O before the decision, outside any transaction (e.g. photos kept in the vault).
        Nothing read here may be state another message of the same batch could change: read
        that in `handle`. Returns a plain value handed to `handle` (None if nothing)."""
        ...

    def handle(
        self,
        conn: sqlite3.Connection,
        scope: Scope,
        member: Member,
        intent: intents.Intent,
        enriched: object,
        now: datetime,
    ) -> Handled:
        """In the database thread: read (synchronous store calls on `conn`), decide purely,
        return the decision and the writes. Never sends, never awaits."""
        ...


class Hooks(Protocol):
    """Where the pipeline asks `relay.runtime.chain` (practice drills, delivery news) about a
    member's
    message around the core's decision, in the database thread like `Feature.handle`:
    `before` may answer it instead of the core (a reply to a practice alert); `after` may add
    lines to the core's reply (STATUS: whom her alert reached) and record what an answer proved."""

    async def settle(self, event: Incoming, intent: intents.Intent, at_alert: bool) -> None:
        """Before the decision, outside any transaction (like `Feature.enrich`): wait, briefly,
        for what `before` will read to be recorded (the send of a practice alert an answer
        quotes or reacts to; `at_alert`: what it points at was a real alert's)."""
        ...

    def before(
        self,
        conn: sqlite3.Connection,
        member: Member,
        event: Incoming,
        intent: intents.Intent,
        pointer: Pointer | None,
        alerts: list[Watch],
        now: datetime,
    ) -> Handled | None: ...

    def after(
        self,
        conn: sqlite3.Connection,
        member: Member,
        event: Incoming,
        intent: intents.Intent,
        own: Watch | None,
        decision: Decision,
        now: datetime,
    ) -> Decision: ...


Write = Callable[[aiosqlite.Connection], Awaitable[None]]
"""An async write on the database's own connection, inside `Desk.apply`'s transaction (the
background tasks' decisions: drill reports, the welcome, outage notices)."""
