"""The features a running relay installs (see `relay.features.base`). One line each."""

from __future__ import annotations

from typing import TYPE_CHECKING

from relay.features.base import Feature
from relay.features.forget import ForgetFeature
from relay.features.incidents import IncidentLogFeature
from relay.features.peers.post import PeerPost
from relay.features.peers.sharing import SharingFeature
from relay.features.reports import ReportsFeature
from relay.store.db import Database

if TYPE_CHECKING:
    from relay.runtime.vault import AttachmentVault


def default_features(
    db: Database, post: PeerPost, vault: AttachmentVault | None = None
) -> list[Feature]:
    """``db``: FORGET empties the WAL once her rows are gone; ``post``: signs what goes to
    partner relays (SHARE, retractions); ``vault``: where photos are kept (None keeps none)."""
    return [
        ReportsFeature(vault, post),
        SharingFeature(post),
        IncidentLogFeature(vault),
        ForgetFeature(db, vault),
    ]
