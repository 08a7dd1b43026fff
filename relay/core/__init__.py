"""The pure core: text → intents, check-in and alert state machine, message rendering.

Nothing in this package does I/O or reads a clock: `now` is always passed in.
"""
