"""relay.runtime.systemd against a real AF_UNIX datagram socket standing in for systemd's notify
socket."""

import os
import secrets
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from relay.runtime import systemd


@pytest.fixture
def notify_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    """A bound datagram socket at a path, advertised in $NOTIFY_SOCKET as systemd does."""
    path = tmp_path / "notify"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        sock.settimeout(5)
        monkeypatch.setenv("NOTIFY_SOCKET", str(path))
        yield sock


def test_notify_delivers_all_states_in_one_datagram(notify_socket: socket.socket) -> None:
    assert systemd.notify(systemd.READY, systemd.status("3 check-ins open")) is True
    assert notify_socket.recv(4096) == b"READY=1\nSTATUS=3 check-ins open"


def test_notify_sends_each_keepalive_as_its_own_datagram(notify_socket: socket.socket) -> None:
    assert systemd.notify(systemd.WATCHDOG)
    assert systemd.notify(systemd.STOPPING)
    assert notify_socket.recv(4096) == b"WATCHDOG=1"
    assert notify_socket.recv(4096) == b"STOPPING=1"


def test_notify_reaches_an_abstract_namespace_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"peer-relay-test-{secrets.token_hex(8)}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(5)
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        assert systemd.notify(systemd.READY) is True
        assert sock.recv(4096) == b"READY=1"


@pytest.mark.parametrize("value", [None, "", "vsock:2:1234", "relative/path"])
def test_notify_is_a_no_op_outside_systemd(
    value: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    if value is None:
        monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    else:
        monkeypatch.setenv("NOTIFY_SOCKET", value)
    assert systemd.notify(systemd.READY) is False


def test_notify_reports_false_when_nobody_listens(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The socket file exists but its owner is gone (systemd restarted): a failed keep-alive,
    # which the watchdog itself will notice, not a crash of the relay.
    path = tmp_path / "stale"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    assert systemd.notify(systemd.WATCHDOG) is False


def test_notify_with_no_states_sends_nothing(notify_socket: socket.socket) -> None:
    assert systemd.notify() is False
    notify_socket.setblocking(False)
    with pytest.raises(BlockingIOError):
        notify_socket.recv(4096)


@pytest.mark.parametrize("state", ["STATUS=ok\nREADY=1", "READY", "=1", "STATUS=a\0b"])
def test_notify_refuses_a_state_that_could_smuggle_another(
    state: str, notify_socket: socket.socket
) -> None:
    with pytest.raises(ValueError, match="single KEY=value line") as caught:
        systemd.notify(state)
    # The refusal must not echo the text (a status could carry something private by mistake).
    assert state not in str(caught.value)
    notify_socket.setblocking(False)
    with pytest.raises(BlockingIOError):
        notify_socket.recv(4096)


def test_watchdog_interval_reads_microseconds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    assert systemd.watchdog_interval() == 30.0


def test_watchdog_interval_without_pid_applies_to_us(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "1500000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    assert systemd.watchdog_interval() == 1.5


def test_watchdog_interval_for_another_process_is_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid() + 1))
    assert systemd.watchdog_interval() is None


@pytest.mark.parametrize(
    ("usec", "pid"),
    [(None, None), ("", ""), ("0", ""), ("-5", ""), ("soon", ""), ("30000000", "me")],
)
def test_watchdog_interval_is_none_when_unset_or_malformed(
    usec: str | None, pid: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in (("WATCHDOG_USEC", usec), ("WATCHDOG_PID", pid)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    assert systemd.watchdog_interval() is None
