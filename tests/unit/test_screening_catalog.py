"""reports.yaml in every language: the same keys and placeholders as English, every template
renders, translations are translated, and no template can name a reporter (no {who})."""

from __future__ import annotations

from importlib import resources

import pytest

from relay.locales import available_languages, load_catalog
from tests.unit.test_catalogs import catalog_problems, placeholders, read_messages

FILE = "reports.yaml"


def shipped(language: str) -> dict[str, object]:
    return read_messages(resources.files("relay.locales").joinpath(language, FILE))


def problems(language: str) -> list[str]:
    found = catalog_problems(shipped("en"), shipped(language))
    return [p for p in found if not p.startswith("help:")]  # the help text lives elsewhere


@pytest.mark.parametrize("language", available_languages())
def test_catalog_matches_english(language: str) -> None:
    assert problems(language) == []


@pytest.mark.parametrize("language", available_languages())
def test_every_template_renders(language: str) -> None:
    catalog = load_catalog()
    for key, template in shipped("en").items():
        assert isinstance(template, str)
        dummies = {name: f"<{name}>" for name in placeholders(template)}
        text = catalog.text(language, key, **dummies)
        assert all(value in text for value in dummies.values()), (language, key)


def test_translations_are_translated() -> None:
    english = shipped("en")
    for language in ("es", "fr", "pt"):
        other = shipped(language)
        same = [key for key in english if other.get(key) == english[key]]
        # The match line is symbols and placeholders; French "violent" is the English word.
        assert set(same) <= {"report_match_line", "severity_3"}, (language, same)


def test_no_template_can_name_a_reporter() -> None:
    for language in available_languages():
        for key, template in shipped(language).items():
            assert isinstance(template, str)
            assert not placeholders(template) & {"who", "author", "reporter", "alias"}, key
