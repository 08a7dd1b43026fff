"""Delivery-aware alerts: what reached whose phone (receipts), and alerts that reached no phone
moving on by themselves. `relay.core.delivery` says what the facts mean; the tables are
`relay.store.deliveries`."""

from relay.features.delivery.tracker import Tracker

__all__ = ["Tracker"]
