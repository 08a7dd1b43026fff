"""Keyword lists that find a kind of report in free text: one compiled pattern per list.

Shared by `relay.features.reports.severity` (how serious a report is) and
`relay.features.peers.categories` (what kind of harm it names), so both read their word tables the
same way. Words are written folded (`relay.core.normalize.fold`: lower case, no accents); a trailing
``*`` matches any ending (``chok*`` is choked, choking, chokes); a phrase matches with any run of
spaces between its words; a word never matches inside a longer one. Pure, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable


def keyword_pattern(words: Iterable[str]) -> re.Pattern[str]:
    """One pattern that finds any of ``words`` in folded text, longest first."""
    parts = []
    for word in sorted(words, key=len, reverse=True):
        stem = word.removesuffix("*")
        body = r"\s+".join(re.escape(piece) for piece in stem.split())
        parts.append(body + (r"\w*" if word.endswith("*") else ""))
    return re.compile(r"(?<!\w)(?:" + "|".join(parts) + r")(?!\w)")
