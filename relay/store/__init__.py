"""The store: one SQLite file (WAL) holding watches, the outbox and what is needed to de-duplicate.

Every sensitive value is sealed with the relay key before it reaches SQL (`relay.crypto`); the
columns SQL can see are phases, times and keyed tags.
"""
