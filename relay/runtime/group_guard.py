"""The group check: who is in a circle's Signal group right now, against the rules.

A group's membership is managed in Signal: any admin of the group can add anyone, and the relay's
rules never see it. Before an alert's details go to a group (`relay.core.group_alert`), the sender
asks `GroupGuard.cleared`, which lists the group through signal-cli-rest-api
(``GET /v1/groups/{number}?expand=true``: each member's number and ACI) and clears it only if
every member but the relay itself is a member in the rules *and* in the circle the group belongs
to. Anything else — a stranger, a member of another circle, a group the account is not in, the
API unreachable or answering something unexpected — withholds the details: the group reads the
safe version, and whoever answers gets the details privately.

The admin is told once (per relay run, per circle and set of people) which numbers in the group
are not in the rules, and which members are not in that circle, so she can fix the group or the
rules. Logs name the circle and counts only, never a number.

A look is reused for `FRESH_FOR` seconds: a burst of alerts to one group costs one request.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote

from relay.rules import Rules
from relay.rules.values import normalise_number
from relay.signal.transport import SignalTransport
from relay.store.outbox import Pending

log = logging.getLogger(__name__)

FRESH_FOR: Final = 15.0
"""Seconds a look at a group's members is trusted: "shortly before sending"."""
MAX_ANSWER: Final = 4 * 1024 * 1024  # every group of the account, expanded: small
Notify = Callable[..., Awaitable[None]]


@dataclass(frozen=True, slots=True)
class GroupMember:
    number: str | None
    uuid: str | None

    @property
    def shown(self) -> str:
        return self.number or self.uuid or "?"


class GroupGuard:
    def __init__(
        self,
        transport: SignalTransport,
        account: str,
        rules: Callable[[], Rules],
        notify_admin: Notify,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.transport = transport
        self.account = normalise_number(account) or account
        self.rules = rules
        self.notify_admin = notify_admin
        self.monotonic = monotonic
        self._looked: dict[str, tuple[float, tuple[GroupMember, ...] | None]] = {}
        self._told: set[tuple[str, frozenset[str]]] = set()

    async def cleared(self, message: Pending) -> bool:
        """May the withheld part of this group message go to the group now?"""
        rules = self.rules()
        circle = rules.circles.get(message.label)
        if circle is None or circle.group is None or _bare(circle.group) != _bare(message.address):
            log.warning("a group alert names no circle bound to its group; details withheld")
            return False
        members = await self.members(message.address)
        if members is None:
            log.warning("the group of circle %s could not be listed; details withheld", circle.name)
            return False
        strangers, elsewhere = [], []
        for entry in members:
            if entry.number is not None and normalise_number(entry.number) == self.account:
                continue  # the relay itself
            member = (rules.member_by_uuid(entry.uuid) if entry.uuid else None) or (
                rules.member_by_number(entry.number) if entry.number else None
            )
            if member is None:
                strangers.append(entry.shown)
            elif member.alias not in circle.members:
                elsewhere.append(str(member.alias))
        if not strangers and not elsewhere:
            return True
        log.warning(
            "the group of circle %s has %d member(s) not in the rules and %d not in the circle; "
            "details withheld",
            circle.name,
            len(strangers),
            len(elsewhere),
        )
        await self._tell_once(circle.name, sorted(strangers), sorted(elsewhere))
        return False

    async def members(self, group_id: str) -> tuple[GroupMember, ...] | None:
        """The group's members now (a look at most `FRESH_FOR` old); None if unknown."""
        now = self.monotonic()
        seen = self._looked.get(_bare(group_id))
        if seen is not None and now - seen[0] < FRESH_FOR:
            return seen[1]
        found = await self._look(group_id)
        self._looked[_bare(group_id)] = (now, found)
        return found

    async def _look(self, group_id: str) -> tuple[GroupMember, ...] | None:
        path = f"/v1/groups/{quote(self.transport.number, safe='')}?expand=true"
        status, body = await self.transport.fetch(path, MAX_ANSWER)
        if status != 200 or not body:
            return None
        try:
            listed: Any = json.loads(body)
        except ValueError:
            return None
        if not isinstance(listed, list):
            return None
        wanted = _bare(group_id)
        for group in listed:
            if not isinstance(group, dict):
                continue
            ids = {_bare(str(group.get("id") or "")), str(group.get("internal_id") or "")}
            if wanted in ids:
                return _members(group.get("members"))
        return None  # the account is not in that group (any more)

    async def _tell_once(self, circle: str, strangers: list[str], elsewhere: list[str]) -> None:
        key = (circle, frozenset([*strangers, *(f"member:{a}" for a in elsewhere)]))
        if key in self._told:
            return
        self._told.add(key)
        await self.notify_admin(
            "group_not_all_members",
            circle=circle,
            strangers=", ".join(strangers) or "—",
            members=", ".join(a.capitalize() for a in elsewhere) or "—",
        )


def _members(value: object) -> tuple[GroupMember, ...] | None:
    """Members as `expand=true` lists them ({number, uuid}), or as plain strings."""
    if not isinstance(value, list):
        return None
    found = []
    for item in value:
        if isinstance(item, dict):
            number = item.get("number") or None
            uuid = item.get("uuid") or None
            found.append(
                GroupMember(
                    str(number) if number is not None else None,
                    str(uuid) if uuid is not None else None,
                )
            )
        elif isinstance(item, str) and item:
            is_number = item.startswith("+")
            found.append(GroupMember(item if is_number else None, None if is_number else item))
        else:
            return None  # an answer we do not understand: clear nothing
    return tuple(found)


def _bare(group_id: str) -> str:
    return group_id.removeprefix("group.")
