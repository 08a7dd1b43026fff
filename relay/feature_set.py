"""The features a running relay installs (see `relay.features`). One line each."""

from __future__ import annotations

from relay.features import Feature, LegacyFeature
from relay.forget import ForgetFeature
from relay.incidents import IncidentLogFeature
from relay.reports import ReportsFeature


def default_features() -> list[Feature | LegacyFeature]:
    features: list[Feature | LegacyFeature] = []
    features.append(ReportsFeature())
    features.append(IncidentLogFeature())
    features.append(ForgetFeature())
    return features
