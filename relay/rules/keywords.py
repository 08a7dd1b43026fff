"""The rules' command words checked the way the parser will read them.

The parser (`relay.core.commands.KeywordTable`) decides what "the same word" means — case,
accents, spacing, a leading ``/``, punctuation — and which words a member can use: her
language's built-in words (``relay/locales/<lang>/keywords.yaml``), English's, and the
collective's aliases. The checks here ask that same table, so the rules refuse exactly the
clashes the parser would otherwise resolve silently: an alias that already names another command
(a codeword for SOS that is also a built-in HELP word), or a duress word that is also a command.

The built-in words are package data owned by the message catalog; if they are missing or
malformed the rules still load (the checks then see only the rules' own words).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from functools import cache

import yaml

from relay.core.commands import KeywordTable, load_default_keywords
from relay.core.normalize import fold_phrase

log = logging.getLogger(__name__)

Catalog = Mapping[str, Mapping[str, Sequence[str]]]
"""Language → command → built-in words, as `load_default_keywords` returns them."""


@cache
def built_in_keywords() -> Catalog:
    """The package's built-in words, read once; empty if they cannot be read."""
    try:
        return load_default_keywords()
    except (OSError, ValueError, yaml.YAMLError) as exc:
        log.warning(
            "built-in keyword files unreadable (%s); checking aliases alone", type(exc).__name__
        )
        return {}


def table(
    language: str, catalog: Catalog, aliases: Mapping[str, Sequence[str]] | None
) -> KeywordTable:
    return KeywordTable.build(language, catalog, aliases or None)


def same_phrase(a: str, b: str) -> bool:
    """Whether the parser would take ``a`` and ``b`` as the same duress word or secret."""
    return fold_phrase(a) == fold_phrase(b)


def resolve_language(language: str, available: Sequence[str]) -> str | None:
    """``es-MX`` → ``es`` when only ``es`` exists; None when neither does."""
    code = language.strip().lower().replace("_", "-")
    if code in available:
        return code
    base = code.split("-")[0]
    return base if base in available else None
