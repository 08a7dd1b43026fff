"""Reading rule files: YAML text → plain data plus the line of every key and item, then merging.

Owns the YAML dialect of the rules: every scalar is text (so ``no``, ``on``, ``+44…`` and ``1:30``
stay what the admin typed — the models convert), except an empty value or ``null`` / ``~``, which
is "not given". Keys may not repeat within a mapping (PyYAML would silently keep the last one and
drop, say, a member's buddies). Anchors and ``<<`` merge keys work; the expanded size is bounded:
every value built, every key looked at (a key a merge skips because the mapping has it already
included) and every mapping merged in counts toward `MAX_VALUES`, so work grows with that count,
never with the nesting of merges (``<<: [*b, *b]`` twenty levels deep is refused at once, not
after 2**20 steps).

Files in one directory merge by top-level section: mapping sections (``members:`` …) merge by
their keys — the same key in two files is an error naming both places; list sections
(``directory:``) are concatenated; a single-value section (``strangers:``) may appear once.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from relay.locales import SAFE_LOADER
from relay.rules.issues import RuleIssue

PathT = tuple[str | int, ...]
"""Where a value sits: ``("members", "alice", "buddies", 1)``."""

MAX_FILE_BYTES = 512 * 1024  # rule files are a few kilobytes; anything bigger is a mistake
MAX_VALUES = 50_000  # after expanding aliases: stops "billion laughs" documents
MAX_DEPTH = 40  # the rules nest five levels deep; deeper is a mistake

_NULL = "tag:yaml.org,2002:null"
_MERGE = "tag:yaml.org,2002:merge"
_PLAIN_TAGS = frozenset(
    "tag:yaml.org,2002:" + name for name in ("str", "int", "float", "bool", "null", "seq", "map")
)


@dataclass(frozen=True, slots=True)
class Located:
    file: str
    line: int


def format_path(path: PathT) -> str:
    """``("members", "alice", "buddies", 1)`` → ``members.alice.buddies[1]``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
            continue
        if len(part) > 40:
            part = part[:40] + "…"
        out += f".{part}" if out else part
    return out


class _Loader(SAFE_LOADER):  # type: ignore[misc,valid-type]  # libyaml also refuses deep nesting
    """A safe loader whose only implicit types are null and merge: everything else stays text."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag in (_NULL, _MERGE)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class _Refused(Exception):
    """A document we will not read further; carries the issue to report."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


@dataclass
class SourceFile:
    """One rule file, read: its data (None when unreadable) and where each path sits."""

    name: str
    data: dict[str, Any] | None
    lines: dict[PathT, int] = field(default_factory=dict)
    issues: list[RuleIssue] = field(default_factory=list)


def read_file(path: Path, name: str | None = None) -> SourceFile:
    """Read one YAML rule file. Never raises: problems come back as issues with a line."""
    shown = name or str(path)
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        return _failed(shown, None, f"cannot read this file ({exc.strerror or 'error'})")
    if len(raw) > MAX_FILE_BYTES:
        return _failed(shown, 1, "file too large for a rules file")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return _failed(shown, line, "not UTF-8 text (save the file as UTF-8)")
    return parse_text(text, shown)


def parse_text(text: str, name: str) -> SourceFile:
    """Parse YAML text as a rule file named ``name``."""
    try:
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        return _failed(name, _error_line(exc, text), _yaml_problem(exc, text))
    except yaml.YAMLError as exc:  # reader errors (control characters) carry a position only
        position = getattr(exc, "position", None)
        line = text[:position].count("\n") + 1 if isinstance(position, int) else 1
        return _failed(name, line, "not valid YAML (a character YAML does not allow)")
    except RecursionError:
        return _failed(name, 1, "nested too deeply")
    except UnicodeError:  # lone surrogates in text that did not come from a UTF-8 file
        return _failed(name, 1, "not UTF-8 text (save the file as UTF-8)")
    if node is None:
        return SourceFile(name, {})
    builder = _Builder()
    try:
        data = builder.build(node, (), 0)
    except _Refused as refused:
        return _failed(name, refused.line, refused.message)
    if data is None:
        return SourceFile(name, {}, builder.lines)
    if not isinstance(data, dict):
        return _failed(name, _line(node), "a rules file is a list of sections like 'members:'")
    return SourceFile(name, data, builder.lines, builder.issues_for(name))


def _failed(name: str, line: int | None, message: str) -> SourceFile:
    return SourceFile(name, None, {}, [RuleIssue(name, line, "", message)])


def _error_line(exc: yaml.MarkedYAMLError, text: str) -> int:
    mark = exc.problem_mark or exc.context_mark
    # A key without its ':' is found only at the next line; the key's own line is the mistake.
    if exc.context_mark is not None and "simple key" in (exc.context or ""):
        mark = exc.context_mark
    line = int(mark.line) + 1 if mark is not None else 1
    last = max(1, len(text.splitlines()))
    return max(1, min(line, last))


# libyaml's wording → what an admin can act on.
_PROBLEMS = (
    ("could not find expected ':'", "a line without ':' (each setting is written name: value)"),
    ("mapping values are not allowed", "a ':' where none belongs (check the indentation, or "
     "put the text in quotes)"),
    ("did not find expected ',' or ']'", "a [ … ] list that is not closed"),
    ("did not find expected ',' or '}'", "a { … } mapping that is not closed"),
    ("did not find expected key", "the indentation does not line up with the lines above"),
    ("expected <block end>", "the indentation does not line up with the lines above"),
    ("did not find expected '-' indicator", "the indentation does not line up with the list above"),
    ("found undefined alias", "an alias (*name) without its anchor (&name)"),
    ("found unexpected end of stream", "the file ends inside quotes"),
    ("cannot start any token", "a character that cannot start a value here (put the text in "
     "quotes)"),
    ("expected a single document", "more than one document (---) in one file"),
)  # fmt: skip


def _yaml_problem(exc: yaml.MarkedYAMLError, text: str) -> str:
    problem = (exc.problem or "").strip()
    mark = exc.problem_mark
    if mark is not None:
        lines = text.splitlines()
        if 0 <= mark.line < len(lines) and "\t" in lines[mark.line][: mark.column + 1]:
            return "a tab character; indent with spaces"
    for known, plain in _PROBLEMS:
        if known in problem or known in (exc.context or ""):
            return f"not valid YAML: {plain}"
    return f"not valid YAML: {problem or 'cannot read it'}"


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


class _Builder:
    """Turns a composed node graph into dicts, lists and strings, noting each path's line."""

    def __init__(self) -> None:
        self.lines: dict[PathT, int] = {}
        self.duplicates: list[tuple[PathT, int, int]] = []  # path, line, first line
        self._count = 0
        self._open: set[int] = set()  # nodes being built: an alias back to one is a cycle

    def issues_for(self, name: str) -> list[RuleIssue]:
        return [
            RuleIssue(
                name, line, format_path(path), f"defined twice in this file (first at line {first})"
            )
            for path, line, first in self.duplicates
        ]

    def _step(self, node: yaml.Node) -> None:
        """One more unit of work; refused past `MAX_VALUES`."""
        self._count += 1
        if self._count > MAX_VALUES:
            raise _Refused(_line(node), "too large once its anchors and aliases are expanded")

    def build(self, node: yaml.Node, path: PathT, depth: int) -> Any:
        self._step(node)
        if depth > MAX_DEPTH:
            raise _Refused(_line(node), "nested too deeply")
        lines = self.lines
        if path not in lines:  # a key's own line is already noted: it wins over its value's
            lines[path] = _line(node)
        tag = node.tag
        if isinstance(node, yaml.ScalarNode):
            # Most nodes are scalars: they cannot close a cycle (only open collections are in
            # `_open`), and a merge key's tag is allowed on them.
            if tag not in _PLAIN_TAGS and tag != _MERGE:
                raise _Refused(_line(node), "YAML tags (!…) are not used in rules files")
            return None if tag == _NULL else str(node.value)
        if id(node) in self._open:
            raise _Refused(_line(node), "an alias refers to the anchor that contains it")
        if tag not in _PLAIN_TAGS:
            raise _Refused(_line(node), "YAML tags (!…) are not used in rules files")
        self._open.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                return [
                    self.build(item, (*path, i), depth + 1) for i, item in enumerate(node.value)
                ]
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, path, depth)
        finally:
            self._open.discard(id(node))
        raise _Refused(_line(node), "not valid YAML")  # pragma: no cover — no other node kinds

    def _mapping(self, node: yaml.MappingNode, path: PathT, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        self._fill(out, node, path, depth, merging=False)
        return out

    def _fill(
        self, out: dict[str, Any], node: yaml.MappingNode, path: PathT, depth: int, *, merging: bool
    ) -> None:
        first_line: dict[str, int] = {}
        merged: list[yaml.Node] = []
        for key_node, value_node in node.value:
            # Every key counts, built or not: a merge repeated at each level skips most of its
            # keys (the mapping has them already), and skipped work is work too.
            self._step(key_node)
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag == _MERGE:
                merged.append(value_node)
                continue
            key = self._key(key_node)
            key_path = (*path, key)
            line = _line(key_node)
            if key in first_line:
                self.duplicates.append((key_path, line, first_line[key]))
                continue
            first_line[key] = line
            if merging and key in out:
                continue  # the mapping's own key wins over one merged in with `<<`
            self.lines[key_path] = line
            out[key] = self.build(value_node, key_path, depth + 1)
        # `<<: *defaults` fills in what the mapping does not say itself, as YAML 1.1 defines.
        if merged and depth > MAX_DEPTH:
            raise _Refused(_line(node), "nested too deeply")
        for source in self._merge_sources(merged):
            self._step(source)
            self._open.add(id(source))
            try:
                self._fill(out, source, path, depth + 1, merging=True)
            finally:
                self._open.discard(id(source))

    def _merge_sources(self, values: list[yaml.Node]) -> Iterator[yaml.MappingNode]:
        for value in values:
            items = value.value if isinstance(value, yaml.SequenceNode) else [value]
            for item in items:
                if not isinstance(item, yaml.MappingNode):
                    raise _Refused(
                        _line(item), "'<<' must name a mapping (an anchor like *defaults)"
                    )
                if id(item) in self._open:
                    raise _Refused(_line(item), "an alias refers to the anchor that contains it")
                yield item

    def _key(self, node: yaml.Node) -> str:
        if not isinstance(node, yaml.ScalarNode):
            raise _Refused(_line(node), "a key must be a plain name, not a list or mapping")
        if node.tag == _NULL:
            raise _Refused(_line(node), "a key is empty")
        if node.tag not in _PLAIN_TAGS:
            raise _Refused(_line(node), "YAML tags (!…) are not used in rules files")
        return str(node.value)


# ---- merging several files -------------------------------------------------------------------

SectionKind = Literal["mapping", "list", "value"]


@dataclass(frozen=True, slots=True)
class _Placement:
    """One file's section whose paths are still to be entered in `Merged.where`."""

    source: SourceFile
    section: str
    keys: frozenset[str] | None = None
    """Merged into a mapping seen before: only the paths under these keys."""
    offset: int | None = None
    """Appended to a list seen before: its items' indexes move by this much."""

    def enter(self, where: dict[PathT, Located], lines: list[tuple[PathT, int]]) -> None:
        name = self.source.name
        if self.keys is not None:
            for path, line in lines:
                if len(path) >= 2 and path[1] in self.keys:
                    where[path] = Located(name, line)
        elif self.offset is not None:
            for path, line in lines:
                if len(path) >= 2 and isinstance(path[1], int):
                    where[(self.section, path[1] + self.offset, *path[2:])] = Located(name, line)
        else:
            where.update((path, Located(name, line)) for path, line in lines)


@dataclass
class Merged:
    """All files' sections merged, each path mapped back to the file and line it came from."""

    data: dict[str, Any] = field(default_factory=dict)
    issues: list[RuleIssue] = field(default_factory=list)
    complete: bool = True
    """False when a file could not be read: what seems absent may be in it."""
    _where: dict[PathT, Located] = field(default_factory=dict, repr=False)
    _pending: list[_Placement] = field(default_factory=list, repr=False)

    @property
    def where(self) -> dict[PathT, Located]:
        """Each path → the file and line it came from.

        Filled in on first use, in merge order: rules without a single issue never ask, and
        10,000 members are 50,000 paths (a tenth of loading them, spent for nothing).
        """
        if self._pending:
            pending, self._pending = self._pending, []
            by_source: dict[int, dict[str, list[tuple[PathT, int]]]] = {}
            for step in pending:
                sections = by_source.get(id(step.source))
                if sections is None:
                    sections = by_source[id(step.source)] = _by_section(step.source)
                step.enter(self._where, sections.get(step.section, []))
        return self._where

    def locate(self, path: PathT) -> Located | None:
        """The place of ``path``, or of its nearest ancestor that has one."""
        if not path:
            return None  # the whole set of rules ("no moderators"): no need to place anything
        where = self.where
        for size in range(len(path), 0, -1):
            found = where.get(path[:size])
            if found is not None:
                return found
        return None


def _by_section(source: SourceFile) -> dict[str, list[tuple[PathT, int]]]:
    by_section: dict[str, list[tuple[PathT, int]]] = {}
    for path, line in source.lines.items():
        if path and isinstance(path[0], str):
            by_section.setdefault(path[0], []).append((path, line))
    return by_section


def merge(files: list[SourceFile], kinds: dict[str, SectionKind]) -> Merged:
    """Merge files in order; a section not in ``kinds`` merges like a single value."""
    merged = Merged()
    for source in files:
        merged.issues.extend(source.issues)
        if source.data is None:
            merged.complete = False
        if not source.data:
            continue
        for section, value in source.data.items():
            _merge_section(merged, source, section, value, kinds.get(section, "value"))
    return merged


def _merge_section(
    merged: Merged, source: SourceFile, section: str, value: Any, kind: SectionKind
) -> None:
    here = Located(source.name, source.lines.get((section,), 1))
    existing = merged.data.get(section)
    if existing is None:  # first time seen, or seen only empty so far
        if section not in merged.data or value is not None:
            merged.data[section] = value
            merged._pending.append(_Placement(source, section))
        return
    if value is None:
        return  # an empty section adds nothing
    if kind == "mapping" and isinstance(existing, dict) and isinstance(value, dict):
        taken: set[str] = set()
        for key, item in value.items():
            if key in existing:
                key_line = source.lines.get((section, key), here.line)
                first = _place(merged.where.get((section, key)))
                merged.issues.append(
                    RuleIssue(
                        source.name,
                        key_line,
                        format_path((section, key)),
                        f"defined twice (first in {first})",
                    )
                )
                continue
            existing[key] = item
            taken.add(key)
        merged._pending.append(_Placement(source, section, keys=frozenset(taken)))
        return
    if kind == "list" and isinstance(existing, list) and isinstance(value, list):
        offset = len(existing)
        existing.extend(value)
        merged._pending.append(_Placement(source, section, offset=offset))
        return
    first = _place(merged.where.get((section,)))
    merged.issues.append(
        RuleIssue(here.file, here.line, section, f"defined twice (first in {first})")
    )


def _place(located: Located | None) -> str:
    return "another file" if located is None else f"{located.file}:{located.line}"
