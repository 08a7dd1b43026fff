"""The closed set of kinds of bad-client report, shared by the rules and the peers feature.

A partner's ``send.categories`` (relay/rules) and a signed warning's ``categories``
(`relay.features.peers.payload`) name kinds from this one tuple, so a name the rules accept is a
name a warning can carry. It lives in the core because the rules must not import features; the
words that find a kind in a report's text are `relay.features.peers.categories`.
"""

from __future__ import annotations

from typing import Final

CATEGORIES: Final[tuple[str, ...]] = (
    "violence",
    "sexual-violence",
    "stealthing",
    "theft",
    "non-payment",
    "threats",
    "stalking",
    "filming",
    "time-waster",
    "other",
)
"""Every kind, in the order a moderator reads them; ``other`` when none of the rest fits.
Never rename one: a partner's relay refuses a warning that names a kind it does not know."""
