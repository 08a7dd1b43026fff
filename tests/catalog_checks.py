"""The checks every message catalog gets, whichever file it is (messages.yaml, reports.yaml …).

A catalog that lacks a key silently falls back to English at run time, and one with a mistyped
placeholder raises while an alert is being rendered, so the catalog tests of each feature check,
straight from the YAML files the package ships, that every language matches English, that every
template renders, and that a translation is not a copy of the English file.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

import yaml

from relay.core.render import Name, TemplateError, parse_template, plural_names
from relay.core.render import placeholders as template_placeholders
from relay.locales import load_catalog

# Words members type; English ones work in every language, so a translation keeps those it names.
COMMAND_WORDS = frozenset({"IN", "OUT", "ACK", "SOS", "RESOLVED", "+30", "EXTEND", "STATUS"})
_WORD = re.compile(r"(?<![\w+])(\+30|[A-Z]+)(?!\w)")


def placeholders(template: str) -> set[str]:
    """Every value a template reads (its ``{name}``s and the subjects of plurals and selects)."""
    return template_placeholders(template)


def sample(name: str, template: str, *, count: int = 1, person: Name | None = None) -> object:
    """A value for one placeholder: a number for a plural, a person for ``who``/``buddy``."""
    if name in plural_names(template):
        return count
    if name in ("who", "buddy") and person is not None:
        return person
    return f"<{name}>"


def _symbols(template: str) -> set[str]:
    """The emoji and pictographs in a template (✅ ⚠ 💜 🚨 …)."""
    return {char for char in template if unicodedata.category(char) == "So"}


def catalog_problems(english: Mapping[str, object], other: Mapping[str, object]) -> list[str]:
    """What is wrong with `other` as a translation of `english`, one line each; empty when fine.

    The help text lives in messages.yaml; only a catalog whose English has one must mention SOS.
    """
    problems = [f"missing key {key!r}" for key in english if key not in other]
    problems += [f"extra key {key!r}" for key in other if key not in english]
    for key, source in english.items():
        target = other.get(key)
        if key not in other or not isinstance(source, str):
            continue
        if not isinstance(target, str):
            problems.append(f"{key}: not a text but {type(target).__name__}")
            continue
        try:
            parse_template(source)
            wanted, found = placeholders(source), placeholders(target)
            if wanted != found:
                problems.append(f"{key}: placeholders {sorted(found)} != {sorted(wanted)}")
            if plural_names(source) != plural_names(target):
                problems.append(f"{key}: counts {sorted(plural_names(target))} != English's")
        except TemplateError as error:
            problems.append(f"{key}: does not format ({error})")
            continue
        lost = (set(_WORD.findall(source)) & COMMAND_WORDS) - set(_WORD.findall(target))
        if lost:
            problems.append(f"{key}: command words {sorted(lost)} missing")
        if _symbols(source) - _symbols(target):
            problems.append(f"{key}: emoji {sorted(_symbols(source) - _symbols(target))} missing")
    help_text = other.get("help")
    if "help" in english and (not isinstance(help_text, str) or "SOS" not in help_text):
        problems.append("help: does not mention SOS")
    return problems


def read_messages(path: Path | Traversable) -> dict[str, object]:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(raw, dict), f"{path}: not a mapping of key: text"
    return {str(key): value for key, value in raw.items()}


def shipped(file: str, language: str) -> dict[str, object]:
    """A catalog file of one language as the package ships it."""
    return read_messages(resources.files("relay.locales").joinpath(language, file))


def translation_problems(file: str, language: str) -> list[str]:
    """`catalog_problems` of a shipped file in `language` against the English one."""
    return catalog_problems(shipped(file, "en"), shipped(file, language))


def rendered(file: str, language: str) -> dict[str, str]:
    """Every English key of `file` rendered in `language` by the catalog the relay loads, by key.

    Each placeholder is filled with a marker, and each marker must show in the text: a template
    that drops one would send a member an alert without, say, the name or the time.
    """
    catalog = load_catalog()
    texts = {}
    for key, template in shipped(file, "en").items():
        assert isinstance(template, str)
        dummies = {name: sample(name, template) for name in placeholders(template)}
        text = catalog.text(language, key, **dummies)
        markers = [v for v in dummies.values() if isinstance(v, str)]
        assert all(value in text for value in markers), (language, key)
        texts[key] = text
    return texts


def untranslated(file: str, language: str) -> list[str]:
    """The keys whose text in `language` is the English text to the letter."""
    english, other = shipped(file, "en"), shipped(file, language)
    return [key for key in english if other.get(key) == english[key]]
