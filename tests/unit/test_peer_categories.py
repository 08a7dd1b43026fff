"""The kinds of harm a report names, found in its words in English, Spanish, French, Portuguese."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relay.core.report_categories import CATEGORIES
from relay.features.peers import categories as module
from relay.features.peers.categories import LANGUAGES, categories_of

# category → language → a sentence a member could write, with the accents and case she'd type.
EXAMPLES: dict[str, dict[str, str]] = {
    "violence": {
        "en": "He punched me twice",
        "es": "Me golpeó en la cara",
        "fr": "Il m'a frappée",
        "pt": "Ele me bateu",
    },
    "sexual-violence": {
        "en": "He raped a girl in Leeds",
        "es": "Intentó una violación",
        "fr": "Il m'a violée",
        "pt": "Ele tentou me estuprar",
    },
    "stealthing": {
        "en": "He took the condom off halfway",
        "es": "Lo hizo sin condón",
        "fr": "Il a enlevé la capote",
        "pt": "Tirou a camisinha sem avisar",
    },
    "theft": {
        "en": "He stole my phone",
        "es": "Me robó el bolso",
        "fr": "Il m'a volé 200 euros",
        "pt": "Ele roubou minha bolsa",
    },
    "non-payment": {
        "en": "Refused to pay at the end",
        "es": "Se fue sin pagar",
        "fr": "Il a refusé de payer",
        "pt": "Não pagou nada",
    },
    "threats": {
        "en": "He threatened to call my family",
        "es": "Me amenazó con un mensaje",
        "fr": "Il m'a menacée",
        "pt": "Me ameaçou por mensagem",
    },
    "stalking": {
        "en": "He followed me home after",
        "es": "Me siguió hasta mi casa",
        "fr": "Il me harcèle depuis une semaine",
        "pt": "Me seguiu até o carro",
    },
    "filming": {
        "en": "He had a hidden camera in the room",
        "es": "Me grabó sin decirme",
        "fr": "Il m'a filmée avec son téléphone",
        "pt": "Ele me filmou escondido",
    },
    "time-waster": {
        "en": "Total time waster, booked three times",
        "es": "No se presentó a la cita",
        "fr": "Il m'a posé un lapin",
        "pt": "Não apareceu no hotel",
    },
}


def test_the_set_is_the_designs_closed_tuple() -> None:
    assert CATEGORIES == (
        "violence",
        "sexual-violence",
        "stealthing",
        "theft",
        "non-payment",
        "threats",
        "stalking",
        "filming",
        "time-waster",
        "other",
    )
    assert module.CATEGORIES is CATEGORIES


def test_every_category_but_other_has_words_in_every_language() -> None:
    words = module._WORDS
    assert set(words) == set(CATEGORIES) - {"other"}
    assert all(set(by_language) == set(LANGUAGES) for by_language in words.values())
    assert all(all(w == w.lower() for w in ws) for b in words.values() for ws in b.values())


@pytest.mark.parametrize(
    ("category", "language"),
    [(category, language) for category in EXAMPLES for language in LANGUAGES],
)
def test_each_category_is_found_in_each_language(category: str, language: str) -> None:
    assert categories_of(EXAMPLES[category][language]) == (category,)


def test_every_category_has_an_example_in_every_language() -> None:
    assert set(EXAMPLES) == set(CATEGORIES) - {"other"}
    assert all(set(by_language) == set(LANGUAGES) for by_language in EXAMPLES.values())


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Rude and smelled of smoke",
        "Socorro, ele é estranho",  # "help": not a punch (soco)
        "Assistimos um filme",  # a film, not filming
        "Se acostó temprano",  # went to bed, not harassment (acoso)
        "Il est arrivé en retard",
        "Nice guy, paid well",
    ],
)
def test_other_when_no_category_is_named(text: str) -> None:
    assert categories_of(text) == ("other",)


def test_several_are_found_and_sorted() -> None:
    text = "He choked me, took the condom off and then refused to pay"
    assert categories_of(text) == ("non-payment", "stealthing", "violence")


def test_case_accents_and_typographic_apostrophes_do_not_matter() -> None:
    assert categories_of("IL M’A VIOLÉE") == ("sexual-violence",)
    assert categories_of("NAO PAGOU") == ("non-payment",)
    assert categories_of("He DIDN’T PAY") == ("non-payment",)


def test_a_word_inside_a_longer_word_is_not_a_match() -> None:
    assert categories_of("a gunther and a violinist") == ("other",)


@given(st.text(max_size=300))
def test_any_text_gets_sorted_known_categories(text: str) -> None:
    found = categories_of(text)
    assert found and list(found) == sorted(set(found))
    assert set(found) <= set(CATEGORIES)
    assert ("other" in found) == (found == ("other",))
