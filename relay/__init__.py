"""peer-relay: a collective's Signal safety desk.

Flow: signal-cli-rest-api → relay.signal (envelopes → events) → relay.core (decide) →
relay.store (commit) → relay.runtime.sender (send) → signal-cli-rest-api.
"""

__version__ = "0.1.0"
