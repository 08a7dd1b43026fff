"""`load_rules`: a rules folder (or one file) → `Rules`, or `RulesInvalid` listing every problem.

read each file (`relay.rules.source`) → merge by section → each entry through its model
(`relay.rules.validate`) → cross-field checks and the `Rules` value (`relay.rules.crosscheck`).
Nothing but `RulesInvalid` ever leaves `load_rules`: a typo must not take a running relay down.
"""

from __future__ import annotations

import gc
import hashlib
import logging
from pathlib import Path

from relay.rules.crosscheck import crosscheck
from relay.rules.document import SECTIONS, RulesDocument
from relay.rules.issues import RuleIssue, RulesInvalid, sort_issues
from relay.rules.keywords import Catalog, built_in_keywords
from relay.rules.model import Rules
from relay.rules.source import SectionKind, SourceFile, merge, read_file
from relay.rules.validate import Reporter, suggest, validate_sections

log = logging.getLogger(__name__)

SUFFIXES = (".yaml", ".yml")

_KINDS: dict[str, SectionKind] = {
    name: ("list" if name == "directory" else "value" if name == "strangers" else "mapping")
    for name in SECTIONS
}


def rule_files(path: Path) -> list[Path]:
    """The files `load_rules` reads for ``path``: the file itself, or the folder's ``*.yaml``
    and ``*.yml`` files by name (hidden files and editor backups are not rules)."""
    if not path.is_dir():
        return [path]
    return sorted(
        entry
        for entry in path.iterdir()
        if entry.suffix in SUFFIXES and not entry.name.startswith(".") and entry.is_file()
    )


def fingerprint(path: Path) -> str:
    """A digest of the rule files' names and contents: equal digests, equal rules."""
    digest = hashlib.sha256()
    try:
        for file in rule_files(path):
            digest.update(file.name.encode() + b"\0")
            digest.update(file.read_bytes())
            digest.update(b"\0")
    except OSError as exc:
        digest.update(f"unreadable:{exc.errno}".encode())
    return digest.hexdigest()


def load_rules(
    path: Path,
    *,
    allow_placeholders: bool = False,
    built_in: Catalog | None = None,
) -> Rules:
    """Read, merge and check the rules at ``path`` (a folder of YAML files, or one file).

    Raises `RulesInvalid` with every error (and any warnings) at once, and nothing else.
    ``allow_placeholders`` turns the sample's made-up numbers from errors into warnings (the
    demo and `peer-relay check` use it; a real run must not). ``built_in``: the command words
    the aliases are checked against (language → command → words); default: the package's.
    """
    # Loading allocates a few objects per line and frees almost none until the end, so the
    # cyclic collector would run hundreds of times and rescan everything alive (the relay's
    # imports included): a third of a 10,000-member load. Nothing here needs it; refcounting
    # still frees what is dropped, and the collector runs again as soon as loading ends.
    collecting = gc.isenabled()
    gc.disable()
    try:
        catalog = built_in_keywords() if built_in is None else built_in
        return _load(path, allow_placeholders, catalog)
    except RulesInvalid:
        raise
    except RecursionError:
        raise RulesInvalid([RuleIssue(str(path), None, "", "nested too deeply")]) from None
    except Exception as exc:  # noqa: BLE001 — the promise is "RulesInvalid or valid rules"
        # Not a traceback (it may quote rule values); the class name is enough to find the bug.
        log.error("rules loader failed unexpectedly: %s", type(exc).__name__)
        raise RulesInvalid(
            [
                RuleIssue(
                    str(path),
                    None,
                    "",
                    f"internal error while reading rules ({type(exc).__name__})",
                )
            ]
        ) from None
    finally:
        if collecting:
            gc.enable()


def _load(path: Path, allow_placeholders: bool, catalog: Catalog) -> Rules:
    shown = str(path)
    if not path.exists():
        raise RulesInvalid([RuleIssue(shown, None, "", "not found (no such folder or file)")])
    try:
        files = rule_files(path)
    except OSError as exc:
        raise RulesInvalid(
            [
                RuleIssue(
                    shown, None, "", f"cannot read the rules folder ({exc.strerror or 'error'})"
                )
            ]
        ) from None
    if not files:
        raise RulesInvalid([RuleIssue(shown, None, "", "no rules files (*.yaml) here")])
    sources = [read_file(file, str(file)) for file in files]
    unknown = [issue for source in sources for issue in _unknown_sections(source)]
    merged = merge(sources, _KINDS)
    report = Reporter(merged, shown)
    report.issues.extend(unknown)
    report.issues.extend(merged.issues)
    parts = validate_sections(merged, report)
    rules = crosscheck(parts, report, allow_placeholders=allow_placeholders, catalog=catalog)
    if rules is None or report.failed:
        raise RulesInvalid(sort_issues(report.issues))
    return rules._finish(rules.warnings, tuple(str(file) for file in files))


def _unknown_sections(source: SourceFile) -> list[RuleIssue]:
    """Report top-level keys that are not sections, and drop them before merging."""
    if not source.data:
        return []
    issues = []
    for key in [key for key in source.data if key not in RulesDocument.model_fields]:
        del source.data[key]
        issues.append(
            RuleIssue(
                source.name,
                source.lines.get((key,), 1),
                key,
                f"unknown section{suggest(key, set(SECTIONS))}",
            )
        )
    return issues
