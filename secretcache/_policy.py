"""Freshness, backoff and staleness: the decisions shared by the sync and async caches.

Pure functions of an entry and one reading of the clock; no I/O, no locks.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from enum import Enum

from ._errors import SecretCacheError
from ._value import SecretValue

__all__ = ["Action", "Entry", "Policy"]

INFINITY = math.inf


class Action(Enum):
    """What a read that missed the fast path does next."""

    SERVE = "serve"  # fresh or advisory: return at once
    SERVE_AND_REFRESH = "serve_and_refresh"  # advisory window: return, refresh in background
    SERVE_STALE = "serve_stale"  # expired, backing off after a transient failure
    SERVE_STALE_AND_REFRESH = "serve_stale_and_refresh"  # expired, backoff over: retry behind
    RAISE = "raise"  # holds only an error, still backing off
    FETCH = "fetch"  # nothing servable: wait for a fetch


class Entry:
    """One cached answer: a value or an error, and the times that govern it."""

    __slots__ = (
        "error",
        "expires_at",
        "failures",
        "fetched_at",
        "refresh_at",
        "retry_at",
        "stale_logged",
        "stale_until",
        "used_at",
        "value",
    )

    def __init__(
        self,
        value: SecretValue | None,
        *,
        fetched_at: float,
        refresh_at: float,
        expires_at: float,
        stale_until: float,
        error: SecretCacheError | None = None,
        retry_at: float = -INFINITY,
        failures: int = 0,
    ) -> None:
        self.value = value
        self.error = error
        self.fetched_at = fetched_at
        self.refresh_at = refresh_at  # the fast path serves before this
        self.expires_at = expires_at
        self.stale_until = stale_until
        self.retry_at = retry_at  # no fetch before this (backoff)
        self.failures = failures
        self.stale_logged = False
        self.used_at = fetched_at


@dataclass(frozen=True)
class Policy:
    """Validated timing configuration. Times are seconds on the cache's timer."""

    ttl_seconds: float = 300.0
    refresh_ahead_fraction: float = 0.2
    ttl_jitter_fraction: float = 0.1
    max_stale_seconds: float = 3600.0
    backoff_base_seconds: float = 1.0
    backoff_max_seconds: float = 10.0

    def __post_init__(self) -> None:
        if not self.ttl_seconds > 0:
            raise ValueError("ttl_seconds must be > 0")
        for name in ("refresh_ahead_fraction", "ttl_jitter_fraction"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"{name} must be in [0, 1)")
        if self.max_stale_seconds < 0:
            raise ValueError("max_stale_seconds must be >= 0")
        if not 0 < self.backoff_base_seconds <= self.backoff_max_seconds:
            raise ValueError("need 0 < backoff_base_seconds <= backoff_max_seconds")

    def entry(self, value: SecretValue, now: float, rng: random.Random, *, pinned: bool) -> Entry:
        """A fresh entry. ``pinned`` (a version id's value never changes) never expires."""
        if pinned:
            return Entry(
                value,
                fetched_at=now,
                refresh_at=INFINITY,
                expires_at=INFINITY,
                stale_until=INFINITY,
            )
        # Jitter shortens, never lengthens, the TTL, so a fleet spreads its refreshes.
        ttl = self.ttl_seconds * (1.0 - self.ttl_jitter_fraction * rng.random())
        expires_at = now + ttl
        return Entry(
            value,
            fetched_at=now,
            refresh_at=expires_at - ttl * self.refresh_ahead_fraction,
            expires_at=expires_at,
            stale_until=expires_at + self.max_stale_seconds,
        )

    def backoff_seconds(self, failures: int, rng: random.Random) -> float:
        """Exponential backoff with equal jitter: in [d/2, d], d = base * 2**(failures-1), capped."""
        ceiling = min(self.backoff_max_seconds, self.backoff_base_seconds * 2.0 ** (failures - 1))
        return ceiling / 2.0 + rng.random() * ceiling / 2.0

    def failed(
        self, old: Entry | None, error: SecretCacheError, now: float, rng: random.Random
    ) -> Entry:
        """The entry after a failed fetch: keep a servable value, else hold the error."""
        failures = (old.failures if old else 0) + 1
        retry_at = now + self.backoff_seconds(failures, rng)
        keep = (
            old is not None
            and old.value is not None
            and (now < old.expires_at or (error.retryable and now < old.stale_until))
        )
        if keep:
            assert old is not None
            old.failures, old.retry_at, old.error = failures, retry_at, error
            old.refresh_at = min(old.refresh_at, now)  # off the fast path until a fetch succeeds
            return old
        return Entry(
            None,
            fetched_at=now,
            refresh_at=-INFINITY,
            expires_at=-INFINITY,
            stale_until=-INFINITY,
            error=error,
            retry_at=retry_at,
            failures=failures,
        )

    @staticmethod
    def decide(entry: Entry | None, now: float, in_flight: bool) -> Action:
        """The action for a read at ``now`` that did not take the fast path."""
        if entry is None:
            return Action.FETCH
        if entry.value is None:
            return Action.RAISE if now < entry.retry_at else Action.FETCH
        if now < entry.refresh_at:
            return Action.SERVE
        if now < entry.expires_at:
            if in_flight or now < entry.retry_at:
                return Action.SERVE
            return Action.SERVE_AND_REFRESH
        if entry.error is not None and entry.error.retryable and now < entry.stale_until:
            # Already serving stale: the first failure made readers wait, retries do not.
            if in_flight or now < entry.retry_at:
                return Action.SERVE_STALE
            return Action.SERVE_STALE_AND_REFRESH
        return Action.FETCH
