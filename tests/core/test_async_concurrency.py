"""Tasks against one AsyncSecretCache: exact call counts, a loop that never blocks, cancellation."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from secretcache import AsyncSecretCache, SecretNotFoundError, SecretValue
from secretcache.testing import FakeSecretsManager, ManualClock
from tests.core.async_support import (
    LOOP_GAP_BOUND,
    WAIT_SECONDS,
    GatedFake,
    LoopProbe,
    quietest_gap,
    run_now,
)

LATENCY = 0.2  # a slow endpoint


def gated() -> GatedFake:
    fake = GatedFake()
    fake.create_secret(Name="db", SecretString="v1")
    return fake


# -- single flight -------------------------------------------------------------------------------


def test_cold_stampede_of_500_tasks_makes_one_call() -> None:
    """500 tasks waiting together on one cold key cause exactly one GetSecretValue."""
    fake = gated()
    cache = AsyncSecretCache(fake)

    async def stampede() -> list[SecretValue]:
        readers = [asyncio.create_task(cache.get("db")) for _ in range(500)]
        for _ in range(1000):  # until every reader waits on the held fetch
            if cache.stats().misses == 500:
                break
            await asyncio.sleep(0)
        fake.release()
        return await asyncio.gather(*readers)

    values = asyncio.run(stampede())
    assert cache.stats().misses == 500
    assert fake.calls["GetSecretValue"] == 1
    assert len({id(v) for v in values}) == 1


def test_cold_stampede_error_reaches_every_task_as_its_own_exception() -> None:
    """When the one fetch fails, each waiting task raises a fresh exception of the same type."""
    fake = FakeSecretsManager(latency_seconds=0.05)
    cache = AsyncSecretCache(fake)

    async def stampede() -> list[BaseException | SecretValue]:
        return await asyncio.gather(
            *(cache.get("missing") for _ in range(100)), return_exceptions=True
        )

    errors = asyncio.run(stampede())
    assert all(isinstance(e, SecretNotFoundError) for e in errors)
    assert len({id(e) for e in errors}) == 100
    assert fake.calls["GetSecretValue"] == 1


def test_concurrent_refresh_calls_coalesce() -> None:
    """50 tasks forcing a refresh while one is in flight share that one call."""
    fake = gated()
    cache = AsyncSecretCache(fake)

    async def refreshes() -> list[SecretValue]:
        first = asyncio.create_task(cache.refresh("db"))
        await fake.until_entered()
        others = await asyncio.gather(*(cache.refresh("db") for _ in range(49)), _release(fake))
        return [await first, *others[:-1]]

    values = asyncio.run(refreshes())
    assert fake.calls["GetSecretValue"] == 1
    assert len({id(v) for v in values}) == 1


async def _release(fake: GatedFake) -> None:
    """Let the held fetch go, after every task gathered before this one has joined it."""
    fake.release()


def test_loops_in_two_threads_share_one_fetch() -> None:
    """Event loops in different threads waiting for one key share one call."""
    fake = gated()
    cache = AsyncSecretCache(fake)
    values: list[SecretValue] = []

    async def readers() -> None:
        values.extend(await asyncio.gather(*(cache.get("db") for _ in range(20))))

    threads = [threading.Thread(target=asyncio.run, args=(readers(),)) for _ in range(2)]
    for thread in threads:
        thread.start()
    assert fake.entered.wait(WAIT_SECONDS)
    deadline = time.monotonic() + WAIT_SECONDS
    while cache.stats().misses < 40:  # until both loops' readers wait on the one flight
        assert time.monotonic() < deadline
        time.sleep(0.001)
    fake.release()
    for thread in threads:
        thread.join(WAIT_SECONDS)
    assert len(values) == 40
    assert len({id(v) for v in values}) == 1
    assert fake.calls["GetSecretValue"] == 1


# -- the event loop never blocks ------------------------------------------------------------------


def test_loop_keeps_running_while_a_slow_fetch_is_in_flight() -> None:
    """During a 200 ms GetSecretValue, a task yielding with ``sleep(0)`` keeps getting turns."""

    def measure() -> float:
        fake = FakeSecretsManager()
        fake.create_secret(Name="db", SecretString="s")
        fake.latency_seconds = LATENCY
        cache = AsyncSecretCache(fake)

        async def scenario() -> float:
            async with LoopProbe() as probe:
                started = time.perf_counter()
                await cache.get("db")
                assert time.perf_counter() - started >= LATENCY  # the fetch really was slow...
            assert probe.turns > 10
            return probe.longest

        return asyncio.run(scenario())

    assert quietest_gap(measure) < LOOP_GAP_BOUND  # ...and the loop never stalled on it


def test_readers_never_wait_on_an_advisory_refresh() -> None:
    """In the advisory window every read returns at once while a slow refresh runs behind."""

    def measure() -> float:
        clock = ManualClock()
        fake = FakeSecretsManager()
        fake.create_secret(Name="db", SecretString="v1")
        cache = AsyncSecretCache(fake, ttl_seconds=100, ttl_jitter_fraction=0.0, timer=clock)

        async def scenario() -> float:
            old = await cache.get("db")
            fake.rotate("db", "v2")
            fake.latency_seconds = LATENCY
            clock.advance(81)
            async with LoopProbe() as probe:
                for _ in range(200):
                    assert run_now(cache.get("db")) is old  # never suspends, never waits
                    await asyncio.sleep(0)
                assert await cache.drain(timeout_seconds=WAIT_SECONDS)
            assert run_now(cache.get("db")).text == "v2"
            assert fake.calls["GetSecretValue"] == 2
            return probe.longest

        return asyncio.run(scenario())

    assert quietest_gap(measure) < LOOP_GAP_BOUND


# -- cancellation ---------------------------------------------------------------------------------


def test_cancelling_waiters_and_the_starter_does_not_cancel_the_fetch() -> None:
    """The task that started a fetch and another waiter are cancelled; the rest get the value."""
    fake = gated()
    cache = AsyncSecretCache(fake)

    async def scenario() -> None:
        starter = asyncio.create_task(cache.get("db"))
        await fake.until_entered()  # the fetch is in flight, started by ``starter``
        waiters = [asyncio.create_task(cache.get("db")) for _ in range(3)]
        await asyncio.sleep(0)  # let the waiters join the flight
        starter.cancel()
        waiters[0].cancel()
        await asyncio.gather(starter, waiters[0], return_exceptions=True)
        fake.release()
        values = await asyncio.gather(*waiters[1:])
        assert [v.text for v in values] == ["v1", "v1"]
        assert starter.cancelled()
        assert waiters[0].cancelled()

    asyncio.run(scenario())
    assert fake.calls["GetSecretValue"] == 1


def test_cancelled_lone_reader_leaves_the_key_usable() -> None:
    """With its only reader cancelled, the fetch still completes and later reads hit."""
    fake = gated()
    cache = AsyncSecretCache(fake)

    async def scenario() -> None:
        reader = asyncio.create_task(cache.get("db"))
        await fake.until_entered()
        reader.cancel()
        with pytest.raises(asyncio.CancelledError):
            await reader
        fake.release()
        assert await cache.drain(timeout_seconds=WAIT_SECONDS)
        assert run_now(cache.get("db")).text == "v1"  # published by the fetch: a hit

    asyncio.run(scenario())
    assert fake.calls["GetSecretValue"] == 1


def test_starter_cancelled_while_its_fetch_is_queued() -> None:
    """A fetch still queued behind a busy pool when its starter is cancelled runs all the same."""
    fake = gated()
    fake.create_secret(Name="other", SecretString="o")
    cache = AsyncSecretCache(fake, max_concurrent_fetches=1)

    async def scenario() -> None:
        busy = asyncio.create_task(cache.get("db"))
        await fake.until_entered()  # the only worker is held
        queued = asyncio.create_task(cache.get("other"))
        await asyncio.sleep(0)
        queued.cancel()
        with pytest.raises(asyncio.CancelledError):
            await queued
        fake.release()
        assert (await busy).text == "v1"
        assert (await cache.get("other")).text == "o"

    asyncio.run(scenario())
    assert fake.calls["GetSecretValue"] == 2


def test_loop_closed_mid_fetch_does_not_strand_the_key() -> None:
    """``asyncio.run`` ends while a fetch is in flight: the next loop finds the value."""
    fake = gated()
    cache = AsyncSecretCache(fake)

    async def impatient() -> None:
        await asyncio.wait_for(cache.get("db"), timeout=0.01)

    with pytest.raises(asyncio.TimeoutError):
        asyncio.run(impatient())
    fake.release()

    async def later() -> str:
        return (await cache.get("db")).text

    assert asyncio.run(later()) == "v1"
    assert fake.calls["GetSecretValue"] == 1


def test_hooks_of_a_closed_loop_run_plain_and_drop_coroutines(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A rotation seen after its loop closed calls plain hooks and drops async ones, warning."""
    clock = ManualClock()
    fake = gated()
    fake.release()
    cache = AsyncSecretCache(fake, ttl_seconds=100, ttl_jitter_fraction=0.0, timer=clock)
    plain: list[str] = []
    awaited: list[str] = []

    async def async_hook(event: object) -> None:
        awaited.append("ran")

    cache.on_rotation(lambda event: plain.append("ran"))
    cache.on_rotation(async_hook)

    async def start_refresh_and_leave() -> None:
        await cache.get("db")
        fake.gate.clear()
        fake.entered.clear()
        fake.rotate("db", "v2")
        clock.advance(81)
        await cache.get("db")  # starts the background refresh, which is held at the gate
        await fake.until_entered()

    asyncio.run(start_refresh_and_leave())
    fake.release()
    cache._core.shutdown(wait=True)  # the refresh, and the hooks it fires, are done
    assert plain == ["ran"]
    assert awaited == []
    assert "dropped" in caplog.text
