"""EXPORT: her incident log as two files — one to read, one to prove it.

``incident-log-<date>.txt`` is the log as a person reads it, in her language and time zone.
``incident-log-<date>.json`` holds every entry with its salt, hashes and signatures, the relay's
public key, and a signed summary that also covers the readable file's SHA-256, so
`peer-relay verify` can tell whether anything in either was changed or removed. Photos travel as
their own files, named in both. Pure: builds bytes, sends nothing.
"""

from __future__ import annotations

import base64
import json
import mimetypes
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from relay.core.render import Catalog
from relay.crypto.seal import Sealer
from relay.features.incidents import hashchain
from relay.store.incident_log import Entry, Head


@dataclass(frozen=True)
class PhotoFile:
    name: str
    content_type: str
    key: str  # the vault key of the original


@dataclass(frozen=True)
class ExportFiles:
    readable_name: str
    readable: bytes
    document_name: str
    document: bytes
    photos: tuple[PhotoFile, ...]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _local(stamp: str, zone: str) -> str:
    moment = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%f%z")
    return moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")


def photo_name(seq: int, index: int, content_type: str) -> str:
    ext = mimetypes.guess_extension(content_type) or ".bin"
    ext = ".jpg" if ext in (".jpe", ".jpeg") else ext
    return f"incident-log-entry-{seq}-photo-{index}{ext}"


def build_export(
    sealer: Sealer,
    head: Head,
    entries: Sequence[Entry],
    now: datetime,
    catalog: Catalog,
    language: str,
    zone: str,
) -> ExportFiles:
    exported_at = hashchain.stamp(now)
    date = exported_at[:10]
    readable_name = f"incident-log-{date}.txt"
    document_name = f"incident-log-{date}.json"
    public_key = sealer.public_key_bytes()

    photos: list[PhotoFile] = []
    names: dict[tuple[int, int], str] = {}
    for entry in entries:
        for index, photo in enumerate(entry.photos, start=1):
            name = photo_name(entry.seq, index, photo.content_type)
            names[(entry.seq, index)] = name
            photos.append(PhotoFile(name, photo.content_type, photo.key))

    def t(key: str, **params: object) -> str:
        return catalog.text(language, key, **params)

    lines = [
        t("export_title"),
        t("export_intro", time=_local(exported_at, zone), zone=zone, count=len(entries)),
        t("export_key", fingerprint=hashchain.fingerprint(public_key)),
        t("export_verify", file=document_name),
    ]
    if head.first > 1:
        lines.append(t("export_retention", first=head.first))
    for entry in entries:
        lines += [
            "",
            t("export_entry", seq=entry.seq, time=_local(entry.at, zone), zone=zone, utc=entry.at),
        ]
        if entry.text:
            lines.append(entry.text)
        if entry.photos:
            files = ", ".join(names[(entry.seq, i)] for i in range(1, len(entry.photos) + 1))
            lines.append(t("export_entry_photos", files=files))
    readable = ("\n".join(lines) + "\n").encode("utf-8", "surrogatepass")
    readable_sha256 = hashchain.sha256_hex(readable)

    statement = hashchain.export_statement(
        head.log_id, head.first, head.seq, head.hash, exported_at, readable_sha256
    )
    document = {
        "format": hashchain.FORMAT,
        "version": hashchain.VERSION,
        "log": head.log_id,
        "public_key": _b64(public_key),
        "key_fingerprint": hashchain.fingerprint(public_key),
        "exported_at": exported_at,
        "first": head.first,
        "count": head.seq,
        "head": head.hash,
        "readable": {"file": readable_name, "sha256": readable_sha256},
        "signature": _b64(hashchain.sign(sealer.signing_key(), statement)),
        "check_with": f"peer-relay verify {document_name}",
        "entries": [
            {
                "seq": entry.seq,
                "at": entry.at,
                "text": entry.text,
                "salt": entry.salt,
                "photos": [
                    {**photo, "file": names[(entry.seq, i)]}
                    for i, photo in enumerate(entry.photo_entries(), start=1)
                ],
                "prev": entry.prev,
                "content_sha256": entry.content_sha256,
                "hash": entry.hash,
                "signature": _b64(entry.signature),
            }
            for entry in entries
        ],
    }
    encoded = json.dumps(document, ensure_ascii=False, indent=2) + "\n"
    return ExportFiles(
        readable_name=readable_name,
        readable=readable,
        document_name=document_name,
        document=encoded.encode("utf-8", "surrogatepass"),
        photos=tuple(photos),
    )
