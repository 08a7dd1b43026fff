"""The relay's own config file (where things are), validated at start and by `peer-relay check`.

The rules (who the members are, who watches whom) live elsewhere: `relay.rules`.
"""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import phonenumbers
import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

from relay.core.durations import parse_duration

DEFAULT_SOCKET = Path("/run/signal-cli-rest-api/socket")
"""Where the Ansible role (signal_cli_rest_api, receive_socket.yml) puts signal-cli's socket."""
UNIX_PATH_MAX = 107  # sun_path is 108 bytes with its terminating NUL

_HOST_PORT = re.compile(r"^(?P<host>\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(?P<port>\d{1,5})$")


def _duration(value: object) -> object:
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | str):
        parsed = parse_duration(str(value))
        if parsed is None or parsed <= timedelta(0):
            raise ValueError("must be a duration like 90s, 10m or 1h30m")
        return parsed
    raise ValueError("must be a duration like 90s, 10m or 1h30m")


Duration = Annotated[timedelta, BeforeValidator(_duration)]


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SignalSection(_Closed):
    service: str = Field(description="host:port of signal-cli-rest-api (json-rpc mode)")
    number: str = Field(description="the relay's own Signal number, E.164")
    request_timeout: Duration = Field(
        default=timedelta(seconds=20),
        description="give up on one HTTP request after this long (then retry)",
    )
    receive: Literal["socket", "websocket"] = Field(
        default="socket",
        description=(
            "socket: read from signal-cli's own JSON-RPC socket in --receive-mode=manual, so "
            "messages wait on Signal's servers while the relay is down; websocket: the fallback "
            "for a stock container, which loses every message arriving while the relay is not "
            "connected (restarts, container restarts, every boot)"
        ),
    )
    socket: Path = Field(
        default=DEFAULT_SOCKET,
        description="signal-cli's JSON-RPC UNIX socket (receive: socket)",
    )

    @field_validator("service")
    @classmethod
    def _host_port(cls, value: str) -> str:
        match = _HOST_PORT.match(value)
        if match is None or not 0 < int(match["port"]) < 65536:
            raise ValueError("must be host:port, e.g. 127.0.0.1:8080")
        return value

    @field_validator("socket")
    @classmethod
    def _socket_path(cls, value: Path) -> Path:
        if not value.is_absolute():
            raise ValueError("must be an absolute path, e.g. /run/signal-cli-rest-api/socket")
        if len(str(value).encode()) > UNIX_PATH_MAX:
            raise ValueError(f"is longer than a UNIX socket path may be ({UNIX_PATH_MAX} bytes)")
        return value

    @field_validator("number")
    @classmethod
    def _e164(cls, value: str) -> str:
        try:
            parsed = phonenumbers.parse(value, None)
        except phonenumbers.NumberParseException:
            raise ValueError("must be an international number starting with +") from None
        if not phonenumbers.is_possible_number(parsed):
            raise ValueError("is not a possible phone number")
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


class OutboxSection(_Closed):
    retry_cap: Duration = Field(
        default=timedelta(minutes=2),
        description="longest wait between two tries of the same message",
    )
    alert_undelivered_after: Duration = Field(
        default=timedelta(minutes=2),
        description="tell the admin when an alert is still unsent after this long",
    )
    wipe_after: Duration = Field(
        default=timedelta(seconds=30),
        description="once everything is sent, how soon the database's write-ahead log is "
        "emptied of what was sent (0: at once)",
    )


class CanarySection(_Closed):
    """The end-to-end check that messages still reach phones (relay.runtime.canary)."""

    enabled: bool = Field(default=True, description="run the end-to-end check")
    every: Duration = Field(
        default=timedelta(hours=1),
        description="send a probe when nothing has proved delivery for this long",
    )
    timeout: Duration = Field(
        default=timedelta(minutes=5),
        description="how long a phone's delivery receipt may take before it counts as a miss",
    )
    misses: int = Field(
        default=2, ge=1, le=10, description="misses in a row before the admin and members are told"
    )
    to: str | None = Field(
        default=None,
        description="member alias, or an E.164 number, the probe goes to (default: the admin)",
    )

    @field_validator("to")
    @classmethod
    def _alias_or_number(cls, value: str | None) -> str | None:
        if value is None or not value.startswith("+"):
            return value
        return SignalSection._e164(value)


class DiskSection(_Closed):
    """The free-space check on the data directory's disk (relay.runtime.disk)."""

    low_free_mb: int = Field(
        default=500,
        ge=1,
        description="tell the admin when less than this many MB are free for the data directory",
    )
    check_every: Duration = Field(
        default=timedelta(minutes=30), description="how often the free space is looked at"
    )


class Config(_Closed):
    signal: SignalSection
    rules_dir: Path
    data_dir: Path
    key_file: Path | None = None
    admin: str = Field(description="alias of the member who receives the relay's own notices")
    timezone: str = Field(description="the collective's IANA time zone, e.g. Europe/London")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    outbox: OutboxSection = OutboxSection()
    canary: CanarySection = CanarySection()
    disk: DiskSection = DiskSection()
    allow_placeholder_numbers: bool = Field(
        default=False,
        description="accept the sample rules' made-up numbers (the demo and tests only)",
    )

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError("is not a known time zone (e.g. Europe/London)") from None
        return value


@dataclass(frozen=True)
class ConfigInvalid(Exception):
    """The config file cannot be used; `issues` are one line each, naming file, line and key."""

    issues: list[str]

    def __str__(self) -> str:
        return "\n".join(self.issues)


def _key_lines(node: yaml.Node, prefix: tuple[str, ...], out: dict[tuple[str, ...], int]) -> None:
    out[prefix] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = (*prefix, str(key_node.value))
            out[key] = key_node.start_mark.line + 1
            _key_lines(value_node, key, out)


def key_line(path: Path, *keys: str) -> int | None:
    """The line (from 1) where ``keys`` (e.g. ``"canary", "to"``) is written in the config file,
    for a problem found after loading it; None when it cannot be read again."""
    try:
        node = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except (OSError, ValueError, yaml.YAMLError):
        return None
    lines: dict[tuple[str, ...], int] = {}
    if node is not None:
        _key_lines(node, (), lines)
    return lines.get(keys)


def _refuse_anchors(name: str, text: str) -> None:
    """The config is a page of plain keys: anchors, aliases and merges have no use in it, and
    nested merges (``<<: [*a, *a]``) make a safe loader's work double with each level. One pass
    over the parser's events (linear in the text) refuses them before anything is built."""
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            line = event.start_mark.line + 1 if event.start_mark is not None else 1
            problem = "anchors and aliases (&name, *name, <<) are not used in the config"
            raise ConfigInvalid([f"{name}:{line}: {problem}"])


def load_config(path: Path) -> Config:
    """Read and validate the config file; raise `ConfigInvalid` with every problem at once."""
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigInvalid([f"{name}: cannot read the config file ({exc.strerror})"]) from None
    try:
        _refuse_anchors(name, text)
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{mark.line + 1}:" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise ConfigInvalid([f"{name}:{where} {problem}"]) from None
    if not isinstance(data, dict):
        raise ConfigInvalid(
            [f"{name}:1: the config must be a mapping of keys (see config.sample.yaml)"]
        )
    lines: dict[tuple[str, ...], int] = {}
    if node is not None:
        _key_lines(node, (), lines)
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        issues = []
        for error in exc.errors():
            loc = tuple(str(part) for part in error["loc"])
            line = next((lines[loc[:n]] for n in range(len(loc), -1, -1) if loc[:n] in lines), 1)
            key = ".".join(loc) or "(top)"
            message = error["msg"].removeprefix("Value error, ")
            if error["type"] == "extra_forbidden":
                message = "unknown key (check the spelling against config.sample.yaml)"
            elif error["type"] == "missing":
                message = "is required"
            issues.append(f"{name}:{line}: {key}: {message}")
        raise ConfigInvalid(issues) from None
