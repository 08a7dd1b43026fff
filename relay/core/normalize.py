"""What "the same word" means to the parser, and how raw message text is made safe to read.

Owns three things, all pure functions:

- `clean`: the text every parser works on. Characters that cannot be text (lone surrogates,
  control characters other than newline and tab) are dropped; line ends become ``\\n``.
  Everything else, including zero-width joiners and bidi marks inside a note, is kept: a note in
  Arabic or Hebrew needs its bidi marks and an emoji sequence needs its ZWJ.
- `fold` / `fold_phrase`: the comparison form of a word. NFKC (full-width and compatibility
  forms), invisible format characters removed (zero-width, bidi controls, BOM), emoji variation
  selectors and skin tones removed, case folded, accents removed (``Sálvame`` == ``salvame``),
  typographic apostrophes and dashes made ASCII (phones type ``’`` for ``'``).
- `strip_ends`: trims whitespace *and* invisible characters from both ends of a note without
  touching its inside.

Tokens (`tokenize`) are whitespace-separated runs with their offsets in the cleaned text, so a
note can be sliced from the member's own text rather than rebuilt from folded words; `next_word`
finds one such run, for the other parsers that walk text word by word.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

# Phones substitute typographic forms for ASCII as the member types; keywords such as
# "j'y vais" or "check-in" must match either way.
_ASCII_PUNCT = str.maketrans(
    {
        "\u2019": "'",  # right single quotation mark (iOS smart punctuation)
        "\u2018": "'",
        "\u02bc": "'",  # modifier letter apostrophe
        "\u00b4": "'",
        "\u0060": "'",
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2015": "-",
        "\u2212": "-",  # minus sign: "−0.12" in a pasted coordinate
    }
)

# U+FFFC is what signal-cli puts where an @-mention was; it carries no text of its own.
MENTION_PLACEHOLDER = "\ufffc"

_SKIN_TONES = frozenset(chr(c) for c in range(0x1F3FB, 0x1F400))


def _is_invisible(ch: str) -> bool:
    """Format characters (zero-width, bidi controls, BOM, tags) and the mention placeholder."""
    return ch == MENTION_PLACEHOLDER or unicodedata.category(ch) == "Cf"


def ascii_punctuation(text: str) -> str:
    """NFKC, then typographic apostrophes, dashes and minus signs as their ASCII forms."""
    return unicodedata.normalize("NFKC", text).translate(_ASCII_PUNCT)


def clean(text: str) -> str:
    """Drop what cannot be read as text; keep everything a member could have meant.

    Lone surrogates (possible in a Python ``str``, never in decoded JSON) and control characters
    other than ``\\n`` and ``\\t`` are removed; ``\\r\\n`` and ``\\r`` become ``\\n``.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    out: list[str] = []
    for ch in text:
        category = unicodedata.category(ch)
        if category == "Cs" or (category == "Cc" and ch not in "\n\t"):
            continue
        out.append(ch)
    return "".join(out)


def fold(text: str) -> str:
    """Comparison form of a word: NFKC, invisible characters gone, caseless, accentless."""
    if text.isascii():
        # Nothing to normalise in ASCII but case and the backtick; most messages take this path.
        return text.replace("`", "'").lower()
    text = ascii_punctuation(text)
    text = "".join(ch for ch in text if not _is_invisible(ch) and ch not in _SKIN_TONES)
    text = text.casefold()
    # Dropping combining marks after NFD removes accents and emoji variation selectors (both Mn).
    decomposed = unicodedata.normalize("NFD", text)
    text = "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")
    return unicodedata.normalize("NFC", text)


def is_punctuation(ch: str) -> bool:
    """Unicode punctuation (``. , ! ? ¿ ¡ ' " -`` …); symbols such as ``+`` and emoji are not."""
    return unicodedata.category(ch).startswith("P")


def strip_punctuation_edges(text: str) -> str:
    """``"sos!!!"`` → ``"sos"``, ``"¿ayuda?"`` → ``"ayuda"``; inner punctuation stays."""
    start, end = 0, len(text)
    while start < end and is_punctuation(text[start]):
        start += 1
    while end > start and is_punctuation(text[end - 1]):
        end -= 1
    return text[start:end]


def remove_punctuation(text: str) -> str:
    """``"s.o.s"`` → ``"sos"``, ``"i'm"`` → ``"im"``."""
    return "".join(ch for ch in text if not is_punctuation(ch))


def fold_phrase(text: str) -> str:
    """Comparison form of a phrase: each word folded, edge punctuation dropped, single spaces.

    Used for the duress word and the check-in secret, so ``Home safe!`` typed as ``home  safe``
    still matches, and for collective aliases.
    """
    words = (strip_punctuation_edges(fold(word)) for word in clean(text).split())
    return " ".join(word for word in words if word)


def strip_ends(text: str) -> str:
    """Trim whitespace and invisible characters from both ends; the inside is left intact."""
    start, end = 0, len(text)
    while start < end and (text[start].isspace() or _is_invisible(text[start])):
        start += 1
    while end > start and (text[end - 1].isspace() or _is_invisible(text[end - 1])):
        end -= 1
    return text[start:end]


@dataclass(frozen=True, slots=True)
class Token:
    """One whitespace-separated word of a cleaned message, with where it sits in that text."""

    raw: str
    start: int
    end: int
    folded: str


def next_word(text: str, index: int) -> tuple[int, int]:
    """Start and end of the first whitespace-separated word at or after ``index``.

    Past the last word both are ``len(text)``. Taking ``index`` rather than yielding every word
    lets a caller resume further on, after a word it found to be longer than its spaces say.
    """
    length = len(text)
    while index < length and text[index].isspace():
        index += 1
    start = index
    while index < length and not text[index].isspace():
        index += 1
    return start, index


def tokenize(text: str) -> list[Token]:
    """Split cleaned text on whitespace; tokens made only of invisible characters are skipped."""
    tokens: list[Token] = []
    start, end = next_word(text, 0)
    while start < end:
        raw = text[start:end]
        folded = fold(raw)
        if folded.strip():
            tokens.append(Token(raw=raw, start=start, end=end, folded=folded))
        start, end = next_word(text, end)
    return tokens
