"""reports.yaml in every language: the same keys and placeholders as English, every template
renders, translations are translated, and no template can name a reporter (no {who})."""

from __future__ import annotations

import pytest

from relay.locales import available_languages
from tests.catalog_checks import placeholders, rendered, shipped, translation_problems, untranslated

FILE = "reports.yaml"


@pytest.mark.parametrize("language", available_languages())
def test_catalog_matches_english(language: str) -> None:
    assert translation_problems(FILE, language) == []


@pytest.mark.parametrize("language", available_languages())
def test_every_template_renders(language: str) -> None:
    rendered(FILE, language)


def test_translations_are_translated() -> None:
    for language in ("es", "fr", "pt"):
        same = untranslated(FILE, language)
        # The match line is symbols and placeholders; French "violent" is the English word.
        assert set(same) <= {"report_match_line", "severity_3"}, (language, same)


def test_no_template_can_name_a_reporter() -> None:
    for language in available_languages():
        for key, template in shipped(FILE, language).items():
            assert isinstance(template, str)
            assert not placeholders(template) & {"who", "author", "reporter", "alias"}, key
