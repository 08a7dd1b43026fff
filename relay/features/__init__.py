"""Features beyond check-ins: bad-client reports, incident logs, FORGET, drills, delivery news,
the welcome. `base` is the interface they implement; `installed` the set a relay runs."""
