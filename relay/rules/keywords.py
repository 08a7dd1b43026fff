"""The built-in command words of each language, as far as the rules checks need them.

They live in package data owned by the message catalog (``relay/locales/<lang>/keywords.yaml``:
command → list of words). This reader tolerates the file being absent or malformed — the rules
checks then see only the rules' own words — because a missing catalog must never stop the rules
from loading.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from importlib import resources

import yaml

from relay.rules.document import COMMANDS
from relay.rules.values import LANGUAGE_PATTERN

_LANGUAGE = re.compile(LANGUAGE_PATTERN)


@cache
def default_keywords(language: str) -> Mapping[str, tuple[str, ...]]:
    """Command name → built-in words for ``language``; empty when there is no such file."""
    if not _LANGUAGE.fullmatch(language):
        return {}  # never a path outside the catalog
    try:
        text = (
            resources.files("relay.locales").joinpath(language, "keywords.yaml").read_text("utf-8")
        )
        raw = yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError, ModuleNotFoundError):
        return {}
    if not isinstance(raw, dict):
        return {}
    out: dict[str, tuple[str, ...]] = {}
    for command, words in raw.items():
        if command not in COMMANDS:
            continue
        if isinstance(words, str):
            words = [words]
        if isinstance(words, list):
            out[command] = tuple(str(word) for word in words if isinstance(word, str | int))
    return out
