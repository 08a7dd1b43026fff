"""Every language's messages.yaml against the English one: same keys, same placeholders, formats.

A catalog that lacks a key silently falls back to English at run time, and one with a mistyped
placeholder raises while an alert is being rendered, so both are caught here, for every language
folder the package ships, straight from the YAML files.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Mapping
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

import pytest
import yaml

from relay.locales import available_languages, load_catalog

# Words members type; English ones work in every language, so a translation keeps those it names.
COMMAND_WORDS = frozenset({"IN", "OUT", "ACK", "SOS", "RESOLVED", "+30", "EXTEND", "STATUS"})
_WORD = re.compile(r"(?<![\w+])(\+30|[A-Z]+)(?!\w)")


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


def _symbols(template: str) -> set[str]:
    """The emoji and pictographs in a template (✅ ⚠ 💜 🚨 …)."""
    return {char for char in template if unicodedata.category(char) == "So"}


def catalog_problems(english: Mapping[str, object], other: Mapping[str, object]) -> list[str]:
    """What is wrong with `other` as a translation of `english`, one line each; empty when fine."""
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
            wanted, found = placeholders(source), placeholders(target)
            if wanted != found:
                problems.append(f"{key}: placeholders {sorted(found)} != {sorted(wanted)}")
            target.format(**{name: "x" for name in found})
        except (ValueError, KeyError, IndexError, AttributeError) as error:
            problems.append(f"{key}: does not format ({error})")
            continue
        lost = set(_WORD.findall(source)) & COMMAND_WORDS - set(_WORD.findall(target))
        if lost:
            problems.append(f"{key}: command words {sorted(lost)} missing")
        if _symbols(source) - _symbols(target):
            problems.append(f"{key}: emoji {sorted(_symbols(source) - _symbols(target))} missing")
    help_text = other.get("help")
    if not isinstance(help_text, str) or "SOS" not in help_text:
        problems.append("help: does not mention SOS")
    return problems


def read_messages(path: Path | Traversable) -> dict[str, object]:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(raw, dict), f"{path}: not a mapping of key: text"
    return {str(key): value for key, value in raw.items()}


def shipped(language: str) -> dict[str, object]:
    return read_messages(resources.files("relay.locales").joinpath(language, "messages.yaml"))


def test_the_translated_languages_are_shipped() -> None:
    assert {"en", "es", "fr", "pt"} <= set(available_languages())


@pytest.mark.parametrize("language", available_languages())
def test_catalog_matches_english(language: str) -> None:
    assert catalog_problems(shipped("en"), shipped(language)) == []


@pytest.mark.parametrize("language", available_languages())
def test_every_template_renders_through_the_catalog(language: str) -> None:
    catalog = load_catalog()
    for key, template in shipped("en").items():
        assert isinstance(template, str)
        dummies = {name: f"<{name}>" for name in placeholders(template)}
        text = catalog.text(language, key, **dummies)
        assert all(value in text for value in dummies.values()), (language, key)
        assert "{" not in text and "}" not in text, (language, key)


def test_translations_are_translated() -> None:
    """A copied English file passes every other check; most of its lines must differ."""
    english = shipped("en")
    for language in ("es", "fr", "pt"):
        other = shipped(language)
        same = [key for key in english if other.get(key) == english[key]]
        assert len(same) <= 2, (language, same)


def test_help_is_several_lines_ending_with_sos() -> None:
    for language in available_languages():
        help_text = shipped(language)["help"]
        assert isinstance(help_text, str)
        lines = help_text.splitlines()
        assert len(lines) >= 5 and "SOS" in lines[-1], language


def test_checker_finds_a_broken_folder(tmp_path: Path) -> None:
    english = shipped("en")
    broken = dict(english)
    del broken["checkout"]
    broken["checkout_typo"] = "💜 Glad you're safe."
    broken["alert_missed"] = "🚨 ALERT: {whom} didn't check out at {until}."
    broken["reminder"] = "⏰ {left} left (until {until}). Reply when you're safe, or +30."
    broken["due"] = "Are you OK? Reply OUT — I'll alert your buddies in {grace!z}."
    broken["help"] = "IN 60 — check in"
    folder = tmp_path / "xx"
    folder.mkdir()
    (folder / "messages.yaml").write_text(
        yaml.safe_dump(broken, allow_unicode=True), encoding="utf-8"
    )

    problems = catalog_problems(english, read_messages(folder / "messages.yaml"))

    assert "missing key 'checkout'" in problems
    assert "extra key 'checkout_typo'" in problems
    assert any(p.startswith("alert_missed: placeholders") for p in problems)
    assert "reminder: command words ['OUT'] missing" in problems
    assert any(p.startswith("due: does not format") for p in problems)
    assert "help: command words ['+30', 'ACK', 'OUT', 'SOS', 'STATUS'] missing" in problems
    assert "help: does not mention SOS" in problems
    assert len(problems) == 7, problems


def test_checker_finds_lost_emoji_and_non_text() -> None:
    english = {"checkout": "💜 Glad you're safe.", "help": "SOS", "n": "{count}"}
    other = {"checkout": "Glad you're safe.", "help": "SOS", "n": 3}
    assert catalog_problems(english, other) == [
        "checkout: emoji ['💜'] missing",
        "n: not a text but int",
    ]
