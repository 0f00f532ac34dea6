"""Unit-test fixtures: the fake Secrets Manager and a manual clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from secretcache import SecretCache
from secretcache.testing import FakeSecretsManager, ManualClock


@pytest.fixture
def clock() -> ManualClock:
    """Time that moves only when a test moves it."""
    return ManualClock()


@pytest.fixture
def fake() -> FakeSecretsManager:
    """A fake Secrets Manager holding one JSON secret, ``db``."""
    fake = FakeSecretsManager()
    fake.create_secret(Name="db", SecretString='{"username": "app", "password": "v1-pass"}')
    return fake


@pytest.fixture
def make_cache(
    fake: FakeSecretsManager, clock: ManualClock
) -> Iterator[Callable[..., SecretCache]]:
    """Build caches on the fake and the manual clock (no jitter unless asked)."""
    caches: list[SecretCache] = []

    def make(**options: Any) -> SecretCache:
        options.setdefault("ttl_jitter_fraction", 0.0)
        options.setdefault("seed", 7)
        cache = SecretCache(fake, timer=clock, sleep=clock.sleep, **options)
        caches.append(cache)
        return cache

    yield make
    for cache in caches:
        cache.close()
