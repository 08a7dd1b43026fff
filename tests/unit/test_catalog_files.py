"""Every catalog file besides messages.yaml (tested in test_catalogs.py), in every language: the
same keys and placeholders as English, every template renders, translations are translated; and
no report template can name a reporter."""

from __future__ import annotations

import pytest

from relay.locales import available_languages
from tests.catalog_checks import placeholders, rendered, shipped, translation_problems, untranslated

# File → keys a translation may leave as the English text.
FILES: dict[str, set[str]] = {
    "incidents.yaml": set(),
    "groups.yaml": set(),  # a circle's Signal group: the safe alert line, the admin's notice
    # The match line is symbols and placeholders; French "violent" is the English word.
    "reports.yaml": {"report_match_line", "severity_3"},
    "privacy.yaml": set(),
    "selfcheck.yaml": set(),  # the canary's and the disk watch's notices
    "welcome.yaml": set(),
    # "— {who}:" is a dash and a name in every language.
    "drills.yaml": {"drill_admin_member"},
    "delivery.yaml": set(),
    "outbox.yaml": set(),  # the admin's notices about a send outage (relay.runtime.outage)
}


@pytest.mark.parametrize("language", available_languages())
@pytest.mark.parametrize("file", sorted(FILES))
def test_catalog_matches_english(file: str, language: str) -> None:
    assert translation_problems(file, language) == []


@pytest.mark.parametrize("language", available_languages())
@pytest.mark.parametrize("file", sorted(FILES))
def test_every_template_renders(file: str, language: str) -> None:
    rendered(file, language)


@pytest.mark.parametrize("file", sorted(FILES))
def test_translations_are_translated(file: str) -> None:
    for language in ("es", "fr", "pt"):
        assert set(untranslated(file, language)) <= FILES[file], (language, file)


def test_no_report_template_can_name_a_reporter() -> None:
    for language in available_languages():
        for key, template in shipped("reports.yaml", language).items():
            assert isinstance(template, str)
            assert not placeholders(template) & {"who", "author", "reporter", "alias"}, key
