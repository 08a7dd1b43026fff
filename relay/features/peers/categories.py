"""What kinds of harm a bad-client report names: the categories a warning to a partner carries.

`CATEGORIES` is the closed set (kept in `relay.core.report_categories`, where the rules read it
too); `categories_of` finds them in a report's words. The words of every language are checked at
once (members write in more than one), in the style of `relay.features.reports.severity`: folded
words and phrases, a trailing ``*`` for any ending (`relay.core.wordlists`). A report that names
none is ``other``. Kept to words that say the same thing whatever the sentence around them: a
partner's ``send.categories`` decides what leaves the collective, so a word that fires on
ordinary talk would send what was not meant to go. Pure, no I/O.
"""

from __future__ import annotations

import re
from typing import Final

from relay.core.normalize import fold
from relay.core.report_categories import CATEGORIES
from relay.core.wordlists import keyword_pattern

__all__ = ["CATEGORIES", "LANGUAGES", "categories_of"]

LANGUAGES: Final = ("en", "es", "fr", "pt")

# category → language → folded words. ``other`` has none: it is what is left.
_WORDS: Final[dict[str, dict[str, tuple[str, ...]]]] = {
    "violence": {
        "en": (
            "violen*",
            "hit me",
            "hits me",
            "punch*",
            "beat me",
            "beat her",
            "beaten",
            "slap*",
            "chok*",
            "strangl*",
            "assault*",
            "attacked",
            "weapon*",
            "knife",
            "gun",
            "guns",
            "stabb*",
            "bruis*",
            "kicked me",
            "drugged",
            "spiked",
            "kidnap*",
        ),
        "es": (
            "violento*",
            "violencia",
            "golpe*",
            "me pego",
            "cuchillo",
            "navaja",
            "pistola",
            "arma",
            "armas",
            "estrangul*",
            "ahorc*",
            "apunal*",
            "agredio",
            "me drogo",
            "drogada",
            "secuestr*",
        ),
        "fr": (
            "frappe*",
            "cogne*",
            "violent",
            "violente",
            "violence",
            "couteau",
            "pistolet",
            "arme",
            "etrangl*",
            "poignard*",
            "agresse*",
            "droguee",
            "m'a drogue*",
            "kidnapp*",
        ),
        "pt": (
            "violento",
            "violenta",
            "violencia",
            "bateu",
            "espanc*",
            "socou",
            "um soco",
            "faca",
            "revolver",
            "arma",
            "enforc*",
            "esfaque*",
            "agrediu",
            "agressao",
            "drogou",
            "sequestr*",
        ),
    },
    "sexual-violence": {
        "en": (
            "rape*",
            "raping",
            "rapist*",
            "sexual assault*",
            "sexually assault*",
            "sexual violence",
            "forced me",
            "forced sex",
            "against my will",
        ),
        "es": (
            "violacion",
            "violo",
            "me violo",
            "viole",
            "violada",
            "violador*",
            "abuso sexual",
            "agresion sexual",
            "violencia sexual",
            "me obligo",
            "contra mi voluntad",
        ),
        "fr": (
            "viol",
            "violee",
            "violer",
            "violeur*",
            "agression sexuelle",
            "violence sexuelle",
            "violences sexuelles",
            "m'a force",
            "m'a forcee",
            "contre ma volonte",
        ),
        "pt": (
            "estupr*",
            "violentada",
            "abuso sexual",
            "violencia sexual",
            "me forcou",
            "contra minha vontade",
            "contra a minha vontade",
        ),
    },
    "stealthing": {
        "en": (
            "stealth*",
            "no condom",
            "without a condom",
            "condom off",
            "took the condom off",
            "took off the condom",
            "removed the condom",
            "broke the condom",
        ),
        "es": (
            "sin condon",
            "sin preservativo",
            "se quito el condon",
            "quito el condon",
            "se quito el preservativo",
            "rompio el condon",
        ),
        "fr": (
            "sans capote",
            "sans preservatif",
            "enleve la capote",
            "enleve le preservatif",
            "retire la capote",
            "retire le preservatif",
        ),
        "pt": (
            "sem camisinha",
            "sem preservativo",
            "tirou a camisinha",
            "tirou o preservativo",
            "rompeu a camisinha",
        ),
    },
    "theft": {
        "en": (
            "robbed",
            "robbery",
            "stole",
            "stolen",
            "steal*",
            "theft",
            "thief",
            "took my money",
            "took my phone",
        ),
        "es": ("robo", "me robo", "robaron", "robar", "ladron*", "hurto"),
        "fr": ("vol", "vole", "volee", "m'a vole", "voleur*"),
        "pt": ("roubou", "roubo", "roubar", "ladrao", "furto", "furtou"),
    },
    "non-payment": {
        "en": (
            "refused to pay",
            "didn't pay",
            "did not pay",
            "wouldn't pay",
            "never paid",
            "unpaid",
            "no payment",
            "fake money",
            "fake notes",
            "counterfeit*",
            "chargeback*",
        ),
        "es": (
            "no pago",
            "no me pago",
            "no quiso pagar",
            "sin pagar",
            "billete falso",
            "billetes falsos",
            "dinero falso",
        ),
        "fr": (
            "pas paye",
            "refuse de payer",
            "sans payer",
            "faux billet*",
            "impaye*",
        ),
        "pt": (
            "nao pagou",
            "nao quis pagar",
            "sem pagar",
            "dinheiro falso",
            "nota falsa",
            "notas falsas",
            "calote*",
        ),
    },
    "threats": {
        "en": ("threat*", "blackmail*", "extort*", "doxx*", "said he would kill"),
        "es": ("amenaz*", "chantaje*", "extors*", "me iba a matar"),
        "fr": ("menac*", "chantag*", "extorsion", "extorqu*"),
        "pt": ("ameac*", "chantag*", "extors*", "extorqu*"),
    },
    "stalking": {
        "en": (
            "stalk*",
            "followed me",
            "follows me",
            "following me",
            "turned up at my",
            "showed up at my",
            "won't leave me alone",
            "harass*",
        ),
        "es": (
            "acoso",
            "acosa*",
            "acosador*",
            "me siguio",
            "me sigue",
            "me persigue",
            "persiguio",
        ),
        "fr": ("harcel*", "m'a suivie", "me suit", "traque*", "stalke*"),
        "pt": ("persegu*", "me seguiu", "me segue", "assedi*", "stalke*"),
    },
    "filming": {
        "en": (
            "filmed",
            "filming",
            "recorded me",
            "recording me",
            "secretly recorded",
            "hidden camera",
            "photos of me",
            "pictures of me",
        ),
        "es": (
            "me grabo",
            "grabando",
            "me filmo",
            "filmando",
            "camara oculta",
            "fotos sin permiso",
            "me saco fotos",
        ),
        "fr": (
            "a filme",
            "filmee",
            "m'a filmee",
            "en train de filmer",
            "m'a enregistree",
            "camera cachee",
            "photos sans",
        ),
        "pt": (
            "filmou",
            "me filmou",
            "me gravou",
            "gravando",
            "camera escondida",
            "tirou fotos",
            "fotos sem",
        ),
    },
    "time-waster": {
        "en": (
            "time waster",
            "time-waster",
            "timewaster",
            "wasted my time",
            "no show",
            "no-show",
            "didn't show",
            "never showed",
            "fake booking",
            "cancel*",
            "haggl*",
        ),
        "es": (
            "no se presento",
            "no llego",
            "no vino",
            "me dejo plantada",
            "perder el tiempo",
            "perdida de tiempo",
            "cancelo",
            "regate*",
        ),
        "fr": (
            "pas venu",
            "jamais venu",
            "lapin",
            "perte de temps",
            "fait perdre mon temps",
            "annule*",
            "marchand*",
        ),
        "pt": (
            "nao apareceu",
            "nao veio",
            "me deu bolo",
            "perda de tempo",
            "cancelou",
            "pechinch*",
        ),
    },
}

_PATTERNS: Final[dict[str, re.Pattern[str]]] = {
    category: keyword_pattern(word for words in by_language.values() for word in words)
    for category, by_language in _WORDS.items()
}


def categories_of(text: str) -> tuple[str, ...]:
    """The categories whose words appear in ``text``, sorted; ``("other",)`` when none do."""
    folded = fold(text)
    found = sorted(category for category, pattern in _PATTERNS.items() if pattern.search(folded))
    return tuple(found) or ("other",)
