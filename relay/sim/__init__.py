"""A simulator of signal-cli-rest-api 0.101 in json-rpc mode, for tests, the demo and benchmarks.

HTTP and WebSocket on 127.0.0.1, faithful to ``reference/`` (swagger, receive envelopes, and
the real server's odd corners), with fault injection from Python (``SignalSim.faults`` and the
connection methods) and over HTTP (``/sim/``, see ``relay.sim.control``).

    async with SignalSim(account="+12025550100") as sim:
        # signalbot 2.2.1 exports SignalAPI only from signalbot._client
        api = SignalAPI(sim.service, sim.account, connection_mode=ConnectionMode.HTTP_ONLY)
        since = len(sim.sent)
        await sim.member_sends("+12025550101", "IN 10m Hotel Rex", name="Alice")
        reply = await sim.wait_for_sent(lambda s: s.reached("+12025550101"), since=since)
        await sim.member_reacts("+12025550101", to=reply.timestamp)  # 👍 on the relay's reply
        sim.faults.fail_sends("untrusted", recipients=["+12025550102"])
        await sim.drop_websockets()
        # A second account in the same container (another relay): what one sends the other
        # arrives there as a message from the sender's number.
        sim.add_account("+12025550150", name="Night Owls")
        await sim.member_sends("+12025550101", "STATUS", account="+12025550150")

Faults and what "stuck" means: ``relay.sim.faults``. Wire shapes: ``relay.sim.envelopes``.
"""

from relay.sim.directory import SimGroup
from relay.sim.envelopes import Malformed, Party
from relay.sim.faults import Faults, SendFailure
from relay.sim.records import InboundAttachment, SentAttachment, SentMessage, SimStats
from relay.sim.server import DEFAULT_ACCOUNT
from relay.sim.simulator import SignalSim, serve_forever

__all__ = [
    "DEFAULT_ACCOUNT",
    "Faults",
    "InboundAttachment",
    "Malformed",
    "Party",
    "SendFailure",
    "SentAttachment",
    "SentMessage",
    "SignalSim",
    "SimGroup",
    "SimStats",
    "serve_forever",
]
