"""The running relay around the pure core: the inbound pipeline, timers, sending, supervision."""
