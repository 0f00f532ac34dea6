"""3. Cold stampede: 64 threads released together on one key no instance has cached yet.

Each repeat builds a fresh instance of each library (fresh client, fresh cache) with the
endpoint's added latency, releases the threads from one barrier, and records the API calls
the instance made and the time from the release until the last thread had its value.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from .._libs import ANCHORS, LABELS, LIBRARIES, OURS
from .._measure import advantage, median, percentile, rotated, run_threads
from .._model import Context, Headline, ScenarioResult

KEY = "stampede"
TITLE = "Cold stampede: 64 threads, one cold key"


@dataclass(frozen=True)
class Stampede:
    """One release of the threads on one fresh instance."""

    api_calls: int
    by_operation: dict[str, int]
    all_served_seconds: float
    p50_wait_seconds: float
    errors: int
    error_types: list[str]
    wrong_values: int


def _one(ctx: Context, library: str, name: str, value: str) -> Stampede:
    s = ctx.settings
    subject = ctx.subject(library, latency_seconds=s.latency_seconds)
    log = subject.probe.log if subject.probe else None
    wrong = [0]

    def work(_: int) -> None:
        if subject.text(subject.read(name)) != value:
            wrong[0] += 1

    run = run_threads(s.stampede_threads, work)
    waits = [t - run.started for t in run.finished]
    errors = sorted({type(e).__name__ for e in run.errors if e is not None})
    subject.close()
    return Stampede(
        api_calls=log.count() if log else 0,
        by_operation=log.by_operation() if log else {},
        all_served_seconds=run.elapsed,
        p50_wait_seconds=percentile(waits, 50),
        errors=sum(e is not None for e in run.errors),
        error_types=errors,
        wrong_values=wrong[0],
    )


def run(ctx: Context) -> ScenarioResult:
    s = ctx.settings
    name, value = ctx.endpoint.create_secret("stampede")
    runs: dict[str, list[Stampede]] = {lib: [] for lib in LIBRARIES}
    for turn in range(s.stampede_repeats):
        for library in rotated(LIBRARIES, turn):
            runs[library].append(_one(ctx, library, name, value))
    return _result(ctx, runs)


def _med(runs: list[Stampede], key: str) -> float:
    return median([float(getattr(r, key)) for r in runs])


def _result(ctx: Context, runs: dict[str, list[Stampede]]) -> ScenarioResult:
    s = ctx.settings
    calls = {lib: _med(r, "api_calls") for lib, r in runs.items()}
    served_ms = {lib: _med(r, "all_served_seconds") * 1000 for lib, r in runs.items()}
    result = ScenarioResult(KEY, TITLE)
    result.headline = [
        Headline(
            "cold stampede, API calls (64 threads)",
            dict(calls),
            advantage={a: advantage(calls[OURS], calls[a], lower_is_better=True) for a in ANCHORS},
        ),
        Headline(
            "cold stampede, ms until all 64 served",
            dict(served_ms),
            advantage={
                a: advantage(served_ms[OURS], served_ms[a], lower_is_better=True) for a in ANCHORS
            },
        ),
    ]
    result.columns = [
        "library",
        "API calls (median)",
        "calls by operation (last run)",
        "all served ms (median)",
        "p50 wait ms",
        "errors",
        "wrong values",
    ]
    for lib, repeats in runs.items():
        last = repeats[-1]
        result.rows.append(
            [
                LABELS[lib],
                calls[lib],
                last.by_operation,
                served_ms[lib],
                _med(repeats, "p50_wait_seconds") * 1000,
                sum(r.errors for r in repeats),
                sum(r.wrong_values for r in repeats),
            ]
        )
    result.notes = [
        f"{s.stampede_threads} threads, {s.stampede_repeats} repeats per library, endpoint "
        f"latency {s.latency_seconds * 1000:.0f} ms added to every request.",
    ]
    result.data = {
        "runs": {lib: [dataclasses.asdict(r) for r in rs] for lib, rs in runs.items()},
        "median_api_calls": calls,
        "median_all_served_ms": served_ms,
    }
    return result
