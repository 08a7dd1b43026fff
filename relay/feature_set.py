"""The features a running relay installs (see `relay.features`). One line each."""

from __future__ import annotations

from typing import TYPE_CHECKING

from relay.features import Feature, LegacyFeature
from relay.forget import ForgetFeature
from relay.incidents import IncidentLogFeature
from relay.reports import ReportsFeature
from relay.store.db import Database

if TYPE_CHECKING:
    from relay.attachments import AttachmentVault


def default_features(
    db: Database, vault: AttachmentVault | None = None
) -> list[Feature | LegacyFeature]:
    """``db``: FORGET empties the WAL once her rows are gone; ``vault``: where photos are kept
    (None keeps none)."""
    features: list[Feature | LegacyFeature] = []
    features.append(ReportsFeature(vault))
    features.append(IncidentLogFeature(vault))
    features.append(ForgetFeature(db, vault))
    return features
