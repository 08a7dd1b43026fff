"""The features a running relay installs (see `relay.features`). One line each."""

from __future__ import annotations

from relay.features import Feature


def default_features() -> list[Feature]:
    features: list[Feature] = []
    return features
