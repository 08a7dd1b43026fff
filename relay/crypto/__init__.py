"""Encryption at rest: the master key (`keys`) and everything sealed, tagged or signed with it
(`seal`); partner relays' public keys as admins write and compare them (`peer_keys`)."""

from relay.crypto.keys import KeyProblem, MasterKey, init_data_dir, load_key
from relay.crypto.seal import JsonValue, Sealer, TamperedError, aad_for, new_row_key

__all__ = [
    "JsonValue",
    "KeyProblem",
    "MasterKey",
    "Sealer",
    "TamperedError",
    "aad_for",
    "init_data_dir",
    "load_key",
    "new_row_key",
]
