"""`peer-relay link`: make the relay a linked device of a phone's Signal account, from a terminal.

signal-cli-rest-api (json-rpc mode) starts a link at ``GET /v1/qrcodelink/raw?device_name=N`` and
returns the device-link URI (``sgnl://linkdevice?uuid=…&pub_key=…``); it finishes the link by
itself once the phone has scanned that URI as a QR code. This command shows the QR code in the
terminal (Unicode half blocks: two rows of modules per line, so it fits 80 columns and survives an
SSH session) and then watches ``/v1/accounts`` until the relay's number appears there.

The URI is a one-time secret for whoever scans it first: it is shown on the terminal only, never
logged, and a fresh one is made each run.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import TextIO
from urllib.parse import quote

import aiohttp

from relay.admin.qr import qr_lines
from relay.config import ConfigInvalid, load_config
from relay.exitcodes import EXIT_CHECK_FAILED, EXIT_CONFIG, EXIT_OK, EXIT_SIGNAL
from relay.signal.transport import SignalTransport

POLL_EVERY = 2.0


def run_link(
    config_path: Path, device_name: str, out: TextIO, wait: float = 300.0, poll: float = POLL_EVERY
) -> int:
    try:
        config = load_config(config_path)
    except ConfigInvalid as exc:
        out.write(f"{exc}\n")
        return EXIT_CONFIG
    return asyncio.run(
        link(config.signal.service, config.signal.number, device_name, out, wait, poll)
    )


async def link(
    service: str,
    number: str,
    device_name: str,
    out: TextIO,
    wait: float = 300.0,
    poll: float = POLL_EVERY,
) -> int:
    """Show the link QR code and wait (up to `wait` seconds) for the phone to scan it."""
    if not device_name.strip():
        out.write("peer-relay link: the device name must not be empty\n")
        return EXIT_CHECK_FAILED
    transport = SignalTransport(service, number, timeout=30)
    try:
        about = await transport.about()
        if about is None:
            out.write(f"signal-cli-rest-api is not reachable at {service}; is it running?\n")
            return EXIT_SIGNAL
        if about.get("mode") != "json-rpc":
            out.write(f"signal-cli-rest-api runs in {about.get('mode')} mode; set MODE=json-rpc\n")
            return EXIT_SIGNAL
        before = await _accounts(transport)
        if before is None:
            out.write("signal-cli-rest-api did not list its accounts; try again\n")
            return EXIT_SIGNAL
        if number in before:
            out.write("the relay's number is already registered or linked in signal-cli\n")
            return EXIT_OK
        uri, problem = await _link_uri(transport, device_name)
        if uri is None:
            out.write(f"signal-cli-rest-api could not start linking: {problem}\n")
            return EXIT_SIGNAL
        out.write(
            "On the phone that has the relay's number: Signal → Settings → Linked devices → "
            "“+” (Link new device), and scan:\n\n"
        )
        out.write("\n".join(qr_lines(uri)) + "\n\n")
        out.write(
            "(If the phone cannot read it, the terminal has a light background: switch to a "
            "dark one, or see docs/deploy.md for the browser way.)\n"
        )
        out.write(f"Waiting up to {round(wait)} s for the phone…\n")
        out.flush()
        return await _wait_for(transport, number, before, out, wait, poll)
    finally:
        await transport.close()


async def _accounts(transport: SignalTransport) -> set[str] | None:
    try:
        status, body = await transport.get("/v1/accounts")
    except (TimeoutError, aiohttp.ClientError):
        return None
    if status != 200:
        return None
    try:
        data = json.loads(body)
    except ValueError:
        return None
    return {a for a in data if isinstance(a, str)} if isinstance(data, list) else None


async def _link_uri(transport: SignalTransport, device_name: str) -> tuple[str | None, str]:
    try:
        status, body = await transport.get(
            f"/v1/qrcodelink/raw?device_name={quote(device_name, safe='')}"
        )
    except (TimeoutError, aiohttp.ClientError) as exc:
        return None, type(exc).__name__
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if status == 200 and isinstance(data, dict) and isinstance(data.get("device_link_uri"), str):
        return data["device_link_uri"], ""
    reason = data.get("error") if isinstance(data, dict) else None
    return None, f"HTTP {status}" + (f" ({reason})" if isinstance(reason, str) else "")


async def _wait_for(
    transport: SignalTransport,
    number: str,
    before: set[str],
    out: TextIO,
    wait: float,
    poll: float,
) -> int:
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        await asyncio.sleep(poll)
        now = await _accounts(transport)
        if now is None:
            continue
        if number in now:
            out.write(
                "Linked. signal-cli now has the relay's number; run the playbook again "
                "(or start the relay) — docs/deploy.md, section 5.\n"
            )
            return EXIT_OK
        if now - before:
            out.write(
                "A different account was linked than signal.number in the config: check that "
                "you scanned with the relay's phone, and the number in the config.\n"
            )
            return EXIT_CHECK_FAILED
    out.write("Not linked in time. Run the command again for a fresh code.\n")
    return EXIT_CHECK_FAILED
