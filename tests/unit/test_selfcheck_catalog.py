"""selfcheck.yaml in every language (the canary's and the disk watch's notices): the same keys and
placeholders as English, every template renders, and translations are translated."""

from __future__ import annotations

import pytest

from relay.locales import available_languages
from tests.catalog_checks import rendered, translation_problems, untranslated

FILE = "selfcheck.yaml"


@pytest.mark.parametrize("language", available_languages())
def test_catalog_matches_english(language: str) -> None:
    assert translation_problems(FILE, language) == []


@pytest.mark.parametrize("language", available_languages())
def test_every_template_renders(language: str) -> None:
    rendered(FILE, language)


def test_translations_are_translated() -> None:
    for language in ("es", "fr", "pt"):
        assert untranslated(FILE, language) == [], language
