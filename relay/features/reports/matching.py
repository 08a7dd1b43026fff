"""Which reports a number, plate, email or handle matches, without storing any of them in clear.

A reported identifier is stored as keyed HMACs (`Sealer.lookup`) of its normalised form, one
purpose per kind, so the store can find candidates by equality. Phone numbers are E.164, so
national and international forms meet; a plate is stored under every key of `plate_match_keys`,
so one wrong, missing, extra or swapped character still finds it, and the candidate is then
confirmed with `plates_match` against the plate in the sealed body (sharing a key is not enough).

Also owns reading a CHECK query (a bare handle without ``@`` counts) and a member's default phone
region, taken from her own number's country. Pure functions, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Final

import phonenumbers

from relay.core.identifiers import (
    Identifier,
    IdentifierKind,
    extract_identifiers,
    normalise_phone,
    normalise_plate,
    phone_end_of,
    phone_ends,
    plate_match_keys,
    plate_skeleton,
    plate_start_of,
    plate_starts,
    plates_match,
)
from relay.core.normalize import clean
from relay.crypto.seal import Sealer

PURPOSES: Final[dict[IdentifierKind, str]] = {
    "phone": "report-phone",
    "plate": "report-plate",
    "email": "report-email",
    "handle": "report-handle",
    "phone_end": "report-phone-end",
    "plate_start": "report-plate-start",
}
"""`Sealer.lookup` purposes: a phone's tag can never equal a plate's, whatever the digits."""

_BARE_HANDLE: Final = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_.]{0,28}[A-Za-z0-9_])?")


def region_of(number: str | None) -> str | None:
    """The ISO country of her own number (``+44…`` → ``GB``): how she writes national numbers."""
    if not number:
        return None
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return None
    region = phonenumbers.region_code_for_number(parsed)
    if not region or region == "ZZ":
        # A number the metadata does not know (a new or drama range) still has a country code;
        # its main country reads national numbers the same way.
        code = parsed.country_code
        regions = phonenumbers.region_codes_for_country_code(code) if code else ()
        region = regions[0] if regions else None
    return region if region and region != "001" else None


def tags_for(sealer: Sealer, identifier: Identifier, *, index: bool = False) -> frozenset[bytes]:
    """The lookup tags a search for ``identifier`` reads; with ``index``, the tags a report
    holding it is stored under: also every ending of a number and every start of a plate, so
    ``CHECK 900456`` and ``CHECK XY34`` find ``+44 7700 900456`` and ``XY34 ZZZ``."""
    purpose = PURPOSES[identifier.kind]
    if identifier.kind == "plate":
        keys = set(plate_match_keys(identifier.value))
    else:
        keys = {identifier.value}
    tags = {sealer.lookup(key, purpose=purpose) for key in keys}
    if index and identifier.kind == "phone":
        end = PURPOSES["phone_end"]
        tags |= {sealer.lookup(key, purpose=end) for key in phone_ends(identifier.value)}
    if index and identifier.kind == "plate":
        start = PURPOSES["plate_start"]
        tags |= {sealer.lookup(key, purpose=start) for key in plate_starts(identifier.value)}
    return frozenset(tags)


def all_tags(
    sealer: Sealer, identifiers: Iterable[Identifier], *, index: bool = False
) -> frozenset[bytes]:
    found: set[bytes] = set()
    for identifier in identifiers:
        found |= tags_for(sealer, identifier, index=index)
    return frozenset(found)


PARTIAL: Final[frozenset[IdentifierKind]] = frozenset({"phone_end", "plate_start"})
"""Kinds that match only part of an identifier: the answer says it may be someone else."""


def same(reported: Identifier, looked_up: Identifier) -> bool:
    """Whether two normalised identifiers name the same client."""
    if looked_up.kind == "phone_end":
        return reported.kind == "phone" and reported.value.endswith(looked_up.value)
    if looked_up.kind == "plate_start":
        return reported.kind == "plate" and plate_skeleton(reported.value).startswith(
            looked_up.value
        )
    if reported.kind != looked_up.kind:
        return False
    if reported.kind == "plate":
        return plates_match(reported.value, looked_up.value)
    return reported.value == looked_up.value


def matched_kinds(
    reported: Sequence[Identifier], looked_up: Sequence[Identifier]
) -> tuple[IdentifierKind, ...]:
    """The kinds (phone, plate …) on which a candidate report really matches; empty: it does not."""
    kinds: list[IdentifierKind] = []
    for query in looked_up:
        if query.kind not in kinds and any(same(r, query) for r in reported):
            kinds.append(query.kind)
    return tuple(kinds)


def query_identifiers(query: str, region: str | None) -> list[Identifier]:
    """What a CHECK asks about. The query holds one thing, so it is also read whole: a bare
    ``johnny_x`` is the handle ``@johnny_x``, a number or plate the text scan missed still counts.
    """
    found = extract_identifiers(query, region)
    text = clean(query).strip().strip(".,;:!?")
    whole: list[Identifier] = []
    phone = normalise_phone(text, region)
    if phone is not None:
        whole.append(Identifier("phone", phone))
    plate = normalise_plate(text)
    if plate is not None:
        whole.append(Identifier("plate", plate))
    # What she has only part of: the end of a number, the start of a plate (spaces, dashes
    # ignored). Looked up by their own keyed tags; the answer says the match is partial.
    # A number without its country code may be read in the wrong country: its end too.
    end = phone_end_of(text) if not text.startswith(("+", "00")) else None
    if end is not None:
        whole.append(Identifier("phone_end", end))
    start = plate_start_of(text)
    if start is not None:
        whole.append(Identifier("plate_start", start))
    bare = text.removeprefix("@")
    if not found and not whole and _BARE_HANDLE.fullmatch(bare) and not bare.isdigit():
        whole.append(Identifier("handle", "@" + bare.lower()))
    return found + [w for w in whole if w not in found]
