"""SecretCache: lock-free hits, single-flight fetches, advisory and mandatory refresh."""

from __future__ import annotations

import itertools
import logging
import os
import random
import threading
import time
import weakref
from collections import Counter
from collections.abc import Callable, Hashable, Iterable
from concurrent.futures import Future
from typing import NamedTuple, TypeVar

from ._errors import SecretCacheError, SecretNotFoundError, translate_error
from ._fetch import (
    BATCH_SIZE,
    SecretsManagerClient,
    batch_errors,
    batch_fetch,
    create_client,
    fetch,
)
from ._hooks import (
    CacheStats,
    ErrorEvent,
    Hooks,
    PrefetchResult,
    RotationEvent,
    StaleEvent,
)
from ._policy import Action, Entry, Policy
from ._redact import install_log_redaction
from ._value import SecretValue, Stage, cache_key

__all__ = ["SecretCache"]

log = logging.getLogger("secretcache")

T = TypeVar("T")
Event = RotationEvent | StaleEvent | ErrorEvent


class _Flight:
    """One fetch in progress; everyone who needs its key waits on ``done``.

    ``done`` is a Future so that threads (``result()``) and event loops
    (``asyncio.wrap_future``) can wait for the same fetch. It is marked running at once,
    so no waiter can cancel it: whoever started the fetch, its outcome is published.
    """

    __slots__ = ("done", "error", "value")

    def __init__(self) -> None:
        self.done: Future[None] = Future()
        self.done.set_running_or_notify_cancel()
        self.value: SecretValue | None = None  # what readers may serve (maybe stale)
        self.error: SecretCacheError | None = None


class _Read(NamedTuple):
    """How a read that missed the fast path goes on (see ``SecretCache._begin_read``)."""

    value: SecretValue | None  # serve this at once; None: wait for ``flight``
    flight: _Flight | None  # the fetch to start (``start``) or to wait for
    start: bool  # this reader starts ``flight``: behind its back if it serves ``value``
    events: list[Event]  # to fire once the read is done


class _Background:
    """Daemon threads for advisory refreshes, with a way to wait until none runs."""

    def __init__(self) -> None:
        self._idle = threading.Condition()
        self._running = 0

    def submit(self, job: Callable[[], object]) -> None:
        with self._idle:
            self._running += 1
        threading.Thread(
            target=self._run, args=(job,), name="secretcache-refresh", daemon=True
        ).start()

    def _run(self, job: Callable[[], object]) -> None:
        try:
            job()
        finally:
            with self._idle:
                self._running -= 1
                self._idle.notify_all()

    def wait_idle(self, timeout_seconds: float | None) -> bool:
        with self._idle:
            return self._idle.wait_for(lambda: self._running == 0, timeout_seconds)


def _count_value(counter: itertools.count[int]) -> int:
    # itertools.count gives lock-free, lossless increments under the GIL; its repr is
    # the only stable way to read it without incrementing.
    return int(repr(counter)[6:-1])


class SecretCache:
    """An in-process cache of Secrets Manager secrets.

    Thread-safe: any number of threads may call any method. A hit takes no lock; a miss
    makes one GetSecretValue per key however many threads wait for it, and no lock is
    held across the call or a hook.
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
        region_name: str | None = None,
        endpoint_url: str | None = None,
        timer: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        seed: int | None = None,
    ) -> None:
        self._policy = Policy(
            ttl_seconds=ttl_seconds,
            refresh_ahead_fraction=refresh_ahead_fraction,
            ttl_jitter_fraction=ttl_jitter_fraction,
            max_stale_seconds=max_stale_seconds,
            backoff_base_seconds=backoff_base_seconds,
            backoff_max_seconds=backoff_max_seconds,
        )
        if max_size < 1:
            raise ValueError("max_size must be >= 1")
        self.max_size = max_size
        self._client = client
        self._owns_client = client is None
        self._client_options = {"region_name": region_name, "endpoint_url": endpoint_url}
        self._timer = timer
        self._sleep = sleep
        self._rng = random.Random(seed)
        self._entries: dict[Hashable, Entry] = {}
        self._flights: dict[Hashable, _Flight] = {}
        self._hits = itertools.count()
        self._counts: Counter[str] = Counter()
        self._hooks = Hooks()
        self._working: dict[str, tuple[str, SecretValue]] = {}  # see _auth.py
        self._init_locks()
        install_log_redaction()
        _LIVE_CACHES.add(self)

    def _init_locks(self) -> None:
        self._lock = threading.Lock()  # guards _entries writes, _flights, _counts
        self._client_lock = threading.Lock()
        self._background = _Background()

    def __repr__(self) -> str:
        return f"<SecretCache size={len(self._entries)} ttl_seconds={self._policy.ttl_seconds}>"

    # -- reads -------------------------------------------------------------------------

    def get(
        self, secret_id: str, *, stage: str | None = None, version_id: str | None = None
    ) -> SecretValue:
        """The value of a secret at a stage (default AWSCURRENT) or an exact version."""
        key = (
            secret_id
            if stage is None and version_id is None
            else cache_key(secret_id, stage, version_id)
        )
        entry = self._entries.get(key)
        if entry is not None:
            now = self._timer()
            if now < entry.refresh_at:
                next(self._hits)
                entry.used_at = now
                return entry.value  # type: ignore[return-value]  # fast path: never an error
        return self._get_slow(key, secret_id, _stage_name(stage, version_id), version_id)

    def _get_slow(
        self, key: Hashable, secret_id: str, stage: str | None, version_id: str | None
    ) -> SecretValue:
        read = self._begin_read(key, secret_id, stage)
        flight = read.flight
        if read.value is not None:
            if flight is not None:
                job = flight
                self._background.submit(
                    lambda: self._run_flight(key, secret_id, stage, version_id, job)
                )
            self._hooks.fire(read.events)
            return read.value
        assert flight is not None
        if read.start:
            self._run_flight(key, secret_id, stage, version_id, flight)
        else:
            flight.done.result()
        return self._outcome(key, secret_id, stage, flight, forced=False)

    def _begin_read(self, key: Hashable, secret_id: str, stage: str | None) -> _Read:
        """Decide a slow read under the lock: serve, start a fetch, or join one.

        Raises the held error while backing off. Shared with the async cache: no I/O here.
        """
        events: list[Event] = []
        with self._lock:
            now = self._timer()
            entry = self._entries.get(key)
            flight = self._flights.get(key)
            action = self._policy.decide(entry, now, in_flight=flight is not None)
            if action is Action.FETCH:
                self._counts["misses"] += 1
                if flight is not None:
                    return _Read(None, flight, False, events)
                flight = self._flights[key] = _Flight()
                return _Read(None, flight, True, events)
            if action is not Action.RAISE:
                assert entry is not None and entry.value is not None
                next(self._hits)
                entry.used_at = now
                start = action in (Action.SERVE_AND_REFRESH, Action.SERVE_STALE_AND_REFRESH)
                if start:
                    flight = self._flights[key] = _Flight()
                if action in (Action.SERVE_STALE, Action.SERVE_STALE_AND_REFRESH):
                    events += self._note_stale(secret_id, stage, entry, now)
                return _Read(entry.value, flight if start else None, start, events)
            assert entry is not None and entry.error is not None
            error = entry.error.clone()
        raise error

    def _note_stale(
        self, secret_id: str, stage: str | None, entry: Entry, now: float
    ) -> list[Event]:
        """Count a stale read; report the first of a failure streak."""
        self._counts["stale_served"] += 1
        if entry.stale_logged:
            return []
        entry.stale_logged = True
        assert entry.value is not None and entry.error is not None
        log.warning(
            "secretcache: serving stale %r (version %s): %s",
            secret_id,
            entry.value.version_id,
            entry.error,
        )
        return [
            StaleEvent(
                secret_id, stage, entry.value.version_id, now - entry.fetched_at, entry.error
            )
        ]

    def _outcome(
        self, key: Hashable, secret_id: str, stage: str | None, flight: _Flight, *, forced: bool
    ) -> SecretValue:
        if flight.value is not None and (flight.error is None or not forced):
            if flight.error is not None:  # the fetch failed; what we serve is held over
                with self._lock:
                    now = self._timer()
                    entry = self._entries.get(key)
                    if entry is not None and entry.value is not None and now >= entry.expires_at:
                        events = self._note_stale(secret_id, stage, entry, now)
                    else:
                        events = []
                self._hooks.fire(events)
            return flight.value
        assert flight.error is not None
        raise flight.error.clone()

    # -- fetching ------------------------------------------------------------------------

    def _client_or_create(self) -> SecretsManagerClient:
        client = self._client
        if client is None:
            with self._client_lock:  # not self._lock: creating a client reads files
                if self._client is None:
                    self._client = create_client(**self._client_options)
                client = self._client
        return client

    def _run_flight(
        self,
        key: Hashable,
        secret_id: str,
        stage: str | None,
        version_id: str | None,
        flight: _Flight,
    ) -> None:
        """Fetch outside the lock, then publish the result to the cache and the waiters."""
        value: SecretValue | None = None
        error: SecretCacheError | None = None
        try:
            try:
                value = fetch(self._client_or_create(), secret_id, stage, version_id)
            except SecretCacheError as exc:
                error = exc
            except Exception as exc:  # noqa: BLE001  # creating the client failed (no region)
                error = translate_error(exc, secret_id)
                error.__cause__ = exc
        finally:
            if value is None and error is None:  # interrupted: never leave the key stuck
                error = SecretCacheError(f"fetching {secret_id!r} was interrupted")
            self._publish(key, secret_id, stage, version_id, flight, value, error)

    def _publish(
        self,
        key: Hashable,
        secret_id: str,
        stage: str | None,
        version_id: str | None,
        flight: _Flight,
        value: SecretValue | None,
        error: SecretCacheError | None,
    ) -> None:
        events: list[Event] = []
        failures = 0
        with self._lock:
            now = self._timer()
            self._counts["api_calls"] += 1
            current = self._flights.get(key) is flight  # False once invalidated meanwhile
            old = self._entries.get(key) if current else None
            if old is not None:
                self._counts["refreshes"] += 1
            if value is not None:
                value = self._accept(secret_id, stage, version_id, old, value, now, events)
                if current:
                    self._store(
                        key,
                        self._policy.entry(value, now, self._rng, pinned=version_id is not None),
                    )
                flight.value = value
            else:
                assert error is not None
                self._counts["errors"] += 1
                events.append(ErrorEvent(secret_id, stage, error))
                entry = self._policy.failed(old, error, now, self._rng)
                failures = entry.failures
                if current:
                    self._store(key, entry)
                flight.value, flight.error = entry.value, error
            if current:
                del self._flights[key]
        flight.done.set_result(None)
        if error is not None:
            # The first failure of a streak is a warning; retries, and a missing stage other
            # than AWSCURRENT (no rotation under way: the usual answer), are not.
            expected = isinstance(error, SecretNotFoundError) and stage not in (None, "AWSCURRENT")
            level = logging.WARNING if failures == 1 and not expected else logging.DEBUG
            log.log(level, "secretcache: fetching %r failed: %s", secret_id, error)
        self._hooks.fire(events)

    def _accept(
        self,
        secret_id: str,
        stage: str | None,
        version_id: str | None,
        old: Entry | None,
        value: SecretValue,
        now: float,
        events: list[Event],
    ) -> SecretValue:
        """Note a rotation (under the lock). Returns what to serve: the held object if same."""
        held = old.value if old is not None else None
        if held is not None and held.version_id == value.version_id:
            value = held  # same version: keep the object, and its parsed JSON
        elif held is not None and version_id is None:
            self._counts["rotations"] += 1
            events.append(
                RotationEvent(secret_id, stage or "AWSCURRENT", held.version_id, value.version_id)
            )
        return value

    def _store(self, key: Hashable, entry: Entry) -> None:
        entries = self._entries
        if key not in entries and len(entries) >= self.max_size:
            victim = min(entries, key=lambda k: entries[k].used_at)
            del entries[victim]
            self._counts["evictions"] += 1
        entries[key] = entry

    # -- control ---------------------------------------------------------------------------

    def refresh(
        self, secret_id: str, *, stage: str | None = None, version_id: str | None = None
    ) -> SecretValue:
        """Fetch now (joining a fetch already under way) and return the new value.

        Never sleeps. Raises the fetch's error even when a cached value exists.
        """
        key = cache_key(secret_id, stage, version_id)
        stage = _stage_name(stage, version_id)
        flight, leader = self._join(key)
        if leader:
            self._run_flight(key, secret_id, stage, version_id, flight)
        else:
            flight.done.result()
        return self._outcome(key, secret_id, stage, flight, forced=True)

    def _join(self, key: Hashable) -> tuple[_Flight, bool]:
        """The fetch of ``key`` under way, or a new one; True if the caller must run it."""
        with self._lock:
            flight = self._flights.get(key)
            if flight is not None:
                return flight, False
            flight = self._flights[key] = _Flight()
            return flight, True

    def invalidate(self, secret_id: str | None = None) -> None:
        """Forget one secret (every stage and version of it), or everything."""
        with self._lock:
            if secret_id is None:
                self._entries.clear()
                self._flights.clear()
                self._working.clear()
                return
            for store in (self._entries, self._flights):
                for key in [k for k in store if _secret_of(k) == secret_id]:
                    del store[key]
            self._working.pop(secret_id, None)

    def prefetch(self, secret_ids: Iterable[str]) -> PrefetchResult:
        """Load the AWSCURRENT value of many secrets, 20 per BatchGetSecretValue call.

        Errors are reported per id on the result, not raised.
        """
        ids = list(dict.fromkeys(secret_ids))
        loaded: list[str] = []
        errors: dict[str, SecretCacheError] = {}
        calls = 0
        try:
            client: SecretsManagerClient | None = self._client_or_create()
        except Exception as exc:  # noqa: BLE001  # creating the client failed (no region)
            client, unconfigured = None, exc
        for start in range(0, len(ids), BATCH_SIZE):
            chunk = ids[start : start + BATCH_SIZE]
            values: list[SecretValue] = []
            if client is None:
                failed = batch_errors(unconfigured, chunk)
            else:
                values, failed = batch_fetch(client, chunk)
                calls += 1
            events: list[Event] = []
            with self._lock:
                now = self._timer()
                if client is not None:
                    self._counts["api_calls"] += 1
                self._counts["errors"] += len(failed)
                by_name = {v.name: v for v in values} | {v.arn: v for v in values if v.arn}
                for sid in chunk:
                    if sid in by_name:
                        old = self._entries.get(sid)
                        value = self._accept(sid, None, None, old, by_name[sid], now, events)
                        self._store(sid, self._policy.entry(value, now, self._rng, pinned=False))
                        loaded.append(sid)
                events += [ErrorEvent(sid, None, err) for sid, err in failed.items()]
            errors.update(failed)
            self._hooks.fire(events)
        return PrefetchResult(tuple(loaded), errors, calls)

    def stats(self) -> CacheStats:
        """A snapshot of the counters."""
        with self._lock:
            counts = dict(self._counts)
            size = len(self._entries)
        return CacheStats(
            hits=_count_value(self._hits),
            misses=counts.get("misses", 0),
            api_calls=counts.get("api_calls", 0),
            refreshes=counts.get("refreshes", 0),
            errors=counts.get("errors", 0),
            stale_served=counts.get("stale_served", 0),
            rotations=counts.get("rotations", 0),
            evictions=counts.get("evictions", 0),
            size=size,
        )

    # -- hooks -----------------------------------------------------------------------------

    def on_rotation(self, callback: Callable[[RotationEvent], object]) -> Callable[..., object]:
        """Call ``callback(RotationEvent)`` when a refresh finds a new version of a stage."""
        return self._hooks.rotation.add(callback)

    def on_stale(self, callback: Callable[[StaleEvent], object]) -> Callable[..., object]:
        """Call ``callback(StaleEvent)`` when a failure streak starts serving a stale value."""
        return self._hooks.stale.add(callback)

    def on_error(self, callback: Callable[[ErrorEvent], object]) -> Callable[..., object]:
        """Call ``callback(ErrorEvent)`` for every failed fetch."""
        return self._hooks.error.add(callback)

    # -- refresh on authentication failure ---------------------------------------------------

    def call_with_secret(
        self,
        secret_id: str,
        operation: Callable[[SecretValue], T],
        *,
        is_rejected: Callable[[BaseException], bool],
        timeout_seconds: float = 30.0,
    ) -> T:
        """Run ``operation(value)``; when ``is_rejected`` says the credential was refused,
        find the one that works (refreshed AWSCURRENT, then AWSPENDING) until the deadline.

        Raises CredentialsRejectedError chained to the last rejection after
        ``timeout_seconds``; any other error of ``operation`` propagates at once.
        """
        from ._auth import call_with_secret

        return call_with_secret(
            self, secret_id, operation, is_rejected=is_rejected, timeout_seconds=timeout_seconds
        )

    # -- lifecycle -------------------------------------------------------------------------

    def drain(self, timeout_seconds: float | None = None) -> bool:
        """Wait until no background refresh runs; False if ``timeout_seconds`` passed first."""
        return self._background.wait_idle(timeout_seconds)

    def close(self) -> None:
        """Finish background refreshes, forget every value and close a client we created."""
        self.drain(timeout_seconds=10.0)
        self.invalidate()
        if self._owns_client and self._client is not None:
            close = getattr(self._client, "close", None)
            if close is not None:
                close()
            self._client = None

    def _after_fork(self) -> None:
        # The child has one thread: locks held and fetches running in the parent's
        # other threads are gone. Values stay; sockets shared with the parent do not.
        self._init_locks()
        self._flights = {}
        if self._owns_client:
            self._client = None


def _stage_name(stage: str | None, version_id: str | None) -> str | None:
    if version_id is not None:
        return None
    return (stage.value if isinstance(stage, Stage) else stage) or "AWSCURRENT"


def _secret_of(key: Hashable) -> object:
    return key[0] if isinstance(key, tuple) else key


_LIVE_CACHES: weakref.WeakSet[SecretCache] = weakref.WeakSet()


def _reinit_after_fork() -> None:
    for cache in list(_LIVE_CACHES):
        cache._after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reinit_after_fork)
