"""Log hygiene ("no logs are good logs"): aliases and ids only, tracebacks without their messages.

An exception's message can quote what it choked on — a pydantic error quotes the input, an HTTP
error the URL with a number in it — so every traceback the relay prints keeps only exception
types and code locations. signalbot and the HTTP/WebSocket libraries log raw envelopes and sent
text at INFO: they are held at WARNING, and their records pass through the same formatter.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import traceback
from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from relay.crypto.seal import Sealer

NOISY = ("signalbot", "websockets", "aiohttp", "aiosqlite", "apscheduler", "asyncio")


def redact_exception(
    exc_type: type[BaseException] | None,
    exc: BaseException | None,
    tb: TracebackType | None,
) -> str:
    """A traceback with file, line and function of every frame, and no message text."""
    lines = ["Traceback (messages redacted):"]
    seen: set[int] = set()
    current: BaseException | None = exc
    chain: list[BaseException] = []
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append(current)
        current = current.__cause__ or current.__context__
    for item in reversed(chain):
        for frame in traceback.extract_tb(item.__traceback__):
            lines.append(f'  File "{frame.filename}", line {frame.lineno}, in {frame.name}')
        lines.append(f"{type(item).__module__}.{type(item).__qualname__}")
    if not chain and exc_type is not None:
        lines.append(exc_type.__qualname__)
    return "\n".join(lines)


class RedactingFormatter(logging.Formatter):
    def formatException(self, ei: Any) -> str:
        return redact_exception(*ei)

    def formatStack(self, stack_info: str) -> str:
        return "(stack omitted)"

    def format(self, record: logging.LogRecord) -> str:
        if record.name.split(".")[0] in NOISY and record.name != "relay":
            # Third-party messages may embed envelopes or URLs; keep only where and what kind.
            record = logging.makeLogRecord(record.__dict__)
            record.msg = f"{record.levelname.lower()} from {record.name} (details withheld)"
            record.args = None
        return super().format(record)


def watch_ref(sealer: Sealer, watch_id: str) -> str:
    """How the journal names a watch: 8 hex digits of a keyed hash of its row id.

    Opaque (it names no member, no kind of alert) and stable (the lines about one watch can be
    followed), yet not the row id itself: a journal and a seized database cannot be joined
    without the key.
    """
    return sealer.lookup(watch_id or "-", purpose="log-watch")[:4].hex()


def setup_logging(level: str = "INFO", stream: Any = None) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in NOISY:
        logging.getLogger(name).setLevel(logging.WARNING)
    sys.excepthook = _excepthook


def _excepthook(
    exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
) -> None:
    sys.stderr.write(redact_exception(exc_type, exc, tb) + "\n")


def asyncio_exception_handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """Replaces asyncio's default handler, which prints the exception message and the context."""
    exc = context.get("exception")
    logging.getLogger("relay").error(
        "unhandled error in a background task (%s)",
        type(exc).__name__ if exc is not None else "no exception",
        exc_info=(type(exc), exc, exc.__traceback__) if exc is not None else None,
    )
