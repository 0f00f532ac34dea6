"""The connect path shared by the DB integrations: deadlines and the async bridge.

No database here: a "connect" is a function of the secret value that the fake rejects or
accepts, and the secret lives in ``secretcache.testing.FakeSecretsManager``.
"""

from __future__ import annotations

import asyncio
import json
import math
import threading
from typing import Any

import pytest

from secretcache import AsyncSecretCache, CredentialsRejectedError, SecretCache, SecretValue
from secretcache.integrations._connecting import (
    check_timeout,
    connect_with_secret,
    connect_with_secret_async,
    deadline_seconds,
)
from secretcache.testing import FakeSecretsManager, ManualClock


class RefusedError(Exception):
    """What the stand-in database raises for a wrong password."""


def _rejected(exc: BaseException) -> bool:
    return isinstance(exc, RefusedError)


def _fake_with_pending() -> FakeSecretsManager:
    """AWSCURRENT holds the old password, AWSPENDING the one the 'database' takes now."""
    fake = FakeSecretsManager()
    fake.create_secret(Name="db", SecretString=json.dumps({"password": "old"}))
    fake.put_secret_value(
        SecretId="db", SecretString=json.dumps({"password": "new"}), VersionStages=["AWSPENDING"]
    )
    return fake


def _database(value: SecretValue) -> str:
    if value.field("password") != "new":
        raise RefusedError
    return "connection"


def test_deadline_from_number_and_callable() -> None:
    """A number is the deadline; a callable is read at each attempt; negatives mean zero."""
    assert deadline_seconds(2.5) == 2.5
    assert deadline_seconds(lambda: 1.25) == 1.25
    assert deadline_seconds(-3.0) == 0.0


def test_nan_deadline_is_refused() -> None:
    """A NaN deadline is a configuration error, caught when the engine or pool is built."""
    with pytest.raises(ValueError, match="NaN"):
        check_timeout(math.nan)


def test_callable_deadline_is_read_per_connection() -> None:
    """The Lambda hook: a callable deadline is read once for every connection attempt."""
    fake = _fake_with_pending()
    reads: list[int] = []

    def remaining() -> float:
        reads.append(1)
        return 5.0

    cache = SecretCache(fake)
    for _ in range(3):
        connect_with_secret(
            cache, "db", _database, is_rejected=_rejected, timeout_seconds=remaining
        )
    assert len(reads) == 3


def test_callable_deadline_bounds_the_search() -> None:
    """A deadline of zero from the hook: rejected at once after one round of candidates."""
    fake = FakeSecretsManager()
    fake.create_secret(Name="db", SecretString=json.dumps({"password": "wrong"}))
    clock = ManualClock()
    cache = SecretCache(fake, timer=clock, sleep=clock.sleep)
    with pytest.raises(CredentialsRejectedError) as info:
        connect_with_secret(
            cache, "db", _database, is_rejected=_rejected, timeout_seconds=lambda: 0
        )
    assert isinstance(info.value.__cause__, RefusedError)
    assert clock.slept == []


def test_async_bridge_finds_pending_and_runs_connect_on_the_loop() -> None:
    """With a sync cache the search runs in a thread; each connect runs on the event loop."""
    cache = SecretCache(_fake_with_pending())
    threads: list[int] = []

    async def connect(value: SecretValue) -> str:
        threads.append(threading.get_ident())
        return _database(value)

    async def main() -> tuple[str, int]:
        result = await connect_with_secret_async(
            cache,
            "db",
            connect,
            is_rejected=_rejected,
            timeout_seconds=5.0,
            discard=_never,
        )
        return result, threading.get_ident()

    result, loop_thread = asyncio.run(main())
    assert result == "connection"
    assert threads == [loop_thread, loop_thread]  # AWSCURRENT refused, then AWSPENDING


def test_async_with_async_cache_finds_pending() -> None:
    """With an AsyncSecretCache the search is the cache's own, awaited on the loop."""

    async def connect(value: SecretValue) -> str:
        return _database(value)

    async def main() -> str:
        async with AsyncSecretCache(_fake_with_pending()) as cache:
            return await connect_with_secret_async(
                cache, "db", connect, is_rejected=_rejected, timeout_seconds=5.0, discard=_never
            )

    assert asyncio.run(main()) == "connection"


async def _never(result: Any) -> None:
    raise AssertionError(f"discarded {result!r}")


def test_async_bridge_cancellation_cancels_the_attempt() -> None:
    """Cancelling the caller cancels the connect under way on the loop."""
    cache = SecretCache(_fake_with_pending())
    started = asyncio.Event()
    outcome: list[str] = []

    async def connect(value: SecretValue) -> str:
        started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            outcome.append("cancelled")
            raise
        return "connection"

    async def main() -> None:
        task = asyncio.create_task(
            connect_with_secret_async(
                cache, "db", connect, is_rejected=_rejected, timeout_seconds=5.0, discard=_never
            )
        )
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        for _ in range(50):  # let the loop run the inner task's cancellation
            await asyncio.sleep(0)

    asyncio.run(main())
    assert outcome == ["cancelled"]


def test_async_bridge_discards_a_connection_that_arrives_after_cancellation() -> None:
    """A connect that finishes anyway after the caller gave up is handed to ``discard``."""
    cache = SecretCache(_fake_with_pending())
    started = asyncio.Event()
    discarded: list[str] = []

    async def stubborn(value: SecretValue) -> str:
        started.set()
        await asyncio.shield(asyncio.sleep(0.05))  # finishes even when cancelled
        return "connection"

    async def connect(value: SecretValue) -> str:
        try:
            return await stubborn(value)
        except asyncio.CancelledError:
            await asyncio.sleep(0.05)
            return "connection"  # a driver that completes its handshake regardless

    async def discard(result: str) -> None:
        discarded.append(result)

    async def main() -> None:
        task = asyncio.create_task(
            connect_with_secret_async(
                cache, "db", connect, is_rejected=_rejected, timeout_seconds=5.0, discard=discard
            )
        )
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        for _ in range(20):
            await asyncio.sleep(0.01)

    asyncio.run(main())
    assert discarded == ["connection"]
