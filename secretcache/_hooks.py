"""Events the cache reports, and the registry that calls their hooks outside any lock."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from ._errors import SecretCacheError

__all__ = ["CacheStats", "ErrorEvent", "Hooks", "PrefetchResult", "RotationEvent", "StaleEvent"]

log = logging.getLogger("secretcache")

E = TypeVar("E")


@dataclass(frozen=True)
class RotationEvent:
    """A refresh found a new VersionId for a stage."""

    secret_id: str
    stage: str
    previous_version_id: str
    version_id: str


@dataclass(frozen=True)
class StaleEvent:
    """An expired value was served because refreshing it failed transiently."""

    secret_id: str
    stage: str | None
    version_id: str
    age_seconds: float
    error: SecretCacheError


@dataclass(frozen=True)
class ErrorEvent:
    """A fetch failed (whether or not a stale value covered for it)."""

    secret_id: str
    stage: str | None
    error: SecretCacheError


@dataclass(frozen=True)
class CacheStats:
    """Counters since the cache was created. ``api_calls`` counts requests to AWS."""

    hits: int
    misses: int
    api_calls: int
    refreshes: int
    errors: int
    stale_served: int
    rotations: int
    evictions: int
    size: int


@dataclass(frozen=True)
class PrefetchResult:
    """What ``prefetch`` loaded, and the error of every id it could not load."""

    loaded: tuple[str, ...]
    errors: dict[str, SecretCacheError]
    api_calls: int

    @property
    def ok(self) -> bool:
        return not self.errors

    def raise_for_errors(self) -> None:
        """Raise the first error (others are on ``errors``), if any."""
        for error in self.errors.values():
            raise error.clone()


class _HookList(Generic[E]):
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.callbacks: tuple[Callable[[E], object], ...] = ()

    def add(self, callback: Callable[[E], object]) -> Callable[[E], object]:
        self.callbacks = (*self.callbacks, callback)  # copy-on-write: firing needs no lock
        return callback

    def fire(self, event: E) -> None:
        for callback in self.callbacks:
            try:
                callback(event)
            except Exception:
                log.exception("secretcache %s hook %r failed", self.kind, callback)


class Hooks:
    """The cache's three hook lists."""

    def __init__(self) -> None:
        self.rotation: _HookList[RotationEvent] = _HookList("rotation")
        self.stale: _HookList[StaleEvent] = _HookList("stale")
        self.error: _HookList[ErrorEvent] = _HookList("error")

    def list_for(self, event: RotationEvent | StaleEvent | ErrorEvent) -> _HookList[Any]:
        """The hook list an event goes to."""
        if isinstance(event, RotationEvent):
            return self.rotation
        if isinstance(event, StaleEvent):
            return self.stale
        return self.error

    def fire(self, events: Sequence[RotationEvent | StaleEvent | ErrorEvent]) -> None:
        for event in events:
            self.list_for(event).fire(event)
