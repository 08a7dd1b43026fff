"""Features beyond check-ins (reports, screening, incident logs, FORGET, drills …) plug in here.

A feature claims some intents. For each of a member's messages carrying one, the engine calls
`handle` inside its decision lock; the feature returns the messages to send and, optionally, a
`write` that runs inside the same durable transaction as the outbox rows and the envelope's
de-duplication tag — so a member is never told "recorded" for something that was not.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

import aiosqlite

from relay.core import intents
from relay.core.decide import Decision
from relay.core.render import Catalog
from relay.core.state import Watch
from relay.core.targeting import Pointer
from relay.crypto.seal import Sealer
from relay.rules import Member, Rules
from relay.signal.events import Incoming
from relay.store.db import Database

if TYPE_CHECKING:
    from relay.attachments import AttachmentVault

Write = Callable[[aiosqlite.Connection], Awaitable[None]]


@dataclass(frozen=True)
class FeatureResult:
    decision: Decision
    write: Write | None = None
    after: Callable[[], Awaitable[None]] | None = None
    """Run once the write is committed (still under the engine's lock): work that cannot run
    inside a transaction, such as FORGET's WAL checkpoint."""


@dataclass(frozen=True)
class FeatureContext:
    """What a feature may use. `rules` is the set in force for this event."""

    db: Database
    sealer: Sealer
    rules: Rules
    catalog: Catalog
    timezone: str
    vault: AttachmentVault | None


class Feature(Protocol):
    claims: tuple[type, ...]  # the intent classes it handles

    async def handle(
        self,
        ctx: FeatureContext,
        member: Member,
        intent: intents.Intent,
        event: Incoming,
        now: datetime,
    ) -> FeatureResult: ...


class AnswerHooks(Protocol):
    """Where the engine asks `relay.chain` (practice drills, delivery news) about a member's
    message, around the core's decision: `general` sends it down the one-at-a-time path;
    `before` may answer it instead of the core (a reply to a practice alert); `after` may add
    lines to the core's reply (STATUS: whom her alert reached)."""

    def general(self, member: Member, intent: intents.Intent) -> bool: ...

    async def before(
        self,
        member: Member,
        event: Incoming,
        intent: intents.Intent,
        pointer: Pointer | None,
        alerts: list[Watch],
        now: datetime,
    ) -> FeatureResult | None: ...

    async def after(
        self,
        member: Member,
        event: Incoming,
        intent: intents.Intent,
        own: Watch | None,
        decision: Decision,
        now: datetime,
    ) -> Decision: ...
