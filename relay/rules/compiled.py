"""A sealed copy of the last rules that loaded, so a restart does not check them all again.

Checking rules is the slow part of starting: with 10,000 members, reading the YAML, validating
every phone number and cross-checking take about a second, and the relay cannot receive until
they are done. The rules that passed are kept in ``<data_dir>/rules.cache``, sealed with the
relay's key. The seal's associated data is a digest of everything the result depends on:

- every rules file's name and bytes (`relay.rules.loader.fingerprint`),
- whether placeholder numbers are allowed,
- this relay's own code and data files, the phonenumbers and Python versions.

So the copy opens only for exactly those inputs; for any other (an edit, an upgrade, another
key, a damaged file) it does not open, and the rules are read and checked in full as before.
It is never trusted without its seal, and holds nothing the rules folder does not.

The copy is plain JSON of the rules' own values (no pickle: opening it runs no code). A rules
reload deletes it (`discard`): it would no longer match, and should not outlive what it copies.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import logging
import sys
from collections.abc import Callable, Mapping
from dataclasses import fields, is_dataclass
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Any

import phonenumbers

import relay
from relay.core.policy import Timings
from relay.crypto.files import write_private_file
from relay.crypto.seal import Sealer, TamperedError
from relay.rules import model
from relay.rules.issues import RuleIssue
from relay.rules.loader import fingerprint, load_rules
from relay.rules.model import Rules

log = logging.getLogger(__name__)

CACHE_NAME = "rules.cache"
FORMAT = 1

# Every value type a `Rules` holds, by name: the JSON form names them, and nothing else decodes.
_TYPES: dict[str, type] = {
    cls.__name__: cls
    for cls in (
        model.Member,
        model.Circle,
        model.Contact,
        model.DirectoryEntry,
        model.DrillPolicy,
        model.DrillSchedule,
        model.WelcomePolicy,
        model.ReportPolicy,
        model.Retention,
        model.TierSpec,
        model.Partner,
        model.PeerPolicy,
        RuleIssue,
        Timings,
    )
}


def load_rules_cached(
    path: Path,
    cache_file: Path,
    sealer: Sealer | None,
    *,
    allow_placeholders: bool = False,
) -> tuple[Rules, str]:
    """`load_rules`, from the sealed copy when it matches; also the folder's fingerprint.

    Raises `RulesInvalid` exactly as `load_rules` does (a copy is only ever made of rules that
    passed). The fingerprint is of the files as read here, for the reload watcher. Without a
    sealer (the key could not be loaded) the rules are checked in full and nothing is kept.
    """
    folder = fingerprint(path)
    aad = _aad(folder, allow_placeholders)
    rules = _open(cache_file, sealer, aad) if sealer is not None else None
    if rules is not None:
        return rules, folder
    rules = load_rules(path, allow_placeholders=allow_placeholders)
    if sealer is not None and fingerprint(path) == folder:  # not edited while it was read
        _write(cache_file, sealer, aad, rules)
    return rules, folder


def discard(cache_file: Path) -> None:
    """Delete the copy (the rules changed while the relay ran)."""
    with contextlib.suppress(FileNotFoundError):
        cache_file.unlink()


def _aad(folder: str, allow_placeholders: bool) -> str:
    return f"rules-cache:{FORMAT}:{folder}:{int(allow_placeholders)}:{_code_digest()}"


@cache
def _code_digest() -> str:
    """This relay's code and data, and the libraries that decide what a valid rule is."""
    digest = hashlib.sha256()
    digest.update(f"{sys.version}\0{phonenumbers.__version__}\0".encode())
    root = Path(relay.__file__).parent
    for file in sorted(root.rglob("*")):
        if file.suffix in (".py", ".yaml", ".yml", ".json") and "__pycache__" not in file.parts:
            digest.update(str(file.relative_to(root)).encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()


def _open(cache_file: Path, sealer: Sealer, aad: str) -> Rules | None:
    try:
        blob = cache_file.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.warning("the rules cache cannot be read (%s); checking the rules in full", exc.strerror)
        return None
    try:
        return from_plain(json.loads(sealer.open(blob, aad=aad)))
    except TamperedError:
        return None  # made from other rules, code or key: the usual case after any change
    except (ValueError, TypeError, KeyError) as exc:
        # Sealed by this key for these inputs, yet unreadable: a bug here, not an attack.
        log.warning(
            "the rules cache did not decode (%s); checking the rules in full", type(exc).__name__
        )
        return None


def _write(cache_file: Path, sealer: Sealer, aad: str, rules: Rules) -> None:
    try:
        data = json.dumps(to_plain(rules), separators=(",", ":")).encode()
        cache_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)  # a first start
        write_private_file(cache_file, sealer.seal(data, aad=aad), overwrite=True)
    except (OSError, TypeError, ValueError) as exc:
        # Only the next start is slower; say so without the path's contents.
        log.warning("the rules cache was not written (%s)", type(exc).__name__)


# ---- the rules as plain JSON values, and back ------------------------------------------------


def to_plain(rules: Rules) -> dict[str, Any]:
    """The values `Rules` is built from (its derived indexes are rebuilt on the way back)."""
    return {f.name: _encode(getattr(rules, f.name)) for f in fields(rules) if f.init}


def from_plain(plain: Mapping[str, Any]) -> Rules:
    values = {name: _decode(value) for name, value in plain.items()}
    warnings = values.pop("warnings", ())
    files = values.pop("files", ())
    return Rules(**values)._finish(warnings, files)


def _encode(value: object) -> Any:
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, timedelta):
        return {"td": [value.days, value.seconds, value.microseconds]}
    if isinstance(value, bytes):  # a partner's key
        return {"b64": base64.b64encode(value).decode("ascii")}
    if isinstance(value, frozenset):  # a partner's categories
        return {"set": sorted(_encode(item) for item in value)}
    if isinstance(value, tuple):
        return [_encode(item) for item in value]
    if isinstance(value, Mapping):
        return {"map": [[key, _encode(item)] for key, item in value.items()]}
    name = type(value).__name__
    if is_dataclass(value) and _TYPES.get(name) is type(value):
        return {"dc": name, "v": [_encode(getattr(value, f.name)) for f in fields(value)]}
    raise TypeError(f"no plain form for {name}")


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_decode(item) for item in value)
    if not isinstance(value, dict):
        return value
    if "dc" in value:
        make: Callable[..., object] = _TYPES[value["dc"]]
        return make(*(_decode(item) for item in value["v"]))
    if "td" in value:
        days, seconds, micro = value["td"]
        return timedelta(days=days, seconds=seconds, microseconds=micro)
    if "b64" in value:
        return base64.b64decode(value["b64"], validate=True)
    if "set" in value:
        return frozenset(_decode(item) for item in value["set"])
    return {key: _decode(item) for key, item in value["map"]}
