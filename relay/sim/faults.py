"""The faults a test can switch on, and what each does to a ``/v2/send``.

Owns the fault *state* only; ``relay.sim.send`` reads it to decide a send's outcome and
``relay.sim.server`` performs the connection-level faults (refused connects, websocket drops).

Per-recipient failures follow signal-cli's own rule (``SendMessageResultUtils.outputResult``):
when at least one recipient of a batch succeeds the server answers 201 and lists the others in
``errors.recipients``; when none succeeds it answers 400 "untrusted recipient keys" if all were
identity failures, 429 with challenge tokens if all were rate limits, else 400 "Failed to send
message". So a one-recipient send never gets a 201 with errors; a group or multi-number send can.

"Stuck" means signal-cli has stalled behind a healthy HTTP front: ``/v1/health`` stays 204, every
``/v2/send`` is answered 201 with fresh timestamps but nothing reaches anyone (``delivered_to`` is
empty), and inbound frames wait (as on Signal's servers) until the fault is lifted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class SendFailure(StrEnum):
    """How ``/v2/send`` fails (see the module docstring for the all-vs-some rule)."""

    UNTRUSTED = "untrusted"  # IDENTITY_FAILURE; all → 400 untrusted recipient keys
    RATE_LIMIT = "rate_limit"  # RATE_LIMIT_FAILURE with a challenge token; all → 429
    NETWORK = "network"  # NETWORK_FAILURE; all → 400 "Failed to send message"
    INVALID_PRE_KEY = "invalid_pre_key"  # INVALID_PRE_KEY_FAILURE; all → 400
    UNREGISTERED = "unregistered"  # a direct recipient → 400 "The user … is not registered."
    SERVER_ERROR = "server_error"  # 500 with an empty body (gin's Recovery after a panic)


RESULT_TYPE: dict[SendFailure, str] = {
    SendFailure.UNTRUSTED: "IDENTITY_FAILURE",
    SendFailure.RATE_LIMIT: "RATE_LIMIT_FAILURE",
    SendFailure.NETWORK: "NETWORK_FAILURE",
    SendFailure.INVALID_PRE_KEY: "INVALID_PRE_KEY_FAILURE",
    SendFailure.UNREGISTERED: "UNREGISTERED_FAILURE",
}
"""signal-cli's per-recipient result type for each per-recipient failure."""


@dataclass
class SendRule:
    """One ``fail_sends`` order: which sends it hits and how many are left."""

    kind: SendFailure
    remaining: int | None = None  # sends it still hits; None until cleared
    recipients: frozenset[str] | None = None  # numbers or UUIDs; None: every recipient
    trusted: set[str] = field(default_factory=set)  # UNTRUSTED only: trusted since via PUT

    def hits(self, identities: Iterable[str]) -> bool:
        """Whether the rule hits a recipient known by any of ``identities``."""
        ids = set(identities)
        if self.kind is SendFailure.UNTRUSTED and ids & self.trusted:
            return False
        return self.recipients is None or bool(ids & self.recipients)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "remaining": self.remaining,
            "recipients": sorted(self.recipients) if self.recipients is not None else None,
        }


@dataclass
class HangRule:
    remaining: int | None = None
    cap_s: float = 300.0


class Faults:
    """Fault state, settable at any time; every change wakes whoever waits on it."""

    def __init__(self) -> None:
        self.latency_ms: int = 0
        self.health_status: int | None = None  # None: healthy (204)
        self.rules: list[SendRule] = []
        self.hang: HangRule | None = None
        self._stuck = False
        self._release = asyncio.Event()
        self._release.set()
        self._listeners: list[Callable[[], None]] = []

    # -- send faults -------------------------------------------------------------------------

    def fail_sends(
        self,
        kind: SendFailure | str,
        *,
        count: int | None = None,
        recipients: Iterable[str] | None = None,
    ) -> SendRule:
        """The next ``count`` sends (None: all, until cleared) fail as ``kind``.

        ``recipients`` limits a per-recipient kind to those numbers/UUIDs (others succeed);
        for ``rate_limit`` and ``server_error`` without recipients the whole request fails.
        """
        rule = SendRule(
            kind=SendFailure(kind),
            remaining=count,
            recipients=frozenset(recipients) if recipients is not None else None,
        )
        self.rules.append(rule)
        self._notify()
        return rule

    def hang_sends(self, *, count: int | None = None, cap_s: float = 300.0) -> None:
        """The next ``count`` sends (None: all) get no answer until ``clear()`` or ``cap_s``.

        A released send then runs normally, so a client that gave up meanwhile may find its
        message delivered after all (as when signal-cli answers late).
        """
        self.hang = HangRule(remaining=count, cap_s=cap_s)
        if self._release.is_set():
            self._release = asyncio.Event()
        self._notify()

    def release_hung(self) -> None:
        """Answer every hanging send now and stop hanging new ones."""
        self.hang = None
        self._release.set()
        self._notify()

    def trust(self, identifier: str, *aliases: str) -> None:
        """``PUT /v1/identities/…/trust/{identifier}``: sends to her stop failing as untrusted."""
        for rule in self.rules:
            if rule.kind is SendFailure.UNTRUSTED:
                rule.trusted.update((identifier, *aliases))
        self._notify()

    # -- other faults ------------------------------------------------------------------------

    def fail_health(self, status: int = 503) -> None:
        """``/v1/health`` answers ``status`` instead of 204 (stuck alone never does this)."""
        self.health_status = status
        self._notify()

    @property
    def stuck(self) -> bool:
        return self._stuck

    @stuck.setter
    def stuck(self, value: bool) -> None:
        self._stuck = value
        self._notify()

    def clear(self) -> None:
        """Back to a healthy server: no latency, no failures, hung sends answered, not stuck."""
        self.latency_ms = 0
        self.health_status = None
        self.rules.clear()
        self._stuck = False
        self.release_hung()

    # -- for the send handler ----------------------------------------------------------------

    def take_hang(self) -> tuple[asyncio.Event, float] | None:
        """If this send must hang: the event that releases it and the cap; counts it."""
        if self.hang is None:
            return None
        hang = self.hang
        if hang.remaining is not None:
            hang.remaining -= 1
            if hang.remaining <= 0:
                self.hang = None
        return self._release, hang.cap_s

    def spend(self, rule: SendRule) -> None:
        """Count one send against ``rule``; drop it when used up."""
        if rule.remaining is None:
            return
        rule.remaining -= 1
        if rule.remaining <= 0 and rule in self.rules:
            self.rules.remove(rule)

    def subscribe(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def _notify(self) -> None:
        for listener in self._listeners:
            listener()

    def to_json(self) -> dict[str, Any]:
        return {
            "latency_ms": self.latency_ms,
            "health_status": self.health_status,
            "stuck": self._stuck,
            "fail_sends": [rule.to_json() for rule in self.rules],
            "hang_sends": (
                {"remaining": self.hang.remaining, "cap_s": self.hang.cap_s}
                if self.hang is not None
                else None
            ),
        }
