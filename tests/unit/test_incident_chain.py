"""The incident log's chain, its export and `check_document`, without a database: a log built
with the relay's real key, exported, then changed the ways a file can be changed — each change
is named plainly, and an untouched export is intact."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relay.crypto.keys import MasterKey
from relay.crypto.seal import Sealer
from relay.features.incidents import hashchain
from relay.features.incidents.entries import fresh_head, new_entry
from relay.features.incidents.export import build_export
from relay.features.incidents.verify import check_document
from relay.locales import load_catalog
from relay.store.incident_log import Entry, Head, Photo

T0 = datetime(2026, 11, 26, 20, 0, 0, 123000, tzinfo=UTC)
SEALER = Sealer(MasterKey.generate())
CATALOG = load_catalog()
PHOTO = Photo(hashchain.sha256_hex(b"jpeg bytes"), "image/jpeg", "vault-key-1")


def make_log(count: int, sealer: Sealer = SEALER) -> tuple[Head, list[Entry]]:
    head = fresh_head()
    entries = []
    for n in range(count):
        photos = (PHOTO,) if n == 1 else ()
        entry = new_entry(sealer, head, T0 + timedelta(hours=n), f"entry text {n + 1}", photos)
        entries.append(entry)
        head = Head(head.log_id, entry.seq, entry.hash, head.first)
    return head, entries


def export(count: int = 5, sealer: Sealer = SEALER) -> dict[str, Any]:
    head, entries = make_log(count, sealer)
    files = build_export(sealer, head, entries, T0 + timedelta(days=1), CATALOG, "en", "UTC")
    doc: dict[str, Any] = json.loads(files.document)
    return doc


def problems(doc: object) -> list[str]:
    return check_document(doc).problems


def test_an_untouched_export_is_intact() -> None:
    doc = export()
    verdict = check_document(doc)
    assert verdict.intact, verdict.problems
    assert verdict.count == 5
    assert verdict.fingerprint == hashchain.fingerprint(SEALER.public_key_bytes())
    assert doc["entries"][1]["photos"][0]["file"] == "incident-log-entry-2-photo-1.jpg"
    assert doc["entries"][0]["prev"] == hashchain.genesis(doc["log"])
    assert doc["entries"][0]["at"] == "2026-11-26T20:00:00.123Z"  # the relay's clock, in UTC


def _drop(*seqs: int) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        doc["entries"] = [e for e in doc["entries"] if e["seq"] not in seqs]

    return change


def _swap(a: int, b: int) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        doc["entries"][a - 1], doc["entries"][b - 1] = doc["entries"][b - 1], doc["entries"][a - 1]

    return change


def _set(seq: int, key: str, value: object) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        doc["entries"][seq - 1][key] = value

    return change


def _top(key: str, value: object) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        doc[key] = value

    return change


def _photo_digest(doc: dict[str, Any]) -> None:
    doc["entries"][1]["photos"][0]["sha256"] = hashchain.sha256_hex(b"another photo")


def _duplicate(doc: dict[str, Any]) -> None:
    doc["entries"].insert(2, copy.deepcopy(doc["entries"][1]))


SUMMARY = (
    "the export's signed summary (entry count, last entry, date or readable copy) was changed, "
    "or was not signed by this key"
)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (_drop(3), ["an entry between 2 and 4 is missing"]),
        (_drop(2, 3), ["entries 2 to 3 are missing (between 1 and 4)"]),
        (_drop(1), ["the first entry (1) is missing"]),
        (_drop(5), ["the last entry (5) is missing"]),
        (_drop(4, 5), ["the last entries (4 to 5) are missing"]),
        (_drop(1, 2, 3, 4, 5), ["all 5 entries are missing"]),
        (_swap(2, 3), ["entries are out of order (entry 2 comes after entry 3)"]),
        (_set(3, "text", "entry text 3, edited"), ["entry 3 was changed"]),
        (_set(2, "at", "2026-11-26T19:00:00.123Z"), ["entry 2 was changed"]),
        (_set(4, "salt", "00" * 16), ["entry 4 was changed"]),
        (_set(4, "hash", "00" * 32), ["entry 4 was changed"]),
        (_set(4, "signature", "AAAA"), ["entry 4 was changed"]),
        (_photo_digest, ["entry 2 was changed"]),
        (_duplicate, ["entry 2 appears more than once"]),
        (
            _top("count", 4),
            [
                SUMMARY,
                "entry 5 is not part of this log (the signed summary lists entries 1 to 4)",
                "the last entry (4) does not match the signed summary",
            ],
        ),
        (_top("exported_at", "2020-01-01T00:00:00.000Z"), [SUMMARY]),
        (
            _top("head", "00" * 32),
            [SUMMARY, "the last entry (5) does not match the signed summary"],
        ),
    ],
)
def test_each_change_is_named(
    change: Callable[[dict[str, Any]], None], expected: list[str]
) -> None:
    doc = export()
    change(doc)
    assert problems(doc) == expected


def test_deleting_and_renumbering_is_caught() -> None:
    doc = export()
    del doc["entries"][2]
    for entry in doc["entries"][2:]:
        entry["seq"] -= 1
    doc["count"] = 4
    found = problems(doc)
    assert SUMMARY in found
    assert "entry 3 was changed" in found and "entry 4 was changed" in found


def test_an_entry_from_another_log_does_not_fit() -> None:
    doc, other = export(), export()
    doc["entries"][2] = other["entries"][2]
    assert problems(doc) == ["entry 3 was changed"]


def test_another_key_is_not_this_relay() -> None:
    forged = export(sealer=Sealer(MasterKey.generate()))
    verdict = check_document(forged)
    assert verdict.intact  # self-consistent …
    assert verdict.fingerprint != hashchain.fingerprint(
        SEALER.public_key_bytes()
    )  # … by another key
    doc = export()
    doc["public_key"] = forged["public_key"]
    assert problems(doc) == [SUMMARY] + [f"entry {n} was changed" for n in range(1, 6)]


@pytest.mark.parametrize(
    "doc",
    [[], "text", {"format": "something else"}, {"format": hashchain.FORMAT, "version": 2}],
)
def test_not_an_export(doc: object) -> None:
    assert len(problems(doc)) == 1


def test_damaged_parts_are_named() -> None:
    doc = export()
    del doc["entries"][2]["text"]
    assert problems(doc) == ["entry 3 is damaged (a field is missing or unreadable)"]
    doc = export()
    doc["public_key"] = "not base64!"
    assert problems(doc) == [
        "the file's summary is damaged (key, log id, entry count or signature unreadable)"
    ]


def test_entries_removed_under_retention_are_noted_not_missing() -> None:
    head, entries = make_log(5)
    kept = Head(head.log_id, head.seq, head.hash, first=3)
    files = build_export(SEALER, kept, entries[2:], T0, CATALOG, "en", "UTC")
    verdict = check_document(json.loads(files.document))
    assert verdict.intact, verdict.problems
    assert any("entries before 3 were deleted" in note for note in verdict.notes)
    assert "Entries before 3 were deleted" in files.readable.decode()


def test_the_readable_copy_is_in_her_language_and_zone() -> None:
    head, entries = make_log(2)
    files = build_export(SEALER, head, entries, T0, CATALOG, "es", "America/Mexico_City")
    text = files.readable.decode()
    assert text.startswith("Registro de incidentes\n")
    assert "Entrada 1 — 2026-11-26 14:00 (America/Mexico_City) · 2026-11-26T20:00:00.123Z" in text
    assert "entry text 2" in text and "incident-log-entry-2-photo-1.jpg" in text
    assert files.readable_name == "incident-log-2026-11-26.txt"
    assert [p.name for p in files.photos] == ["incident-log-entry-2-photo-1.jpg"]


def test_hashes_hide_short_texts() -> None:
    """Two entries with the same text at the same time differ: the salt is in the digest."""
    head = fresh_head()
    a = new_entry(SEALER, head, T0, "he hit me")
    b = new_entry(SEALER, head, T0, "he hit me")
    assert a.content_sha256 != b.content_sha256
    assert hashchain.sha256_hex(hashchain.canonical({"photos": [], "text": "he hit me"})) not in (
        a.content_sha256,
        b.content_sha256,
    )


def test_stamps_and_fingerprints() -> None:
    assert (
        hashchain.stamp(datetime(2026, 1, 2, 3, 4, 5, 6789, tzinfo=UTC))
        == "2026-01-02T03:04:05.006Z"
    )
    assert len(hashchain.fingerprint(b"\x01" * 32).split()) == 5
    assert hashchain.canonical({"b": 1, "a": "é"}) == '{"a":"é","b":1}'.encode()


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=20,
)
PARTS = [
    "format",
    "version",
    "log",
    "public_key",
    "first",
    "count",
    "head",
    "exported_at",
    "readable",
    "signature",
    "entries",
]
ENTRY_PARTS = ["seq", "at", "text", "salt", "photos", "prev", "content_sha256", "hash", "signature"]


@settings(max_examples=150, deadline=None)
@given(
    top=st.dictionaries(st.sampled_from(PARTS), JSON, max_size=4),
    entry=st.dictionaries(st.sampled_from(ENTRY_PARTS), JSON, max_size=3),
    which=st.integers(0, 4),
)
def test_any_damage_is_a_verdict_never_a_crash(
    top: dict[str, Any], entry: dict[str, Any], which: int
) -> None:
    doc = copy.deepcopy(EXPORT)
    doc["entries"][which].update(entry)
    doc.update(top)
    verdict = check_document(doc)  # never raises, whatever the file holds
    assert verdict.problems or doc == EXPORT


EXPORT = export()
