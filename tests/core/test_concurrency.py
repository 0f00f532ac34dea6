"""Threads against one cache: exact call counts, and readers that never wait on a refresh."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import pytest

from secretcache import SecretCache
from secretcache.testing import FakeSecretsManager, ManualClock

T = TypeVar("T")

LATENCY = 0.2


def run_together(count: int, work: Callable[[], T]) -> list[T]:
    """Start ``count`` threads at one barrier and collect what each returned."""
    barrier = threading.Barrier(count)
    results: list[T] = []
    lock = threading.Lock()

    def body() -> None:
        barrier.wait()
        result = work()
        with lock:
            results.append(result)

    threads = [threading.Thread(target=body) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(results) == count
    return results


def test_cold_stampede_makes_one_call() -> None:
    """64 threads reading one cold key cause exactly one GetSecretValue."""
    fake = FakeSecretsManager(latency_seconds=0.05)
    fake.create_secret(Name="db", SecretString="s")
    cache = SecretCache(fake)
    values = run_together(64, lambda: cache.get("db"))
    assert fake.calls["GetSecretValue"] == 1
    assert len({id(v) for v in values}) == 1
    assert cache.stats().misses == 64


def test_cold_stampede_error_reaches_every_reader_as_its_own_exception() -> None:
    """When the one fetch fails, each waiter raises a fresh exception of the same type."""
    fake = FakeSecretsManager(latency_seconds=0.05)
    cache = SecretCache(fake)

    def read() -> BaseException:
        try:
            cache.get("missing")
        except Exception as exc:  # noqa: BLE001  # collected for the assertion
            return exc
        raise AssertionError("expected an error")

    errors = run_together(32, read)
    assert fake.calls["GetSecretValue"] == 1
    assert {type(e).__name__ for e in errors} == {"SecretNotFoundError"}
    assert len({id(e) for e in errors}) == 32


def test_advisory_refresh_never_blocks_readers() -> None:
    """During a background refresh against a 200 ms endpoint, no reader waits on it."""
    clock = ManualClock()
    fake = FakeSecretsManager()
    fake.create_secret(Name="db", SecretString="v1")
    cache = SecretCache(fake, ttl_seconds=100, ttl_jitter_fraction=0, timer=clock)
    cache.get("db")
    fake.latency_seconds = LATENCY
    fake.rotate("db", "v2")
    clock.advance(90)  # into the advisory window

    def read_many() -> list[float]:
        durations = []
        for _ in range(200):
            start = time.perf_counter()
            cache.get("db")
            durations.append(time.perf_counter() - start)
        return durations

    durations = [d for batch in run_together(8, read_many) for d in batch]
    assert cache.drain(timeout_seconds=5)
    assert fake.calls["GetSecretValue"] == 2
    assert sum(d >= LATENCY for d in durations) == 0
    assert cache.get("db").text == "v2"


def test_concurrent_refresh_calls_coalesce() -> None:
    """50 threads calling refresh() together cause one call."""
    fake = FakeSecretsManager(latency_seconds=0.1)
    fake.create_secret(Name="db", SecretString="s")
    cache = SecretCache(fake)
    run_together(50, lambda: cache.refresh("db"))
    assert fake.calls["GetSecretValue"] == 1


def test_hits_are_counted_exactly_under_contention() -> None:
    """8 threads x 5000 hits are all counted (lock-free counting loses none)."""
    fake = FakeSecretsManager()
    fake.create_secret(Name="db", SecretString="s")
    cache = SecretCache(fake)
    cache.get("db")

    def hit() -> None:
        for _ in range(5000):
            cache.get("db")

    run_together(8, hit)
    assert cache.stats().hits == 40_000


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.filterwarnings(
    "ignore:.*fork.*:DeprecationWarning"
)  # forking with threads is the point
def test_child_after_fork_can_fetch_while_parent_fetch_is_in_flight() -> None:
    """A fork during a fetch leaves the child no held lock and no phantom in-flight fetch."""
    fake = FakeSecretsManager(latency_seconds=0.5)
    fake.create_secret(Name="db", SecretString="s")
    cache = SecretCache(fake)
    reader = threading.Thread(target=cache.get, args=("db",))
    reader.start()
    time.sleep(0.1)  # let the parent's fetch start: a real thread must be mid-call
    assert cache._flights
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: must not wait forever on the parent's flight
        os.close(read_fd)
        code = b"ok"
        try:
            fake.latency_seconds = 0
            if cache._flights or cache.get("db").text != "s":
                code = b"bad"
        except BaseException:  # noqa: BLE001  # any failure is reported to the parent
            code = b"err"
        os.write(write_fd, code)
        os._exit(0)
    os.close(write_fd)
    _, status = os.waitpid(pid, 0)
    answer = os.read(read_fd, 10)
    os.close(read_fd)
    reader.join()
    assert status == 0
    assert answer == b"ok"
