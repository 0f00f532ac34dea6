"""Small, dependency-free statistics and timing helpers shared by the scenarios."""

from __future__ import annotations

import math
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = [
    "ThreadRun",
    "advantage",
    "median",
    "percentile",
    "rotated",
    "run_threads",
    "safe_ratio",
]


def percentile(samples: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) by linear interpolation; NaN for no samples."""
    if not samples:
        return math.nan
    ordered = sorted(samples)
    rank = (len(ordered) - 1) * q / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def median(samples: Sequence[float]) -> float:
    """The median; NaN for no samples."""
    return statistics.median(samples) if samples else math.nan


def safe_ratio(numerator: float, denominator: float) -> float | None:
    """``numerator / denominator``; ``inf`` when only the denominator is 0, ``None`` if both."""
    if math.isnan(numerator) or math.isnan(denominator):
        return None
    if denominator == 0:
        return None if numerator == 0 else math.inf
    return numerator / denominator


def advantage(ours: float, anchor: float, *, lower_is_better: bool) -> float | None:
    """How many times better ours is than the anchor (>1: ours better)."""
    if lower_is_better:
        return safe_ratio(anchor, ours)
    return safe_ratio(ours, anchor)


def rotated(items: Sequence[str], turn: int) -> list[str]:
    """``items`` starting at position ``turn``: interleaves the order across repeats."""
    shift = turn % len(items)
    return [*items[shift:], *items[:shift]]


@dataclass(frozen=True)
class ThreadRun:
    """What :func:`run_threads` observed."""

    started: float  # perf_counter when the barrier released the threads
    finished: list[float]  # each thread's perf_counter when it returned
    errors: list[BaseException | None]

    @property
    def elapsed(self) -> float:
        return max(self.finished) - self.started if self.finished else math.nan


def run_threads(count: int, work: Callable[[int], None], *, timeout: float = 120.0) -> ThreadRun:
    """Start ``count`` threads, release them together, run ``work(index)`` in each, join."""
    started = [0.0]

    def release() -> None:
        started[0] = time.perf_counter()

    barrier = threading.Barrier(count, action=release)
    finished = [math.nan] * count
    errors: list[BaseException | None] = [None] * count

    def body(index: int) -> None:
        barrier.wait()
        try:
            work(index)
        except BaseException as exc:  # noqa: BLE001 - recorded and reported per thread
            errors[index] = exc
        finished[index] = time.perf_counter()

    threads = [threading.Thread(target=body, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    return ThreadRun(started[0], finished, errors)
