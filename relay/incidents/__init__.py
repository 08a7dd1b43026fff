"""Each member's own incident log: LOG, EXPORT, and ``peer-relay verify``.

- `IncidentLogFeature` — the feature the engine installs (`relay.feature_set`).
- `run_verify(path, out)` — the CLI's ``verify`` subcommand.
- `purge_expired_entries` — the retention job's call (``retention.incident_logs``).
- `fingerprint(sealer.public_key_bytes())` — the relay key as people compare it.
"""

from relay.incidents.chain import fingerprint
from relay.incidents.feature import IncidentLogFeature
from relay.incidents.retention import purge_expired_entries
from relay.incidents.verify import check_document, run_verify

__all__ = [
    "IncidentLogFeature",
    "check_document",
    "fingerprint",
    "purge_expired_entries",
    "run_verify",
]
