"""2. Hit throughput with 1, 2, 8 and 32 threads on one warm key.

Each thread calls ``read(secret_id)`` in chunks of 64 until a stop flag is set; the rate is
all completed reads over the time from the barrier release to the last thread's exit. Every
(repeat, thread count) measures all subjects back to back in a rotated order, and ratios are
medians of those paired ratios. CPython's GIL caps the total near the single-thread rate;
what differs between libraries is how much locking and copying costs on top.
"""

from __future__ import annotations

import itertools
import threading
import time

from .._libs import ANCHORS, DICT, LABELS, LIBRARIES, OURS, Subject, dict_subject
from .._measure import advantage, median, rotated, run_threads
from .._model import Context, Headline, ScenarioResult

KEY = "throughput"
TITLE = "Hit throughput vs threads (reads/s, all threads together)"
CHUNK = 64


def _ops_per_second(subject: Subject, secret_id: str, threads: int, seconds: float) -> float:
    stop = threading.Event()
    counts = [0] * threads
    read = subject.read

    def work(index: int) -> None:
        done = 0
        while not stop.is_set():
            for _ in itertools.repeat(None, CHUNK):
                read(secret_id)
            done += CHUNK
        counts[index] = done

    timer = threading.Timer(seconds, stop.set)
    timer.start()
    run = run_threads(threads, work)
    timer.cancel()
    failed = [e for e in run.errors if e is not None]
    if failed:
        raise RuntimeError(f"{subject.library} failed under threads: {type(failed[0]).__name__}")
    return sum(counts) / run.elapsed


def run(ctx: Context) -> ScenarioResult:
    s = ctx.settings
    name, value = ctx.endpoint.create_secret("throughput")
    subjects: dict[str, Subject] = {DICT: dict_subject({name: value})}
    for library in LIBRARIES:
        subjects[library] = ctx.subject(library)
        subjects[library].read(name)
    calls_before = {k: v.probe.log.count() for k, v in subjects.items() if v.probe}

    samples: dict[int, dict[str, list[float]]] = {
        n: {k: [] for k in subjects} for n in s.throughput_threads
    }
    turn = 0
    for _ in range(s.throughput_repeats):
        for threads in s.throughput_threads:
            for key in rotated(list(subjects), turn):
                rate = _ops_per_second(subjects[key], name, threads, s.throughput_seconds)
                samples[threads][key].append(rate)
            turn += 1
            time.sleep(0.05)
    calls_during = {
        k: v.probe.log.count() - calls_before[k] for k, v in subjects.items() if v.probe
    }
    for subject in subjects.values():
        subject.close()
    return _result(samples, calls_during)


def _paired_advantage(values: dict[str, list[float]], anchor: str) -> float | None:
    ratios = [
        advantage(ours, other, lower_is_better=False)
        for ours, other in zip(values[OURS], values[anchor], strict=True)
    ]
    usable = [r for r in ratios if r is not None]
    return median(usable) if usable else None


def _result(
    samples: dict[int, dict[str, list[float]]], calls_during: dict[str, int]
) -> ScenarioResult:
    result = ScenarioResult(KEY, TITLE)
    rates = {n: {k: median(v) for k, v in by_key.items()} for n, by_key in samples.items()}
    for threads, by_key in samples.items():
        paired = {a: _paired_advantage(by_key, a) for a in ANCHORS}
        result.headline.append(
            Headline(
                f"hit throughput, {threads} thread{'s' if threads > 1 else ''} (reads/s)",
                dict(rates[threads]),
                lower_is_better=False,
                advantage=paired,
                vs_dict=(rates[threads][OURS] / rates[threads][DICT]),
            )
        )
    result.columns = ["threads", *(LABELS[k] for k in (DICT, *LIBRARIES)), "ours/AWS", "ours/PT"]
    for threads, by_key in samples.items():
        result.rows.append(
            [
                threads,
                *(rates[threads][k] for k in (DICT, *LIBRARIES)),
                _paired_advantage(by_key, ANCHORS[0]),
                _paired_advantage(by_key, ANCHORS[1]),
            ]
        )
    result.notes = [
        f"API calls during the runs (all hits, expected 0): {calls_during}.",
    ]
    result.data = {"reads_per_second": rates, "samples": samples, "api_calls": calls_during}
    result.plot_data = {"rates": rates}
    return result
