"""Helpers for the AsyncSecretCache tests: a fake that holds calls, a loop-gap probe."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from secretcache.testing import FakeSecretsManager

T = TypeVar("T")

WAIT_SECONDS = 10.0  # a bound on waits that should end at once; only reached by a bug
LOOP_GAP_BOUND = 0.05  # the longest the loop may go without a turn while a fetch runs
GAP_ATTEMPTS = 3


class GatedFake(FakeSecretsManager):
    """A fake whose GetSecretValue calls wait until ``release()``: a fetch held in flight."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.gate = threading.Event()
        self.entered = threading.Event()

    def release(self) -> None:
        self.gate.set()

    def get_secret_value(self, **request: Any) -> dict[str, Any]:
        self.entered.set()
        assert self.gate.wait(WAIT_SECONDS), "the test never released the gate"
        return super().get_secret_value(**request)

    async def until_entered(self) -> None:
        """Wait (without blocking the loop) until a GetSecretValue call is being served."""
        assert await asyncio.to_thread(self.entered.wait, WAIT_SECONDS)


def run_now(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that must complete without suspending once; fail if it suspends."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    coroutine.close()
    raise AssertionError("the coroutine suspended")


class LoopProbe:
    """A task that yields to the loop in a tight loop and records the longest gap between turns."""

    def __init__(self) -> None:
        self.longest = 0.0
        self.turns = 0
        self._stop = False
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> LoopProbe:
        self._task = asyncio.create_task(self._tick())
        await asyncio.sleep(0)  # let it take its first turn
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._stop = True
        assert self._task is not None
        await self._task

    async def _tick(self) -> None:
        last = time.perf_counter()
        while not self._stop:
            await asyncio.sleep(0)
            now = time.perf_counter()
            self.longest = max(self.longest, now - last)
            self.turns += 1
            last = now


def quietest_gap(measure: Callable[[], float]) -> float:
    """The smallest longest-gap of up to GAP_ATTEMPTS runs, stopping once one is under the bound.

    A loop blocked by a fetch stalls for the whole fetch in every run; a loaded machine (two
    cores, other test processes) stalls a run now and then. Retrying tells the two apart.
    """
    gaps = [measure()]
    while gaps[-1] >= LOOP_GAP_BOUND and len(gaps) < GAP_ATTEMPTS:
        gaps.append(measure())
    return min(gaps)
