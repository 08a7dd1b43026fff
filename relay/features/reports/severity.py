"""How serious a bad-client report is: read from its words, or from her answer to a question.

Three levels, the same in every language: 1 a time-waster or disrespectful client, 2 unsafe
(theft, threats, a condom taken off, filming, stalking), 3 violent. The words below are checked in
every language at once (members write in more than one); the highest level found wins. A report
with none of them is "not rated" and she is asked; her answer, ``REPORT 1`` … ``REPORT 3``,
rates her newest unrated report. Pure functions, no I/O.
"""

from __future__ import annotations

import re
from typing import Final

from relay.core.normalize import fold
from relay.core.wordlists import keyword_pattern

LOW: Final = 1
UNSAFE: Final = 2
VIOLENT: Final = 3
LEVELS: Final = (LOW, UNSAFE, VIOLENT)

# Folded (lower case, no accents) words and phrases; a trailing ``*`` matches any ending
# ("chok*" is choked, choking, chokes), read by `relay.core.wordlists`. Kept to words that mean
# the same in a client warning whatever the sentence around them: a missed warning is worse than
# a level too high, but a level too high on every report would teach members to ignore it.
_WORDS: Final[dict[int, tuple[str, ...]]] = {
    VIOLENT: (
        # en
        "violent*",
        "violence",
        "hit me",
        "hits me",
        "punch*",
        "beat me",
        "beaten",
        "slap*",
        "chok*",
        "strangl*",
        "rape*",
        "raping",
        "assault*",
        "weapon*",
        "knife",
        "gun",
        "guns",
        "armed",
        "kidnap*",
        "drugged",
        "spiked",
        "stabb*",
        "threatened to kill",
        "bruis*",
        # es
        "violento*",
        "violencia",
        "golpe*",
        "me pego",
        "violacion",
        "violo",
        "viole",
        "arma",
        "armas",
        "cuchillo",
        "pistola",
        "navaja",
        "estrangul*",
        "ahorc*",
        "me drogo",
        "drogada",
        "apunal*",
        "secuestr*",
        # pt
        "violenta",
        "bateu",
        "espanc*",
        "estupr*",
        "faca",
        "revolver",
        "enforc*",
        "drogou",
        "esfaque*",
        "sequestr*",
        "agrediu",
        "agressao",
        # fr
        "frappe*",
        "cogne*",
        "viol",
        "violee",
        "violente",
        "couteau",
        "pistolet",
        "etrangl*",
        "drogue*",
        "poignard*",
        "agresse*",
        "agression",
        "kidnapp*",
    ),
    UNSAFE: (
        # en
        "stealth*",
        "no condom",
        "without a condom",
        "condom off",
        "took the condom off",
        "removed the condom",
        "robbed",
        "robbery",
        "stole",
        "steal*",
        "theft",
        "threat*",
        "aggressive",
        "stalk*",
        "followed me",
        "filmed",
        "recorded me",
        "refused to pay",
        "didn't pay",
        "did not pay",
        "wouldn't pay",
        "blackmail*",
        "doxx*",
        "pushy",
        "forced",
        "grabbed",
        "scam*",
        # es
        "sin condon",
        "se quito el condon",
        "robo",
        "me robo",
        "robaron",
        "amenaz*",
        "agresivo",
        "agresiva",
        "acos*",
        "me siguio",
        "me grabo",
        "no pago",
        "no me pago",
        "chantaje*",
        "estafa*",
        "me obligo",
        # pt
        "sem camisinha",
        "sem preservativo",
        "tirou a camisinha",
        "roubou",
        "roubo",
        "ameac*",
        "agressivo",
        "perseguiu",
        "me seguiu",
        "filmou",
        "me gravou",
        "nao pagou",
        "chantag*",
        "golpista",
        "me forcou",
        # fr
        "sans capote",
        "sans preservatif",
        "enleve le preservatif",
        "enleve la capote",
        "vole",
        "volee",
        "vol",
        "menac*",
        "agressif",
        "harcel*",
        "m'a suivie",
        "filme",
        "filmee",
        "pas paye",
        "refuse de payer",
        "arnaque*",
    ),
    LOW: (
        # en
        "time waster",
        "time-waster",
        "timewaster",
        "no show",
        "no-show",
        "didn't show",
        "rude",
        "haggl*",
        "disrespect*",
        "cancel*",
        "fake booking",
        # es
        "no se presento",
        "no llego",
        "grosero",
        "regate*",
        "perder el tiempo",
        "me dejo plantada",
        "irrespetuoso",
        # pt
        "nao apareceu",
        "grosseiro",
        "pechinch*",
        "perda de tempo",
        "me deu bolo",
        "desrespeit*",
        # fr
        "pas venu",
        "lapin",
        "impoli",
        "grossier",
        "marchand*",
        "irrespectueux",
        "annule*",
    ),
}


_PATTERNS: Final = {level: keyword_pattern(words) for level, words in _WORDS.items()}
_ANSWER: Final = re.compile(r"#?\s*([123])\s*[.!)]?")


def severity_of(text: str | None) -> int | None:
    """The highest level whose words appear in ``text``; None when none do."""
    if not text:
        return None
    folded = fold(text).replace("’", "'")
    for level in (VIOLENT, UNSAFE, LOW):
        if _PATTERNS[level].search(folded):
            return level
    return None


def severity_answer(text: str | None) -> int | None:
    """``"3"`` (or ``"#3"``, ``"3."``) after REPORT: her answer to "how serious was it?"."""
    if text is None:
        return None
    match = _ANSWER.fullmatch(text.strip())
    return int(match.group(1)) if match else None
