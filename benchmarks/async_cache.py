"""9. asyncio: AsyncSecretCache hit latency, and a 500-task cold stampede.

Two entry points:

- :func:`measure` ``(endpoint, settings) -> dict``: the numbers, JSON-able.
- ``KEY``, ``TITLE``, :func:`run` ``(ctx) -> ScenarioResult``: the harness's scenario
  contract (listed in ``scenarios/__init__.py``), so ``python -m benchmarks --only async``
  runs it and the headline table shows it.

Hit latency is ``await cache.get(name)`` on a warm cache inside one event loop, timed in
batches, against two floors: ``await`` of a coroutine whose body is one dict subscript (what
any awaited cache costs at least) and the sync ``SecretCache.get``.

The stampede releases 500 tasks together (one ``gather``) on a fresh instance and a cold
key, with the endpoint's added latency, and records the API calls, the time until every task
had its value, and the longest the event loop went without a turn meanwhile (a task
yielding with ``sleep(0)`` measures it). The anchors have no asyncio API; an async
application calls them through ``asyncio.to_thread``, so that is how they are measured.
"""

from __future__ import annotations

import asyncio
import itertools
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

from ._endpoint import MotoEndpoint
from ._libs import ANCHORS, DICT, LABELS, LIBRARIES, OURS, make_subject
from ._measure import advantage, median, rotated, safe_ratio
from ._model import Context, Headline, ScenarioResult, Settings

KEY = "async"
TITLE = "asyncio: await hit latency and a 500-task cold stampede"

TASKS = 500
FLOOR = "await dict"
SYNC = "sync get"


def measure(endpoint: MotoEndpoint, settings: Settings | None = None) -> dict[str, Any]:
    """Run both measurements on ``endpoint``; a JSON-able dict (see the module docstring)."""
    s = settings or Settings()
    return {"hit": _hits(endpoint, s), "stampede": _stampedes(endpoint, s)}


# -- hit latency -------------------------------------------------------------------------------


def _hits(endpoint: MotoEndpoint, s: Settings) -> dict[str, Any]:
    from secretcache import AsyncSecretCache, SecretCache

    name, value = endpoint.create_secret("async-hit")
    probe = endpoint.probe()
    cache = AsyncSecretCache(probe.client)
    sync_cache = SecretCache(endpoint.probe().client)
    table = {name: value}

    async def floor(secret_id: str) -> str:
        return table[secret_id]

    async def sync_get(secret_id: str) -> object:  # the sync cache read, awaited like the others
        return sync_cache.get(secret_id)

    subjects: dict[str, Callable[[str], Awaitable[object]]] = {
        FLOOR: floor,
        OURS: cache.get,
        SYNC: sync_get,
    }

    async def rounds() -> dict[str, list[float]]:
        sizes = {
            k: await _calibrate(read, name, s.hit_batch_seconds) for k, read in subjects.items()
        }
        result: dict[str, list[float]] = {k: [] for k in subjects}
        for turn in range(s.hit_rounds):
            for key in rotated(list(subjects), turn):
                read, size = subjects[key], sizes[key]
                batches = [
                    await _batch_ns(read, name, size) for _ in range(s.hit_batches_per_round)
                ]
                result[key].append(median(batches))
        return result

    timed = asyncio.run(rounds())
    calls = probe.log.count()
    asyncio.run(cache.aclose())
    sync_cache.close()
    medians = {k: median(v) for k, v in timed.items()}
    paired = [
        r
        for r in (safe_ratio(a, b) for a, b in zip(timed[OURS], timed[FLOOR], strict=True))
        if r is not None
    ]
    return {
        "median_ns": medians,
        "ours_over_await_dict": median(paired) if paired else None,
        "api_calls": calls,  # 1: the warm-up read
        "rounds": s.hit_rounds,
    }


async def _calibrate(
    read: Callable[[str], Awaitable[object]], secret_id: str, seconds: float
) -> int:
    """A batch size whose batch takes about ``seconds`` (the first batches also warm up)."""
    count = 16
    while count < 10_000_000:
        if await _batch_ns(read, secret_id, count) * count >= seconds * 1e9:
            return count
        count *= 2
    return count


async def _batch_ns(read: Callable[[str], Awaitable[object]], secret_id: str, count: int) -> float:
    clock = time.perf_counter_ns
    start = clock()
    for _ in itertools.repeat(None, count):
        await read(secret_id)
    return (clock() - start) / count


# -- cold stampede -----------------------------------------------------------------------------


def _stampedes(endpoint: MotoEndpoint, s: Settings) -> dict[str, Any]:
    name, value = endpoint.create_secret("async-stampede")
    runs: dict[str, list[dict[str, Any]]] = {lib: [] for lib in LIBRARIES}
    for turn in range(s.stampede_repeats):
        for library in rotated(list(LIBRARIES), turn):
            runs[library].append(asyncio.run(_stampede(endpoint, s, library, name, value)))
    return {
        "tasks": TASKS,
        "latency_seconds": s.latency_seconds,
        "runs": runs,
        "median_api_calls": {k: median([r["api_calls"] for r in v]) for k, v in runs.items()},
        "median_all_served_ms": {
            k: median([r["all_served_ms"] for r in v]) for k, v in runs.items()
        },
        "median_longest_loop_gap_ms": {
            k: median([r["longest_loop_gap_ms"] for r in v]) for k, v in runs.items()
        },
    }


async def _stampede(
    endpoint: MotoEndpoint, s: Settings, library: str, name: str, value: str
) -> dict[str, Any]:
    probe = endpoint.probe(latency_seconds=s.latency_seconds)
    read, close = _async_reader(library, probe)
    gaps: list[float] = []
    stop = asyncio.Event()

    async def ticker() -> None:
        last = time.perf_counter()
        while not stop.is_set():
            await asyncio.sleep(0)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    tick = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    started = time.perf_counter()
    results = await asyncio.gather(*(read(name) for _ in range(TASKS)), return_exceptions=True)
    elapsed = time.perf_counter() - started
    stop.set()
    await tick
    await close()
    errors = [r for r in results if isinstance(r, BaseException)]
    wrong = sum(1 for r in results if not isinstance(r, BaseException) and r != value)
    return {
        "api_calls": probe.log.count(),
        "all_served_ms": elapsed * 1000,
        "longest_loop_gap_ms": max(gaps, default=0.0) * 1000,
        "errors": len(errors),
        "error_types": sorted({type(e).__name__ for e in errors}),
        "wrong_values": wrong,
    }


def _async_reader(
    library: str, probe: Any
) -> tuple[Callable[[str], Awaitable[str]], Callable[[], Awaitable[None]]]:
    """``read(name) -> text`` as an async application writes it, and how to close."""
    if library == OURS:
        from secretcache import AsyncSecretCache

        cache = AsyncSecretCache(probe.client)

        async def read(secret_id: str) -> str:
            return (await cache.get(secret_id)).text

        return read, cache.aclose
    subject = make_subject(library, probe)

    async def read_in_thread(secret_id: str) -> str:
        return subject.text(await asyncio.to_thread(subject.read, secret_id))

    async def close() -> None:
        subject.close()

    return read_in_thread, close


# -- the harness's scenario -----------------------------------------------------------------------


def run(ctx: Context) -> ScenarioResult:
    if ctx.placeholder:
        result = ScenarioResult(KEY, TITLE, status="skipped")
        result.notes = ["secretcache is not importable: there is no AsyncSecretCache to measure."]
        return result
    data = measure(ctx.endpoint, ctx.settings)
    return _result(data)


def _result(data: dict[str, Any]) -> ScenarioResult:
    hit, stampede = data["hit"], data["stampede"]
    calls = stampede["median_api_calls"]
    served = stampede["median_all_served_ms"]
    gap = stampede["median_longest_loop_gap_ms"]
    result = ScenarioResult(KEY, TITLE)
    result.headline = [
        Headline(
            "async hit, median ns per await get (dict: await of a dict read)",
            {DICT: hit["median_ns"][FLOOR], OURS: hit["median_ns"][OURS]},
            vs_dict=hit["ours_over_await_dict"],
        ),
        Headline(
            f"async cold stampede, API calls ({TASKS} tasks)",
            dict(calls),
            advantage={a: advantage(calls[OURS], calls[a], lower_is_better=True) for a in ANCHORS},
        ),
        Headline(
            f"async cold stampede, ms until all {TASKS} served",
            dict(served),
            advantage={
                a: advantage(served[OURS], served[a], lower_is_better=True) for a in ANCHORS
            },
        ),
    ]
    result.columns = [
        "library",
        "API calls (median)",
        "all served ms (median)",
        "longest loop gap ms (median)",
        "errors",
        "wrong values",
    ]
    for lib, repeats in stampede["runs"].items():
        result.rows.append(
            [
                LABELS[lib] + ("" if lib == OURS else " (to_thread)"),
                calls[lib],
                served[lib],
                gap[lib],
                sum(r["errors"] for r in repeats),
                sum(r["wrong_values"] for r in repeats),
            ]
        )
    ns = hit["median_ns"]
    result.notes = [
        f"await hit: secretcache {ns[OURS]:.0f} ns, await of a dict-read coroutine "
        f"{ns[FLOOR]:.0f} ns, sync SecretCache.get awaited the same way {ns[SYNC]:.0f} ns "
        f"(medians of {hit['rounds']} interleaved rounds).",
        f"Stampede: {TASKS} tasks in one gather, endpoint latency "
        f"{stampede['latency_seconds'] * 1000:.0f} ms; the anchors run in asyncio.to_thread "
        "(default executor), as an async application would call them.",
    ]
    result.data = data
    return result


def main() -> None:
    """``python -m benchmarks.async_cache``: a quick run on a private moto server, as a dict."""
    import json

    endpoint = MotoEndpoint()
    try:
        data = measure(endpoint, Settings.for_mode(quick=True))
    finally:
        endpoint.stop()
    summary = {
        "async_hit_ns": data["hit"]["median_ns"],
        "ours_over_await_dict": data["hit"]["ours_over_await_dict"],
        "stampede_api_calls": data["stampede"]["median_api_calls"],
        "stampede_all_served_ms": data["stampede"]["median_all_served_ms"],
        "stampede_longest_loop_gap_ms": data["stampede"]["median_longest_loop_gap_ms"],
    }
    print(json.dumps(summary, indent=2, default=statistics.fmean))


if __name__ == "__main__":
    main()
