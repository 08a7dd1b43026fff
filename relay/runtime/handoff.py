"""Between the decisions and the sender: "there is something to send", and what.

Made before both, so neither needs the other. A decision that queued messages `poke`s; one that
already knows, from its own durable commit, which of its messages are first in their queues
(`relay.runtime.pipeline`) offers them under a `ticket` taken while the sender slept — sent
without the sender's own look at the database. Any turn of the sender's loop meanwhile changes
the generation and voids the ticket: those messages may be on their way already.
"""

from __future__ import annotations

import asyncio

from relay.store.outbox import Pending


class Handoff:
    def __init__(self) -> None:
        self.wake = asyncio.Event()
        self.generation = 0
        self.asleep = False
        self._offered: list[Pending] | None = None

    def poke(self) -> None:
        """New messages were committed: the sender tries them now."""
        self.wake.set()

    def ticket(self) -> int | None:
        """While the sender sleeps: a ticket for `offer` (None: it is busy; just `poke`)."""
        return self.generation if self.asleep else None

    def offer(self, ticket: int | None, heads: list[Pending]) -> None:
        """Heads found (after a durable commit) under `ticket`: sent without a look of the
        sender's own, if it has not moved since; else it looks for itself."""
        if ticket is not None and ticket == self.generation and self.asleep and heads:
            self._offered = heads  # a later hand-over replaces an earlier one: it is fresher
        self.wake.set()

    def turn(self) -> list[Pending] | None:
        """The sender's loop turns: tickets so far are void; what was offered, if anything."""
        self.generation += 1
        offered, self._offered = self._offered, None
        return offered
