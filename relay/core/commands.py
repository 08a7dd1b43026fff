"""The forgiving member-command parser: message text → one intent.

Owns the keyword table (a member's language's words from
``relay/locales/<lang>/keywords.yaml``, plus English, plus the collective's aliases), how a typed
word is matched to a command, and how each command's argument is read. Pure: `parse` does no
I/O and reads no clock; `load_default_keywords` reads the package's YAML once, when the caller
asks. `parse` never raises: unreadable text is `Unknown`, a known command with an argument it
cannot read is `BadArgument(command)`.

Reading order for one message:

1. A Signal location share (see `relay.core.locations`) is a location whatever its first line
   says ("Out & About" is a bar, not an OUT), except that a share line which is exactly an SOS
   word or her duress word raises that alarm. Text she typed with the share (the caption) is
   parsed as a command, and the location rides along on IN, EXTEND, SOS and duress.
2. Her duress word alone (or after OUT) → `Duress`. It is compared, like the check-in secret,
   after normalisation (case, accents, spacing, edge punctuation ignored), with
   `hmac.compare_digest` on the UTF-8 bytes, so timing tells nothing about how much matched.
3. The first words are matched against the table: longest phrase first; exactly; then without
   edge punctuation (``SOS!!!``, ``¿ayuda?``); then without any punctuation (``S.O.S``); then a
   keyword glued to its number (``in90``, ``+30``, ``approve12``); then a repeated symbol keyword
   (``🆘🆘🆘``); then one typo (below).
4. No command: a maps link or ``geo:`` URI anywhere, or decimal coordinates → `Loc`; else
   `Unknown`.

Typos. One wrong, missing, extra or swapped letter is forgiven when the typed word and the
keyword have at least four letters, start with the same letter, and every keyword within one
typo of the word names the same command. Never for:

- ``sos`` and other short words: every three-letter word is one typo away from dozens of
  everyday words (es "soy", "dos", "sol"); an alarm raised by "soy" teaches buddies to ignore
  alarms. (A misspelt SOS is answered with the help text, whose first line says how to send SOS.)
- ``out`` (``SAFE`` is one letter from "same", "sale", "save"), ``ack``, ``resolved``: a false
  one ends a watch or stops an alarm silently, the one failure this relay must not have. A
  misspelt one costs a reply instead.
- ``forget``: it deletes data.

Decisions a member would notice:

- HELP is never an alarm: every language's "help" word (``ayuda``, ``ajuda``, ``aide``, and the
  cries ``socorro``, ``au secours``) is `Help`; the help reply says how to send SOS. Only SOS
  words (``sos``, ``🆘``, ``emergency`` …) and the collective's codewords raise the alarm.
- ``👍`` typed as text is not an ACK: it means "seen" as often as "I'm on it", and an ACK stops
  the escalation. A 👍 *reaction* to an alert is the Signal adapter's business.
- ``IN``: the time comes first (``IN 90 Hotel Rex``). A time written later in the note
  (``IN Ritz 2h``, French ``jusqu'à 23h``) is `BadArgument("in", "time_not_first")`, and a vague
  one (``IN soon``) `BadArgument("in", "unreadable")`: a deadline she did not choose is worse
  than one question. ``IN Hotel Rex`` (no time at all) uses the rules' default.
- An SOS is never refused for its argument; whatever follows is her note.
- ``FORGET`` alone only asks; ``FORGET YES`` (any language's confirmation word) confirms.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from importlib import resources
from typing import Final, Literal

import yaml

from relay.core.durations import (
    is_sane,
    looks_like_time_attempt,
    mentions_time,
    parse_duration,
)
from relay.core.guesses import NearIndex, compact, likely_commands, near_sos, within_one_edit
from relay.core.intents import (
    Ack,
    Approve,
    BadArgument,
    Buddies,
    Check,
    CheckIn,
    CheckOut,
    Client,
    Drill,
    Duress,
    Export,
    Extend,
    Forget,
    Help,
    Intent,
    Loc,
    Log,
    Reject,
    Report,
    Resolved,
    Share,
    Sos,
    Status,
    Unknown,
    Who,
    Withdraw,
)
from relay.core.locations import (
    Location,
    find_location,
    location_from_argument,
    parse_signal_share,
    split_location,
)
from relay.core.normalize import (
    Token,
    clean,
    fold,
    fold_phrase,
    remove_punctuation,
    strip_ends,
    strip_punctuation_edges,
    tokenize,
)
from relay.locales import SAFE_LOADER

COMMANDS: Final = (
    "in",
    "out",
    "extend",
    "ack",
    "resolved",
    "status",
    "help",
    "sos",
    "loc",
    "client",
    "report",
    "check",
    "log",
    "export",
    "forget",
    "who",
    "buddies",
    "approve",
    "reject",
    "withdraw",
    "share",
    "drill",
)
"""Canonical command names, as `BadArgument.command` and the rules' alias keys spell them."""

CONFIRM: Final = "confirm"
"""Not a command: the key, in keyword files and aliases, of the words that confirm FORGET."""

ASK_FIRST: Final = "ask_first"
"""Not a command: the key, in the rules' keywords, of the SOS words the relay asks about before
alerting ("are you in danger? reply SOS"), for a collective that hears one said in jest."""

_PSEUDO: Final = frozenset({CONFIRM, ASK_FIRST})

# Commands whose mistaken match is dangerous or destructive; see the module docstring.
_NO_TYPOS: Final = frozenset({"sos", "out", "ack", "resolved", "forget"})

# When one word names two commands in the same layer, the one whose mistaken use costs least
# wins: an unwanted alarm is noisy but harms no one; an unwanted OUT ends a watch.
_SAFETY_ORDER: Final = (
    "sos",
    "help",
    "status",
    "who",
    "buddies",
    "drill",
    "loc",
    "in",
    "extend",
    "client",
    "report",
    "check",
    "log",
    "export",
    "approve",
    "reject",
    "withdraw",
    "share",
    "ack",
    "resolved",
    "forget",
    "out",
)

# Commands whose first argument may be glued to the keyword ("in90", "+30", "out1234").
_GLUE: Final = frozenset({"in", "out", "extend", "sos", "approve", "reject", "withdraw", "share"})

# Words a member may put before a duration: "IN for 2h", "EXTEND by 30", "ENTRÉE pour 2h".
_FILLERS: Final = frozenset(
    {"for", "by", "during", "another", "por", "para", "durante", "otros", "pour", "pendant"}
    | {"de", "em", "mais"}
)

_MAX_NUMBER: Final = 999_999_999
_LAYER_ALIASES: Final = "aliases"


@dataclass(frozen=True, slots=True)
class KeywordConflict:
    """One normalised word that names more than one command in a member's table."""

    word: str
    commands: tuple[str, ...]
    chosen: str
    sources: tuple[str, ...]
    """Where the word came from: ``"aliases"`` (the collective's rules) and/or language codes."""


@dataclass(frozen=True, slots=True)
class KeywordProblem:
    """Something in the keyword input that `parse` ignores: shown to the admin by the validator.

    ``kind``: ``"unknown_command"`` (an alias for a command that does not exist),
    ``"empty_word"`` (a word that is blank once normalised, e.g. ``"!"``), ``"unknown_language"``
    (no keyword file for the member's language: she gets English only).
    """

    kind: Literal["unknown_command", "empty_word", "unknown_language"]
    command: str | None = None
    word: str | None = None


def _keyword_key(word: str) -> str:
    """Normalised form of a keyword: folded words, single spaces, no leading ``/`` or ``!``."""
    words = [fold(w) for w in clean(word).split()]
    if words:
        words[0] = words[0].lstrip("/!")
    key = " ".join(w for w in words if w)
    stripped = strip_punctuation_edges(key)
    # "?" is a keyword made only of punctuation: keep it when stripping would leave nothing.
    return stripped or key


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


_within_one_typo = within_one_edit


class KeywordTable:
    """The words one member can use: her language's, English, and the collective's aliases.

    Build with `KeywordTable.build`; read problems with `conflicts` and `problems`. Immutable.
    """

    __slots__ = (
        "_ask_first",
        "_confirm",
        "_conflicts",
        "_cries",
        "_display",
        "_distress",
        "_exact",
        "_language",
        "_longest",
        "_max_words",
        "_near",
        "_problems",
    )

    def __init__(
        self,
        *,
        language: str,
        exact: dict[str, str],
        confirm: frozenset[str],
        display: dict[str, tuple[str, ...]],
        conflicts: tuple[KeywordConflict, ...],
        problems: tuple[KeywordProblem, ...],
        distress: frozenset[str] = frozenset(),
        ask_first: frozenset[str] = frozenset(),
    ) -> None:
        self._language = language
        self._exact = exact
        self._confirm = confirm
        self._display = display
        self._conflicts = conflicts
        self._problems = problems
        self._max_words = max((key.count(" ") + 1 for key in exact), default=1)
        self._longest = max((len(key) for key in exact), default=1)
        # Near-miss comparison forms (`relay.core.guesses`): the built-in cries for help, and
        # every other command's words for "did you mean …?".
        self._distress = NearIndex((compact(key), key) for key in distress)
        self._cries = frozenset(compact(key) for key in distress)
        self._ask_first = ask_first
        self._near = NearIndex(
            (compact(key), command) for key, command in exact.items() if command != "sos"
        )

    @classmethod
    def build(
        cls,
        language: str,
        defaults: Mapping[str, Mapping[str, Sequence[str]]],
        aliases: Mapping[str, Sequence[str]] | None = None,
    ) -> KeywordTable:
        """Her language's default words, English's, and the collective's aliases for her language.

        On a word that names two commands, aliases win over her language, which wins over
        English; within one source the safer command wins (see ``_SAFETY_ORDER``). Every such
        word is listed by `conflicts`.
        """
        problems: list[KeywordProblem] = []
        layers: list[tuple[str, Mapping[str, Sequence[str]]]] = []
        if aliases:
            layers.append((_LAYER_ALIASES, aliases))
        own = _resolve_language(language, defaults)
        if own is None:
            problems.append(KeywordProblem("unknown_language", word=language))
        elif own != "en":
            layers.append((own, defaults[own]))
        if "en" in defaults:
            layers.append(("en", defaults["en"]))
        else:
            problems.append(KeywordProblem("unknown_language", word="en"))

        # key -> command -> sources, in layer order
        seen: dict[str, dict[str, list[str]]] = {}
        confirm: set[str] = set()
        ask_first: set[str] = set()
        # Display words: her language's first, then English, then the collective's aliases.
        display: dict[str, list[str]] = {}
        display_keys: set[tuple[str, str]] = set()
        by_display_rank = sorted(layers, key=lambda layer: layer[0] == _LAYER_ALIASES)
        for source, words_by_command in by_display_rank:
            for command, words in words_by_command.items():
                if command not in COMMANDS and command not in _PSEUDO:
                    problems.append(KeywordProblem("unknown_command", command=command))
                    continue
                if words is None:
                    continue
                for word in [words] if isinstance(words, str) else words:
                    key = _keyword_key(str(word))
                    if not key:
                        problems.append(KeywordProblem("empty_word", command, str(word)))
                        continue
                    variants = {key, remove_punctuation(key).strip()} - {""}
                    if command == CONFIRM:
                        confirm |= variants
                        continue
                    if command == ASK_FIRST:
                        ask_first |= variants
                        continue
                    if (command, key) not in display_keys:
                        display_keys.add((command, key))
                        display.setdefault(command, []).append(str(word))
                    for variant in variants:
                        sources = seen.setdefault(variant, {}).setdefault(command, [])
                        if source not in sources:
                            sources.append(source)

        order = [name for name, _ in layers]
        exact: dict[str, str] = {}
        conflicts: list[KeywordConflict] = []
        for key, by_command in seen.items():
            chosen = min(
                by_command,
                key=lambda c: (
                    min(order.index(s) for s in by_command[c]),
                    _SAFETY_ORDER.index(c),
                ),
            )
            exact[key] = chosen
            if len(by_command) > 1:
                sources = sorted({s for ss in by_command.values() for s in ss}, key=order.index)
                conflicts.append(
                    KeywordConflict(key, tuple(sorted(by_command)), chosen, tuple(sources))
                )
        # Cries for help a near-miss of which raises the SOS: the built-in words of her language
        # and English, never the collective's codewords (often everyday words, chosen to be
        # discreet, whose near-misses are everyday words too).
        distress = {
            key
            for key, by_command in seen.items()
            if exact[key] == "sos" and any(s != _LAYER_ALIASES for s in by_command["sos"])
        }
        return cls(
            language=own or "en",
            exact=exact,
            confirm=frozenset(confirm),
            display={command: tuple(words) for command, words in display.items()},
            conflicts=tuple(sorted(conflicts, key=lambda c: c.word)),
            problems=tuple(problems),
            distress=frozenset(distress),
            ask_first=frozenset(ask_first),
        )

    @property
    def language(self) -> str:
        """The language whose default words the table holds besides English."""
        return self._language

    def conflicts(self) -> tuple[KeywordConflict, ...]:
        """Words that name more than one command, with the command `parse` uses for each."""
        return self._conflicts

    def problems(self) -> tuple[KeywordProblem, ...]:
        """Aliases for unknown commands, blank words, a language without a keyword file."""
        return self._problems

    def command_for(self, text: str) -> str | None:
        """The command a whole word or phrase names exactly (no typo tolerance), or ``None``.

        The rules validator uses it to refuse a duress word or check-in secret that is also a
        keyword.
        """
        key = _keyword_key(text)
        return self._exact.get(key) or self._exact.get(remove_punctuation(key).strip())

    def words(self, command: str) -> tuple[str, ...]:
        """Words for a command as written in the files: her language's, English's, then aliases."""
        return self._display.get(command, ())

    def asks_first(self, key: str) -> bool:
        """Whether the rules mark this SOS word "ask first" (normalised keyword form)."""
        return key in self._ask_first or remove_punctuation(key).strip() in self._ask_first

    def is_confirmation(self, word: str) -> bool:
        """Whether a word confirms FORGET (``yes``, ``sí``, ``oui`` …)."""
        key = _keyword_key(word)
        return key in self._confirm or remove_punctuation(key) in self._confirm

    def _lookup(self, key: str) -> str | None:
        return self._exact.get(key)

    def _typo_match(self, word: str) -> str | None:
        if len(word) < 4 or not word.isalpha():
            return None
        commands: set[str] = set()
        eligible = True
        for key, command in self._exact.items():
            if abs(len(key) - len(word)) > 1 or not _within_one_typo(word, key):
                continue
            commands.add(command)
            if len(key) < 4 or key[0] != word[0] or command in _NO_TYPOS:
                eligible = False
        if eligible and len(commands) == 1:
            return commands.pop()
        return None

    def _near_sos(self, typed: str) -> str | None:
        """The built-in cry for help ``typed`` (compacted) is a near-miss of, if any."""
        return near_sos(typed, self._distress)

    def _is_distress(self, key: str) -> bool:
        return self._exact.get(key) == "sos" and compact(key) in self._cries

    def _likely(self, typed: str) -> tuple[str, ...]:
        return likely_commands(typed, self._near)


def _resolve_language(language: str, defaults: Mapping[str, object]) -> str | None:
    code = language.strip().lower().replace("_", "-")
    if code in defaults:
        return code
    base = code.split("-")[0]
    return base if base in defaults else None


def load_default_keywords() -> dict[str, dict[str, list[str]]]:
    """Read every ``relay/locales/<lang>/keywords.yaml`` shipped with the package.

    Returns ``{language: {command: [words…]}}`` (``"confirm"`` holds FORGET's confirmation
    words). Call once at start-up; raises ``ValueError`` if a shipped file is malformed.
    """
    root = resources.files("relay").joinpath("locales")
    result: dict[str, dict[str, list[str]]] = {}
    if not root.is_dir():
        return result
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        path = entry.joinpath("keywords.yaml")
        if entry.is_dir() and path.is_file():
            data = yaml.load(path.read_text(encoding="utf-8"), Loader=SAFE_LOADER)  # noqa: S506 — a safe loader, C or Python
            result[entry.name] = _validate_keyword_file(entry.name, data)
    return result


def _validate_keyword_file(language: str, data: object) -> dict[str, list[str]]:
    where = f"relay/locales/{language}/keywords.yaml"
    if not isinstance(data, dict):
        raise ValueError(f"{where}: expected a mapping of command to words")
    result: dict[str, list[str]] = {}
    for command, words in data.items():
        if command not in COMMANDS and command not in _PSEUDO:
            raise ValueError(f"{where}: {command!r} is not a command")
        if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
            raise ValueError(f"{where}: {command}: expected a list of words")
        result[command] = list(words)
    return result


# --- parsing ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Context:
    table: KeywordTable
    duress: str
    secret: str


@dataclass(frozen=True, slots=True)
class _Args:
    """A command's arguments: folded words and where each ends in the cleaned text."""

    text: str
    start: int
    words: tuple[str, ...]
    ends: tuple[int, ...]

    def rest(self, used: int = 0) -> str | None:
        """The member's own text after the first ``used`` argument words, ends trimmed."""
        start = self.start if used == 0 else self.ends[used - 1]
        return strip_ends(self.text[start:]) or None

    def phrase(self) -> str:
        """All argument words in comparison form (for secrets and the duress word)."""
        return " ".join(w for w in (strip_punctuation_edges(w) for w in self.words) if w)


@dataclass(frozen=True, slots=True)
class _Match:
    command: str
    consumed: int
    glued: str | None
    key: str = ""  # the keyword matched, in normalised form ("" for a typo)
    guessed: bool = False  # a near-miss read as SOS (`relay.core.guesses`)


def parse(
    text: str,
    table: KeywordTable,
    *,
    duress_word: str | None = None,
    checkin_secret: str | None = None,
) -> Intent:
    """Read one member message. Never raises.

    ``duress_word`` and ``checkin_secret`` come from her entry in the rules; blank ones are
    ignored. With a secret, ``OUT <secret>`` is ``CheckOut(verified=True)`` and any other OUT is
    ``CheckOut(verified=False)``; without one, OUT is ``CheckOut()`` (verified None).
    """
    try:
        return _parse(text, table, duress_word, checkin_secret)
    except Exception:  # noqa: BLE001 - the contract is "never raises": every message gets an answer
        return Unknown(reason="internal")


def _parse(
    text: str, table: KeywordTable, duress_word: str | None, checkin_secret: str | None
) -> Intent:
    if not isinstance(text, str):
        return Unknown(reason="empty")
    cleaned = clean(text)
    context = _Context(
        table=table,
        duress=fold_phrase(duress_word) if duress_word else "",
        secret=fold_phrase(checkin_secret) if checkin_secret else "",
    )
    share = parse_signal_share(cleaned)
    if share is not None:
        return _parse_share(share[0], share[1], context)
    return _parse_message(cleaned, context)


def _parse_share(location: Location, caption: str | None, context: _Context) -> Intent:
    for part in (location.label or "").split(", "):
        if context.duress and _same(fold_phrase(part), context.duress):
            return Duress(location=location)
        if context.table.command_for(part) == "sos":
            return Sos(location=location)
    if caption is None:
        return Loc(location)
    intent = _parse_message(caption, context)
    match intent:
        case CheckIn(duration=duration, note=note, location=None):
            return CheckIn(duration, note, location)
        case Extend(duration=duration, location=None):
            return Extend(duration, location)
        case Sos(note=note, location=None):
            return Sos(note, location)
        case Duress(location=None):
            return Duress(location)
        case Unknown() | Loc() | BadArgument(command="loc"):
            return Loc(location, caption)
    return intent


def _parse_message(cleaned: str, context: _Context) -> Intent:
    if not strip_ends(cleaned):
        return Unknown(reason="empty")
    if context.duress and _same(fold_phrase(cleaned), context.duress):
        return Duress()
    tokens = _without_leading_marks(tokenize(cleaned))
    if not tokens:
        return Unknown(reason="empty")
    phone = _looks_like_phone_number(tokens)
    match = None if phone else _match_command(tokens, context.table)
    if match is None:
        return _no_command(cleaned, tokens, context.table, phone)
    if match.command == "sos" and context.table.asks_first(match.key):
        return Unknown("distress", ("sos", "help"))
    args = _arguments(cleaned, tokens, match)
    if match.guessed:
        return _guessed_sos(args)
    return _HANDLERS[match.command](args, context)


def _no_command(cleaned: str, tokens: list[Token], table: KeywordTable, phone: bool) -> Intent:
    """Text that starts with no command: an SOS in it, a location, a near-miss, or nothing."""
    if any(strip_punctuation_edges(t.raw) == "SOS" or "🆘" in t.raw for t in tokens):
        # "he has a knife SOS": SOS in capitals, or its emoji, is meant wherever it stands.
        note = strip_ends(cleaned) or None
        return Sos(note, find_location(note) if note else None, guessed=True)
    found = split_location(cleaned)
    if found is not None:
        return Loc(found[0], found[1])
    if not phone:
        for count in range(min(3, len(tokens)), 0, -1):
            likely = table._likely(compact("".join(t.folded for t in tokens[:count])))
            if likely:
                return Unknown("near", likely)
    words = [strip_punctuation_edges(t.folded) for t in tokens]
    for start in range(1, len(words)):
        for count in range(min(table._max_words, len(words) - start), 0, -1):
            if table._is_distress(" ".join(words[start : start + count])):
                # "can you help me": asked about, not alerted — talk about danger is not always
                # a cry, and the question costs her one word (SOS).
                return Unknown("distress", ("sos", "help"))
    return Unknown()


def _without_leading_marks(tokens: list[Token]) -> list[Token]:
    """Drop a leading ``/`` or ``!`` ("/in 90", "!sos", "/ out")."""
    if not tokens:
        return tokens
    first = tokens[0]
    stripped = first.folded.lstrip("/!")
    if stripped == first.folded:
        return tokens
    if not stripped:
        return tokens[1:]
    return [Token(first.raw, first.start, first.end, stripped), *tokens[1:]]


def _looks_like_phone_number(tokens: list[Token]) -> bool:
    """``+44 7700 900123`` is a number she pasted, not ``+44`` (extend by 44 minutes)."""
    if not tokens[0].folded.startswith("+"):
        return False
    digits = 0
    for token in tokens[:6]:
        body = token.folded.lstrip("+")
        if not body or any(not (ch.isdigit() or ch in "()-./") for ch in body):
            break
        digits += sum(ch.isdigit() for ch in body)
    return digits >= 7


def _phrase_candidates(words: Sequence[str]) -> Iterable[str]:
    phrase = " ".join(words)
    yield phrase
    yield phrase.rstrip("!.")  # "?!" is still "?"
    yield strip_punctuation_edges(phrase)
    yield " ".join(w for w in (remove_punctuation(w) for w in words) if w)


def _char_class(ch: str) -> str:
    return "letter" if ch.isalpha() else "digit" if ch.isdigit() else "other"


def _match_command(tokens: list[Token], table: KeywordTable) -> _Match | None:
    for count in range(min(table._max_words, len(tokens)), 0, -1):
        for candidate in _phrase_candidates([t.folded for t in tokens[:count]]):
            command = table._lookup(candidate) if candidate else None
            if command is not None:
                return _Match(command, count, None, candidate)

    word = tokens[0].folded
    # Glued: "in90", "+30", "approve12", "out1234", "IN:90". Longest keyword prefix first.
    for cut in range(min(len(word) - 1, table._longest), 0, -1):
        if _char_class(word[cut - 1]) == _char_class(word[cut]):
            continue
        key = strip_punctuation_edges(word[:cut]) or word[:cut]
        command = table._lookup(key)
        remainder = strip_punctuation_edges(word[cut:])
        if command in _GLUE and remainder:
            return _Match(command, 1, remainder, key)

    bare = strip_punctuation_edges(word) or word
    if not any(ch.isalnum() for ch in bare):
        # "🆘🆘🆘", "??": a symbol keyword repeated.
        for size in range(1, len(bare) // 2 + 1):
            if len(bare) % size == 0 and bare == bare[:size] * (len(bare) // size):
                command = table._lookup(bare[:size])
                if command is not None:
                    return _Match(command, 1, None, bare[:size])

    # A near-miss of a cry for help is an SOS ("S0S", "SOSS", "S O S", "helpme", "socoro").
    for count in range(min(3, len(tokens)), 0, -1):
        cry = table._near_sos(compact("".join(t.folded for t in tokens[:count])))
        if cry is not None:
            return _Match("sos", count, None, cry, guessed=True)

    command = table._typo_match(remove_punctuation(word))
    return _Match(command, 1, None) if command is not None else None


def _arguments(cleaned: str, tokens: list[Token], match: _Match) -> _Args:
    rest = tokens[match.consumed :]
    start = tokens[match.consumed - 1].end
    words = tuple(t.folded for t in rest)
    ends = tuple(t.end for t in rest)
    if match.glued is not None:
        words = (match.glued, *words)
        ends = (start, *ends)
    return _Args(text=cleaned, start=start, words=words, ends=ends)


# --- one handler per command -----------------------------------------------------------------


def _leading_duration(words: Sequence[str]) -> tuple[timedelta | None, int]:
    """The duration written by the first words (longest reading first), and how many it used."""
    for count in range(min(5, len(words)), 0, -1):
        duration = parse_duration(" ".join(words[:count]))
        if duration is not None:
            return duration, count
    if len(words) > 1 and words[0] in _FILLERS:
        duration, used = _leading_duration(words[1:])
        if used:
            return duration, used + 1
    return None, 0


def _in(args: _Args, context: _Context) -> Intent:
    duration, used = _leading_duration(args.words)
    if duration is not None:
        if not is_sane(duration):
            return BadArgument("in", "out_of_range")
        note = args.rest(used)
    else:
        words = list(args.words)
        if looks_like_time_attempt(words):
            return BadArgument("in", "unreadable")
        if mentions_time(words):
            return BadArgument("in", "time_not_first")
        note = args.rest()
    return CheckIn(duration, note, find_location(note) if note else None)


def _out(args: _Args, context: _Context) -> Intent:
    phrase = args.phrase()
    if context.duress and phrase and _same(phrase, context.duress):
        return Duress()
    if context.secret:
        first = strip_punctuation_edges(args.words[0]) if args.words else ""
        # Both comparisons always run: no early exit that timing could reveal.
        whole, leading = _same(phrase, context.secret), _same(first, context.secret)
        return CheckOut(verified=bool(phrase) and (whole or leading))
    return CheckOut()


def _extend(args: _Args, context: _Context) -> Intent:
    duration, used = _leading_duration(args.words)
    if duration is not None:
        if not is_sane(duration):
            return BadArgument("extend", "out_of_range")
        rest = args.rest(used)
        return Extend(duration, find_location(rest) if rest else None)
    if not args.words:
        return Extend(None)
    words = list(args.words)
    if (
        looks_like_time_attempt(words)
        or mentions_time(words)
        or any(ch.isdigit() for word in words for ch in word)
    ):
        return BadArgument("extend", "unreadable")
    rest = args.rest()
    return Extend(None, find_location(rest) if rest else None)


def _named(args: _Args) -> str | None:
    """The first word after ACK or RESOLVED when it could be a name (`ACK alice`)."""
    if args.words:
        first = strip_punctuation_edges(args.words[0]).lstrip("@")
        # An alias is a name; "on my way, 5 min" has no target.
        if first and first[0].isalpha():
            return first
    return None


def _ack(args: _Args, context: _Context) -> Intent:
    return Ack(target=_named(args), note=args.rest())


def _sos(args: _Args, context: _Context) -> Intent:
    # An alarm is never refused for its argument: whatever follows is her note.
    note = args.rest()
    return Sos(note=note, location=find_location(note) if note else None)


def _guessed_sos(args: _Args) -> Sos:
    note = args.rest()
    return Sos(note=note, location=find_location(note) if note else None, guessed=True)


def _loc(args: _Args, context: _Context) -> Intent:
    rest = args.rest()
    if rest is None:
        return BadArgument("loc", "missing")
    location = location_from_argument(rest)
    if location is None:
        return BadArgument("loc", "unreadable")
    return Loc(location)


def _check(args: _Args, context: _Context) -> Intent:
    rest = args.rest()
    return Check(rest) if rest is not None else BadArgument("check", "missing")


def _forget(args: _Args, context: _Context) -> Intent:
    table = context.table
    confirmed = bool(args.words) and (
        table.is_confirmation(args.words[0]) or table.is_confirmation(args.phrase())
    )
    return Forget(confirmed=confirmed)


def _report_number(args: _Args) -> tuple[int | None, int]:
    """``12``, ``#12``, ``# 12``, ``n°12``, ``no. 12`` → 12, and how many words it used."""
    words = [strip_punctuation_edges(w) or w for w in args.words[:2]]
    used = 0
    if words and words[0] in ("#", "n°", "no", "nº", "no."):
        used = 1
    elif words:
        for prefix in ("#", "n°", "nº", "no."):
            if words[0].startswith(prefix) and words[0][len(prefix) :].isdigit():
                words[0] = words[0][len(prefix) :]
                break
    if used >= len(words):
        return None, 0
    word = words[used].lstrip("#")
    if not word.isdigit() or len(word) > 9:
        return None, 0
    number = int(word)
    return (number, used + 1) if 0 < number <= _MAX_NUMBER else (None, 0)


def _numbered(command: str, build: Callable[[int, _Args, int], Intent]) -> _Handler:
    def handler(args: _Args, context: _Context) -> Intent:
        if not args.words:
            return BadArgument(command, "missing")
        number, used = _report_number(args)
        if number is None:
            return BadArgument(command, "unreadable")
        return build(number, args, used)

    return handler


_Handler = Callable[[_Args, _Context], Intent]

_HANDLERS: Final[dict[str, _Handler]] = {
    "in": _in,
    "out": _out,
    "extend": _extend,
    "ack": _ack,
    "resolved": lambda args, context: Resolved(target=_named(args)),
    "status": lambda args, context: Status(),
    "help": lambda args, context: Help(),
    "sos": _sos,
    "loc": _loc,
    "client": lambda args, context: Client(args.rest()),
    "report": lambda args, context: Report(args.rest()),
    "check": _check,
    "log": lambda args, context: Log(args.rest()),
    "export": lambda args, context: Export(),
    "forget": _forget,
    "who": lambda args, context: Who(),
    "buddies": lambda args, context: Buddies(),
    "approve": _numbered("approve", lambda n, args, used: Approve(n)),
    "reject": _numbered("reject", lambda n, args, used: Reject(n, args.rest(used))),
    "withdraw": _numbered("withdraw", lambda n, args, used: Withdraw(n)),
    "share": _numbered("share", lambda n, args, used: Share(n, args.rest(used))),
    "drill": lambda args, context: Drill(),
}
