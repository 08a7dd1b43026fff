"""The simulator with its HTTP face: `SimulatorCore` (relay.sim.server) plus the routes of the
real API (relay.sim.routes) and of the controls (relay.sim.control). Kept apart so that the route
modules, which need the core's type, and the core, which is served by them, import nothing of
each other's circle."""

from __future__ import annotations

import asyncio

from aiohttp import web

from relay.sim.control import control_routes
from relay.sim.routes import gin_middleware, real_api_routes
from relay.sim.server import DEFAULT_ACCOUNT, SimulatorCore


class SignalSim(SimulatorCore):
    """The simulator. ``async with SignalSim() as sim:`` or ``await sim.start()`` / ``stop()``."""

    def app(self) -> web.Application:
        app = web.Application(middlewares=[gin_middleware(self)])
        app.add_routes(real_api_routes(self))
        app.add_routes(control_routes(self))
        return app


async def serve_forever(
    host: str = "127.0.0.1", port: int = 8080, account: str = DEFAULT_ACCOUNT
) -> None:
    """Run a simulator until cancelled (``peer-relay sim --port N``); logs, never prints."""
    async with SignalSim(account, host=host, port=port):
        await asyncio.Event().wait()
