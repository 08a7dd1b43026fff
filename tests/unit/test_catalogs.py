"""Every language's messages.yaml against the English one: same keys, same placeholders, formats.

The checks every catalog file gets are in `tests.catalog_checks` (and tested here); this file adds
what only messages.yaml has: the help text, and the native keywords it names.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path

import pytest
import yaml

from relay.core.render import PRONOUNS, clock, display, placeholders
from relay.locales import available_languages, catalog_files, load_catalog
from tests.catalog_checks import (
    catalog_problems,
    read_messages,
    rendered,
    sample,
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
    broken["due"] = "Are you OK? Reply OUT — I'll alert {watchers} in {grace, plural, one {x}}."
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


# --- every message of every catalog, rendered as members will read it (issue 16) ------------

PEOPLE = ("Alice", "Inès", "Bob", "Hélène", "Oscar")  # vowel, accented vowel, consonant, mute h
PLURAL_LEFTOVERS = re.compile(r"\((?:s|es|ies|e|a|as|ões|x)\)")
# French: a word that elides, then a word starting with a vowel (a value the grammar missed, or a
# template written without the apostrophe).
UNELIDED = re.compile(
    r"(?<![\w'’-])(de|le|la|que|je|ne|se|jusque) [aeiouàâéèêëîïôûhAEIOUÀÂÉÈÊËÎÏÔÛH]"
)
ENGLISH_PRONOUNS = {
    "she": re.compile(r"\b(he|his|him|they|them|their|they're)\b", re.IGNORECASE),
    "he": re.compile(r"\b(she|her|hers|they|them|their|they're)\b", re.IGNORECASE),
    "they": re.compile(r"\b(she|her|hers|he|his|him)\b", re.IGNORECASE),
    None: re.compile(r"\b(she|her|hers|he|his|him|they|them|their|they're)\b", re.IGNORECASE),
}


def every_rendering(language: str) -> Iterator[tuple[str, str, object, int, str]]:
    """(file, key, pronoun, count, text) for every key of every catalog file of a language,
    with every sample person, every pronoun, and 1 and many for each count."""
    catalog = load_catalog()
    for file in catalog_files("en"):
        for key, template in shipped(file, "en").items():
            assert isinstance(template, str)
            for person, pronoun, count in itertools.product(PEOPLE, (*PRONOUNS, None), (1, 3)):
                name = display(person.lower(), pronoun)
                values = {
                    name_: sample(name_, template, count=count, person=name)
                    for name_ in placeholders(template)
                }
                yield file, key, pronoun, count, catalog.text(language, key, **values)


@pytest.mark.parametrize("language", available_languages())
def test_every_message_renders_whole_for_every_name_pronoun_and_count(language: str) -> None:
    problems = set()
    for file, key, pronoun, count, text in every_rendering(language):
        where = f"{file}:{key} ({pronoun}, {count})"
        if "{" in text or "}" in text:
            problems.add(f"{where}: a placeholder left: {text!r}")
        if PLURAL_LEFTOVERS.search(text):
            problems.add(f"{where}: a hand-written plural: {text!r}")
        if language == "fr" and UNELIDED.search(text):
            problems.add(f"{where}: not elided: {UNELIDED.search(text)!r} in {text!r}")
    assert sorted(problems) == []


def test_english_messages_use_only_the_pronouns_a_member_chose() -> None:
    problems = set()
    about_someone = {
        (file, key)
        for file in catalog_files("en")
        for key, template in shipped(file, "en").items()
        if isinstance(template, str) and "who" in placeholders(template)
    }
    for file, key, pronoun, _, text in every_rendering("en"):
        if (file, key) in about_someone:
            found = ENGLISH_PRONOUNS[pronoun].search(text)  # type: ignore[index]
            if found:
                problems.add(f"{file}:{key} ({pronoun}): {found.group(0)!r} in {text!r}")
    assert sorted(problems) == []


def test_french_elision_happens_where_a_name_meets_the_text() -> None:
    catalog = load_catalog()
    assert catalog.text("fr", "alert_repeat", who=display("alice"), since="x").startswith(
        "⏰ Toujours personne sur l'alerte d'Alice"
    )
    assert "l'alerte de Bob" in catalog.text("fr", "alert_repeat", who=display("bob"), since="x")
    assert "qu'Inès va bien" in catalog.text(
        "fr", "alert_missed", who=display("inès"), until="x", ago="y"
    )
    assert "qu'elle va bien" in catalog.text(
        "fr", "alert_missed", who=display("inès", "she"), until="x", ago="y"
    )
    # What a member typed is never rewritten: only the seam between template and value elides.
    note = catalog.text("fr", "alert_note", who=display("bob"), note="de Alice")
    assert note == "Note de Bob : « de Alice »"


def test_plurals_follow_each_languages_cldr_rules() -> None:
    catalog = load_catalog()
    assert catalog.text("en", "alert_photos", count=0) == "📎 0 photos attached."
    assert catalog.text("fr", "alert_photos", count=0) == "📎 0 photo jointe."  # 0 is "one"
    assert catalog.text("pt", "alert_photos", count=1) == "📎 1 foto em anexo."
    assert catalog.text("es", "alert_photos", count=1_000_000) == "📎 1000000 fotos adjuntas."


def test_the_checker_refuses_a_template_it_cannot_read() -> None:
    english = {"n": "{count, plural, one {# photo} other {# photos}}"}
    assert catalog_problems(english, {"n": "{count} photo(s)"}) == ["n: counts [] != English's"]
    broken = catalog_problems(english, {"n": "{count, plural, one {# foto}}"})
    assert broken and "does not format" in broken[0]
