"""The simulator with a stopwatch: when each `/v2/send` and each receive WebSocket arrived.

`SignalSim` records what was sent; the benchmarks also need *when*, on the same clock as the
frames they push (`time.perf_counter`), and the wall time to compare with deadlines.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from aiohttp import web

from relay.sim import SentMessage, SignalSim


@dataclass(frozen=True, slots=True)
class Arrival:
    perf: float  # time.perf_counter() when the send was answered
    wall: float  # time.time() at the same moment
    sent: SentMessage


class TimedSim(SignalSim):
    def __init__(self, account: str, **kwargs: object) -> None:
        super().__init__(account, **kwargs)  # type: ignore[arg-type]
        self.arrivals: list[Arrival] = []
        self.connected_at: list[float] = []  # perf_counter() of each receive WebSocket

    def record_sent(self, sent: SentMessage) -> None:
        self.arrivals.append(Arrival(time.perf_counter(), time.time(), sent))
        super().record_sent(sent)

    def add_client(self, number: str, request: web.Request, ws: web.WebSocketResponse):  # type: ignore[no-untyped-def]
        self.connected_at.append(time.perf_counter())
        return super().add_client(number, request, ws)

    @property
    def send_requests(self) -> int:
        return self.requests.get("POST /v2/send", 0)
