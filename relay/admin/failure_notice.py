"""`peer-relay failure-notice`: tells the admin over Signal that a unit of the relay stopped.

systemd runs it from ``OnFailure=`` of peer-relay.service (a crash, a kill, the watchdog, exit 65,
77 or 78, or 243 when systemd cannot load the key) and of peer-relay-backup.service. It must work
when what broke is the relay itself, so it needs neither the database nor the key nor valid
rules: it reads the config and the admin's number from the rules files as leniently as it can,
and posts one message straight to signal-cli-rest-api's ``/v2/send``.

What happened comes from systemd (251 and later) in ``$MONITOR_SERVICE_RESULT``,
``$MONITOR_EXIT_CODE`` and ``$MONITOR_EXIT_STATUS``. A crash loop is told once: failures of the
same unit less than ``quiet`` seconds apart are one loop, and a loop is told at its first failure.
A stop that systemd will not retry (exit 65, 77 or 78) and a failed backup are always told.

Owns: deciding whether and what to tell (pure: ``decide``), finding the admin's number without
the relay's models, and the one HTTP request. Logs and prints no number and no message text.
"""

from __future__ import annotations

import json
import os
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import phonenumbers
import yaml

from relay.exitcodes import EXIT_CONFIG, EXIT_KEY, EXIT_OK, EXIT_SCHEMA

EXIT_NOT_TOLD = 1
# systemd's own exit status when LoadCredential= cannot read the key file (a missing key stick).
_EXIT_CREDENTIALS = "243"

# How often and how patiently the one message is tried: signal-cli-rest-api may be restarting too.
_TRIES = 4
_PAUSE_S = 5.0
_TIMEOUT_S = 15.0


@dataclass(frozen=True)
class Failure:
    """What systemd says about the stop (the unit's name and the MONITOR_* variables)."""

    unit: str
    result: str  # MONITOR_SERVICE_RESULT: exit-code, signal, core-dump, watchdog, timeout, …
    exit_code: str  # MONITOR_EXIT_CODE: exited, killed, dumped
    exit_status: str  # MONITOR_EXIT_STATUS: a number for "exited", a signal name otherwise

    @classmethod
    def from_environment(cls, unit: str, env: Mapping[str, str]) -> Failure:
        return cls(
            unit=unit,
            result=env.get("MONITOR_SERVICE_RESULT", ""),
            exit_code=env.get("MONITOR_EXIT_CODE", ""),
            exit_status=env.get("MONITOR_EXIT_STATUS", ""),
        )

    @property
    def kind(self) -> str:
        """config, key, schema, backup, watchdog or crash."""
        if self.unit.startswith("peer-relay-backup"):
            return "backup"
        if self.exit_code == "exited" and self.exit_status == str(EXIT_CONFIG):
            return "config"
        if self.exit_code == "exited" and self.exit_status in (str(EXIT_KEY), _EXIT_CREDENTIALS):
            return "key"
        if self.exit_code == "exited" and self.exit_status == str(EXIT_SCHEMA):
            return "schema"
        if self.result == "watchdog":
            return "watchdog"
        return "crash"

    @property
    def how(self) -> str:
        """How it ended, in a few words (no content: codes and signal names only)."""
        if self.exit_code == "exited":
            return f"exit {self.exit_status}"
        if self.exit_code in ("killed", "dumped") and self.exit_status:
            return f"signal {self.exit_status}"
        return self.result or "unknown"


def decide(
    failure: Failure, now: float, state: dict[str, Any], quiet: float
) -> tuple[bool, dict[str, Any]]:
    """Return (tell?, new state). `state` maps a unit to its last failure and whether its loop
    was told; failures less than `quiet` seconds apart belong to one loop."""
    previous = state.get(failure.unit)
    entry = previous if isinstance(previous, dict) else {}
    last = entry.get("last_failure")
    same_loop = isinstance(last, int | float) and 0 <= now - last < quiet
    if failure.kind in ("config", "key", "schema", "backup"):
        # Not retried by systemd (or one run of a daily job): each one needs the admin.
        tell = True
    else:
        tell = not (same_loop and entry.get("told") is True)
    told = tell or (same_loop and entry.get("told") is True)
    new_state = {**state, failure.unit: {"last_failure": now, "told": told}}
    return tell, new_state


def compose(failure: Failure, host: str) -> str:
    """The message for the admin: what stopped, and what to do. Plain, short, no member data."""
    unit = failure.unit.removesuffix(".service")
    where = f"on {host}" if host else "on the relay's box"
    logs = f"`journalctl -u {unit}` {where} says why."
    if failure.kind == "config":
        return (
            f"peer-relay has stopped {where}: its config or rules are invalid ({failure.how}). "
            "It will not restart by itself, so members' messages and deadlines wait until it runs "
            f"again. Find the mistake with `peer-relay check` ({logs}), fix it, then "
            "`sudo systemctl restart peer-relay`."
        )
    if failure.kind == "key":
        return (
            f"peer-relay has stopped {where}: its key is missing or unreadable ({failure.how}); "
            "was the key stick pulled out? It will not restart by itself. Put the key back, then "
            f"`sudo systemctl restart peer-relay`. {logs}"
        )
    if failure.kind == "schema":
        return (
            f"peer-relay has stopped {where}: its database was written by a newer version of "
            f"peer-relay than the one installed ({failure.how}), so this one cannot use it. It "
            "will not restart by itself. Install that newer version again (or restore a backup "
            f"made by this one), then `sudo systemctl restart peer-relay`. {logs}"
        )
    if failure.kind == "backup":
        return (
            f"Last night's backup of peer-relay failed {where} ({failure.how}). Is the backup "
            f"drive plugged in and not full? {logs} The relay itself keeps running."
        )
    what = (
        "stopped answering systemd's watchdog and was killed"
        if failure.kind == "watchdog"
        else f"crashed ({failure.how})"
    )
    return (
        f"peer-relay {what} {where}; systemd restarts it by itself, and deadlines missed meanwhile "
        "fire when it is back. If it keeps failing you will not be told again for a while: check "
        f"`systemctl status peer-relay`. {logs}"
    )


def _e164(raw: object) -> str | None:
    if not isinstance(raw, str):
        return None
    try:
        parsed = phonenumbers.parse(raw, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _yaml_mapping(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return {}
    return data if isinstance(data, dict) else {}


def admin_recipient(rules_dir: Path, admin: str) -> str | None:
    """The admin's number (or Signal UUID) from the rules files, read leniently: a file with a
    mistake is skipped, since invalid rules are one of the things this notice reports."""
    try:
        files = sorted(p for p in rules_dir.iterdir() if p.suffix in (".yaml", ".yml"))
    except OSError:
        return None
    for path in files:
        members = _yaml_mapping(path).get("members")
        if not isinstance(members, dict):
            continue
        member = members.get(admin)
        if not isinstance(member, dict):
            continue
        number = _e164(member.get("number"))
        if number is not None:
            return number
        uuid = member.get("uuid")
        if isinstance(uuid, str) and uuid:
            return uuid
    return None


@dataclass(frozen=True)
class Route:
    """Where the notice goes: signal-cli-rest-api's host:port, the relay's number, the admin."""

    service: str
    number: str
    to: str


def route_from_config(config_path: Path, to: str | None) -> Route | str:
    """Read the config leniently; return the route, or the reason there is none (no values)."""
    data = _yaml_mapping(config_path)
    signal = data.get("signal")
    if not isinstance(signal, dict):
        return f"{config_path}: no signal section could be read"
    service = signal.get("service")
    number = _e164(signal.get("number"))
    if not isinstance(service, str) or ":" not in service or number is None:
        return f"{config_path}: signal.service or signal.number could not be read"
    if to is None:
        admin = data.get("admin")
        rules_dir = data.get("rules_dir")
        if not isinstance(admin, str) or not isinstance(rules_dir, str):
            return f"{config_path}: admin or rules_dir could not be read"
        to = admin_recipient(Path(rules_dir), admin)
        if to is None:
            return "the admin's number could not be found in the rules"
    return Route(service=service, number=number, to=to)


def send(route: Route, text: str, *, tries: int = _TRIES, pause: float = _PAUSE_S) -> str | None:
    """POST the message to /v2/send; None when signal-cli-rest-api took it, else why not."""
    body = json.dumps({"message": text, "number": route.number, "recipients": [route.to]})
    # The URL is http://host:port of signal-cli-rest-api from the config (loopback).
    request = urllib.request.Request(
        f"http://{route.service}/v2/send",
        data=body.encode("utf-8"),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    problem = "not tried"
    for attempt in range(tries):
        if attempt:
            time.sleep(pause)
        try:
            with urllib.request.urlopen(request, timeout=_TIMEOUT_S) as response:  # noqa: S310 -- as above
                if 200 <= response.status < 300:
                    return None
                problem = f"HTTP {response.status}"
        except urllib.error.HTTPError as exc:
            problem = f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError) as exc:
            problem = type(getattr(exc, "reason", exc)).__name__
    return f"signal-cli-rest-api did not take it ({problem})"


def _load_state(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _save_state(path: Path, state: dict[str, Any]) -> None:
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(state), encoding="utf-8")
    partial.replace(path)


def run_failure_notice(
    config_path: Path,
    unit: str,
    state_dir: Path | None,
    quiet: float,
    to: str | None,
    out: TextIO,
    env: Mapping[str, str] | None = None,
) -> int:
    """Tell the admin (once per crash loop); 0 when told or deliberately quiet, 1 when not told."""
    failure = Failure.from_environment(unit, os.environ if env is None else env)
    state_path = state_dir / "state.json" if state_dir is not None else None
    state = _load_state(state_path) if state_path is not None else {}
    tell, new_state = decide(failure, time.time(), state, quiet)
    if not tell:
        out.write(
            f"{unit}: {failure.kind} ({failure.how}) in a loop already told; not told again\n"
        )
        if state_path is not None:
            _save_state(state_path, new_state)
        return EXIT_OK
    route = route_from_config(config_path, to)
    if isinstance(route, str):
        out.write(f"{unit}: the admin could not be told: {route}\n")
        return EXIT_NOT_TOLD
    problem = send(route, compose(failure, socket.gethostname()))
    if problem is not None:
        # Not remembered as told: the next failure tries again.
        out.write(f"{unit}: the admin could not be told: {problem}\n")
        return EXIT_NOT_TOLD
    if state_path is not None:
        _save_state(state_path, new_state)
    out.write(f"{unit}: {failure.kind} ({failure.how}) told to the admin over Signal\n")
    return EXIT_OK
