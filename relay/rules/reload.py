"""Changing the rules of a running relay: `RulesHolder` (which rules are in force) and
`RulesWatcher` (reload when the folder changes, or on SIGHUP).

A valid edit takes effect for the next event; an invalid one is refused and the last good rules
stay in force, with the problems handed to the daemon to send to the admin. Live check-ins are
never dropped: the relay keeps them in its store, not here. A member removed while she has a live
check-in keeps the rules she had — her buddies, her tiers — until that check-in closes (the
daemon calls `RulesHolder.release`, or the next reload sees she is no longer live).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Literal

from relay.core.types import MemberAlias
from relay.rules.issues import RuleIssue, RulesInvalid
from relay.rules.loader import fingerprint, load_rules
from relay.rules.model import Rules
from relay.rules.watch import DirectoryWatcher

log = logging.getLogger(__name__)

ReloadStatus = Literal["applied", "refused", "unchanged"]


@dataclass(frozen=True, slots=True)
class ReloadResult:
    """What a reload did. ``issues``: the errors when refused, the warnings when applied."""

    status: ReloadStatus
    rules: Rules
    """The rules in force now."""
    issues: tuple[RuleIssue, ...] = ()
    retained: tuple[MemberAlias, ...] = ()
    """Members gone from the new rules whose live check-ins keep their old rules."""

    @property
    def problems(self) -> tuple[str, ...]:
        """The error lines, as the admin should read them (``file:line: field: message``)."""
        return tuple(str(issue) for issue in self.issues if issue.is_error)


class RulesHolder:
    """The rules in force, swapped whole on a valid reload."""

    def __init__(
        self,
        path: Path,
        rules: Rules,
        *,
        allow_placeholders: bool = False,
        loader: Callable[..., Rules] = load_rules,
        loaded_from: str | None = None,
    ) -> None:
        self.path = path
        self._rules = rules
        self._allow_placeholders = allow_placeholders
        self._loader = loader
        # The contents the current rules came from: the fingerprint taken when they were read
        # (an edit saved since then is then a change), else the folder as it is now.
        self._tried = loaded_from or fingerprint(path)
        self._retained: dict[MemberAlias, Rules] = {}

    @property
    def current(self) -> Rules:
        return self._rules

    def rules_for(self, alias: str) -> Rules:
        """The rules that govern her: the current ones, or — if she was removed while she had
        a live check-in — the last ones she was in."""
        return self._retained.get(MemberAlias(alias), self._rules)

    def release(self, alias: str) -> None:
        """Her live check-in closed: forget the old rules kept for her (if any)."""
        self._retained.pop(MemberAlias(alias), None)

    @property
    def retained(self) -> tuple[MemberAlias, ...]:
        return tuple(self._retained)

    def reload(self, live: Collection[str] = (), *, force: bool = False) -> ReloadResult:
        """Re-read the folder. ``live``: members with a live check-in or alert now.

        Without ``force``, contents identical to the last attempt (good or bad) are not read
        again and report ``unchanged`` — so one bad save is reported once, not on every event.
        """
        return self.apply(self.read(force=force), live)

    def read(self, *, force: bool = False) -> Read | None:
        """The reading half of `reload`: touches no state, so it may run off the event loop
        (checking 10,000 members takes about a second). None: unchanged, nothing read."""
        now = fingerprint(self.path)
        if now == self._tried and not force:
            return None
        try:
            return Read(now, self._loader(self.path, allow_placeholders=self._allow_placeholders))
        except RulesInvalid as exc:
            return Read(now, exc)

    def apply(self, read: Read | None, live: Collection[str] = ()) -> ReloadResult:
        """The other half, where the holder's state changes (on the event loop)."""
        if read is None:
            return ReloadResult("unchanged", self._rules)
        self._tried = read.fingerprint
        if isinstance(read.outcome, RulesInvalid):
            errors = len(read.outcome.errors)
            log.warning("rules edit refused (%d errors); the previous rules stay", errors)
            return ReloadResult("refused", self._rules, tuple(read.outcome.issues), self.retained)
        new, old = read.outcome, self._rules
        for alias in live:
            key = MemberAlias(alias)
            if key not in new.members and key not in self._retained and key in old.members:
                self._retained[key] = old
        live_now = {MemberAlias(alias) for alias in live}
        for alias in [a for a in self._retained if a in new.members or a not in live_now]:
            del self._retained[alias]  # she is back, or her check-in has closed since
        self._rules = new
        log.info("rules reloaded: %d members", len(new.members))
        return ReloadResult("applied", new, new.warnings, self.retained)


@dataclass(frozen=True, slots=True)
class Read:
    """What `RulesHolder.read` found: the folder's fingerprint, and its rules or their errors."""

    fingerprint: str
    outcome: Rules | RulesInvalid


LiveAliases = Callable[[], Awaitable[Collection[str]]]
OnResult = Callable[[ReloadResult], Awaitable[None]]


class RulesWatcher:
    """Reloads `holder` when its folder changes (debounced) or when `request_reload` is called.

    ``on_result`` gets every reload that applied or refused something, and every forced one
    (SIGHUP: the admin asked, so she hears back even when nothing changed).
    """

    def __init__(
        self,
        holder: RulesHolder,
        on_result: OnResult,
        *,
        live: LiveAliases | None = None,
        debounce: float = 0.5,
        poll_interval: float = 5.0,
        use_inotify: bool = True,
    ) -> None:
        self.holder = holder
        self.on_result = on_result
        self.live = live
        self.debounce = debounce  # editors save in several steps; read once they are done
        self.poll_interval = poll_interval
        self.use_inotify = use_inotify
        self._forced = False
        self._watcher: DirectoryWatcher | None = None
        self.ready = asyncio.Event()
        """Set once the folder is being watched and, as it was then, checked (tests wait on it)."""

    @property
    def mode(self) -> str | None:
        return None if self._watcher is None else self._watcher.mode

    def request_reload(self) -> None:
        """Reload now and report the result whatever it is: the SIGHUP handler calls this."""
        self._forced = True
        if self._watcher is not None:
            self._watcher.poke()

    async def run(self) -> None:
        """Watch until cancelled."""
        async with DirectoryWatcher(
            self.holder.path, poll_interval=self.poll_interval, use_inotify=self.use_inotify
        ) as watcher:
            self._watcher = watcher
            if self._forced:
                watcher.poke()
            else:
                await self._reload()  # an edit saved before the watch began is not missed
            self.ready.set()
            try:
                while True:
                    await watcher.changed()
                    await self._settle(watcher)
                    await self._reload()
            finally:
                self._watcher = None

    async def _settle(self, watcher: DirectoryWatcher) -> None:
        while not self._forced:
            try:
                await asyncio.wait_for(watcher.changed(), self.debounce)
            except TimeoutError:
                return

    async def _reload(self) -> None:
        forced, self._forced = self._forced, False
        # Read and checked in a worker thread: a thousand-member folder must not hold up the
        # timers for the second it takes (the thread yields the interpreter every few ms).
        read = await asyncio.to_thread(partial(self.holder.read, force=forced))
        if read is None:
            return  # unchanged: listing who is live would unseal every live check-in for nothing
        live: Collection[str] = ()
        if self.live is not None:
            live = await self.live()  # asked last: who is live as near the swap as can be
        result = self.holder.apply(read, live)
        if result.status == "unchanged" and not forced:
            return
        try:
            await self.on_result(result)
        except Exception as exc:  # noqa: BLE001 — a failed notice must not stop the watching
            log.error("reporting a rules reload failed (%s)", type(exc).__name__)
