"""1. Hit latency, single thread, against the floor of a bare dict read.

All four subjects are called by the same loop as ``read(secret_id)`` on a warm cache (each
library at its default TTL; Powertools with ``max_age=300``). Two measurements:

- batched: ``read`` called in a tight loop, a short batch (about 0.2 ms) timed as a whole,
  ns per call. Each round times many batches of every subject (order rotated per round) and
  keeps their median; the headline median is the median over rounds, and each ratio is the
  median of the per-round ratios (paired, so the machine's load at that moment cancels).
- per call: each call timed on its own with ``perf_counter_ns`` for the distribution and p99;
  these include the timer's own cost, reported as ``timer overhead``.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable

from .._libs import ANCHORS, DICT, LABELS, LIBRARIES, OURS, Subject, dict_subject
from .._measure import median, percentile, rotated, safe_ratio
from .._model import Context, Headline, ScenarioResult

KEY = "hit"
TITLE = "Hit latency, single thread (ns per read)"


def _batch_ns(read: Callable[[str], object], secret_id: str, count: int) -> float:
    clock = time.perf_counter_ns
    start = clock()
    for _ in itertools.repeat(None, count):
        read(secret_id)
    return (clock() - start) / count


def _calibrate(read: Callable[[str], object], secret_id: str, seconds: float) -> int:
    """A batch size whose batch takes about ``seconds`` (at least 1 call)."""
    per_call = min(_batch_ns(read, secret_id, 64) for _ in range(20))
    return max(1, round(seconds * 1e9 / per_call))


def _per_call_ns(read: Callable[[str], object], secret_id: str, count: int) -> list[int]:
    clock = time.perf_counter_ns
    samples = [0] * count
    for i in range(count):
        start = clock()
        read(secret_id)
        samples[i] = clock() - start
    return samples


def _timer_overhead_ns() -> float:
    clock = time.perf_counter_ns
    gaps = []
    for _ in range(20_000):
        start = clock()
        gaps.append(clock() - start)
    return median(gaps)


def run(ctx: Context) -> ScenarioResult:
    s = ctx.settings
    name, value = ctx.endpoint.create_secret("hit")
    subjects: dict[str, Subject] = {DICT: dict_subject({name: value})}
    for library in LIBRARIES:
        subjects[library] = ctx.subject(library)
    for subject in subjects.values():
        if subject.text(subject.read(name)) != value:
            raise RuntimeError(f"{subject.library} returned the wrong value")
    calls_before = {k: v.probe.log.count() for k, v in subjects.items() if v.probe}

    order = list(subjects)
    sizes = {k: _calibrate(v.read, name, s.hit_batch_seconds) for k, v in subjects.items()}
    rounds: dict[str, list[float]] = {k: [] for k in order}
    for turn in range(s.hit_rounds):
        for key in rotated(order, turn):
            read = subjects[key].read
            batches = [_batch_ns(read, name, sizes[key]) for _ in range(s.hit_batches_per_round)]
            rounds[key].append(median(batches))

    per_call: dict[str, list[int]] = {}
    for key in order:
        # Bound the slow subjects to about a second of sampling.
        budget = max(1000, int(1e9 / max(median(rounds[key]), 1.0)))
        per_call[key] = _per_call_ns(subjects[key].read, name, min(s.hit_samples, budget))
    timer = _timer_overhead_ns()

    calls_during = {
        k: v.probe.log.count() - calls_before[k] for k, v in subjects.items() if v.probe
    }
    for subject in subjects.values():
        subject.close()
    return _result(rounds, per_call, timer, calls_during, sizes)


def _paired(rounds: dict[str, list[float]], top: str, bottom: str) -> float | None:
    ratios = [safe_ratio(a, b) for a, b in zip(rounds[top], rounds[bottom], strict=True)]
    usable = [r for r in ratios if r is not None]
    return median(usable) if usable else None


def _result(
    rounds: dict[str, list[float]],
    per_call: dict[str, list[int]],
    timer: float,
    calls_during: dict[str, int],
    sizes: dict[str, int],
) -> ScenarioResult:
    medians = {k: median(v) for k, v in rounds.items()}
    p50 = {k: percentile(v, 50) for k, v in per_call.items()}
    p99 = {k: percentile(v, 99) for k, v in per_call.items()}
    vs_dict = _paired(rounds, OURS, DICT)
    advantage = {a: _paired(rounds, a, OURS) for a in ANCHORS}
    result = ScenarioResult(KEY, TITLE)
    result.headline = [
        Headline(
            "hit latency, median ns/read (batched)",
            dict(medians),
            advantage=advantage,
            vs_dict=vs_dict,
        ),
        Headline(
            "hit latency, p99 ns/read (per call)",
            dict(p99),
            vs_dict=safe_ratio(p99[OURS], p99[DICT]),
        ),
    ]
    result.columns = [
        "subject",
        "median ns (batched)",
        "p50 ns (per call)",
        "p99 ns (per call)",
        "x dict",
        "x ours",
        "API calls in loop",
    ]
    for key in rounds:
        result.rows.append(
            [
                LABELS[key],
                medians[key],
                p50[key],
                p99[key],
                _paired(rounds, key, DICT),
                _paired(rounds, key, OURS),
                calls_during.get(key, "-"),
            ]
        )
    result.notes = [
        f"Per-call samples include the timer's own cost: {timer:.0f} ns per "
        "perf_counter_ns pair on this machine. A slow call is more likely to be cut by an OS "
        "time slice on a loaded machine, so the p99 of the slowest library includes "
        "preemption.",
        "Ratios are medians of per-round ratios over "
        f"{len(rounds[OURS])} interleaved rounds; batch sizes: "
        + ", ".join(f"{LABELS[k]} {n}" for k, n in sizes.items())
        + ".",
    ]
    quantiles = (1, 5, 10, 25, 50, 75, 90, 95, 99, 99.9)
    result.data = {
        "median_ns_batched": medians,
        "rounds_ns": rounds,
        "per_call_quantiles_ns": {
            k: {str(q): percentile(v, q) for q in quantiles} for k, v in per_call.items()
        },
        "ratios": {
            "ours_over_dict": vs_dict,
            "aws_over_ours": advantage[ANCHORS[0]],
            "powertools_over_ours": advantage[ANCHORS[1]],
        },
        "timer_overhead_ns": timer,
        "api_calls_during_hit_loop": calls_during,
        "targets": {
            "ours_over_dict_max": 6,
            "aws_over_ours_min": 100,
            "powertools_over_ours_min": 4,
        },
    }
    result.plot_data = {"per_call_ns": per_call}
    return result
