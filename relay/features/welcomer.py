"""Welcoming members: once each, when she first appears in the rules (at start, or on a reload).

Whom the relay has met is remembered as a keyed tag of her alias and number only (the
``welcomed`` table, `relay.store.welcomed`): no name, no number. A member taken out of the rules
loses her tag, so she is welcomed again if she comes back; a new number is a new tag (a new
phone needs the one-tap setup again). While the rules switch the welcome off, members are
still remembered as met — switching it back on welcomes the ones who come after, not everyone
at once.

The texts are `relay.core.welcome`; they go through the desk's outbox, in the same transaction
as the tags, so a welcome is never sent twice nor lost to a crash.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from functools import partial
from typing import TYPE_CHECKING

from relay.core.decide import Decision, Outgoing, Purpose
from relay.core.state import Recipient
from relay.core.voice import Voice
from relay.core.welcome import welcome_texts
from relay.rules import Member, Rules
from relay.runtime.clock import Clock
from relay.store import welcomed

if TYPE_CHECKING:
    from relay.runtime.desk import Desk

log = logging.getLogger(__name__)

BATCH = 500  # members welcomed per transaction (a first start may meet thousands)


class Welcomer:
    def __init__(self, desk: Desk, clock: Clock) -> None:
        self.desk = desk
        self.clock = clock
        self.changed = asyncio.Event()
        self.passes = 0
        self.passed = asyncio.Event()  # set after every pass (tests wait on it)

    def tag(self, member: Member) -> bytes:
        return welcomed.tag(self.desk.sealer, member.alias, member.number)

    def poke(self) -> None:
        """The rules changed: look for new members."""
        self.changed.set()

    async def run(self) -> None:
        while True:
            self.changed.clear()
            await self.welcome(self.desk.rules)
            await self.changed.wait()

    async def welcome(self, rules: Rules) -> int:
        """Welcome the members of `rules` not met before; forget those no longer in them."""
        tags = {self.tag(m): m for m in rules.members.values()}
        known = await self.desk.db.run(welcomed.known)
        new = [m for tag, m in tags.items() if tag not in known]
        gone = [tag for tag in known if tag not in tags]
        if gone:
            await self.desk.db.write(partial(welcomed.forget, tags=gone), tells=False)
        for first in range(0, len(new), BATCH):
            await self._welcome(rules, new[first : first + BATCH])
        if new:
            verb = "welcomed" if rules.welcome.enabled else "met (welcome off)"
            log.info("%s %d new member(s)", verb, len(new))
        self.passes += 1
        self.passed.set()
        return len(new)

    async def _welcome(self, rules: Rules, members: list[Member]) -> None:
        desk = self.desk
        now = self.clock.now()
        messages: list[Outgoing] = []
        if rules.welcome.enabled:
            voice = Voice(desk.context.policy, desk.catalog, desk.timezone)
            for member in members:
                messages += self._texts(voice, rules, member)
        tags = [self.tag(m) for m in members]
        decision = Decision(messages=tuple(messages))
        rows = desk.rows(decision, now, None)  # sealed here, on the event loop

        def remember(conn: sqlite3.Connection) -> int:
            # Her tag and her welcome commit together: never sent twice, never lost.
            welcomed.remember(conn, tags, now)
            return len(rows.store(conn))

        desk.applied(decision, await desk.db.write(remember))

    def _texts(self, voice: Voice, rules: Rules, member: Member) -> list[Outgoing]:
        policy = rules.welcome
        first, second = welcome_texts(
            voice,
            member.alias,
            run_by=policy.run_by,
            admin=self.desk.admin,
            buddies=rules.buddies_of(member.alias),
            own_line=policy.line_for(member.language),
        )
        me = Recipient.member(member.alias)
        return [Outgoing(me, first, Purpose.NOTICE), Outgoing(me, second, Purpose.NOTICE)]
