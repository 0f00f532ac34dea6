"""AsyncSecretCache's logic on the fake client and a manual clock: the sync cache's semantics."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from secretcache import (
    AsyncSecretCache,
    ErrorEvent,
    RotationEvent,
    SecretAccessDeniedError,
    SecretNotFoundError,
    SecretUnavailableError,
    Stage,
    StaleEvent,
)
from secretcache.testing import FakeSecretsManager, ManualClock
from tests.core.async_support import run_now

MakeAsync = Callable[..., AsyncSecretCache]


def gets(fake: FakeSecretsManager) -> int:
    return fake.calls["GetSecretValue"]


@pytest.fixture
def make_async(fake: FakeSecretsManager, clock: ManualClock) -> Iterator[MakeAsync]:
    """Build async caches on the fake and the manual clock (no jitter unless asked)."""
    caches: list[AsyncSecretCache] = []

    def make(**options: Any) -> AsyncSecretCache:
        options.setdefault("ttl_jitter_fraction", 0.0)
        options.setdefault("seed", 7)
        cache = AsyncSecretCache(fake, timer=clock, **options)
        caches.append(cache)
        return cache

    yield make
    for cache in caches:
        asyncio.run(cache.aclose())


# -- reads -------------------------------------------------------------------------------------


def test_hit_completes_without_suspending(fake: FakeSecretsManager, make_async: MakeAsync) -> None:
    """Once cached, ``await get`` finishes on its first step: no await reaches the loop."""
    cache = make_async()
    first = asyncio.run(cache.get("db"))
    for _ in range(100):
        assert run_now(cache.get("db")) is first
    assert gets(fake) == 1
    stats = cache.stats()
    assert (stats.hits, stats.misses, stats.api_calls, stats.size) == (100, 1, 1, 1)


def test_advisory_window_serves_at_once_and_refreshes_behind(
    fake: FakeSecretsManager, clock: ManualClock, make_async: MakeAsync
) -> None:
    """In the last fifth of the TTL a read returns the held value and a fetch runs behind it."""
    cache = make_async(ttl_seconds=100, refresh_ahead_fraction=0.2)

    async def scenario() -> None:
        old = await cache.get("db")
        fake.rotate("db", '{"password": "v2-pass"}')
        clock.advance(81)
        assert run_now(cache.get("db")) is old  # served without waiting for the refresh
        assert await cache.drain(timeout_seconds=5)
        assert gets(fake) == 2
        assert (await cache.get("db")).field("password") == "v2-pass"

    asyncio.run(scenario())
    assert cache.stats().misses == 1


def test_expired_value_is_refetched_before_returning(
    fake: FakeSecretsManager, clock: ManualClock, make_async: MakeAsync
) -> None:
    """Past the TTL a read waits for the new value."""
    cache = make_async(ttl_seconds=10)

    async def scenario() -> str:
        await cache.get("db")
        fake.rotate("db", '{"password": "v2-pass"}')
        clock.advance(10)
        return str((await cache.get("db")).field("password"))

    assert asyncio.run(scenario()) == "v2-pass"
    assert gets(fake) == 2


def test_stages_and_versions_are_cached_separately(
    fake: FakeSecretsManager, clock: ManualClock, make_async: MakeAsync
) -> None:
    """AWSCURRENT, AWSPENDING and a version id are three keys; a version id never expires."""
    pending = fake.put_secret_value(SecretId="db", SecretString="p", VersionStages=["AWSPENDING"])
    cache = make_async(ttl_seconds=10)

    async def scenario() -> None:
        current = await cache.get("db")
        assert (await cache.get("db", stage=Stage.PENDING)).text == "p"
        assert (await cache.get("db", stage="AWSPENDING")).text == "p"
        pinned = await cache.get("db", version_id=current.version_id)
        assert pinned.version_id == current.version_id
        clock.advance(10_000)
        assert run_now(cache.get("db", version_id=current.version_id)) is pinned

    asyncio.run(scenario())
    assert gets(fake) == 3
    assert pending["VersionId"] != fake.stages("db")["AWSCURRENT"]


def test_one_cache_serves_many_event_loops(fake: FakeSecretsManager, make_async: MakeAsync) -> None:
    """A module-level cache outlives ``asyncio.run`` (a Lambda invocation): later loops hit."""
    cache = make_async()
    values = [asyncio.run(cache.get("db")) for _ in range(5)]
    assert len({id(v) for v in values}) == 1
    assert gets(fake) == 1


# -- errors and stale-if-error -------------------------------------------------------------------


def test_missing_secret_raises_not_found_and_is_not_hammered(
    fake: FakeSecretsManager, clock: ManualClock, make_async: MakeAsync
) -> None:
    """A permanent error is raised with its own type and held through the backoff."""
    cache = make_async(backoff_base_seconds=1)

    async def scenario() -> None:
        for _ in range(5):
            with pytest.raises(SecretNotFoundError):
                await cache.get("missing")
        assert gets(fake) == 1
        clock.advance(1)  # past the first backoff (at most base seconds)
        with pytest.raises(SecretNotFoundError):
            await cache.get("missing")
        assert gets(fake) == 2

    asyncio.run(scenario())


def test_each_raise_is_a_fresh_exception_chained_to_botocore(
    fake: FakeSecretsManager, make_async: MakeAsync
) -> None:
    """Raised errors are never the same object twice; each keeps the ClientError cause."""
    fake.fail("GetSecretValue", "AccessDeniedException")
    cache = make_async()

    async def scenario() -> list[BaseException]:
        raised: list[BaseException] = []
        for _ in range(2):
            with pytest.raises(SecretAccessDeniedError) as info:
                await cache.get("db")
            raised.append(info.value)
        return raised

    first, second = asyncio.run(scenario())
    assert first is not second
    assert type(first.__cause__).__name__ == "ClientError"
    assert type(second.__cause__).__name__ == "ClientError"


def test_transient_error_serves_stale_within_bound(
    fake: FakeSecretsManager,
    clock: ManualClock,
    make_async: MakeAsync,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Throttling past expiry serves the held value, counted, logged once, until the bound."""
    cache = make_async(
        ttl_seconds=10, max_stale_seconds=100, backoff_base_seconds=1, backoff_max_seconds=4
    )
    stale: list[StaleEvent] = []
    errors: list[ErrorEvent] = []
    cache.on_stale(stale.append)
    cache.on_error(errors.append)

    async def scenario() -> None:
        held = await cache.get("db")
        fake.fail("GetSecretValue", "ThrottlingException", times=None)
        clock.advance(10)
        with caplog.at_level(logging.WARNING, logger="secretcache"):
            for _ in range(5):
                assert await cache.get("db") is held
                await cache.drain(5)
                clock.advance(1)
        clock.advance(100)  # past expiry + max_stale_seconds
        with pytest.raises(SecretUnavailableError, match="ThrottlingException"):
            await cache.get("db")

    asyncio.run(scenario())
    assert len([r for r in caplog.records if "serving stale" in r.getMessage()]) == 1
    assert "v1-pass" not in caplog.text
    assert cache.stats().stale_served == 5
    assert len(stale) == 1
    assert stale[0].age_seconds == pytest.approx(10)
    assert {e.error.code for e in errors} == {"ThrottlingException"}


def test_no_value_and_transient_error_raises_unavailable(
    fake: FakeSecretsManager, make_async: MakeAsync
) -> None:
    """With nothing servable, a transient failure raises SecretUnavailableError."""
    fake.fail("GetSecretValue", "InternalServiceError", status=500)
    with pytest.raises(SecretUnavailableError):
        asyncio.run(make_async().get("db"))


def test_permanent_error_after_expiry_is_not_served_stale(
    fake: FakeSecretsManager, clock: ManualClock, make_async: MakeAsync
) -> None:
    """A deleted secret stops being served once its TTL is over."""
    cache = make_async(ttl_seconds=10)

    async def scenario() -> None:
        await cache.get("db")
        fake.delete_secret(SecretId="db")
        clock.advance(10)
        with pytest.raises(SecretNotFoundError):
            await cache.get("db")

    asyncio.run(scenario())


# -- refresh, invalidate, prefetch ---------------------------------------------------------------


def test_refresh_fetches_now_and_raises_even_when_a_value_is_held(
    fake: FakeSecretsManager, make_async: MakeAsync
) -> None:
    """refresh() makes one call at once; its failure is raised, the held value stays."""
    cache = make_async()

    async def scenario() -> None:
        held = await cache.get("db")
        new_version = fake.rotate("db", '{"password": "v2-pass"}')
        assert (await cache.refresh("db")).version_id == new_version
        fake.fail("GetSecretValue", "ThrottlingException")
        with pytest.raises(SecretUnavailableError):
            await cache.refresh("db")
        assert (await cache.get("db")).version_id == new_version != held.version_id

    asyncio.run(scenario())
    assert gets(fake) == 3


def test_invalidate_one_and_all(fake: FakeSecretsManager, make_async: MakeAsync) -> None:
    """invalidate(id) forgets every stage of that secret; invalidate() forgets everything."""
    fake.create_secret(Name="other", SecretString="o")
    cache = make_async()

    async def scenario() -> None:
        await cache.get("db")
        await cache.get("other")
        cache.invalidate("db")
        assert cache.stats().size == 1
        await cache.get("db")
        cache.invalidate()
        assert cache.stats().size == 0
        await cache.get("other")

    asyncio.run(scenario())
    assert gets(fake) == 4


def test_prefetch_batches_and_reports_errors_per_id(
    fake: FakeSecretsManager, make_async: MakeAsync
) -> None:
    """prefetch loads 20 ids per BatchGetSecretValue and reports the missing ones."""
    names = [f"p{i}" for i in range(25)]
    for name in names:
        fake.create_secret(Name=name, SecretString=name)
    cache = make_async()

    async def scenario() -> list[str]:
        result = await cache.prefetch(iter([*names, "missing"]))
        assert result.api_calls == 2
        assert set(result.errors) == {"missing"}
        assert isinstance(result.errors["missing"], SecretNotFoundError)
        return [run_now(cache.get(n)).text for n in names]

    assert asyncio.run(scenario()) == names
    assert (fake.calls["BatchGetSecretValue"], gets(fake)) == (2, 0)


# -- hooks ---------------------------------------------------------------------------------------


def test_hooks_run_on_the_loop_and_async_hooks_are_awaited(
    fake: FakeSecretsManager, clock: ManualClock, make_async: MakeAsync
) -> None:
    """A plain hook is called on the event loop's thread; an ``async def`` hook runs as a task."""
    cache = make_async(ttl_seconds=100)
    threads: list[int] = []
    awaited: list[RotationEvent] = []

    async def async_hook(event: RotationEvent) -> None:
        await asyncio.sleep(0)
        awaited.append(event)

    cache.on_rotation(lambda event: threads.append(threading.get_ident()))
    cache.on_rotation(async_hook)

    async def scenario() -> int:
        old = await cache.get("db")
        new = fake.rotate("db", "{}")
        clock.advance(81)  # advisory window: the refresh (and the hooks) happen behind the read
        assert run_now(cache.get("db")) is old
        assert await cache.drain(timeout_seconds=5)
        assert awaited == [RotationEvent("db", "AWSCURRENT", old.version_id, new)]
        return threading.get_ident()

    loop_thread = asyncio.run(scenario())
    assert threads == [loop_thread]
    assert cache.stats().rotations == 1


def test_failing_hooks_are_logged_and_reads_go_on(
    fake: FakeSecretsManager,
    clock: ManualClock,
    make_async: MakeAsync,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A hook that raises, plain or async, is logged; the read still returns."""
    cache = make_async(ttl_seconds=10)

    def broken(event: RotationEvent) -> None:
        raise RuntimeError("sync hook bug")

    async def broken_async(event: RotationEvent) -> None:
        raise RuntimeError("async hook bug")

    cache.on_rotation(broken)
    cache.on_rotation(broken_async)

    async def scenario() -> str:
        await cache.get("db")
        fake.rotate("db", "{}")
        clock.advance(11)
        text = (await cache.get("db")).text
        await cache.drain(5)
        return text

    assert asyncio.run(scenario()) == "{}"
    assert "sync hook bug" in caplog.text
    assert "async hook bug" in caplog.text


def test_hooks_may_call_back_into_the_cache(
    fake: FakeSecretsManager, clock: ManualClock, make_async: MakeAsync
) -> None:
    """Hooks run outside the lock: a hook that reads the cache does not deadlock."""
    cache = make_async(ttl_seconds=10)
    seen: list[str] = []

    async def reread(event: RotationEvent) -> None:
        seen.append((await cache.get("db")).version_id)

    cache.on_rotation(reread)

    async def scenario() -> str:
        await cache.get("db")
        new = fake.rotate("db", "{}")
        clock.advance(11)
        await cache.get("db")
        await cache.drain(5)
        return new

    assert seen == [asyncio.run(scenario())]


# -- lifecycle and configuration -----------------------------------------------------------------


def test_async_with_closes_and_the_cache_can_be_used_again(fake: FakeSecretsManager) -> None:
    """Leaving ``async with`` forgets values and stops the pool; a later read starts afresh."""
    cache = AsyncSecretCache(fake)

    async def scenario() -> None:
        async with cache:
            await cache.get("db")
        assert cache.stats().size == 0
        await cache.get("db")
        await cache.aclose()

    asyncio.run(scenario())
    assert gets(fake) == 2


@pytest.mark.parametrize(
    "options",
    [
        {"ttl_seconds": 0},
        {"max_size": 0},
        {"refresh_ahead_fraction": 1.0},
        {"max_stale_seconds": -1},
        {"max_concurrent_fetches": 0},
    ],
)
def test_invalid_configuration_is_rejected(
    fake: FakeSecretsManager, options: dict[str, float]
) -> None:
    """Bad settings fail at construction, not at the first read."""
    with pytest.raises(ValueError):  # noqa: PT011  # each option has its own message
        AsyncSecretCache(fake, **options)  # type: ignore[arg-type]


def test_repr_shows_no_values(fake: FakeSecretsManager, make_async: MakeAsync) -> None:
    """repr names the size and TTL, never secret material."""
    cache = make_async()
    asyncio.run(cache.get("db"))
    assert "v1-pass" not in repr(cache)
    assert repr(cache) == "<AsyncSecretCache size=1 ttl_seconds=300.0>"
