"""The one start-up check (relay.admin.startup_check) with real YAML, a real key and a real SQLite
file: `check --config` and `run` find the same problems, all at once; a newer schema is exit 65.

The property: whatever mix of mistakes a config and its rules hold, `run` refuses with exactly
the lines `check --config` printed (so a config that passes `check` is never refused by `run`),
and every mistake has its line — none hides another, except that an unreadable config names no
rules to read, rules with errors name no members to check `admin` and `canary.to` against, and
a data directory that is a file holds no database, and a key that does not load (or a database
it cannot read) is not tried on the database.
"""

from __future__ import annotations

import asyncio
import io
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relay.admin.startup_check import Startup, run_config_check, startup_check
from relay.crypto.keys import init_data_dir, load_key
from relay.crypto.peer_keys import encode_public
from relay.crypto.seal import Sealer
from relay.exitcodes import EXIT_CHECK_FAILED, EXIT_CONFIG, EXIT_KEY, EXIT_OK, EXIT_SCHEMA
from relay.store.db import DB_NAME, Database, newest_schema
from relay.store.keycheck import check_key

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Defect:
    """One mistake: how to make it, the words its line must hold, and its exit code."""

    name: str
    make: Callable[[Path, dict[str, Any]], None]
    says: str
    exit_code: int
    config_level: bool = False  # the config file itself cannot be read: nothing else is checked

    def __repr__(self) -> str:  # hypothesis prints the falsifying example by name
        return self.name


def _unknown_key(_: Path, doc: dict[str, Any]) -> None:
    doc["colour"] = "blue"


def _bad_zone(_: Path, doc: dict[str, Any]) -> None:
    doc["timezone"] = "Mars/Olympus"


def _rules_typo(root: Path, _: dict[str, Any]) -> None:
    members = root / "rules" / "members.yaml"
    text = members.read_text(encoding="utf-8")
    members.write_text(text.replace("buddies: [bob]", "buddies: [bobb]"), encoding="utf-8")


def _made_up_numbers(_: Path, doc: dict[str, Any]) -> None:
    doc["allow_placeholder_numbers"] = False


def _admin_stranger(_: Path, doc: dict[str, Any]) -> None:
    doc["admin"] = "zoe"


def _probe_stranger(_: Path, doc: dict[str, Any]) -> None:
    doc["canary"] = {"to": "nobody"}


def _partner_is_us(_: Path, doc: dict[str, Any]) -> None:
    doc["signal"]["number"] = "+1 202-555-0150"  # partner bristol's, in rules/peers.yaml


def _partner_has_our_key(root: Path, _: dict[str, Any]) -> None:
    # The admin pasted this relay's own `peer-relay identity` for partner leeds.
    own = Sealer(load_key(root / "data", root / "keys" / "relay.key")).peer_public_key()
    peers = root / "rules" / "peers.yaml"
    text = peers.read_text(encoding="utf-8")
    sample = "ed25519:avsodMKuPOVwwDN+ECcZCRklaoCNUGdiqwZFjlkAI0Q="
    assert sample in text
    peers.write_text(text.replace(sample, encode_public(own)), encoding="utf-8")


def _data_dir_is_a_file(root: Path, _: dict[str, Any]) -> None:
    shutil.rmtree(root / "data")
    (root / "data").write_text("not a folder\n", encoding="utf-8")


def _another_key(root: Path, _: dict[str, Any]) -> None:
    (root / "keys" / "relay.key").unlink()
    init_data_dir(root / "keys")  # a new, valid key: not the one the database was sealed with


def _key_open_to_others(root: Path, _: dict[str, Any]) -> None:
    (root / "keys" / "relay.key").chmod(0o644)


def _newer_schema(root: Path, _: dict[str, Any]) -> None:
    with sqlite3.connect(root / "data" / DB_NAME) as db:
        db.execute(f"PRAGMA user_version={newest_schema() + 5}")
    db.close()


# Made in this order: the database is written before the data directory is made a file.
DEFECTS = (
    Defect("unknown key", _unknown_key, "colour: unknown key", EXIT_CONFIG, config_level=True),
    Defect("bad zone", _bad_zone, "timezone: is not a known time zone", EXIT_CONFIG, True),
    Defect("rules typo", _rules_typo, "'bobb' is not a member", EXIT_CONFIG),
    Defect("made-up numbers", _made_up_numbers, "made-up", EXIT_CONFIG),
    Defect("admin", _admin_stranger, "admin: 'zoe' is not a member in the rules", EXIT_CONFIG),
    Defect("canary.to", _probe_stranger, "canary.to: 'nobody' is not a member", EXIT_CONFIG),
    Defect(
        "partner is us",
        _partner_is_us,
        "signal.number: this relay's own number is partner 'bristol'",
        EXIT_CONFIG,
    ),
    Defect("schema", _newer_schema, f"is at schema {newest_schema() + 5}", EXIT_SCHEMA),
    Defect("data_dir", _data_dir_is_a_file, "data_dir: ", EXIT_CONFIG),
    Defect("another key", _another_key, "does not open this database", EXIT_KEY),
    Defect(
        "partner has our key",
        _partner_has_our_key,
        "peers.partners.leeds.key: this relay's own key",
        EXIT_CONFIG,
    ),
    Defect("key mode", _key_open_to_others, "open to group or others", EXIT_KEY),
)


def make_relay(root: Path, defects: frozenset[Defect] = frozenset()) -> Path:
    """A config that `run` accepts (the sample rules, a key, a database), then the defects."""
    shutil.copytree(REPO / "rules", root / "rules")
    init_data_dir(root / "keys")  # named by key_file: apart from data_dir, as on a key stick
    (root / "data").mkdir(mode=0o700)
    key = Sealer(load_key(root / "data", root / "keys" / "relay.key"))
    asyncio.run(_first_start(root / "data", key))

    doc = yaml.safe_load((REPO / "config.sample.yaml").read_text(encoding="utf-8"))
    doc.update(
        rules_dir=str(root / "rules"),
        data_dir=str(root / "data"),
        key_file=str(root / "keys" / "relay.key"),
        admin="dana",
        allow_placeholder_numbers=True,
    )
    for defect in DEFECTS:
        if defect in defects:
            defect.make(root, doc)
    config = root / "config.yaml"
    config.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return config


async def _first_start(data_dir: Path, sealer: Sealer) -> None:
    """What a relay's first start leaves: the migrated database, its key's check value sealed."""
    db = await Database.open(data_dir)
    await check_key(db, sealer)
    await db.close()


def lines(startup: Startup) -> list[str]:
    return [problem.line for problem in startup.problems]


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.frozensets(st.sampled_from(DEFECTS)))
def test_run_refuses_exactly_what_check_reports_and_every_mistake_has_its_line(
    defects: frozenset[Defect],
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        config = make_relay(Path(tmp), defects)
        checked = startup_check(config, "check")
        started = startup_check(config, "run")

    assert lines(started) == lines(checked)
    assert started.exit_code == checked.exit_code
    shown = "\n".join(lines(checked))
    unreadable = any(d.config_level for d in defects)  # it names the rules and the data: unread
    no_folder = any(d.name == "data_dir" for d in defects)  # so no database in it to read
    # Who is a member is known once the rules load; until then admin and canary.to wait.
    no_rules = any(d.name in ("rules typo", "made-up numbers") for d in defects)
    # Whether a key opens the database is asked of a key that loads and a schema it knows.
    no_key = any(d.name in ("key mode", "schema", "data_dir") for d in defects)
    hidden = {
        d
        for d in defects
        if (unreadable and not d.config_level)
        or (no_folder and d.name == "schema")
        or (no_rules and d.name in ("admin", "canary.to", "partner is us", "partner has our key"))
        or (no_key and d.name == "another key")
        # A key that does not load is compared with nothing.
        or (d.name == "partner has our key" and any(x.name == "key mode" for x in defects))
    }
    for defect in defects - hidden:
        assert defect.says in shown, (defect, shown)
    for defect in hidden:
        assert defect.says not in shown
    codes = {d.exit_code for d in defects - hidden}
    expected = next((c for c in (EXIT_CONFIG, EXIT_KEY, EXIT_SCHEMA) if c in codes), EXIT_OK)
    assert started.exit_code == expected
    if not defects:
        assert started.config is not None and started.rules is not None
        assert started.sealer is not None  # everything a relay starts with
        assert checked.sealer is not None  # the key was checked too, not skipped


def test_check_prints_what_run_refuses_in_one_go(tmp_path: Path) -> None:
    """As a person runs them: the same lines, `check` exit 1 and `run` exit 78, no traceback."""
    config = make_relay(
        tmp_path,
        frozenset(d for d in DEFECTS if d.name in ("admin", "canary.to", "key mode", "schema")),
    )
    check = _peer_relay("check", "--config", str(config))
    run = _peer_relay("run", "--config", str(config))
    assert check.returncode == EXIT_CHECK_FAILED
    assert run.returncode == EXIT_CONFIG
    printed = check.stdout.splitlines()
    assert len(printed) == 4, printed
    assert run.stderr.splitlines() == [f"peer-relay: {line}" for line in printed]
    admin, probe, key, schema = printed
    assert admin == f"{config}:{_line(config, 'admin')}: admin: 'zoe' is not a member in the rules"
    assert probe.startswith(f"{config}:{_line(config, '  to:')}: canary.to: 'nobody'")
    assert key.startswith(f"{tmp_path / 'keys' / 'relay.key'}: key file is open")
    assert schema.startswith(f"{tmp_path / 'data' / DB_NAME}: the database is at schema")
    assert "Traceback" not in check.stderr + run.stderr


def test_a_clean_config_passes_check_and_says_what_it_did_not_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = make_relay(tmp_path)
    doc = yaml.safe_load(config.read_text(encoding="utf-8"))
    doc["key_file"] = None  # the key comes from systemd's LoadCredential=, as deployed
    config.write_text(yaml.safe_dump(doc), encoding="utf-8")
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    out = io.StringIO()
    assert run_config_check(config, None, out) == EXIT_OK, out.getvalue()
    shown = out.getvalue().splitlines()
    assert any("the key was not checked" in line for line in shown)
    socket = doc["signal"]["socket"]  # the sample's /run/signal-cli-rest-api/socket: none here
    assert any(f"signal.socket: {socket} is not there (yet)" in line for line in shown)
    assert shown[-1] == f"{config}: OK"


def test_a_partner_that_is_this_relay_is_refused_at_its_line(tmp_path: Path) -> None:
    config = make_relay(
        tmp_path,
        frozenset(d for d in DEFECTS if d.name in ("partner is us", "partner has our key")),
    )
    startup = startup_check(config, "run")
    assert startup.exit_code == EXIT_CONFIG
    number, key = lines(startup)
    assert number.startswith(f"{config}:{_line(config, '  number:')}: signal.number: ")
    peers = tmp_path / "rules" / "peers.yaml"
    key_line = _line(peers, "      key:", occurrence=2)  # leeds is the second partner
    assert key.startswith(f"{peers}:{key_line}: peers.partners.leeds.key: this relay's own key")
    assert lines(startup_check(config, "check")) == lines(startup)


def test_a_data_dir_open_to_others_is_a_warning_not_a_refusal(tmp_path: Path) -> None:
    config = make_relay(tmp_path)
    (tmp_path / "data").chmod(0o755)
    startup = startup_check(config, "run")
    assert not startup.problems
    assert any("open to group or others (mode 0755)" in note for note in startup.notes)


def _line(config: Path, start: str, occurrence: int = 1) -> int:
    text = config.read_text(encoding="utf-8").splitlines()
    found = [n for n, line in enumerate(text, 1) if line.startswith(start)]
    return found[occurrence - 1]


def _peer_relay(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "relay", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def test_a_newer_schema_stops_run_with_exit_65_in_one_line(tmp_path: Path) -> None:
    config = make_relay(tmp_path, frozenset(d for d in DEFECTS if d.name == "schema"))
    run = _peer_relay("run", "--config", str(config))
    assert run.returncode == EXIT_SCHEMA == 65
    assert run.stderr.splitlines() == [
        f"peer-relay: {tmp_path / 'data' / DB_NAME}: the database is at schema "
        f"{newest_schema() + 5}, this peer-relay knows up to {newest_schema()}: it was used by "
        "a newer peer-relay; install that version again (or restore a backup made by this one)"
    ]
    check = _peer_relay("check", "--config", str(config))
    assert check.returncode == EXIT_CHECK_FAILED
    assert check.stdout.splitlines() == [run.stderr.splitlines()[0].removeprefix("peer-relay: ")]
    status = _peer_relay("status", "--config", str(config))  # opens the database itself
    assert status.returncode == EXIT_SCHEMA
    assert "the database is at schema" in status.stderr and "Traceback" not in status.stderr
    # None opened the database it refused for writing: no write-ahead log beside it.
    assert not (tmp_path / "data" / f"{DB_NAME}-wal").exists()
    assert not (tmp_path / "data" / f"{DB_NAME}-shm").exists()


def test_a_newer_schema_found_only_when_migrating_is_exit_65_too(tmp_path: Path) -> None:
    """The version bump still in the write-ahead log (a crash before any checkpoint): the check
    reads the main file only and passes; the migration itself refuses, with the same exit."""
    config = make_relay(tmp_path)
    db_path = tmp_path / "data" / DB_NAME
    bump = (
        "import os, sqlite3, sys\n"
        "db = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        "db.execute('PRAGMA journal_mode=WAL')\n"
        "db.execute('PRAGMA wal_autocheckpoint=0')\n"
        f"db.execute('PRAGMA user_version={newest_schema() + 1}')\n"
        "os._exit(0)  # as kill -9: no checkpoint, the bump stays in relay.db-wal\n"
    )
    subprocess.run([sys.executable, "-c", bump, str(db_path)], check=True, timeout=60)
    assert (tmp_path / "data" / f"{DB_NAME}-wal").stat().st_size > 0
    assert not startup_check(config, "check").problems  # what the check can see
    run = _peer_relay("run", "--config", str(config))
    assert run.returncode == EXIT_SCHEMA
    assert run.stderr.splitlines() == [
        f"peer-relay: {db_path}: the database is at schema {newest_schema() + 1}, this "
        f"peer-relay knows up to {newest_schema()}: it was used by a newer peer-relay; install "
        "that version again (or restore a backup made by this one)"
    ]
