"""Message catalogs and keyword lists, one folder per language (data files, not code).

A collective adds a language by adding a folder; nothing here needs to change.
"""

from __future__ import annotations

from importlib import resources

import yaml

from relay.core.render import Catalog


def available_languages() -> list[str]:
    root = resources.files(__name__)
    return sorted(
        entry.name
        for entry in root.iterdir()
        if entry.is_dir() and entry.joinpath("messages.yaml").is_file()
    )


def load_catalog() -> Catalog:
    """Every language's messages.yaml, read once at start."""
    root = resources.files(__name__)
    messages: dict[str, dict[str, str]] = {}
    for language in available_languages():
        raw = yaml.safe_load(root.joinpath(language, "messages.yaml").read_text(encoding="utf-8"))
        messages[language] = {str(key): str(value) for key, value in (raw or {}).items()}
    return Catalog(messages)
