"""The features a running relay installs (see `relay.features.base`). One line each."""

from __future__ import annotations

from typing import TYPE_CHECKING

from relay.features.base import Feature
from relay.features.forget import ForgetFeature
from relay.features.incidents import IncidentLogFeature
from relay.features.reports import ReportsFeature
from relay.store.db import Database

if TYPE_CHECKING:
    from relay.runtime.vault import AttachmentVault


def default_features(db: Database, vault: AttachmentVault | None = None) -> list[Feature]:
    """``db``: FORGET empties the WAL once her rows are gone; ``vault``: where photos are kept
    (None keeps none)."""
    return [ReportsFeature(vault), IncidentLogFeature(vault), ForgetFeature(db, vault)]
