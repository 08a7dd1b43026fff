"""Message catalogs and keyword lists, one folder per language (data files, not code).

A collective adds a language by adding a folder; nothing here needs to change.
"""

from __future__ import annotations

from importlib import resources

import yaml

from relay.core.render import Catalog, Grammar

SAFE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's safe loader when present, else PyYAML's: the same data, ten to twenty times faster.
For every YAML file the relay reads: the catalogs and keywords here, and the rules."""


def available_languages() -> list[str]:
    root = resources.files(__name__)
    return sorted(
        entry.name
        for entry in root.iterdir()
        if entry.is_dir() and entry.joinpath("messages.yaml").is_file()
    )


KEYWORDS_FILE = "keywords.yaml"
GRAMMAR_FILE = "grammar.yaml"
"""Not messages: how values join a language's text (French elision), read by `load_catalog`."""


def catalog_files(language: str) -> list[str]:
    """A language's message files: messages.yaml, then one per feature (reports.yaml …)."""
    folder = resources.files(__name__).joinpath(language)
    names = sorted(
        entry.name
        for entry in folder.iterdir()
        if entry.name.endswith(".yaml") and entry.name not in (KEYWORDS_FILE, GRAMMAR_FILE)
    )
    return sorted(names, key=lambda name: name != "messages.yaml")


def _grammar(language: str) -> Grammar | None:
    path = resources.files(__name__).joinpath(language, GRAMMAR_FILE)
    if not path.is_file():
        return None
    raw = yaml.load(path.read_text(encoding="utf-8"), Loader=SAFE_LOADER)  # noqa: S506 — a safe loader, C or Python
    elide = raw.get("elide") if isinstance(raw, dict) else None
    if not isinstance(elide, list) or not all(isinstance(word, str) for word in elide):
        raise ValueError(f"locales/{language}/{GRAMMAR_FILE}: elide: expected a list of words")
    return Grammar.of(elide)


def load_catalog() -> Catalog:
    """Every language's message files, read once at start. A key defined twice is an error."""
    root = resources.files(__name__)
    messages: dict[str, dict[str, str]] = {}
    grammar: dict[str, Grammar] = {}
    for language in available_languages():
        table: dict[str, str] = {}
        for name in catalog_files(language):
            text = root.joinpath(language, name).read_text(encoding="utf-8")
            raw = yaml.load(text, Loader=SAFE_LOADER)  # noqa: S506 — a safe loader, C or Python
            for key, value in (raw or {}).items():
                if str(key) in table:
                    raise ValueError(f"locales/{language}/{name}: {key} is defined twice")
                table[str(key)] = str(value)
        messages[language] = table
        found = _grammar(language)
        if found is not None:
            grammar[language] = found
    return Catalog(messages, grammar)
