"""Practice drills (DRILL, `peer-relay drill`, the rules' schedule) in a running relay; the
decisions are `relay.core.drills`, the tables `relay.store.practice`."""

from relay.features.drills.runtime import REQUEST_PREFIX, REQUESTS, Drills

__all__ = ["REQUESTS", "REQUEST_PREFIX", "Drills"]
