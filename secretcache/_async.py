"""AsyncSecretCache: the SecretCache for asyncio, on the same state, policy and hooks.

The async cache keeps its entries in a private ``SecretCache`` (``_Core``) and reuses its
bookkeeping: the freshness decision (``Policy``), single flight, publishing a fetch's
outcome, stale-if-error, rotation detection, counters. Only two things differ:

- A fetch runs on a small thread pool owned by the cache (botocore's client blocks), as
  one job that fetches and publishes. No task owns it, so cancelling any task, or closing
  the event loop, never strands a key: the job publishes whatever happens to its waiters.
- Hooks run on the event loop whose task started the fetch; a coroutine-function hook
  runs there as a task.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Hashable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import Any, TypeVar

from ._cache import SecretCache, _Flight, _stage_name
from ._fetch import SecretsManagerClient
from ._hooks import (
    CacheStats,
    ErrorEvent,
    Hooks,
    PrefetchResult,
    RotationEvent,
    StaleEvent,
)
from ._value import SecretValue, cache_key

__all__ = ["AsyncSecretCache"]

log = logging.getLogger("secretcache")

T = TypeVar("T")
Event = RotationEvent | StaleEvent | ErrorEvent

# The loop whose task handed the current worker thread its job: hooks are sent there.
_origin = threading.local()


def _run_for(loop: asyncio.AbstractEventLoop, job: Callable[[], T]) -> T:
    _origin.loop = loop
    try:
        return job()
    finally:
        _origin.loop = None


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class _LoopHooks(Hooks):
    """Hooks called on an event loop: the running one, else the one that started the job.

    A hook that returns an awaitable (a coroutine function) is run as a task on that loop.
    If that loop has closed, plain hooks run where the event happened and coroutines are
    dropped with a warning: there is no loop left to run them.
    """

    def __init__(self) -> None:
        super().__init__()
        self.tasks: set[asyncio.Task[None]] = set()

    def fire(self, events: Sequence[Event]) -> None:
        if not events:
            return
        loop = _running_loop()
        if loop is None:
            origin: asyncio.AbstractEventLoop | None = getattr(_origin, "loop", None)
            if origin is not None:
                try:
                    origin.call_soon_threadsafe(self._call, origin, tuple(events))
                except RuntimeError:  # the loop has closed: call plain hooks here
                    pass
                else:
                    return
        self._call(loop, events)

    def _call(self, loop: asyncio.AbstractEventLoop | None, events: Sequence[Event]) -> None:
        for event in events:
            hooks = self.list_for(event)
            for callback in hooks.callbacks:
                try:
                    result = callback(event)
                except Exception:
                    log.exception("secretcache %s hook %r failed", hooks.kind, callback)
                    continue
                if inspect.isawaitable(result):
                    self._spawn(loop, hooks.kind, callback, result)

    def _spawn(
        self,
        loop: asyncio.AbstractEventLoop | None,
        kind: str,
        callback: object,
        awaitable: Awaitable[object],
    ) -> None:
        if loop is None or loop.is_closed():
            if inspect.iscoroutine(awaitable):
                awaitable.close()  # never started: close it so no "never awaited" warning
            log.warning("secretcache %s hook %r dropped: its event loop has closed", kind, callback)
            return
        task = loop.create_task(_guarded(kind, callback, awaitable))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)


async def _guarded(kind: str, callback: object, awaitable: Awaitable[object]) -> None:
    try:
        await awaitable
    except Exception:
        log.exception("secretcache %s hook %r failed", kind, callback)


class _Core(SecretCache):
    """The sync cache's state and bookkeeping, plus the pool that runs the async cache's fetches."""

    def __init__(
        self, client: SecretsManagerClient | None, *, max_workers: int, **options: Any
    ) -> None:
        super().__init__(client, **options)
        self._hooks = _LoopHooks()
        self._max_workers = max_workers
        self._executor: ThreadPoolExecutor | None = None
        self._executor_lock = threading.Lock()
        self._jobs: set[Future[None]] = set()  # jobs on the pool, until they return
        # One loop-side future per (fetch, loop) that all its waiters in that loop share.
        self._waits: dict[tuple[Future[None], asyncio.AbstractEventLoop], asyncio.Future[None]] = {}

    @property
    def hook_tasks(self) -> set[asyncio.Task[None]]:
        assert isinstance(self._hooks, _LoopHooks)
        return self._hooks.tasks

    def executor(self) -> ThreadPoolExecutor:
        executor = self._executor
        if executor is None:
            with self._executor_lock:
                if self._executor is None:
                    self._executor = ThreadPoolExecutor(
                        self._max_workers, thread_name_prefix="secretcache-fetch"
                    )
                executor = self._executor
        return executor

    def start(
        self,
        key: Hashable,
        secret_id: str,
        stage: str | None,
        version_id: str | None,
        flight: _Flight,
    ) -> None:
        """Fetch and publish on the pool; callers wait on ``flight.done``, never on the job."""
        fetch = functools.partial(self._run_flight, key, secret_id, stage, version_id, flight)
        self.submit(asyncio.get_running_loop(), fetch)

    def submit(self, loop: asyncio.AbstractEventLoop, job: Callable[[], object]) -> None:
        """Run ``job`` on the pool, its hooks sent to ``loop``; ``drain`` waits until it returns."""
        # Not the pool's own future: this one is running from the start, so no wait on it
        # (drain's, cancelled) can cancel a job still queued, which would strand its flight.
        finished: Future[None] = Future()
        finished.set_running_or_notify_cancel()
        self._jobs.add(finished)
        finished.add_done_callback(self._jobs.discard)

        def run() -> None:
            try:
                _run_for(loop, job)
            finally:
                finished.set_result(None)

        try:
            self.executor().submit(run)
        except RuntimeError:  # the pool refuses work at interpreter exit: use a thread
            self._background.submit(run)

    def shutdown(self, *, wait: bool = False) -> None:
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=wait)

    def _after_fork(self) -> None:
        super()._after_fork()
        # The pool's threads did not survive the fork; a new one is made on first use.
        self._executor = None
        self._executor_lock = threading.Lock()
        self._jobs = set()
        self._waits = {}

    async def wait(self, flight: _Flight) -> None:
        """Wait for ``flight`` to be published; cancelling the caller leaves it running."""
        done = flight.done
        if done.done():
            return
        loop = asyncio.get_running_loop()
        key = (done, loop)
        shared = self._waits.get(key)
        if shared is None:
            # One thread-safe callback per loop, not one per waiting task: 500 waiters
            # cost the worker one wake-up of the loop, and the loop 500 cheap shields.
            shared = self._waits[key] = asyncio.wrap_future(done, loop=loop)
            done.add_done_callback(lambda _: self._waits.pop(key, None))
        # The shield keeps a cancelled waiter from cancelling the shared future (``done``
        # itself is marked running when made, so nothing can cancel it anyway).
        await asyncio.shield(shared)


class AsyncSecretCache:
    """An in-process cache of Secrets Manager secrets for asyncio applications.

    Safe to share between tasks, event loops and threads; a module-level instance
    survives ``asyncio.run`` per Lambda invocation. A hit returns without suspending.
    A miss starts one GetSecretValue per key however many tasks wait for it, on a
    thread pool of ``max_concurrent_fetches`` threads, so the event loop never blocks
    on the network. Cancelling a task never cancels a fetch others wait for.
    """

    def __init__(
        self,
        client: SecretsManagerClient | None = None,
        *,
        ttl_seconds: float = 300.0,
        max_size: int = 1024,
        refresh_ahead_fraction: float = 0.2,
        ttl_jitter_fraction: float = 0.1,
        max_stale_seconds: float = 3600.0,
        backoff_base_seconds: float = 1.0,
        backoff_max_seconds: float = 10.0,
        max_concurrent_fetches: int = 10,
        region_name: str | None = None,
        endpoint_url: str | None = None,
        timer: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        seed: int | None = None,
    ) -> None:
        if max_concurrent_fetches < 1:
            raise ValueError("max_concurrent_fetches must be >= 1")
        self._core = _Core(
            client,
            max_workers=max_concurrent_fetches,
            ttl_seconds=ttl_seconds,
            max_size=max_size,
            refresh_ahead_fraction=refresh_ahead_fraction,
            ttl_jitter_fraction=ttl_jitter_fraction,
            max_stale_seconds=max_stale_seconds,
            backoff_base_seconds=backoff_base_seconds,
            backoff_max_seconds=backoff_max_seconds,
            region_name=region_name,
            endpoint_url=endpoint_url,
            timer=timer,
            seed=seed,
        )
        self._sleep = sleep

    def __repr__(self) -> str:
        core = self._core
        return (
            f"<AsyncSecretCache size={len(core._entries)} ttl_seconds={core._policy.ttl_seconds}>"
        )

    @property
    def max_size(self) -> int:
        return self._core.max_size

    # -- reads -------------------------------------------------------------------------

    async def get(
        self, secret_id: str, *, stage: str | None = None, version_id: str | None = None
    ) -> SecretValue:
        """The value of a secret at a stage (default AWSCURRENT) or an exact version."""
        core = self._core
        key = (
            secret_id
            if stage is None and version_id is None
            else cache_key(secret_id, stage, version_id)
        )
        # The sync cache's fast path, inlined for the same reason: a call costs more than it.
        entry = core._entries.get(key)
        if entry is not None:
            now = core._timer()
            if now < entry.refresh_at:
                next(core._hits)
                entry.used_at = now
                return entry.value  # type: ignore[return-value]  # fast path: never an error
        return await self._get_slow(key, secret_id, _stage_name(stage, version_id), version_id)

    async def _get_slow(
        self, key: Hashable, secret_id: str, stage: str | None, version_id: str | None
    ) -> SecretValue:
        core = self._core
        read = core._begin_read(key, secret_id, stage)
        flight = read.flight
        if flight is not None and read.start:
            core.start(key, secret_id, stage, version_id, flight)
        if read.value is not None:  # served now; a refresh, if started, runs behind
            core._hooks.fire(read.events)
            return read.value
        assert flight is not None
        await core.wait(flight)
        return core._outcome(key, secret_id, stage, flight, forced=False)

    # -- control -----------------------------------------------------------------------

    async def refresh(
        self, secret_id: str, *, stage: str | None = None, version_id: str | None = None
    ) -> SecretValue:
        """Fetch now (joining a fetch already under way) and return the new value.

        Never sleeps. Raises the fetch's error even when a cached value exists.
        """
        core = self._core
        key = cache_key(secret_id, stage, version_id)
        stage_name = _stage_name(stage, version_id)
        flight, leader = core._join(key)
        if leader:
            core.start(key, secret_id, stage_name, version_id, flight)
        await core.wait(flight)
        return core._outcome(key, secret_id, stage_name, flight, forced=True)

    def invalidate(self, secret_id: str | None = None) -> None:
        """Forget one secret (every stage and version of it), or everything."""
        self._core.invalidate(secret_id)

    async def prefetch(self, secret_ids: Iterable[str]) -> PrefetchResult:
        """Load the AWSCURRENT value of many secrets, 20 per BatchGetSecretValue call.

        Errors are reported per id on the result, not raised.
        """
        ids = list(secret_ids)  # read the iterable here, not in a worker thread
        loop = asyncio.get_running_loop()
        job = functools.partial(self._core.prefetch, ids)
        return await asyncio.wrap_future(self._core.executor().submit(_run_for, loop, job))

    def stats(self) -> CacheStats:
        """A snapshot of the counters."""
        return self._core.stats()

    # -- hooks -------------------------------------------------------------------------

    def on_rotation(self, callback: Callable[[RotationEvent], object]) -> Callable[..., object]:
        """Call ``callback(RotationEvent)`` when a refresh finds a new version of a stage.

        Like every hook it runs on the event loop whose task started the fetch; an
        ``async def`` hook runs there as a task (``drain`` waits for it).
        """
        return self._core._hooks.rotation.add(callback)

    def on_stale(self, callback: Callable[[StaleEvent], object]) -> Callable[..., object]:
        """Call ``callback(StaleEvent)`` when a failure streak starts serving a stale value."""
        return self._core._hooks.stale.add(callback)

    def on_error(self, callback: Callable[[ErrorEvent], object]) -> Callable[..., object]:
        """Call ``callback(ErrorEvent)`` for every failed fetch."""
        return self._core._hooks.error.add(callback)

    # -- refresh on authentication failure ---------------------------------------------

    async def call_with_secret(
        self,
        secret_id: str,
        operation: Callable[[SecretValue], Coroutine[Any, Any, T]],
        *,
        is_rejected: Callable[[BaseException], bool],
        timeout_seconds: float = 30.0,
    ) -> T:
        """Await ``operation(value)``; when ``is_rejected`` says the credential was refused,
        find the one that works (refreshed AWSCURRENT, then AWSPENDING) until the deadline.

        The same algorithm as ``SecretCache.call_with_secret``; backoff awaits the cache's
        ``sleep``. Raises CredentialsRejectedError chained to the last rejection after
        ``timeout_seconds``; any other error of ``operation`` propagates at once.
        """
        from ._auth import acall_with_secret

        return await acall_with_secret(
            self, secret_id, operation, is_rejected=is_rejected, timeout_seconds=timeout_seconds
        )

    # -- lifecycle ---------------------------------------------------------------------

    async def drain(self, timeout_seconds: float | None = None) -> bool:
        """Wait until no fetch runs and no hook sent to this loop is pending.

        False if ``timeout_seconds`` passed first.
        """
        core = self._core
        loop = asyncio.get_running_loop()
        deadline = None if timeout_seconds is None else loop.time() + timeout_seconds
        while True:
            # A job schedules its hooks on the loop before it counts as finished, so they
            # are hook tasks by the time its wait here ends, and the next turn waits for them.
            jobs = [asyncio.wrap_future(f) for f in list(core._jobs)]
            hooks = [t for t in list(core.hook_tasks) if t.get_loop() is loop]
            if not jobs and not hooks:
                return True
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                return False
            _, pending = await asyncio.wait([*jobs, *hooks], timeout=remaining)
            if pending:
                for job in jobs:
                    job.cancel()  # only our wrapper: the job's own future cannot be cancelled
                return False

    async def aclose(self) -> None:
        """Finish fetches under way, forget every value, stop the pool, close a client we made."""
        await self.drain(timeout_seconds=10.0)
        self._core.shutdown()
        self._core.close()

    async def __aenter__(self) -> AsyncSecretCache:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()
