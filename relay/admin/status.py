"""`peer-relay status`: what an admin checks first when something seems wrong.

Reads the config (and says which way messages come in, and what that way loses), asks
signal-cli-rest-api for its version and mode, reads the running relay's
status file (receive loop, end-to-end check) and the database for the outbox backlog and live
check-ins, and today's exchange with each partner relay (by the label the rules give it).
Prints counts and ages only — no names, numbers or text.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TextIO

from relay.admin.opening import open_config
from relay.crypto.seal import Sealer
from relay.exitcodes import EXIT_CHECK_FAILED, EXIT_OK
from relay.rules import RulesInvalid, load_rules
from relay.rules.model import Partner
from relay.runtime.watchdog import report_status_file
from relay.signal.transport import SignalTransport
from relay.store import peers
from relay.store.db import Database
from relay.store.outbox import OutboxRepo
from relay.store.watches import WatchRepo


def run_status(config_path: Path, out: TextIO) -> int:
    opened = open_config(config_path, out)
    if isinstance(opened, int):
        return opened
    config, sealer = opened
    out.write(receive_line(config.signal.receive, config.signal.socket) + "\n")
    socket_found = config.signal.receive != "socket" or _is_socket(config.signal.socket)
    if not socket_found:
        out.write(f"receive: NO SOCKET at {config.signal.socket} (is signal-cli in manual mode?)\n")
    try:
        partners = load_rules(
            config.rules_dir, allow_placeholders=config.allow_placeholder_numbers
        ).peers.partners
    except RulesInvalid:
        out.write("rules: do not load (peer-relay check --config shows why)\n")
        partners = {}
    code = asyncio.run(
        _status(config.signal.service, config.signal.number, config.data_dir, sealer, out, partners)
    )
    return code if socket_found else EXIT_CHECK_FAILED


def _today(
    sealer: Sealer, partner_number: str, now: datetime, conn: sqlite3.Connection
) -> tuple[int, int, int]:
    """Warnings sent to a partner relay today, taken from it, and its messages refused."""
    return (
        peers.count(conn, sealer, partner_number, "sent", now),
        peers.count(conn, sealer, partner_number, "accepted", now),
        peers.count(conn, sealer, partner_number, "refused", now),
    )


def _is_socket(path: Path) -> bool:
    try:
        return path.is_socket()
    except OSError:
        return True  # not ours to look into (run as another user): the relay's own word follows


def receive_line(receive: str, socket: Path) -> str:
    """Which way messages come in, and what that way loses (config `signal.receive`)."""
    if receive == "websocket":
        return (
            "receive: signal-cli-rest-api's WebSocket (fallback, signal.receive: websocket) — "
            "messages that arrive while the relay is not connected are LOST: at every relay "
            "restart, container restart and boot (docs/deploy.md)"
        )
    return (
        f"receive: signal-cli's JSON-RPC socket {socket}, manual receive mode — messages wait "
        "on Signal's servers while the relay is down"
    )


async def _status(
    service: str,
    number: str,
    data_dir: Path,
    sealer: Sealer,
    out: TextIO,
    partners: Mapping[str, Partner],
) -> int:
    healthy = True
    transport = SignalTransport(service, number, timeout=5)
    try:
        about = await transport.about()
    finally:
        await transport.close()
    if about is None:
        out.write(f"signal-cli-rest-api: NOT REACHABLE at {service}\n")
        healthy = False
    else:
        mode = about.get("mode")
        ok = mode == "json-rpc"
        healthy &= ok
        out.write(
            f"signal-cli-rest-api: {about.get('version')} in {mode} mode"
            f"{'' if ok else ' — the relay needs json-rpc mode'}\n"
        )
    # The running relay's own view: receive loop, end-to-end check, watchdog
    # (relay.runtime.watchdog).
    healthy &= report_status_file(data_dir, out)
    db = await Database.open(data_dir)
    try:
        backlog, oldest = await OutboxRepo(db, sealer).backlog()
        live = await WatchRepo(db, sealer).count_live()
        strangers = await db.counter("strangers")
        today = datetime.now(UTC)
        exchanged = [
            (label, await db.run(partial(_today, sealer, partner.number, today)))
            for label, partner in partners.items()
        ]
    finally:
        await db.close()
    age = "" if oldest is None else f", oldest since {oldest:%Y-%m-%d %H:%M} UTC"
    out.write(f"outbox: {backlog} waiting{age}\n")
    out.write(f"live check-ins and alerts: {live}\n")
    out.write(f"messages from unknown numbers (ignored): {strangers}\n")
    for label, (sent, taken, refused) in exchanged:
        out.write(f"partner {label} today (UTC): {sent} sent, {taken} taken, {refused} refused\n")
    return EXIT_OK if healthy else EXIT_CHECK_FAILED
