"""Identifier types shared by every layer (mautrix style NewTypes)."""

from typing import NewType

MemberAlias = NewType("MemberAlias", str)
"""A member's name in the rules (lower case, e.g. ``alice``); the only way logs refer to her."""

PhoneNumber = NewType("PhoneNumber", str)
"""An E.164 number, e.g. ``+12025550101``. Never logged."""

SignalUuid = NewType("SignalUuid", str)
"""A Signal account identifier (ACI). Never logged."""

GroupId = NewType("GroupId", str)
"""A Signal group id as signal-cli-rest-api spells it (``group.`` + base64)."""

Language = NewType("Language", str)
"""A message-catalog language code: ``en``, ``es``, ``pt``, ``fr`` …"""
