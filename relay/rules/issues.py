"""What is wrong with a set of rules, one line each: `RuleIssue` and the `RulesInvalid` exception.

Messages name the file, the line and the field, and never quote a phone number, a duress word or a
check-in secret: they end up in the admin's Signal chat and, via `peer-relay check`, in terminals
and CI logs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True, order=True)
class RuleIssue:
    """One problem. ``str(issue)`` is ``file:line: path: message`` (warnings say so after the line).

    ``line`` is None for a problem of the whole rules directory (e.g. no members anywhere), and
    ``path`` is empty for a problem of a whole file (e.g. a YAML syntax error).
    """

    file: str
    line: int | None
    path: str
    message: str
    severity: Severity = "error"

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        parts = [where]
        if self.severity == "warning":
            parts.append("warning")
        if self.path:
            parts.append(self.path)
        parts.append(self.message)
        return printable(": ".join(parts))

    @property
    def is_error(self) -> bool:
        return self.severity == "error"


class RulesInvalid(Exception):
    """The rules cannot be used. ``issues``: every error (and any warnings), sorted by place."""

    def __init__(self, issues: Iterable[RuleIssue]) -> None:
        self.issues: list[RuleIssue] = sorted(issues, key=_place)
        super().__init__("\n".join(str(issue) for issue in self.issues))

    @property
    def errors(self) -> list[RuleIssue]:
        return [issue for issue in self.issues if issue.is_error]


def printable(text: str) -> str:
    """One line, whatever the admin's file contained: control characters and line breaks are
    shown escaped (a key may hold anything YAML can quote)."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else _escape(c) for c in text)


def _escape(char: str) -> str:
    code = ord(char)
    return (
        f"\\x{code:02x}"
        if code < 0x100
        else f"\\u{code:04x}"
        if code < 0x10000
        else f"\\U{code:08x}"
    )


def _place(issue: RuleIssue) -> tuple[str, int, str, str]:
    return (issue.file, issue.line or 0, issue.path, issue.message)


def sort_issues(issues: Iterable[RuleIssue]) -> list[RuleIssue]:
    """Issues in reading order: by file, then line; duplicates dropped."""
    return sorted(set(issues), key=_place)
