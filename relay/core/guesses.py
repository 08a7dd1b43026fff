"""Near-misses: what a word one slip away from a command means, and the one-line answers to them.

Owns the typo policy for the words where a wrong guess costs most, and for the words the parser
could not read at all. Pure functions over words already folded by `relay.core.normalize`.

The policy, in the order the parser applies it (README "Typos"):

- **A near-miss of SOS raises the SOS and says so.** Under stress a member types ``S0S``,
  ``SOSS``, ``SO S``, ``socoro``, ``emergncy``; a false alarm costs her one OUT, a missed one can
  cost a life. A near-miss is a digit or symbol for a letter (``S0S``, ``5O5``, ``$O$``), a
  doubled letter (``SOOS``, ``ayudaa``), one wrong, missing, extra or swapped letter, or the
  words run together or split (``helpme``, ``S O S``). Only the built-in cries of her language and
  English count, not the collective's codewords (often everyday words chosen to be discreet).
  ``sos`` has three letters, so one slip reaches everyday words (es "soy", "dos", pt "sou",
  fr "son", en "so"): those, listed in `_NOT_SOS`, are never read as SOS. Her reply says the
  relay read an SOS and that OUT undoes it.
- **``SOS`` in capitals, or 🆘, anywhere in a message that is no command raises the SOS**
  ("he has a knife SOS"), also saying so.
- **A near-miss of OUT never ends anything: it asks** ("Did you mean OUT? Reply OUT to end your
  check-in"). So do near-misses of the other commands a wrong guess would hurt (ACK, RESOLVED,
  FORGET), and of any command whose word is too short to guess safely (IN).
- **A cry for help inside a sentence** ("can you help me") **asks**: "Are you in danger? Reply
  SOS". So does a word the collective marked "ask first" in its rules.
- **A word that looks like a command gets one line**, "didn't get that — did you mean IN or
  EXTEND?", with the two or three likeliest commands; only text that looks like no command at all
  gets the whole menu.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Final

from babel.lists import format_list

# What phones and hurried thumbs put for letters: S0S, 5O5, $O$, 0UT, 1N.
_LEET: Final = str.maketrans({"0": "o", "5": "s", "$": "s", "1": "i", "3": "e", "4": "a", "@": "a"})

_NOT_SOS: Final = frozenset(
    # One slip from "sos" and an everyday word in en, es, pt or fr: never an alarm.
    {"so", "os", "sis", "sus", "son", "sob", "sod", "sow", "sox", "soy", "sol", "sot", "sou"}
    | {"soi", "sas", "ses", "dos", "nos", "los", "vos", "cos", "aos", "sms", "soso", "sosa"}
    | {"sop", "xos", "sps", "ss", "sous", "sors", "sons", "sols", "sots"}
)

_ANSWER_WORDS: Final = {"extend": "+30", "help": "HELP"}
"""How a command is named in a one-line answer: its English word in capitals (English words
work in every language), except where a shorter form is what members type."""

MAX_LIKELY: Final = 3


def within_one_edit(a: str, b: str) -> bool:
    """Optimal string alignment distance ≤ 1: one substitution, insertion, deletion or swap."""
    if a == b:
        return True
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diffs = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
        if len(diffs) == 1:
            return True
        return (
            len(diffs) == 2
            and diffs[1] == diffs[0] + 1
            and a[diffs[0]] == b[diffs[1]]
            and a[diffs[1]] == b[diffs[0]]
        )
    shorter, longer = (a, b) if len(a) < len(b) else (b, a)
    index = 0
    while index < len(shorter) and shorter[index] == longer[index]:
        index += 1
    return shorter[index:] == longer[index + 1 :]


def squeeze(word: str) -> str:
    """Runs of one letter as one: ``soss`` → ``sos``, ``ouut`` → ``out``."""
    out: list[str] = []
    for ch in word:
        if not out or out[-1] != ch:
            out.append(ch)
    return "".join(out)


def compact(word: str) -> str:
    """A word or phrase as compared for near-misses: letters and digits only, digits as the
    letters they stand for (``S0S`` → ``sos``, ``i'm safe`` → ``imsafe``)."""
    return "".join(ch for ch in word.translate(_LEET) if ch.isalnum())


def _deletions(word: str) -> set[str]:
    return {word, *(word[:i] + word[i + 1 :] for i in range(len(word)))}


class NearIndex:
    """Keywords (compacted) indexed for near-miss look-ups: by their one-letter deletions for one
    edit (two words one edit apart share a deletion), by squeezed form for doubled letters. A
    look-up costs a few dictionary reads, not a comparison with every keyword: it runs on every
    message that starts with no command."""

    __slots__ = ("_deletions", "_squeezed")

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        self._deletions: dict[str, list[tuple[str, str]]] = {}
        self._squeezed: dict[str, list[tuple[str, str]]] = {}
        for key, value in sorted(set(pairs)):
            if key:
                for variant in _deletions(key):
                    self._deletions.setdefault(variant, []).append((key, value))
                self._squeezed.setdefault(squeeze(key), []).append((key, value))

    def near(self, typed: str, *, edit_from: int) -> list[tuple[str, str, int]]:
        """(key, value, rank) for every key ``typed`` is equal to once compacted or squeezed
        (rank 0) or one edit from (rank 1; only keys of ``edit_from`` letters or more)."""
        if not typed:
            return []
        found = [(key, value, 0) for key, value in self._squeezed.get(squeeze(typed), ())]
        if len(typed) >= 2:
            seen: set[tuple[str, str]] = set()
            for variant in _deletions(typed):
                for key, value in self._deletions.get(variant, ()):
                    if (key, value) in seen or len(key) < edit_from or key == typed:
                        continue
                    seen.add((key, value))
                    if within_one_edit(typed, key):
                        found.append((key, value, 1))
        return found


def near_sos(typed: str, distress: NearIndex) -> str | None:
    """The built-in cry for help that ``typed`` (compacted) is a near-miss of, or None.

    ``distress`` maps compacted cries to their keywords. Equal counts: the exact words were tried
    before, so an equal compacted form was written with digits, symbols, spaces or punctuation
    (``$O$``, ``S O S``)."""
    if typed in _NOT_SOS or len(typed) < 3:
        return None
    found = distress.near(typed, edit_from=3)
    return min(found, key=lambda hit: hit[2])[1] if found else None


def likely_commands(typed: str, keys: NearIndex) -> tuple[str, ...]:
    """The commands whose words ``typed`` is one slip from, likeliest first (at most three).

    ``keys`` maps compacted keywords to commands. A word under three letters is no guess; a
    keyword under three letters (IN) is guessed only through a doubled letter or a digit.
    Three-letter words (OUT, ACK, WHO) take one edit: a wrong guess here only asks.
    """
    if len(typed) < 3:
        return ()
    found: dict[str, int] = {}
    for _, command, rank in keys.near(typed, edit_from=3):
        found[command] = min(rank, found.get(command, rank))
    ordered = sorted(found, key=lambda command: (found[command], command != "out", command))
    return tuple(ordered[:MAX_LIKELY])


def answer_word(command: str) -> str:
    """How a one-line answer names a command: ``OUT``, ``+30``."""
    return _ANSWER_WORDS.get(command, command.upper())


def short_answer(
    reason: str, likely: Sequence[str], language: str
) -> tuple[str, dict[str, object]]:
    """The catalog key and values of the one-line answer to an `Unknown` with likely commands."""
    if reason == "distress":
        return "ask_sos", {}
    if likely and likely[0] == "out":
        return "did_you_mean_out", {}
    words = [answer_word(command) for command in likely]
    try:
        options = format_list(words, style="or", locale=language)
    except (ValueError, LookupError):  # an unknown locale: Babel's English is always there
        options = format_list(words, style="or", locale="en")
    return "did_you_mean", {"options": options}
