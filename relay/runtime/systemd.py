"""Talks to systemd's service manager: readiness, watchdog keep-alives, status (sd_notify protocol).

Pure stdlib, no libsystemd. The protocol is one datagram of newline-separated ``KEY=value`` lines
sent to the AF_UNIX socket named by ``$NOTIFY_SOCKET`` (a path, or ``@name`` for the abstract
namespace). Outside systemd the variable is unset and every call is a cheap no-op, so the daemon
calls these functions unconditionally.

The daemon decides *when* to ping: it must stop sending ``WATCHDOG=1`` as soon as its receive loop
or timer loop stalls, so that systemd kills and restarts it (``WatchdogSec=`` in the unit).
"""

import os
import socket

READY = "READY=1"
"""Start-up finished: the store is open, the rules are loaded, Signal is reachable."""

WATCHDOG = "WATCHDOG=1"
"""Keep-alive; send at about half of :func:`watchdog_interval`."""

STOPPING = "STOPPING=1"
"""Clean shutdown has begun (SIGTERM received)."""

RELOADING = "RELOADING=1"
"""A rules reload has begun; follow it with :data:`READY` when done."""


def status(text: str) -> str:
    """Return a ``STATUS=`` line for ``systemctl status``.

    The status is world-readable: pass counts and states only, never member content or numbers.
    """
    return f"STATUS={text}"


def notify(*states: str) -> bool:
    """Send ``states`` (e.g. :data:`READY`, :data:`WATCHDOG`) to systemd in one datagram.

    Returns True when systemd accepted the datagram, False when not running under systemd (no
    ``$NOTIFY_SOCKET``, or a socket type this module does not speak) or when sending failed; a
    failed keep-alive is what the watchdog exists to notice, so it is not an exception here.
    Raises ValueError for a state that is not a single ``KEY=value`` line: a newline inside a
    STATUS text would otherwise smuggle in another state, such as ``READY=1``.
    """
    for state in states:
        key, sep, _ = state.partition("=")
        if not sep or not key or "\n" in state or "\0" in state:
            raise ValueError("a notify state must be a single KEY=value line")
    address = _socket_address(os.environ.get("NOTIFY_SOCKET", ""))
    if address is None or not states:
        return False
    payload = "\n".join(states).encode("utf-8")
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.sendto(payload, address)
    except OSError:
        return False
    return True


def watchdog_interval() -> float | None:
    """Return systemd's watchdog timeout in seconds, or None when no watchdog applies to us.

    Reads ``$WATCHDOG_USEC`` (set from ``WatchdogSec=``). ``$WATCHDOG_PID``, when set, names the
    process the watchdog is meant for; a child process that inherited the variables gets None.
    Callers ping at half the returned interval, as sd_watchdog_enabled(3) advises.
    """
    raw_usec = os.environ.get("WATCHDOG_USEC", "")
    raw_pid = os.environ.get("WATCHDOG_PID", "")
    try:
        usec = int(raw_usec)
        pid = int(raw_pid) if raw_pid else os.getpid()
    except ValueError:
        return None
    if usec <= 0 or pid != os.getpid():
        return None
    return usec / 1_000_000


def _socket_address(raw: str) -> str | None:
    """Translate ``$NOTIFY_SOCKET`` into an address for ``sendto``, or None if unusable."""
    if raw.startswith("@"):
        # Abstract namespace: the kernel wants a leading NUL instead of the '@'.
        return "\0" + raw[1:]
    if raw.startswith("/"):
        return raw
    # Unset, empty, or a vsock: address (systemd >= 253 in VMs), which a Pi never hands us.
    return None
