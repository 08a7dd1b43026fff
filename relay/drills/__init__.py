"""Practice drills (DRILL, `peer-relay drill`, the rules' schedule) in a running relay; the
decisions are `relay.core.drills`."""

from relay.drills.runtime import REQUEST_PREFIX, REQUESTS, Drills
from relay.drills.store import DrillStore

__all__ = ["REQUESTS", "REQUEST_PREFIX", "DrillStore", "Drills"]
