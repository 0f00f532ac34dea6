"""The libraries under test, each behind the same small adapter: a :class:`Subject`.

A subject's ``read(secret_id)`` is the call a user writes on the hot path:

- this SDK: ``SecretCache(client, ttl_seconds=...).get(secret_id)``
- aws-secretsmanager-caching: ``SecretCache(config=SecretCacheConfig(...), client=...)
  .get_secret_string(secret_id)``
- Powertools: ``parameters.SecretsProvider(boto3_client=...).get(secret_id, max_age=...)``
- the floor: a Python function whose body is one dict subscript, ``table[secret_id]``.

Until ``from secretcache import SecretCache`` works, :func:`load_secretcache` returns a
placeholder with the same surface so that the harness runs; results then say so loudly.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ._endpoint import Probe

__all__ = [
    "ANCHORS",
    "AWS",
    "DICT",
    "LABELS",
    "LIBRARIES",
    "OURS",
    "POWERTOOLS",
    "Subject",
    "dict_subject",
    "library_versions",
    "load_secretcache",
    "make_subject",
]

OURS = "secretcache"
AWS = "aws-secretsmanager-caching"
POWERTOOLS = "powertools"
DICT = "dict"
LIBRARIES = (OURS, AWS, POWERTOOLS)
ANCHORS = (AWS, POWERTOOLS)
LABELS = {OURS: "secretcache", AWS: "AWS lib", POWERTOOLS: "Powertools", DICT: "dict read"}


@dataclass
class Subject:
    """One library instance on its own instrumented client, behind one calling convention."""

    library: str
    read: Callable[[str], object]
    text: Callable[[object], str]
    probe: Probe | None = None
    stats: Callable[[], dict[str, Any]] | None = None
    close: Callable[[], None] = lambda: None


class _PlaceholderValue:
    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return "_PlaceholderValue(<redacted>)"


class _PlaceholderCache:
    """Stands in for ``secretcache.SecretCache`` until it lands: a TTL dict, one fetch per miss.

    Not the SDK: no advisory refresh, no stale-if-error. Results taken with it are marked.
    """

    def __init__(self, client: Any, *, ttl_seconds: float = 300.0, max_size: int = 1024) -> None:
        self._client = client
        self._ttl = ttl_seconds
        self._entries: dict[str, tuple[float, _PlaceholderValue]] = {}
        self._lock = threading.Lock()
        self._api_calls = 0

    def get(self, name: str) -> _PlaceholderValue:
        entry = self._entries.get(name)
        if entry is not None and time.monotonic() < entry[0]:
            return entry[1]
        with self._lock:
            entry = self._entries.get(name)
            if entry is not None and time.monotonic() < entry[0]:
                return entry[1]
            self._api_calls += 1
            answer = self._client.get_secret_value(SecretId=name, VersionStage="AWSCURRENT")
            value = _PlaceholderValue(answer["SecretString"])
            self._entries[name] = (time.monotonic() + self._ttl, value)
            return value

    def stats(self) -> dict[str, int]:
        return {"api_calls": self._api_calls}

    def close(self) -> None:
        self._entries.clear()


def load_secretcache() -> tuple[Callable[..., Any], bool]:
    """The SDK's ``SecretCache`` class, or the placeholder; the flag is True for the placeholder."""
    try:
        module = importlib.import_module("secretcache")
    except ImportError:
        return _PlaceholderCache, True
    cls = getattr(module, "SecretCache", None)
    if cls is None:
        return _PlaceholderCache, True
    return cls, False


def dict_subject(table: dict[str, str]) -> Subject:
    """The floor: the cheapest possible Python-level cache read, called like the others."""

    def read(secret_id: str) -> str:
        return table[secret_id]

    return Subject(DICT, read, str)


def make_subject(library: str, probe: Probe, *, ttl_seconds: float | None = None) -> Subject:
    """A fresh instance of ``library`` on ``probe``'s client; ``None`` keeps its default TTL."""
    if library == OURS:
        return _ours(probe, ttl_seconds)
    if library == AWS:
        return _aws(probe, ttl_seconds)
    if library == POWERTOOLS:
        return _powertools(probe, ttl_seconds)
    raise ValueError(f"unknown library {library!r}")


def _ours(probe: Probe, ttl_seconds: float | None) -> Subject:
    cls, _ = load_secretcache()
    kwargs: dict[str, Any] = {} if ttl_seconds is None else {"ttl_seconds": float(ttl_seconds)}
    cache = cls(probe.client, **kwargs)

    def stats() -> dict[str, Any]:
        raw = cache.stats()
        if dataclasses.is_dataclass(raw) and not isinstance(raw, type):
            return dataclasses.asdict(raw)
        return dict(raw)

    close = getattr(cache, "close", None) or (lambda: None)
    return Subject(OURS, cache.get, _text_attribute, probe, stats, close)


def _text_attribute(value: object) -> str:
    return str(getattr(value, "text", ""))


def _aws(probe: Probe, ttl_seconds: float | None) -> Subject:
    from aws_secretsmanager_caching import SecretCache, SecretCacheConfig

    options: dict[str, Any] = {}
    if ttl_seconds is not None:
        # The library draws each refresh time with randint(round(ttl / 2), ttl): integers only.
        options["secret_refresh_interval"] = max(2, round(ttl_seconds))
    cache = SecretCache(config=SecretCacheConfig(**options), client=probe.client)
    return Subject(AWS, cache.get_secret_string, str, probe)


def _powertools(probe: Probe, ttl_seconds: float | None) -> Subject:
    from aws_lambda_powertools.utilities import parameters

    provider = parameters.SecretsProvider(boto3_client=probe.client)
    max_age = 300 if ttl_seconds is None else max(1, round(ttl_seconds))
    # partial, not a closure: no extra Python frame on Powertools' hit path.
    read = functools.partial(provider.get, max_age=max_age)
    return Subject(POWERTOOLS, read, str, probe, close=provider.clear_cache)


def library_versions() -> dict[str, str]:
    """Installed versions of everything measured, for the record."""
    from importlib.metadata import PackageNotFoundError, version

    found: dict[str, str] = {}
    for dist in (
        "secretcache",
        "aws-secretsmanager-caching",
        "aws-lambda-powertools",
        "boto3",
        "botocore",
        "moto",
    ):
        try:
            found[dist] = version(dist)
        except PackageNotFoundError:
            found[dist] = "not installed"
    return found
