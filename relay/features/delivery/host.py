"""What the chain (`relay.runtime.chain`: delivery tracking, practice drills) needs of the relay it
runs
in — today `relay.runtime.desk.Desk`; the constructor dependency the runtime must offer. Its own
module so that the chain, the tracker and the drills can all name it without importing each
other (tests/unit/test_imports.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from relay.core.decide import Context, Decision
from relay.core.render import Catalog
from relay.core.state import Recipient
from relay.core.types import MemberAlias
from relay.features.base import Write
from relay.rules import Rules
from relay.store.db import Database
from relay.store.watches import WatchRepo


class Host(Protocol):
    """All the chain uses of the relay it runs in (today `relay.runtime.desk.Desk`): what is in
    force (rules, the core's context, catalog, time zone, admin, addresses), the store, and —
    for its background tasks only (drill reports, the schedule, tiers that reached no phone) —
    the one lock that serialises decisions and the way a decision is committed and sent."""

    db: Database
    watches: WatchRepo
    rules: Rules
    rules_for: Callable[[str], Rules]
    context: Context
    catalog: Catalog
    timezone: str
    admin: MemberAlias | None
    lock: asyncio.Lock

    def address(self, to: Recipient) -> str | None: ...

    async def apply(
        self,
        decision: Decision,
        now: datetime,
        seen: bytes | None = None,
        write: Write | None = None,
    ) -> None: ...

    async def notify_admin(self, key: str, **params: object) -> None: ...

    async def follow_clock(self) -> None: ...
