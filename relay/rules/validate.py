"""First pass over merged rules: each section and entry through its pydantic model.

Entries are validated one by one, so one member's bad number does not hide another member's
misspelt buddy: whatever is valid goes on to the cross-field pass, and every pydantic error comes
back as one line at the file and line the field was written on.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

from relay.rules import document as doc
from relay.rules.issues import RuleIssue, Severity
from relay.rules.source import Merged, PathT, format_path
from relay.rules.values import LanguageField, Name

_M = TypeVar("_M", bound=BaseModel)


class Reporter:
    """Collects issues, placing each path at the file and line it was written on."""

    def __init__(self, merged: Merged, directory: str) -> None:
        self.merged = merged
        self.directory = directory
        self.issues: list[RuleIssue] = []

    def add(self, path: PathT, message: str, severity: Severity = "error") -> None:
        place = self.merged.locate(path)
        if place is None:
            self.issues.append(
                RuleIssue(self.directory, None, format_path(path), message, severity)
            )
        else:
            self.issues.append(
                RuleIssue(place.file, place.line, format_path(path), message, severity)
            )

    def place_key(self, path: PathT) -> tuple[str, int]:
        """Sorts paths in reading order (file, line)."""
        place = self.merged.locate(path)
        return ("", 0) if place is None else (place.file, place.line)

    def warn(self, path: PathT, message: str) -> None:
        self.add(path, message, "warning")

    @property
    def failed(self) -> bool:
        return any(issue.is_error for issue in self.issues)


@dataclass
class Sections:
    """The valid parts of the rules; ``*_names`` also hold names whose entries were invalid."""

    members: dict[str, doc.MemberIn] = field(default_factory=dict)
    member_names: set[str] = field(default_factory=set)
    circles: dict[str, doc.CircleIn] = field(default_factory=dict)
    circle_names: set[str] = field(default_factory=set)
    contacts: dict[str, doc.ContactIn] = field(default_factory=dict)
    contact_names: set[str] = field(default_factory=set)
    keywords: dict[str, doc.KeywordsIn] = field(default_factory=dict)
    directory: list[doc.DirectoryEntryIn] = field(default_factory=list)
    timings: doc.TimingsIn | None = None
    escalation: doc.EscalationIn | None = None
    escalation_valid: bool = True
    reports: doc.ReportsIn | None = None
    retention: doc.RetentionIn | None = None
    strangers: Literal["silence", "neutral"] = "silence"
    welcome: doc.WelcomeIn | None = None
    drills: doc.DrillsIn | None = None
    peers: doc.PeersIn | None = None
    """``peers.name`` and the section's own fields; the partners are in `partners`."""
    partners: dict[str, doc.PartnerIn] = field(default_factory=dict)
    partner_names: set[str] = field(default_factory=set)
    present: set[str] = field(default_factory=set)
    """Sections the rules wrote (even if empty or invalid)."""
    complete: bool = True
    """Every file could be read, so a section that is absent really is."""

    @property
    def all_members_valid(self) -> bool:
        """Every member passed: "nobody is an admin" is then a fact, not a side effect."""
        return self.complete and bool(self.members) and len(self.members) == len(self.member_names)


def validate_sections(merged: Merged, report: Reporter) -> Sections:
    data = merged.data
    out = Sections(present={key for key in data if key in doc.SECTIONS}, complete=merged.complete)
    out.members = _entries(data, "members", Name, doc.MemberIn, report, out.member_names)
    out.circles = _entries(data, "circles", Name, doc.CircleIn, report, out.circle_names)
    out.contacts = _entries(data, "contacts", Name, doc.ContactIn, report, out.contact_names)
    out.keywords = _entries(data, "keywords", LanguageField, doc.KeywordsIn, report, set())
    out.timings = _section(data, "timings", doc.TimingsIn, report)
    out.escalation = _section(data, "escalation", doc.EscalationIn, report)
    out.escalation_valid = data.get("escalation") is None or out.escalation is not None
    out.reports = _section(data, "reports", doc.ReportsIn, report)
    out.retention = _section(data, "retention", doc.RetentionIn, report)
    out.welcome = _section(data, "welcome", doc.WelcomeIn, report)
    out.drills = _section(data, "drills", doc.DrillsIn, report)
    _peers(data, report, out)
    strangers = data.get("strangers")
    if strangers == "silence" or strangers == "neutral":
        out.strangers = strangers
    elif strangers is not None:
        report.add(("strangers",), "expected 'silence' or 'neutral'")
    directory = data.get("directory")
    if directory is not None:
        if isinstance(directory, list):
            for index, entry in enumerate(directory):
                valid = _model(entry, ("directory", index), doc.DirectoryEntryIn, report)
                if valid is not None:
                    out.directory.append(valid)
        else:
            report.add(("directory",), "expected a list (lines starting with '- ')")
    return out


def _peers(data: dict[str, Any], report: Reporter, out: Sections) -> None:
    """``peers:``, each partner on its own, as members are: one partner's mistake does not
    keep the others from being checked against the members' numbers."""
    raw = data.get("peers")
    if raw is None:
        return
    if not isinstance(raw, dict):
        report.add(("peers",), _KINDS["model_type"])
        return
    out.peers = _model(
        {key: value for key, value in raw.items() if key != "partners"},
        ("peers",),
        doc.PeersIn,
        report,
    )
    out.partners = _entries(
        raw, "partners", Name, doc.PartnerIn, report, out.partner_names, within=("peers",)
    )


@cache
def _adapter(key_type: Any) -> TypeAdapter[str]:
    return TypeAdapter(key_type)


def _entries(
    data: dict[str, Any],
    section: str,
    key_type: Any,
    model: type[_M],
    report: Reporter,
    names: set[str],
    within: PathT = (),
) -> dict[str, _M]:
    raw = data.get(section)
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        report.add((*within, section), "expected a mapping of names (name: followed by its fields)")
        return {}
    out: dict[str, _M] = {}
    for key, value in raw.items():
        names.add(key)
        try:
            _adapter(key_type).validate_python(key)
        except ValidationError as exc:
            _report(exc, (*within, section, key), report, key_error=True)
            names.add(key.strip().lower())  # "Bob": references to bob are right once she fixes it
            continue
        valid = _model(value, (*within, section, key), model, report)
        if valid is not None:
            out[key] = valid
    return out


def _section(data: dict[str, Any], section: str, model: type[_M], report: Reporter) -> _M | None:
    raw = data.get(section)
    return None if raw is None else _model(raw, (section,), model, report)


def _model(value: Any, path: PathT, model: type[_M], report: Reporter) -> _M | None:
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        _report(exc, path, report)
        return None


def _report(
    exc: ValidationError, prefix: PathT, report: Reporter, *, key_error: bool = False
) -> None:
    errors = exc.errors(include_input=False, include_url=False)
    located = [((*prefix, *(p for p in e["loc"] if p != "[key]")), e) for e in errors]
    # "numbr: unknown field (did you mean 'number'?)" already says what "number: required"
    # would: one mistake, one line.
    misspelt = {
        (*path[:-1], close)
        for path, error in located
        if error["type"] == "extra_forbidden" and path and (close := _close_field(str(path[-1])))
    }
    seen: set[PathT] = set()
    for path, error in located:
        if path in seen or (error["type"] == "missing" and path in misspelt):
            continue  # one line per field is enough (unions report each branch)
        seen.add(path)
        report.add(path, _message(error, path, key_error=key_error))


_KINDS: dict[str, str] = {
    "missing": "required here; add it",
    "model_type": "expected fields (name: value lines, indented below)",
    "model_attributes_type": "expected fields (name: value lines, indented below)",
    "dict_type": "expected a mapping (name: value lines, indented below)",
    "list_type": "expected a list (lines starting with '- ')",
    "bool_parsing": "expected true or false",
    "bool_type": "expected true or false",
    "string_type": "expected text",
    "too_short": "needs at least one entry",
}


def _message(error: Any, path: PathT, *, key_error: bool) -> str:
    kind = str(error["type"])
    if kind == "extra_forbidden":
        return _unknown_field(str(path[-1]) if path else "")
    if kind == "literal_error":
        expected = error.get("ctx", {}).get("expected", "")
        return f"expected {expected}" if expected else "not one of the allowed values"
    if kind in _KINDS:
        return _KINDS[kind]
    message = str(error["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    if key_error:
        return f"bad name: {message}"
    return message


def _close_field(name: str) -> str | None:
    close = difflib.get_close_matches(name, _field_names(), n=1, cutoff=0.75)
    return close[0] if close else None


def _unknown_field(name: str) -> str:
    close = _close_field(name)
    if close is not None:
        return f"unknown field (did you mean '{close}'?)"
    return "unknown field (check the spelling against the sample rules)"


@cache
def _field_names() -> tuple[str, ...]:
    names: set[str] = set()
    models: list[type[BaseModel]] = [
        doc.RulesDocument,
        doc.MemberIn,
        doc.TimingsIn,
        doc.CircleIn,
        doc.ContactIn,
        doc.TierIn,
        doc.EscalationIn,
        doc.KeywordsIn,
        doc.ReportsIn,
        doc.RetentionIn,
        doc.DirectoryEntryIn,
        doc.PeersIn,
        doc.PartnerIn,
        doc.PartnerSendIn,
    ]
    for model in models:
        for name, info in model.model_fields.items():
            names.add(info.alias or name)
    return tuple(sorted(names))


def suggest(name: str, known: set[str] | Callable[[], set[str]]) -> str:
    """`` (did you mean 'bob'?)`` for a near miss among ``known``, else ``""``."""
    pool = known() if callable(known) else known
    by_fold = {candidate.casefold(): candidate for candidate in pool}
    if name.casefold() in by_fold:
        return f" (did you mean '{by_fold[name.casefold()]}'?)"
    close = difflib.get_close_matches(name, sorted(pool), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""
