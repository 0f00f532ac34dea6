"""Helpers for the database integration tests: API call counts, load, rotations under load.

- :class:`ApiCalls` counts the GetSecretValue calls one botocore client makes (its
  ``before-call`` event), independently of the cache's own counters.
- :class:`Load` runs a query in N threads (:class:`AsyncLoad`: N tasks on an event loop in
  a thread of its own) until stopped, counting every query and every failure.
- :class:`Rotations` rotates a secret for real with the rotation library, one protocol step
  at a time, and holds the setSecret → finishSecret window open while the load runs.

Also used by ``benchmarks/scenarios/rotation_under_load.py``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from secretcache.integrations.rotation import RotationStep, RotationStrategy, run_step


class ApiCalls:
    """GetSecretValue (and DescribeSecret) calls made by one botocore client."""

    def __init__(self, client: Any) -> None:
        self._lock = threading.Lock()
        self.by_operation: Counter[str] = Counter()
        client.meta.events.register("before-call.secrets-manager", self._count)

    def _count(self, model: Any, **_: Any) -> None:
        with self._lock:
            self.by_operation[model.name] += 1

    @property
    def get_secret_value(self) -> int:
        with self._lock:
            return self.by_operation["GetSecretValue"]

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self.by_operation.values())


@dataclass
class LoadResult:
    """What the workers did: queries that succeeded, failed (by error type), per worker."""

    ok: int
    failed: int
    errors: Counter[str]
    per_worker: list[int]
    first_failure_at: float | None  # time.monotonic()
    outcomes: list[tuple[float, bool]] = field(default_factory=list)  # (when it ended, ok)

    @property
    def attempted(self) -> int:
        return self.ok + self.failed


@dataclass
class _Tally:
    lock: threading.Lock = field(default_factory=threading.Lock)
    ok: int = 0
    failed: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    per_worker: Counter[int] = field(default_factory=Counter)
    first_failure_at: float | None = None
    outcomes: list[tuple[float, bool]] = field(default_factory=list)

    def success(self, worker: int) -> None:
        now = time.monotonic()
        with self.lock:
            self.ok += 1
            self.per_worker[worker] += 1
            self.outcomes.append((now, True))

    def failure(self, worker: int, exc: BaseException) -> None:
        now = time.monotonic()
        with self.lock:
            self.failed += 1
            self.per_worker[worker] += 1
            self.errors[type(exc).__name__] += 1
            self.outcomes.append((now, False))
            if self.first_failure_at is None:
                self.first_failure_at = now

    def result(self, workers: int) -> LoadResult:
        with self.lock:
            return LoadResult(
                self.ok,
                self.failed,
                Counter(self.errors),
                [self.per_worker[i] for i in range(workers)],
                self.first_failure_at,
                list(self.outcomes),
            )


class Load:
    """``query()`` in ``workers`` threads, each in a loop with a short pause, until stopped."""

    def __init__(
        self, query: Callable[[], object], *, workers: int = 8, pause_seconds: float = 0.003
    ) -> None:
        self.query = query
        self.workers = workers
        self.pause_seconds = pause_seconds
        self._stop = threading.Event()
        self._tally = _Tally()
        self._threads = [
            threading.Thread(target=self._work, args=(i,), name=f"load-{i}", daemon=True)
            for i in range(workers)
        ]

    def _work(self, worker: int) -> None:
        while not self._stop.is_set():
            try:
                self.query()
            except Exception as exc:  # noqa: BLE001  # counted: the test asserts on the tally
                self._tally.failure(worker, exc)
            else:
                self._tally.success(worker)
            self._stop.wait(self.pause_seconds)

    @property
    def ok(self) -> int:
        return self._tally.ok

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)

    def result(self) -> LoadResult:
        return self._tally.result(self.workers)

    def wait_for(self, queries: int, timeout_seconds: float = 30.0) -> None:
        """Until ``queries`` have succeeded (the load is warm); fails the test otherwise."""
        deadline = time.monotonic() + timeout_seconds
        while self._tally.ok < queries:
            if time.monotonic() > deadline:
                raise AssertionError(f"load not warm: {self.result()}")
            time.sleep(0.01)


class AsyncLoad(Load):
    """``await query()`` in ``workers`` tasks on an event loop running in its own thread."""

    def __init__(
        self,
        query: Callable[[], Awaitable[object]],
        *,
        workers: int = 8,
        pause_seconds: float = 0.003,
        setup: Callable[[], Awaitable[object]] | None = None,
        teardown: Callable[[], Awaitable[object]] | None = None,
    ) -> None:
        super().__init__(lambda: None, workers=workers, pause_seconds=pause_seconds)
        self.async_query = query
        self._setup = setup
        self._teardown = teardown
        self.loop = asyncio.new_event_loop()
        self._threads = [threading.Thread(target=self._run_loop, name="load-loop", daemon=True)]

    def _run_loop(self) -> None:
        self.loop.run_until_complete(self._main())
        self.loop.close()

    async def _main(self) -> None:
        if self._setup is not None:
            await self._setup()
        try:
            await asyncio.gather(*(self._task(i) for i in range(self.workers)))
        finally:
            if self._teardown is not None:
                await self._teardown()

    async def _task(self, worker: int) -> None:
        while not self._stop.is_set():
            try:
                await self.async_query()
            except Exception as exc:  # noqa: BLE001  # counted: the test asserts on the tally
                self._tally.failure(worker, exc)
            else:
                self._tally.success(worker)
            await asyncio.sleep(self.pause_seconds)

    def call(self, coroutine: Awaitable[object]) -> object:
        """Run a coroutine on the load's loop from another thread; its result."""
        return asyncio.run_coroutine_threadsafe(_awaited(coroutine), self.loop).result(60)


async def _awaited(awaitable: Awaitable[object]) -> object:
    return await awaitable


@dataclass
class Window:
    """One rotation: when the database took the new password, and when AWSCURRENT moved."""

    token: str
    set_at: float  # time.monotonic(): setSecret done
    finished_at: float  # finishSecret started


class Rotations:
    """Real rotations: the rotation library's steps, with the protocol's window held open.

    createSecret, a pause, setSecret (the database has the new password, AWSCURRENT still
    the old one), ``on_window()`` (force new connections), a pause, testSecret,
    finishSecret, ``on_window()`` again, a pause.
    """

    def __init__(
        self,
        sm_client: Any,
        secret_id: str,
        strategy: RotationStrategy,
        *,
        window_seconds: float = 0.4,
        settle_seconds: float = 0.3,
        on_window: Callable[[], object] | None = None,
    ) -> None:
        self.sm_client = sm_client
        self.secret_id = secret_id
        self.strategy = strategy
        self.window_seconds = window_seconds
        self.settle_seconds = settle_seconds
        self.on_window = on_window or (lambda: None)
        self.windows: list[Window] = []

    def _step(self, token: str, step: RotationStep) -> None:
        run_step(
            self.sm_client,
            self.secret_id,
            token,
            step,
            self.strategy,
            require_rotation_enabled=False,
            allow_new_token=True,
        )

    def rotate(self) -> Window:
        """One full rotation; returns its window."""
        token = str(uuid.uuid4())
        self._step(token, RotationStep.CREATE)
        time.sleep(self.settle_seconds)
        self._step(token, RotationStep.SET)
        set_at = time.monotonic()
        self.on_window()
        time.sleep(self.window_seconds)
        self._step(token, RotationStep.TEST)
        finished_at = time.monotonic()
        self._step(token, RotationStep.FINISH)
        self.on_window()
        time.sleep(self.settle_seconds)
        window = Window(token, set_at, finished_at)
        self.windows.append(window)
        return window

    def passwords(self) -> list[str]:
        """Every password any version of the secret ever held (to look for in logs)."""
        found = []
        versions = self.sm_client.list_secret_version_ids(
            SecretId=self.secret_id, IncludeDeprecated=True
        )["Versions"]
        for version in versions:
            value = self.sm_client.get_secret_value(
                SecretId=self.secret_id, VersionId=version["VersionId"]
            )
            found.append(json.loads(value["SecretString"])["password"])
        return found


def count_in(stamps: Iterable[float], start: float, end: float) -> int:
    """How many timestamps fall in [start, end)."""
    return sum(1 for stamp in stamps if start <= stamp < end)


def leaked(records: Iterable[logging.LogRecord], secrets: Iterable[str]) -> list[str]:
    """Log lines (message and traceback, as a handler would write them) holding a secret."""
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    needles = [s for s in secrets if s]
    lines = []
    for record in records:
        text = formatter.format(record)
        if any(needle in text for needle in needles):
            lines.append(f"{record.name}: {record.getMessage()[:80]}")
    return lines
