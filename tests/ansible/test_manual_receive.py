"""The reviewed entrypoint that starts signal-cli in manual receive mode (the signal_cli_rest_api
role, templates/manual-receive.sh.j2), run with `sh` on files shaped like what the image writes:
it edits signal-cli's supervisor program exactly as reviewed, and refuses — exit 1, the reason on
stderr — whenever the image no longer has the reviewed shape (so the container does not start in
a mode that loses messages). Also the unit, the socket directory and the relay's side."""

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

SOCKET = "/run/signal-cli-socket/socket"
# The supervisor program as signal-cli-rest-api 0.101's jsonrpc2-helper writes it (its template in
# src/scripts/jsonrpc2-helper.go, with this role's environment: trust mode and three --ignore-*).
COMMAND = (
    "command=signal-cli --output=json --config /home/.local/share/signal-cli/"
    " --trust-new-identities on-first-use daemon "
    " --ignore-stories --ignore-avatars --ignore-stickers --tcp 127.0.0.1:6001"
)
PROGRAM = f"""
[program:signal-cli-json-rpc-1]
process_name=signal-cli-json-rpc-1
{COMMAND}
autostart=true
autorestart=true
startretries=10
user=signal-api
directory=/usr/bin/
redirect_stderr=true
stdout_logfile=/var/log/signal-cli-json-rpc-1/out.log
stderr_logfile=/var/log/signal-cli-json-rpc-1/err.log
stdout_logfile_maxbytes=50MB
stdout_logfile_backups=10
numprocs=1
"""
# The lines of the image's entrypoint.sh the edit relies on (a stand-in: the helper on a line of
# its own, then supervisor started).
ENTRYPOINT = """#!/bin/sh
set -e
echo before
/usr/bin/jsonrpc2-helper
service supervisor start
supervisorctl start all
"""

pytestmark = pytest.mark.skipif(shutil.which("sh") is None, reason="needs a POSIX sh")


def _script(rendered: dict[str, str], tmp_path: Path) -> Path:
    path = tmp_path / "manual-receive.sh"
    path.write_text(rendered["manual-receive.sh"], encoding="utf-8")
    return path


def _run(script: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sh", str(script), *args],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/bin:/bin", **env},
    )


def test_it_is_valid_sh(rendered: dict[str, str], tmp_path: Path) -> None:
    result = subprocess.run(["sh", "-n", str(_script(rendered, tmp_path))], check=False)
    assert result.returncode == 0


def test_patch_puts_signal_cli_in_manual_mode_with_a_socket_and_no_message_log(
    rendered: dict[str, str], tmp_path: Path
) -> None:
    conf = tmp_path / "signal-cli-json-rpc-1.conf"
    conf.write_text(PROGRAM, encoding="utf-8")
    result = _run(_script(rendered, tmp_path), "patch", PEER_RELAY_SUPERVISOR_CONF=str(conf))
    assert result.returncode == 0, result.stderr
    lines = conf.read_text(encoding="utf-8").splitlines()
    command = next(line for line in lines if line.startswith("command="))
    argv = shlex.split(command.removeprefix("command="))
    assert argv[:2] == ["/bin/sh", "-c"]
    script = argv[2]
    assert script.startswith(f"rm -f {SOCKET}; exec signal-cli --output=json ")
    signal_cli = shlex.split(script.split("; exec ", 1)[1])
    daemon = signal_cli.index("daemon")
    options = signal_cli[daemon + 1 :]
    # Daemon options, after "daemon"; everything the image had is still there.
    assert options[:4] == ["--receive-mode=manual", "--no-receive-stdout", "--socket", SOCKET]
    assert options[-2:] == ["--tcp", "127.0.0.1:6001"]
    assert signal_cli[:daemon] == [
        "signal-cli",
        "--output=json",
        "--config",
        "/home/.local/share/signal-cli/",
        "--trust-new-identities",
        "on-first-use",
    ]
    assert {"--ignore-stories", "--ignore-avatars", "--ignore-stickers"} <= set(options)
    program = lines.index("[program:signal-cli-json-rpc-1]")
    assert lines[program + 1] == "umask=007"
    # Nothing else changed.
    unchanged = [x for x in PROGRAM.splitlines() if not x.startswith("command=")]
    assert [x for x in lines if not x.startswith(("command=", "umask="))] == unchanged


@pytest.mark.parametrize(
    "change",
    [
        ("--tcp 127.0.0.1:6001", "--tcp 127.0.0.1:7583"),  # another port, another layout
        (" daemon ", " jsonRpc "),  # not the daemon any more
        ("daemon  ", "daemon --receive-mode=on-start "),  # the image sets a mode itself now
        ("[program:signal-cli-json-rpc-1]", "[program:signal-cli]"),  # renamed program
        ("command=signal-cli", "command=/usr/bin/env signal-cli"),  # wrapped differently
    ],
)
def test_patch_refuses_a_changed_program(
    rendered: dict[str, str], tmp_path: Path, change: tuple[str, str]
) -> None:
    conf = tmp_path / "signal-cli-json-rpc-1.conf"
    changed = PROGRAM.replace(*change)
    conf.write_text(changed, encoding="utf-8")
    result = _run(_script(rendered, tmp_path), "patch", PEER_RELAY_SUPERVISOR_CONF=str(conf))
    assert result.returncode == 1
    assert "REFUSING TO START" in result.stderr
    assert conf.read_text(encoding="utf-8") == changed  # refused before touching it


def test_patch_refuses_to_apply_twice_and_a_missing_file(
    rendered: dict[str, str], tmp_path: Path
) -> None:
    conf = tmp_path / "signal-cli-json-rpc-1.conf"
    conf.write_text(PROGRAM, encoding="utf-8")
    script = _script(rendered, tmp_path)
    assert _run(script, "patch", PEER_RELAY_SUPERVISOR_CONF=str(conf)).returncode == 0
    again = _run(script, "patch", PEER_RELAY_SUPERVISOR_CONF=str(conf))
    assert again.returncode == 1 and "REFUSING" in again.stderr
    missing = _run(script, "patch", PEER_RELAY_SUPERVISOR_CONF=str(tmp_path / "none.conf"))
    assert missing.returncode == 1 and "wrote no" in missing.stderr


def test_start_runs_the_images_entrypoint_with_the_patch_after_the_helper(
    rendered: dict[str, str], tmp_path: Path
) -> None:
    entry = tmp_path / "entrypoint.sh"
    entry.write_text(ENTRYPOINT, encoding="utf-8")
    patched = tmp_path / "patched.sh"
    result = _run(
        _script(rendered, tmp_path),
        PEER_RELAY_ENTRYPOINT=str(entry),
        PEER_RELAY_PATCHED_ENTRYPOINT=str(patched),
    )
    # The image's entrypoint ran (here its helper does not exist, so it stops there: set -e).
    assert "before" in result.stdout
    assert result.returncode != 0
    lines = patched.read_text(encoding="utf-8").splitlines()
    helper = lines.index("/usr/bin/jsonrpc2-helper && /opt/peer-relay/manual-receive.sh patch")
    assert lines[helper + 1] == "service supervisor start"
    assert len(lines) == len(ENTRYPOINT.splitlines())


@pytest.mark.parametrize(
    "entrypoint",
    [
        ENTRYPOINT.replace("/usr/bin/jsonrpc2-helper\n", "/usr/local/bin/jsonrpc2-helper\n"),
        ENTRYPOINT.replace("/usr/bin/jsonrpc2-helper\n", "    /usr/bin/jsonrpc2-helper\n"),
        ENTRYPOINT + "/usr/bin/jsonrpc2-helper\n",
        ENTRYPOINT.replace("service supervisor start\n", "supervisord -c /etc/supervisord.conf\n"),
    ],
)
def test_start_refuses_an_entrypoint_it_was_not_reviewed_for(
    rendered: dict[str, str], tmp_path: Path, entrypoint: str
) -> None:
    entry = tmp_path / "entrypoint.sh"
    entry.write_text(entrypoint, encoding="utf-8")
    result = _run(
        _script(rendered, tmp_path),
        PEER_RELAY_ENTRYPOINT=str(entry),
        PEER_RELAY_PATCHED_ENTRYPOINT=str(tmp_path / "patched.sh"),
    )
    assert result.returncode == 1
    assert "REFUSING TO START" in result.stderr
    assert "before" not in result.stdout  # nothing of the image's ran


def _exec_start(unit: str) -> str:
    return re.search(r"^ExecStart=(.*?[^\\])$", unit.replace("\\\n", "\\ "), re.M | re.S)[1]  # type: ignore[index]


def test_the_unit_runs_the_reviewed_entrypoint_and_shares_the_socket_directory(
    rendered: dict[str, str],
) -> None:
    start = " ".join(_exec_start(rendered["signal-cli-rest-api.service"]).split())
    assert "--entrypoint /opt/peer-relay/manual-receive.sh" in start
    assert (
        "--volume /etc/signal-cli-rest-api/manual-receive.sh:/opt/peer-relay/manual-receive.sh:ro"
        in start
    )
    assert "--volume /run/signal-cli-rest-api:/run/signal-cli-socket" in start
    assert start.index("--entrypoint") < start.index("docker.io/bbernhard/signal-cli-rest-api")
    tmpfiles = rendered["signal-cli-socket.tmpfiles"].splitlines()
    assert "d /run/signal-cli-rest-api 2750 signal-cli signal-cli-socket -" in tmpfiles
    relay = rendered["peer-relay.service"]
    assert "SupplementaryGroups=signal-cli-socket" in relay.splitlines()
    config = yaml.safe_load(rendered["config.yaml"])
    assert config["signal"]["receive"] == "socket"
    assert config["signal"]["socket"] == "/run/signal-cli-rest-api/socket"


def test_the_websocket_fallback_keeps_the_stock_container(render: object) -> None:
    fallback = render({"signal_cli_rest_api_receive_socket": False})  # type: ignore[operator]
    start = _exec_start(fallback["signal-cli-rest-api.service"])
    assert "--entrypoint" not in start and "signal-cli-socket" not in start
    assert "SupplementaryGroups" not in fallback["peer-relay.service"]
    assert yaml.safe_load(fallback["config.yaml"])["signal"]["receive"] == "websocket"
