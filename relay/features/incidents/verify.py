"""``peer-relay verify FILE``: does an exported incident log still say what the relay recorded?

Checks, in plain words, everything the export's hashes and signatures can prove: each entry
against its own signature ("entry 3 was changed"), the entry numbers against the signed summary
("an entry between 2 and 4 is missing", "the last entry (5) is missing"), their order in the
file ("entries are out of order"), the links between neighbours, the summary's own signature,
and — when they sit beside the file — the readable copy and the photos. A file that passes was
made by the holder of the key it names: the output shows the key's fingerprint, to compare with
the one the collective publishes.

`check_document` is pure (given the folder to look for the readable copy and photos in);
`run_verify` is the CLI's entry point.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from relay.exitcodes import EXIT_CHECK_FAILED, EXIT_OK, EXIT_USAGE
from relay.features.incidents import hashchain

_NOT_AN_EXPORT = "this is not a peer-relay incident log export (use the .json file from EXPORT)"


@dataclass
class Verdict:
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    count: int = 0
    fingerprint: str = ""

    @property
    def intact(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class _Entry:
    position: int
    seq: int
    hash: str  # recomputed from what the file shows
    prev: str
    authentic: bool  # its signature covers what the file shows
    photos: tuple[tuple[str, str], ...]  # (file name, sha256)


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError
    return value


def _number(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError
    return value


def _signature(value: object) -> bytes:
    try:
        return base64.b64decode(_text(value), validate=True)
    except binascii.Error:
        raise ValueError from None


def _entry(raw: object, position: int, log_id: str, public_key: bytes) -> _Entry:
    if not isinstance(raw, Mapping):
        raise ValueError
    seq = _number(raw["seq"])
    listed = raw["photos"]
    if not isinstance(listed, list):
        raise ValueError
    photos = []
    files = []
    for photo in listed:
        if not isinstance(photo, Mapping):
            raise ValueError
        photos.append(hashchain.photo_entry(_text(photo["sha256"]), _text(photo["type"])))
        files.append((_text(photo.get("file", "")), _text(photo["sha256"])))
    digest = hashchain.content_digest(_text(raw["text"]), photos, _text(raw["salt"]))
    prev = _text(raw["prev"])
    recomputed = hashchain.entry_hash(log_id, seq, _text(raw["at"]), prev, digest)
    signed = hashchain.signed_by(
        public_key, hashchain.entry_statement(log_id, seq, recomputed), _signature(raw["signature"])
    )
    claims = raw["hash"] == recomputed and raw["content_sha256"] == digest
    return _Entry(position, seq, recomputed, prev, signed and claims, tuple(files))


def _runs(numbers: Sequence[int]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for n in sorted(numbers):
        if runs and runs[-1][1] == n - 1:
            runs[-1] = (runs[-1][0], n)
        else:
            runs.append((n, n))
    return runs


def _missing(first: int, count: int, present: set[int]) -> list[str]:
    absent = [n for n in range(first, count + 1) if n not in present]
    if absent and len(absent) == count - first + 1:
        return [f"all {len(absent)} entries are missing"]
    problems = []
    for a, b in _runs(absent):
        if a == first:
            problems.append(
                f"the first entry ({a}) is missing"
                if a == b
                else f"the first entries ({a} to {b}) are missing"
            )
        elif b == count:
            problems.append(
                f"the last entry ({b}) is missing"
                if a == b
                else f"the last entries ({a} to {b}) are missing"
            )
        elif a == b:
            problems.append(f"an entry between {a - 1} and {a + 1} is missing")
        else:
            problems.append(f"entries {a} to {b} are missing (between {a - 1} and {b + 1})")
    return problems


def _order(entries: Sequence[_Entry]) -> list[str]:
    problems = []
    seen: dict[int, int] = {}
    for entry in entries:
        seen[entry.seq] = seen.get(entry.seq, 0) + 1
    problems += [f"entry {seq} appears more than once" for seq, n in seen.items() if n > 1]
    for before, after in itertools.pairwise(entries):
        if after.seq < before.seq:
            problems.append(
                f"entries are out of order (entry {after.seq} comes after entry {before.seq})"
            )
            break
    return problems


def _beside(folder: Path | None, name: str) -> bytes | None:
    if folder is None or not name or Path(name).name != name:
        return None  # only a plain file name beside the export, never a path it names
    try:
        return (folder / name).read_bytes()
    except OSError:
        return None


def check_document(doc: object, folder: Path | None = None) -> Verdict:
    """Everything wrong with an export, in plain words (none: it is intact)."""
    verdict = Verdict()
    if not isinstance(doc, Mapping) or doc.get("format") != hashchain.FORMAT:
        verdict.problems.append(_NOT_AN_EXPORT)
        return verdict
    if doc.get("version") != hashchain.VERSION:
        verdict.problems.append(
            f"this export is format version {doc.get('version')!r}; "
            f"this peer-relay reads version {hashchain.VERSION}"
        )
        return verdict
    try:
        public_key = base64.b64decode(_text(doc["public_key"]), validate=True)
        if len(public_key) != 32:
            raise ValueError
        log_id = _text(doc["log"])
        first = _number(doc["first"])
        count = _number(doc["count"])
        head = _text(doc["head"])
        exported_at = _text(doc["exported_at"])
        readable = doc["readable"]
        if not isinstance(readable, Mapping):
            raise ValueError
        readable_name = _text(readable["file"])
        readable_sha256 = _text(readable["sha256"])
        summary_signature = _signature(doc["signature"])
        raw_entries = doc["entries"]
        if not isinstance(raw_entries, list):
            raise ValueError
    except (KeyError, ValueError, binascii.Error):
        verdict.problems.append(
            "the file's summary is damaged (key, log id, entry count or signature unreadable)"
        )
        return verdict
    verdict.fingerprint = hashchain.fingerprint(public_key)
    verdict.count = len(raw_entries)
    statement = hashchain.export_statement(log_id, first, count, head, exported_at, readable_sha256)
    if not hashchain.signed_by(public_key, statement, summary_signature):
        verdict.problems.append(
            "the export's signed summary (entry count, last entry, date or readable copy) "
            "was changed, or was not signed by this key"
        )

    entries: list[_Entry] = []
    damaged: set[int] = set()  # there, but unreadable: named once, not also "missing"
    for position, raw in enumerate(raw_entries, start=1):
        try:
            entries.append(_entry(raw, position, log_id, public_key))
        except (KeyError, ValueError, TypeError):
            seq = raw.get("seq") if isinstance(raw, Mapping) else None
            name = f"entry {seq}" if isinstance(seq, int) else f"the entry in position {position}"
            verdict.problems.append(f"{name} is damaged (a field is missing or unreadable)")
            if isinstance(seq, int):
                damaged.add(seq)
    changed = {e.seq for e in entries if not e.authentic}
    verdict.problems += [f"entry {seq} was changed" for seq in sorted(changed)]
    verdict.problems += _order(entries)
    present = {e.seq for e in entries}
    verdict.problems += _missing(first, count, present | damaged)
    verdict.problems += [
        f"entry {seq} is not part of this log (the signed summary lists entries {first} to {count})"
        for seq in sorted(present)
        if not first <= seq <= count
    ]
    by_seq = {e.seq: e for e in entries if e.authentic}
    if first == 1 and 1 in by_seq and by_seq[1].prev != hashchain.genesis(log_id):
        verdict.problems.append("entry 1 does not start this log")
    for seq, entry in sorted(by_seq.items()):
        before = by_seq.get(seq - 1)
        if before is not None and entry.prev != before.hash:
            verdict.problems.append(f"entry {seq} does not follow entry {seq - 1}")
    last = by_seq.get(count)
    if last is not None and last.hash != head:
        verdict.problems.append(f"the last entry ({count}) does not match the signed summary")

    _check_files(verdict, folder, readable_name, readable_sha256, entries)
    if first > 1:
        verdict.notes.append(
            f"entries before {first} were deleted by the relay under the collective's retention "
            "rules (the signed summary records it)"
        )
    return verdict


def _check_files(
    verdict: Verdict,
    folder: Path | None,
    readable_name: str,
    readable_sha256: str,
    entries: Sequence[_Entry],
) -> None:
    data = _beside(folder, readable_name)
    if data is None:
        verdict.notes.append(
            f"the readable copy {readable_name} is not beside this file: not checked"
        )
    elif hashlib.sha256(data).hexdigest() != readable_sha256:
        verdict.problems.append(f"the readable copy {readable_name} was changed")
    else:
        verdict.notes.append(f"the readable copy {readable_name} matches")
    unchecked = 0
    for entry in entries:
        for name, sha256 in entry.photos:
            photo = _beside(folder, name)
            if photo is None:
                unchecked += 1
            elif hashlib.sha256(photo).hexdigest() != sha256:
                verdict.problems.append(f"photo {name} (entry {entry.seq}) was changed")
    if unchecked:
        verdict.notes.append(f"{unchecked} photo(s) not beside this file: not checked")


def run_verify(path: Path, out: TextIO) -> int:
    """Check an exported log; write a plain verdict to ``out``; return the exit code.

    0: intact. 1 (`EXIT_CHECK_FAILED`): changed, incomplete, or not an export. 2: unreadable file.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        out.write(f"cannot read {path}: {exc.strerror or type(exc).__name__}\n")
        return EXIT_USAGE
    try:
        doc = json.loads(data.decode("utf-8", "surrogatepass"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        out.write(f"not intact: {_NOT_AN_EXPORT}\n")
        return EXIT_CHECK_FAILED
    verdict = check_document(doc, path.parent)
    if verdict.intact:
        noun = "entry" if verdict.count == 1 else "entries"
        out.write(f"intact: {verdict.count} {noun}, signed by key {verdict.fingerprint}\n")
        out.write("  compare the key with the one your collective publishes for its relay\n")
        for note in verdict.notes:
            out.write(f"  {note}\n")
        return EXIT_OK
    out.write(f"not intact: {len(verdict.problems)} problem(s) found in {path.name}\n")
    for problem in verdict.problems:
        out.write(f"  - {problem}\n")
    if verdict.fingerprint:
        out.write(f"  (signed by key {verdict.fingerprint})\n")
    for note in verdict.notes:
        out.write(f"  {note}\n")
    return EXIT_CHECK_FAILED
