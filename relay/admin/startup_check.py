"""The one start-up check, shared by `peer-relay run` and `peer-relay check --config`.

Owns: finding everything that would stop the relay from starting and can be known before it
starts — the config file, the rules (with the config's own `allow_placeholder_numbers`), the
config against the rules (`admin`, `canary.to`, a partner relay with this relay's own number or
key), the data directory, the key (and whether it
opens the database), and whether the database was written by a newer peer-relay — all at once,
one line each, each with the exit code `run` stops with (relay.exitcodes). `run` refuses with
exactly this list; `check --config` prints it. So a config that passes `check` is never refused
by `run` for a config reason.

What `check` cannot see as `run` will, it says it did not check (a note, never a pass): the key
when systemd hands it to the relay as a credential, and the key and the data directory when
`check` runs as another user than the relay's (the Ansible role runs it as root). What only the
running relay can know stays in relay.runtime.supervisor: another relay holding the data directory,
signal-cli-rest-api's mode. The database is only read here, never opened for writing (see
`relay.store.db.read_on_disk`); the relay's own opening still refuses a newer schema or a key
that does not open it, should the file say more than its main part showed.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TextIO

from relay.config import Config, ConfigInvalid, key_line, load_config
from relay.crypto.keys import CREDENTIALS_ENV, KEY_FILE_NAME, KeyProblem, load_key
from relay.crypto.peer_keys import PREFIX
from relay.crypto.seal import Sealer
from relay.exitcodes import EXIT_CHECK_FAILED, EXIT_CONFIG, EXIT_KEY, EXIT_OK, EXIT_SCHEMA
from relay.rules.check import summary_lines
from relay.rules.compiled import CACHE_NAME, load_rules_cached
from relay.rules.issues import RulesInvalid
from relay.rules.loader import load_rules, rule_files
from relay.rules.model import Rules
from relay.rules.source import PathT, format_path, read_file
from relay.store.db import DB_NAME, newest_schema, schema_on_disk, too_new
from relay.store.keycheck import key_opens_on_disk

Purpose = Literal["run", "check"]

# When problems of several kinds are found, `run` exits with the first of these it has: a config
# mistake is what the admin must fix first, and each of them stops systemd's restarts.
_PRECEDENCE = (EXIT_CONFIG, EXIT_KEY, EXIT_SCHEMA)


@dataclass(frozen=True)
class Problem:
    """One reason not to start: one line for the admin, and the exit code it stops `run` with."""

    line: str
    exit_code: int


@dataclass(frozen=True)
class Startup:
    """What the check found: the parts a relay starts with, or why it must not start."""

    config: Config | None = None
    rules: Rules | None = None
    sealer: Sealer | None = None
    rules_loaded_from: str | None = None
    problems: tuple[Problem, ...] = ()
    warnings: tuple[str, ...] = ()  # the rules' own warnings (e.g. made-up numbers allowed)
    notes: tuple[str, ...] = ()  # what was not checked, or is unsafe but allowed

    @property
    def exit_code(self) -> int:
        codes = {problem.exit_code for problem in self.problems}
        return next((code for code in _PRECEDENCE if code in codes), EXIT_OK)


@dataclass
class _Found:
    config: list[Problem] = field(default_factory=list)
    rules: list[Problem] = field(default_factory=list)
    cross: list[Problem] = field(default_factory=list)
    data_dir: list[Problem] = field(default_factory=list)
    key: list[Problem] = field(default_factory=list)
    schema: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def problems(self) -> tuple[Problem, ...]:
        # The order an admin fixes them in: the file she edits, then the box.
        return (*self.config, *self.rules, *self.cross, *self.data_dir, *self.key, *self.schema)


def startup_check(config_path: Path, purpose: Purpose, rules_dir: Path | None = None) -> Startup:
    """Check everything `run` needs before it starts; every problem at once.

    ``purpose`` "run" loads the key and reads the rules through their sealed cache (both are
    then handed to the relay); "check" loads nothing it cannot see as the relay would and writes
    nothing. ``rules_dir`` (check only) checks that folder instead of the config's, as the
    Ansible role does with the rules it has staged.
    """
    found = _Found()
    config: Config | None = None
    try:
        config = load_config(config_path)
    except ConfigInvalid as exc:
        found.config.extend(Problem(line, EXIT_CONFIG) for line in exc.issues)
    if config is None and rules_dir is None:
        return Startup(problems=found.problems())  # the rules' folder is named in the config

    sealer: Sealer | None = None
    if config is not None:
        found.data_dir.extend(_data_dir(config, config_path, purpose, found.notes))
        sealer = _key(config, purpose, found)
        found.schema.extend(_schema(config))
        if sealer is not None and not found.schema:
            found.key.extend(_key_opens(config, sealer))
        if purpose == "check":  # `run` logs it itself, and keeps trying (relay.runtime.supervisor)
            found.notes.extend(_receive_socket(config, config_path))

    folder = rules_dir if rules_dir is not None else config.rules_dir if config else None
    assert folder is not None  # noqa: S101 — one of the two is set (returned above otherwise)
    # Without a config (it has errors of its own) the rules are read as `check RULES_DIR` does.
    allow = config.allow_placeholder_numbers if config is not None else True
    rules: Rules | None = None
    loaded_from: str | None = None
    try:
        if purpose == "run" and config is not None:
            # The rules that loaded last time, when nothing they depend on changed (sealed).
            cache = config.data_dir / CACHE_NAME
            rules, loaded_from = load_rules_cached(folder, cache, sealer, allow_placeholders=allow)
        else:
            rules = load_rules(folder, allow_placeholders=allow)
    except RulesInvalid as exc:
        found.rules.extend(Problem(str(issue), EXIT_CONFIG) for issue in exc.errors)
    if rules is not None and config is not None:
        found.cross.extend(_against_rules(config, config_path, rules))
        found.cross.extend(_partners_against_self(config, config_path, folder, rules, sealer))
    return Startup(
        config=config,
        rules=rules,
        sealer=sealer,
        rules_loaded_from=loaded_from,
        problems=found.problems(),
        warnings=tuple(str(issue) for issue in rules.warnings) if rules is not None else (),
        notes=tuple(found.notes),
    )


def _where(config_path: Path, *keys: str) -> str:
    line = key_line(config_path, *keys)
    return f"{config_path}:{line}" if line is not None else str(config_path)


def _against_rules(config: Config, config_path: Path, rules: Rules) -> list[Problem]:
    problems = []
    if rules.member(config.admin) is None:
        where = _where(config_path, "admin")
        problems.append(
            Problem(f"{where}: admin: '{config.admin}' is not a member in the rules", EXIT_CONFIG)
        )
    probe_to = config.canary.to
    # A number is anyone's spare phone; an alias must name a member (relay.runtime.canary sends to
    # her).
    if probe_to is not None and not probe_to.startswith("+") and rules.member(probe_to) is None:
        where = _where(config_path, "canary", "to")
        problems.append(
            Problem(f"{where}: canary.to: '{probe_to}' is not a member in the rules", EXIT_CONFIG)
        )
    return problems


def _partners_against_self(
    config: Config, config_path: Path, folder: Path, rules: Rules, sealer: Sealer | None
) -> list[Problem]:
    """A partner relay that is this relay: its number (the relay would take its own messages
    for a partner's), or its key (a copy of `peer-relay identity` pasted on the wrong side)."""
    problems = []
    own_number = rules.partner_by_number(config.signal.number)
    if own_number is not None:
        where = _where(config_path, "signal", "number")
        problems.append(
            Problem(
                f"{where}: signal.number: this relay's own number is partner "
                f"'{own_number.label}' in the rules: put the partner relay's number there",
                EXIT_CONFIG,
            )
        )
    own_key = sealer.peer_public_key() if sealer is not None else None
    for label, partner in rules.peers.partners.items():
        if partner.key == own_key:
            path: PathT = ("peers", "partners", label, "key")
            problems.append(
                Problem(
                    f"{_rules_place(folder, path)}: {format_path(path)}: this relay's own key "
                    f"(its `peer-relay identity`): put the partner's {PREFIX} key there",
                    EXIT_CONFIG,
                )
            )
    return problems


def _rules_place(folder: Path, path: PathT) -> str:
    """``file:line`` of ``path`` in the rules (read again: only to name a problem)."""
    for file in rule_files(folder):
        line = read_file(file, str(file)).lines.get(path)
        if line is not None:
            return f"{file}:{line}"
    return str(folder)


def _data_dir(
    config: Config, config_path: Path, purpose: Purpose, notes: list[str]
) -> list[Problem]:
    """The directory `run` creates (0700) and writes the database, the lock and the cache in."""
    data_dir = config.data_dir

    def where() -> str:  # read again only to name a problem: the usual start finds none
        return _where(config_path, "data_dir")

    if data_dir.exists() and not data_dir.is_dir():
        return [Problem(f"{where()}: data_dir: {data_dir} is not a directory", EXIT_CONFIG)]
    if not data_dir.exists():
        if purpose == "check":
            return []  # `peer-relay init` or systemd's StateDirectory= makes it; run would too
        parent = _nearest_existing(data_dir)
        if not os.access(parent, os.W_OK | os.X_OK):
            return [
                Problem(
                    f"{where()}: data_dir: {data_dir} does not exist and cannot be created "
                    f"(no write permission in {parent})",
                    EXIT_CONFIG,
                )
            ]
        return []
    st = data_dir.stat()
    if purpose == "check" and st.st_uid != os.geteuid():
        notes.append(
            f"{config_path}: note: data_dir and the key were not checked: this is not the "
            f"relay's user (uid {st.st_uid} owns {data_dir}); run the check as that user to "
            "check them too"
        )
        return []
    if not os.access(data_dir, os.W_OK | os.X_OK):
        return [Problem(f"{where()}: data_dir: this user cannot write in {data_dir}", EXIT_CONFIG)]
    perms = stat.S_IMODE(st.st_mode)
    if perms & 0o077:
        # Not refused: the database files are 0600 themselves. But the folder's names and sizes
        # are nobody else's business either.
        notes.append(
            f"{where()}: warning: data_dir: {data_dir} is open to group or others "
            f"(mode {perms:04o}); run chmod 700 on it"
        )
    return []


def _nearest_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path("/")  # pragma: no cover — the root always exists


def _key(config: Config, purpose: Purpose, found: _Found) -> Sealer | None:
    """The key `run` seals with; for "check", only when it can be seen as `run` will see it."""
    if purpose == "check":
        data_dir = config.data_dir
        if data_dir.is_dir() and data_dir.stat().st_uid != os.geteuid():
            return None  # said once, with the data directory
        visible = (
            config.key_file is not None
            or bool(os.environ.get(CREDENTIALS_ENV))
            or os.path.lexists(data_dir / KEY_FILE_NAME)
        )
        if not visible:
            found.notes.append(
                f"{data_dir / KEY_FILE_NAME}: note: the key was not checked: it is not here and "
                "the config names no key_file (under systemd, LoadCredential= hands it over)"
            )
            return None
    try:
        return Sealer(load_key(config.data_dir, config.key_file))
    except KeyProblem as exc:
        found.key.append(Problem(str(exc), EXIT_KEY))
        return None


def _key_opens(config: Config, sealer: Sealer) -> list[Problem]:
    if key_opens_on_disk(config.data_dir, sealer) is not False:
        return []
    return [
        Problem(
            f"{config.data_dir / DB_NAME}: the key (id {sealer.key_id}) does not open this "
            "database: another relay's key, or a new one? Use the key it was made with",
            EXIT_KEY,
        )
    ]


def _receive_socket(config: Config, config_path: Path) -> list[str]:
    signal = config.signal
    if signal.receive != "socket" or signal.socket.exists():
        return []
    where = _where(config_path, "signal", "socket")
    return [
        f"{where}: note: signal.socket: {signal.socket} is not there (yet); `run` waits for it "
        "(is signal-cli-rest-api running, set up by the Ansible role for receive: socket?)"
    ]


def _schema(config: Config) -> list[Problem]:
    found = schema_on_disk(config.data_dir)
    if found is None or found <= newest_schema():
        return []
    return [Problem(f"{config.data_dir / DB_NAME}: {too_new(found)}", EXIT_SCHEMA)]


def run_config_check(config_path: Path, rules_dir: Path | None, out: TextIO) -> int:
    """`peer-relay check --config FILE [RULES_DIR]`: print what `run` would refuse, or OK.

    Problems alone when there are any (exit 1); otherwise the warnings and notes, then a summary
    of the rules and ``FILE: OK`` (exit 0).
    """
    startup = startup_check(config_path, "check", rules_dir)
    if startup.problems:
        _lines((problem.line for problem in startup.problems), out)
        return EXIT_CHECK_FAILED
    assert startup.rules is not None and startup.config is not None  # noqa: S101 — no problems
    _lines((*startup.warnings, *startup.notes), out)
    folder = rules_dir if rules_dir is not None else startup.config.rules_dir
    _lines(summary_lines(folder, startup.rules), out)
    out.write(f"{config_path}: OK\n")
    return EXIT_OK


def _lines(lines: Iterable[str], out: TextIO) -> None:
    for line in lines:
        out.write(f"{line}\n")
