"""Message catalogs and the formatting rules every message shares: plurals, pronouns, elision,
times, spans, names.

Catalog data lives in `relay/locales/<lang>/*.yaml` (loaded by `relay.locales`); this module only
fills templates, so it stays pure. Languages come from Babel (CLDR): plural categories, weekday
names, city names of time zones, "A, B or C" lists.

**Templates.** A template is text with ``{name}`` placeholders, plus two forms from ICU
MessageFormat — the syntax translation tools (Weblate, Crowdin, Lokalise) know — for what differs
with a value:

- ``{count, plural, one {# photo} other {# photos}}``: the branch for the number's CLDR plural
  category in the reader's language (``zero one two few many other``, or ``=0`` for an exact
  number; ``other`` is required); ``#`` is the number.
- ``{who, select, she {her note} he {his note} they {their note} other {{who}'s note}}``: on a
  person (`Name`), the branch for the pronouns the rules give her; ``other`` is the name-only
  phrasing every member without pronouns in the rules gets (required).

Apostrophes are plain text (no ICU quoting): French needs hundreds of them.

**Elision.** A language's ``grammar.yaml`` may list the words that elide before a vowel
(French ``de que le la je ne …``): ``de {who}`` renders ``de Bob`` and ``d'Alice``. It applies
where a value meets the template's text, so translators write the plain form and nothing a
member typed is ever rewritten.

**Times.** `When` is a time as a reader sees it: in her own zone, 24-hour ``HH:mm`` in every
language, with the short weekday (in her language) when it is not today for her. When the
message is about a member whose clock differs from the reader's, the time is labelled both ways:
``21:30 your time / 16:30 in New York`` (catalog keys ``time_both``, ``time_both_group``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import cache
from typing import Final
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import format_datetime, get_timezone_location

FALLBACK_LANGUAGE = "en"

PRONOUNS: Final = ("she", "he", "they")
"""The pronouns the rules may give a member; without any, messages use her name alone."""


class TemplateError(ValueError):
    """A template that cannot be read (unbalanced braces, a plural without ``other`` …)."""


@cache
def locale_for(language: str) -> Locale:
    """Babel's locale for a language code (``pt-BR``, ``es_MX``, ``fr``); English if unknown."""
    try:
        return Locale.parse(language.strip().replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError):
        return Locale.parse(FALLBACK_LANGUAGE)


# --- values that render differently per reader ------------------------------------------------


class Name(str):
    """A person's name in a sentence, carrying who she is and her pronouns (None: name only).

    A plain `str` everywhere else; templates ``select`` on it (see the module)."""

    alias: str
    pronoun: str | None

    def __new__(cls, text: str, alias: str = "", pronoun: str | None = None) -> Name:
        made = super().__new__(cls, text)
        made.alias = alias or text
        made.pronoun = pronoun if pronoun in PRONOUNS else None
        return made

    def with_pronoun(self, pronoun: str | None) -> Name:
        return Name(str(self), self.alias, pronoun)


@dataclass(frozen=True, slots=True)
class When:
    """A moment shown to one reader, in her zone (see the module). ``theirs``: the zone of the
    member the message is about, when it may differ; ``group``: the reader is a group or an
    outside contact, whose "your time" is the relay's zone, named."""

    moment: datetime
    zone: str
    now: datetime
    theirs: str | None = None
    group: bool = False

    def about(self, zone: str | None) -> When:
        return replace(self, theirs=zone)


def clock(moment: datetime, zone: str, now: datetime, language: str = FALLBACK_LANGUAGE) -> str:
    """A wall-clock time in a zone: ``23:10``; with the weekday when it is not that zone's today
    (``Tue 23:10``, ``mar. 23:10``: the reader's language, never the box's locale)."""
    tz = ZoneInfo(zone)
    local = moment.astimezone(tz)
    if local.date() == now.astimezone(tz).date():
        return f"{local:%H:%M}"
    return format_datetime(local, "EEE HH:mm", tzinfo=tz, locale=locale_for(language))


@cache
def place(zone: str, language: str) -> str:
    """The city a zone is named for, in a language: ``America/New_York`` → ``Nueva York``."""
    try:
        return str(get_timezone_location(ZoneInfo(zone), locale_for(language), return_city=True))
    except (LookupError, ValueError):
        return zone.rsplit("/", 1)[-1].replace("_", " ")


def _same_clock(moment: datetime, a: str, b: str) -> bool:
    return moment.astimezone(ZoneInfo(a)).utcoffset() == moment.astimezone(ZoneInfo(b)).utcoffset()


# --- templates --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Arg:
    name: str


@dataclass(frozen=True, slots=True)
class _Choice:
    name: str
    kind: str  # "plural" | "select"
    branches: Mapping[str, tuple[_Node, ...]]


@dataclass(frozen=True, slots=True)
class _Hash:
    """``#`` inside a plural branch: the number."""


_Node = str | _Arg | _Choice | _Hash
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_BRANCH_KEY = re.compile(r"=\d+|zero|one|two|few|many|other|[A-Za-z_][A-Za-z0-9_]*")


class _Reader:
    def __init__(self, text: str) -> None:
        self.text = text
        self.at = 0

    def fail(self, why: str) -> TemplateError:
        return TemplateError(f"{why} at character {self.at}: {self.text!r}")

    def skip_spaces(self) -> None:
        while self.at < len(self.text) and self.text[self.at].isspace():
            self.at += 1

    def word(self, pattern: re.Pattern[str], what: str) -> str:
        self.skip_spaces()
        found = pattern.match(self.text, self.at)
        if found is None:
            raise self.fail(f"expected {what}")
        self.at = found.end()
        return found.group(0)

    def expect(self, char: str) -> None:
        self.skip_spaces()
        if not self.text.startswith(char, self.at):
            raise self.fail(f"expected {char!r}")
        self.at += 1

    def message(self, in_plural: bool, closing: bool) -> tuple[_Node, ...]:
        nodes: list[_Node] = []
        text: list[str] = []
        while self.at < len(self.text):
            char = self.text[self.at]
            if char == "}":
                if not closing:
                    raise self.fail("unmatched '}'")
                break
            if char == "{":
                if text:
                    nodes.append("".join(text))
                    text = []
                self.at += 1
                nodes.append(self.argument(in_plural))
                continue
            if char == "#" and in_plural:
                if text:
                    nodes.append("".join(text))
                    text = []
                nodes.append(_Hash())
                self.at += 1
                continue
            text.append(char)
            self.at += 1
        else:
            if closing:
                raise self.fail("unclosed '{'")
        if text:
            nodes.append("".join(text))
        return tuple(nodes)

    def argument(self, in_plural: bool) -> _Node:
        name = self.word(_NAME, "a placeholder name")
        self.skip_spaces()
        if self.text.startswith("}", self.at):
            self.at += 1
            return _Arg(name)
        self.expect(",")
        kind = self.word(re.compile(r"plural|select"), "'plural' or 'select'")
        self.expect(",")
        branches: dict[str, tuple[_Node, ...]] = {}
        while True:
            self.skip_spaces()
            if self.text.startswith("}", self.at):
                self.at += 1
                break
            key = self.word(_BRANCH_KEY, "a branch name")
            if key in branches:
                raise self.fail(f"branch {key!r} twice")
            self.expect("{")
            branches[key] = self.message(in_plural or kind == "plural", closing=True)
            self.expect("}")
        if "other" not in branches:
            raise self.fail(f"{kind} of {name!r} without an 'other' branch")
        return _Choice(name, kind, branches)


def parse_template(text: str) -> tuple[_Node, ...]:
    """A template's parts; raises `TemplateError` on a malformed one."""
    return _Reader(text).message(in_plural=False, closing=False)


def placeholders(text: str) -> set[str]:
    """Every value a template reads (``{who}``, and the subjects of plurals and selects)."""

    def walk(nodes: Iterable[_Node]) -> Iterable[str]:
        for node in nodes:
            if isinstance(node, _Arg):
                yield node.name
            elif isinstance(node, _Choice):
                yield node.name
                for branch in node.branches.values():
                    yield from walk(branch)

    return set(walk(parse_template(text)))


def plural_names(text: str) -> set[str]:
    """The values a template counts with ``plural`` (a test fills them with 1 and with many)."""

    def walk(nodes: Iterable[_Node]) -> Iterable[str]:
        for node in nodes:
            if isinstance(node, _Choice):
                if node.kind == "plural":
                    yield node.name
                for branch in node.branches.values():
                    yield from walk(branch)

    return set(walk(parse_template(text)))


@dataclass(frozen=True)
class Grammar:
    """What a language's ``grammar.yaml`` says: words that elide before a vowel."""

    elide: frozenset[str] = frozenset()
    _pattern: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def of(cls, elide: Iterable[str]) -> Grammar:
        words = frozenset(w.strip().lower() for w in elide if w.strip())
        if not words:
            return cls()
        alternatives = "|".join(sorted((re.escape(w) for w in words), key=len, reverse=True))
        pattern = re.compile(rf"(?<![^\s(«“\"'’])({alternatives}) $", re.IGNORECASE)
        return cls(words, pattern)

    def join(self, before: str, value: str) -> tuple[str, str]:
        """``before`` (the text so far) and ``value``, elided where they meet."""
        if self._pattern is None or not value or not _starts_with_vowel(value):
            return before, value
        found = self._pattern.search(before)
        if found is None:
            return before, value
        return before[: found.start()] + found.group(1)[:-1] + "'", value


_VOWELS = frozenset("aeiouàâäéèêëîïôöûùüœæh")


def _starts_with_vowel(value: str) -> bool:
    # "h": most names and words with h take the elision (d'Hélène, d'hôtel); the few with an
    # aspirated h are rare in names.
    return value[:1].lower() in _VOWELS


@dataclass(frozen=True)
class Catalog:
    """`messages[lang][key]` → template (see the module); `grammar[lang]` its elision rules."""

    messages: Mapping[str, Mapping[str, str]]
    grammar: Mapping[str, Grammar] = field(default_factory=dict)
    _compiled: dict[tuple[str, str], tuple[_Node, ...]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def template(self, language: str, key: str) -> tuple[str, str]:
        """The language whose template is used (hers, else English) and the template."""
        table = self.messages.get(language)
        if table is not None and key in table:
            return language, table[key]
        return FALLBACK_LANGUAGE, self.messages[FALLBACK_LANGUAGE][key]

    def text(self, language: str, key: str, **params: object) -> str:
        used, template = self.template(language, key)
        nodes = self._compiled.get((used, key))
        if nodes is None:
            nodes = self._compiled[(used, key)] = parse_template(template)
        out: list[str] = []
        _render(nodes, params, self, used, out, None)
        return "".join(out)


def _render(
    nodes: Iterable[_Node],
    params: Mapping[str, object],
    catalog: Catalog,
    language: str,
    out: list[str],
    number: int | None,
) -> None:
    grammar = catalog.grammar.get(language)
    for node in nodes:
        if isinstance(node, str):
            out.append(node)
            continue
        if isinstance(node, _Hash):
            _put(out, str(number), grammar)
            continue
        if node.name not in params:
            raise KeyError(node.name)
        value = params[node.name]
        if isinstance(node, _Arg):
            _put(out, _as_text(value, catalog, language), grammar)
            continue
        if node.kind == "plural":
            count = value if isinstance(value, int) else int(str(value))
            branch = node.branches.get(f"={count}")
            if branch is None:
                category = locale_for(language).plural_form(abs(count))
                branch = node.branches.get(category, node.branches["other"])
            _render(branch, params, catalog, language, out, count)
        else:
            chosen = value.pronoun if isinstance(value, Name) else str(value)
            branch = node.branches.get(chosen or "other", node.branches["other"])
            _render(branch, params, catalog, language, out, number)


def _put(out: list[str], value: str, grammar: Grammar | None) -> None:
    if grammar is not None and out:
        before, value = grammar.join("".join(out), value)
        out[:] = [before]
    out.append(value)


def _as_text(value: object, catalog: Catalog, language: str) -> str:
    if isinstance(value, When):
        return _when(value, catalog, language)
    return str(value)


def _when(value: When, catalog: Catalog, language: str) -> str:
    yours = clock(value.moment, value.zone, value.now, language)
    if value.theirs is None or _same_clock(value.moment, value.zone, value.theirs):
        return yours
    theirs = clock(value.moment, value.theirs, value.now, language)
    params = {"yours": yours, "theirs": theirs, "place": place(value.theirs, language)}
    if value.group:
        return catalog.text(language, "time_both_group", here=place(value.zone, language), **params)
    return catalog.text(language, "time_both", **params)


# --- spans and names --------------------------------------------------------------------------


def span(delta: timedelta) -> str:
    """A duration as people say it: ``40s``, ``25 min``, ``1h 30m``, ``2d 3h``."""
    seconds = max(0, round(delta.total_seconds()))
    if seconds < 60:
        return f"{seconds}s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h {minutes:02d}m" if minutes else f"{hours}h"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h" if hours else f"{days}d"


def display(alias: str | None, pronoun: str | None = None) -> Name:
    """An alias as a name in a sentence: ``bob`` → ``Bob`` (a `Name`: templates may select on
    her pronouns)."""
    text = (alias or "")[:1].upper() + (alias or "")[1:]
    return Name(text, alias or "", pronoun)


def names(aliases: Iterable[str], none: str) -> str:
    """Aliases as a list a person reads: ``Bob, Carol``."""
    shown = [display(alias) for alias in aliases]
    return ", ".join(shown) if shown else none


PronounOf = Callable[[str], str | None]
"""Alias → her pronouns from the rules (None: name only)."""


def with_pronouns(params: Mapping[str, object], pronoun_of: PronounOf) -> dict[str, object]:
    """Every `Name` among the values given the pronouns the rules give that member."""
    return {
        key: value.with_pronoun(pronoun_of(value.alias)) if isinstance(value, Name) else value
        for key, value in params.items()
    }
