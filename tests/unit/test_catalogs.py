"""Every language's messages.yaml against the English one: same keys, same placeholders, formats.

The checks every catalog file gets are in `tests.catalog_checks` (and tested here); this file adds
what only messages.yaml has: the help text, and the native keywords it names.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path

import pytest
import yaml

from relay.core.render import clock
from relay.locales import available_languages
from tests.catalog_checks import (
    catalog_problems,
    read_messages,
    rendered,
    shipped,
    translation_problems,
    untranslated,
)

FILE = "messages.yaml"


def _fold(word: str) -> str:
    """As the keyword matcher compares words: case and accents ignored."""
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char)).strip()


def help_keyword_problems(
    help_text: str,
    english: Mapping[str, list[str]],
    native: Mapping[str, list[str]],
) -> list[str]:
    """The help's ``OUT / SALGO — …`` lines may name native words beside the English one; each
    must be a word of the same command in that language's keywords.yaml, or the menu would send
    a member in a hurry to a word the relay does not know."""
    problems = []
    for line in help_text.splitlines():
        if " — " not in line:
            continue
        first, *others = line.split(" — ", 1)[0].split(" / ")
        word = _fold(first.split()[0]).rstrip("0123456789")  # "+30" is the word "+"
        commands = [command for command, words in english.items() if word in map(_fold, words)]
        if not commands:
            problems.append(f"help: {first!r} is not an English command word")
            continue
        for other in others:
            if _fold(other) not in map(_fold, native.get(commands[0], [])):
                problems.append(f"help: {other!r} is not among the {commands[0]!r} keywords")
    return problems


def read_keywords(language: str) -> dict[str, list[str]]:
    path = resources.files("relay.locales").joinpath(language, "keywords.yaml")
    if not path.is_file():
        return {}
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return {
        str(command): [str(word) for word in ([words] if isinstance(words, str) else words)]
        for command, words in raw.items()
    }


def test_the_translated_languages_are_shipped() -> None:
    assert {"en", "es", "fr", "pt"} <= set(available_languages())


@pytest.mark.parametrize("language", available_languages())
def test_catalog_matches_english(language: str) -> None:
    assert translation_problems(FILE, language) == []


@pytest.mark.parametrize("language", available_languages())
def test_help_names_only_words_that_work(language: str) -> None:
    help_text = shipped(FILE, language)["help"]
    assert isinstance(help_text, str)
    english, native = read_keywords("en"), read_keywords(language)
    assert help_keyword_problems(help_text, english, native) == []


def test_help_checker_finds_a_word_that_does_not_work() -> None:
    english = {"out": ["out", "safe"], "extend": ["+"], "ack": ["ack"]}
    native = {"out": ["salgo", "salí"], "ack": ["me encargo"]}
    good = "OUT / Salí — estoy a salvo\n+30 — sumar 30 min\nACK / ME ENCARGO — voy yo"
    assert help_keyword_problems(good, english, native) == []
    bad = "OUT / VOY — estoy a salvo\nSALIR — fin\n¿En peligro? Manda SOS"
    assert help_keyword_problems(bad, english, native) == [
        "help: 'VOY' is not among the 'out' keywords",
        "help: 'SALIR' is not an English command word",
    ]


@pytest.mark.parametrize("language", available_languages())
def test_every_template_renders_through_the_catalog(language: str) -> None:
    for key, text in rendered(FILE, language).items():
        assert "{" not in text and "}" not in text, (language, key)


def test_translations_are_translated() -> None:
    """A copied English file passes every other check; most of its lines must differ."""
    for language in ("es", "fr", "pt"):
        same = untranslated(FILE, language)
        assert len(same) <= 2, (language, same)


def test_help_is_several_lines_ending_with_sos() -> None:
    for language in available_languages():
        help_text = shipped(FILE, language)["help"]
        assert isinstance(help_text, str)
        lines = help_text.splitlines()
        assert len(lines) >= 5 and "SOS" in lines[-1], language


def test_checker_finds_a_broken_folder(tmp_path: Path) -> None:
    english = shipped(FILE, "en")
    broken = dict(english)
    del broken["checkout"]
    broken["checkout_typo"] = "💜 Glad you're safe."
    broken["alert_missed"] = "🚨 ALERT: {whom} didn't check out at {until}."
    broken["reminder"] = "⏰ {left} left (until {until}). Reply when you're safe, or +30."
    broken["due"] = "Are you OK? Reply OUT — I'll alert your buddies in {grace, plural, one {x}}."
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


@pytest.mark.parametrize("language", available_languages())
def test_a_time_on_another_day_names_the_weekday_in_her_language(language: str) -> None:
    now = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # a Monday
    days = {clock(now + timedelta(days=d), "UTC", now, language) for d in range(1, 8)}
    assert len(days) == 7, (language, days)
    assert clock(now, "UTC", now, language) == "12:00"
    if language != "en":
        assert clock(now + timedelta(days=1), "UTC", now, language) != "Tue 12:00", language
