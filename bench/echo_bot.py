"""The baseline: a bare `signalbot.SignalBot` with one handler that answers every message.

Run as `python -m bench.echo_bot SERVICE NUMBER`; it talks to the simulator over HTTP and the
receive WebSocket exactly as the relay does, keeps its storage in memory and logs nothing but
warnings, so its latency and memory are the floor anything built on signalbot stands on.
"""

from __future__ import annotations

import logging
import sys

from signalbot import ConnectionMode, SignalBot
from signalbot.context import DataMessageContext
from signalbot.handlers import DataMessageHandler
from signalbot.messages import SendMessage


class Echo(DataMessageHandler):
    async def handle_data_message(self, context: DataMessageContext) -> None:
        await context.send(SendMessage(text="got it"))


def main(argv: list[str]) -> int:
    service, number = argv
    bot = SignalBot(
        {
            "signal_service": service,
            "phone_number": number,
            "storage": {"type": "in-memory"},
            "connection_mode": ConnectionMode.HTTP_ONLY,
            "download_attachments": False,
            "logging_level": logging.WARNING,
        }
    )
    bot.register(Echo())
    bot.start()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
