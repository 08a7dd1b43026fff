"""Each member's own incident log: LOG, EXPORT, and ``peer-relay verify``.

- `IncidentLogFeature(vault)` — the feature the desk installs (`relay.features.installed`); what
it
  answers is decided in `relay.features.incidents.answers` (pure), new entries are made by
  `relay.features.incidents.entries`, and stored by `relay.store.incident_log`.
- `run_verify(path, out)` — the CLI's ``verify`` subcommand.
- `purge_expired_entries` — the retention job's call (``retention.incident_logs``).
- `fingerprint(sealer.public_key_bytes())` — the relay key as people compare it.
"""

from relay.features.incidents.hashchain import fingerprint
from relay.features.incidents.logbook import IncidentLogFeature
from relay.features.incidents.pruning import purge_expired_entries
from relay.features.incidents.verify import check_document, run_verify

__all__ = [
    "IncidentLogFeature",
    "check_document",
    "fingerprint",
    "purge_expired_entries",
    "run_verify",
]
