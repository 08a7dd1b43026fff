"""Who exists in the simulated Signal world: members' numbers and UUIDs, and the account's groups.

A member's UUID is derived from her number unless a test names one, so the same number always
has the same ACI across runs. Groups carry both spellings signal-cli-rest-api uses: ``internal_id``
(signal-cli's base64 of 32 bytes, as in envelopes) and ``id`` (``group.`` + base64 of that text,
as in ``/v2/send`` recipients and ``GET /v1/groups``).
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from dataclasses import dataclass, field

from relay.sim.envelopes import GroupRef, JsonObject, Party

_UUID_NAMESPACE = uuid.UUID("6f1d2c3b-4a59-4e68-8f7a-0b1c2d3e4f50")
GROUP_PREFIX = "group."


def derived_uuid(key: str) -> str:
    """A stable ACI for a number (or any key), so runs are repeatable."""
    return str(uuid.uuid5(_UUID_NAMESPACE, key))


def is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def is_phone_number(text: str) -> bool:
    """signal-cli-rest-api's ``utils.IsPhoneNumber``: ``+`` then digits or spaces."""
    return text.startswith("+") and all(c.isdigit() or c == " " for c in text[1:])


def group_public_id(internal_id: str) -> str:
    """``group.`` + base64 of signal-cli's base64 id: how the REST API spells a group."""
    return GROUP_PREFIX + base64.b64encode(internal_id.encode()).decode()


def internal_id_from_public(public_id: str) -> str | None:
    """Undo ``group_public_id``: None unless it decodes twice to 32 bytes (the server's check)."""
    if not public_id.startswith(GROUP_PREFIX):
        return None
    try:
        internal = base64.b64decode(public_id[len(GROUP_PREFIX) :], validate=True).decode()
        raw = base64.b64decode(internal, validate=True)
    except (ValueError, UnicodeDecodeError):
        return None
    return internal if len(raw) == 32 else None


@dataclass
class SimGroup:
    """A Signal group the account is in."""

    internal_id: str
    name: str
    members: list[str] = field(default_factory=list)  # numbers (or UUIDs), the account included
    admins: list[str] = field(default_factory=list)
    revision: int = 1
    description: str = ""

    @property
    def id(self) -> str:
        return group_public_id(self.internal_id)

    @property
    def ref(self) -> GroupRef:
        return GroupRef(group_id=self.internal_id, name=self.name, revision=self.revision)

    def entry_json(self) -> JsonObject:
        """``client.GroupEntry`` in the Go struct's field order."""
        return {
            "name": self.name,
            "description": self.description,
            "id": self.id,
            "internal_id": self.internal_id,
            "members": list(self.members),
            "blocked": False,
            "member": True,
            "pending_invites": [],
            "pending_requests": [],
            "invite_link": "",
            "admins": list(self.admins),
            "permissions": {
                "add_members": "only-admins",
                "edit_group": "only-admins",
                "send_messages": "every-member",
            },
        }

    def expanded_json(self, directory: Directory) -> JsonObject:
        """``client.ExpandedGroupEntry`` (``?expand=true``): each member, admin, invite and
        request as ``{"number", "uuid"}`` — the number empty for one who hides it, as
        signal-cli-rest-api's `GetGroupsExpanded` passes on signal-cli's `listGroups`."""
        entry = self.entry_json()
        for name in ("members", "admins", "pending_invites", "pending_requests"):
            entry[name] = [directory.group_member(who) for who in entry[name]]
        return entry


class Directory:
    """Members by number and UUID, and groups by either id."""

    def __init__(self) -> None:
        self._uuid_by_number: dict[str, str] = {}
        self._number_by_uuid: dict[str, str] = {}
        self._names: dict[str, str] = {}  # uuid -> profile name
        self.groups: dict[str, SimGroup] = {}  # internal_id -> group

    def party(
        self,
        who: str,
        *,
        uuid: str | None = None,
        name: str | None = None,
        hide_number: bool = False,
    ) -> Party:
        """The envelope identity for ``who`` (a number or a UUID), remembering what is given.

        A UUID not known to belong to a number means she hides her number (``sourceNumber``
        null); ``hide_number`` hides a known one.
        """
        number: str | None
        if is_phone_number(who):
            number = who
            acct = uuid or self._uuid_by_number.get(who) or derived_uuid(who)
            self._uuid_by_number[number] = acct
            self._number_by_uuid[acct] = number
        else:
            number = self._number_by_uuid.get(who)
            acct = who
        if name is not None:
            self._names[acct] = name
        return Party(
            uuid=acct,
            number=None if hide_number else number,
            name=self._names.get(acct),
        )

    def uuid_of(self, number: str) -> str:
        """Her ACI (derived on first use, and remembered both ways)."""
        acct = self._uuid_by_number.get(number)
        if acct is None:
            acct = self._uuid_by_number[number] = derived_uuid(number)
            self._number_by_uuid.setdefault(acct, number)
        return acct

    def number_of(self, uuid: str) -> str | None:
        return self._number_by_uuid.get(uuid)

    def group_member(self, who: str) -> JsonObject:
        """A group member (a number or a UUID) as ``client.GroupMember``."""
        if is_phone_number(who):
            return {"number": who, "uuid": self.uuid_of(who)}
        return {"number": self.number_of(who) or "", "uuid": who}

    def add_group(
        self,
        name: str,
        members: list[str],
        *,
        internal_id: str | None = None,
        revision: int = 1,
    ) -> SimGroup:
        if internal_id is None:
            digest = hashlib.sha256(f"peer-relay-sim group {name}".encode()).digest()
            internal_id = base64.b64encode(digest).decode()
        group = SimGroup(
            internal_id=internal_id, name=name, members=list(members), revision=revision
        )
        self.groups[internal_id] = group
        return group

    def group(self, any_id: str) -> SimGroup | None:
        """A group by its internal id or its ``group.`` id."""
        internal = internal_id_from_public(any_id) if any_id.startswith(GROUP_PREFIX) else any_id
        return self.groups.get(internal) if internal is not None else None
