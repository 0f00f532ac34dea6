"""Opening a database connection with the secret's current credential, sync or async.

Every DB integration connects through :func:`connect_with_secret` (or its async twin): the
core's ``SecretCache.call_with_secret`` runs the connect, and on an auth failure finds the
credential the database accepts now (AWSCURRENT refreshed, then AWSPENDING), until the
deadline.

The deadline, ``timeout_seconds``, is a number or a callable read at each connection
attempt. A pool or engine built once and used across many Lambda invocations passes a
callable, so that each connection attempt is bounded by the invocation running it.
"""

from __future__ import annotations

import asyncio
import math
import threading
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

from secretcache import SecretCache, SecretValue, default_cache

if TYPE_CHECKING:
    from secretcache import AsyncSecretCache

__all__ = [
    "DEFAULT_TIMEOUT_SECONDS",
    "Timeout",
    "check_timeout",
    "connect_with_secret",
    "connect_with_secret_async",
    "deadline_seconds",
    "resolve_cache",
]

T = TypeVar("T")
C = TypeVar("C", bound="SecretCache | AsyncSecretCache")

DEFAULT_TIMEOUT_SECONDS = 30.0
Timeout: TypeAlias = float | Callable[[], float]


def resolve_cache(cache: C | None) -> C | SecretCache:
    """The cache to use: the one given, else the process-wide default."""
    return default_cache() if cache is None else cache


def deadline_seconds(timeout_seconds: Timeout) -> float:
    """How long this connection attempt may keep trying credentials."""
    seconds = float(timeout_seconds() if callable(timeout_seconds) else timeout_seconds)
    if math.isnan(seconds):
        raise ValueError("timeout_seconds is NaN")
    return max(seconds, 0.0)


def check_timeout(timeout_seconds: Timeout) -> Timeout:
    """Validate a number at construction; a callable is checked each time it is read."""
    if not callable(timeout_seconds):
        deadline_seconds(timeout_seconds)
    return timeout_seconds


def connect_with_secret(
    cache: SecretCache,
    secret_id: str,
    connect: Callable[[SecretValue], T],
    *,
    is_rejected: Callable[[BaseException], bool],
    timeout_seconds: Timeout,
) -> T:
    """``connect(value)`` with the credential the database accepts now."""
    return cache.call_with_secret(
        secret_id,
        connect,
        is_rejected=is_rejected,
        timeout_seconds=deadline_seconds(timeout_seconds),
    )


async def connect_with_secret_async(
    cache: SecretCache | AsyncSecretCache,
    secret_id: str,
    connect: Callable[[SecretValue], Coroutine[Any, Any, T]],
    *,
    is_rejected: Callable[[BaseException], bool],
    timeout_seconds: Timeout,
    discard: Callable[[T], Coroutine[Any, Any, object]],
) -> T:
    """``await connect(value)`` with the credential the database accepts now.

    With an ``AsyncSecretCache`` the search is awaited on the loop. With a (sync)
    ``SecretCache`` it runs in a worker thread, so that its cache reads and backoff sleeps
    never block the event loop, while each ``connect`` runs on the loop. If the caller is
    cancelled, the attempt under way is cancelled too, and a connection that still comes
    back is handed to ``discard`` (which closes it).
    """
    from secretcache import AsyncSecretCache

    if isinstance(cache, AsyncSecretCache):
        return await cache.call_with_secret(
            secret_id,
            connect,
            is_rejected=is_rejected,
            timeout_seconds=deadline_seconds(timeout_seconds),
        )
    loop = asyncio.get_running_loop()
    abandoned = threading.Event()
    running: list[asyncio.Task[Any]] = []

    async def on_loop(value: SecretValue) -> T:
        task = asyncio.current_task()
        if task is not None:
            running.append(task)
        return await connect(value)

    def attempt(value: SecretValue) -> T:
        if abandoned.is_set():
            raise asyncio.CancelledError
        result = asyncio.run_coroutine_threadsafe(on_loop(value), loop).result()
        if abandoned.is_set():  # the caller is gone: nobody will close this connection
            asyncio.run_coroutine_threadsafe(discard(result), loop)
            raise asyncio.CancelledError
        return result

    search = asyncio.to_thread(
        connect_with_secret,
        cache,
        secret_id,
        attempt,
        is_rejected=is_rejected,
        timeout_seconds=timeout_seconds,
    )
    try:
        return await search
    except asyncio.CancelledError:
        abandoned.set()
        # Cancel the task itself, not its thread-side future: if the driver finishes
        # connecting anyway, attempt() gets the connection and discards it.
        for task in running:
            task.cancel()
        raise
