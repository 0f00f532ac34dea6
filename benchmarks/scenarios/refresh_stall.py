"""4. Refresh stall: reader latency across TTL expiries with an endpoint that answers in 200 ms.

Each library in turn (one at a time, so that no other library's traffic shares the GIL with
its readers) gets a short TTL (2 s; the AWS library draws each refresh time uniformly from
[TTL/2, TTL]) and an endpoint that takes 200 ms per request. Reader threads read steadily for
the whole run; half way through, the secret is rotated (a new AWSCURRENT version), so the run
also shows how soon each library serves the new value and what the rotation costs in calls.

A read is "stalled" when it took longer than half the endpoint latency: it waited for the
network. moto runs in this process, so reads can also wait a few ms for the GIL while moto
serves a refresh; that is far below the stall threshold.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

from .._libs import ANCHORS, LABELS, LIBRARIES, OURS
from .._measure import advantage, percentile
from .._model import Context, Headline, ScenarioResult
from .._readers import Read, Readers

KEY = "stall"
TITLE = "Refresh stall: reader latency across TTL expiries, endpoint answering in 200 ms"


@dataclass(frozen=True)
class StallRun:
    """What one library did over one run."""

    reads: int
    p50_ms: float
    p99_ms: float
    p999_ms: float
    max_ms: float
    stalled_reads: int
    blocked_share: float
    errors: int
    api_calls: int
    by_operation: dict[str, int]
    rotation_at: float
    pickup_seconds: float | None
    calls_for_rotation: int
    stats: dict[str, object] | None


def _one(ctx: Context, library: str) -> tuple[StallRun, list[Read], list[float]]:
    s = ctx.settings
    name, value = ctx.endpoint.create_secret(f"stall-{library}")
    subject = ctx.subject(
        library, ttl_seconds=s.stall_ttl_seconds, latency_seconds=s.stall_latency_seconds
    )
    subject.read(name)
    log = subject.probe.log if subject.probe else None
    origin = time.perf_counter()
    readers = Readers(
        subject,
        name,
        threads=s.stall_readers,
        interval=s.stall_read_interval_seconds,
        origin=origin,
        labels={value: "old"},
    ).start()
    time.sleep(s.stall_seconds / 2)
    new_value = ctx.endpoint.new_value()
    readers.labels[new_value] = "new"
    rotation_at = time.perf_counter() - origin
    ctx.endpoint.rotate(name, new_value)
    time.sleep(s.stall_seconds / 2)
    reads = readers.stop()
    stats = subject.stats() if subject.stats else None
    subject.close()

    latencies = [r.seconds * 1000 for r in reads]
    threshold = s.stall_latency_seconds / 2
    pickup = next((r.at for r in reads if r.at >= rotation_at and r.outcome == "new"), None)
    call_times = [c.started - origin for c in log.calls] if log else []
    in_run = [t for t in call_times if t >= 0]
    after_rotation = [t for t in in_run if t >= rotation_at and (pickup is None or t <= pickup)]
    run = StallRun(
        reads=len(reads),
        p50_ms=percentile(latencies, 50),
        p99_ms=percentile(latencies, 99),
        p999_ms=percentile(latencies, 99.9),
        max_ms=max(latencies, default=0.0),
        stalled_reads=sum(r.seconds > threshold for r in reads),
        blocked_share=sum(r.seconds for r in reads if r.seconds > threshold)
        / (s.stall_readers * s.stall_seconds),
        errors=sum(r.outcome not in ("old", "new") for r in reads),
        api_calls=len(in_run),
        by_operation=log.by_operation(since=origin) if log else {},
        rotation_at=rotation_at,
        pickup_seconds=None if pickup is None else pickup - rotation_at,
        calls_for_rotation=len(after_rotation),
        stats=stats,
    )
    return run, reads, in_run


def run(ctx: Context) -> ScenarioResult:
    runs: dict[str, StallRun] = {}
    series: dict[str, dict[str, object]] = {}
    for library in LIBRARIES:
        one, reads, calls = _one(ctx, library)
        runs[library] = one
        series[library] = {
            "read_at": [r.at for r in reads],
            "read_ms": [r.seconds * 1000 for r in reads],
            "call_at": calls,
            "rotation_at": one.rotation_at,
        }
    return _result(ctx, runs, series)


def _headline(metric: str, values: dict[str, float], *, digits: int = 3) -> Headline:
    return Headline(
        metric,
        dict(values),
        advantage={a: advantage(values[OURS], values[a], lower_is_better=True) for a in ANCHORS},
        digits=digits,
    )


def _result(
    ctx: Context, runs: dict[str, StallRun], series: dict[str, dict[str, object]]
) -> ScenarioResult:
    s = ctx.settings
    result = ScenarioResult(KEY, TITLE)
    result.headline = [
        _headline("refresh stall, reader p99 ms", {k: r.p99_ms for k, r in runs.items()}),
        _headline("refresh stall, reader max ms", {k: r.max_ms for k, r in runs.items()}),
        _headline(
            "refresh stall, reads that waited on the endpoint",
            {k: float(r.stalled_reads) for k, r in runs.items()},
        ),
        _headline(
            "refresh stall, % of reader time spent waiting",
            {k: 100 * r.blocked_share for k, r in runs.items()},
        ),
        _headline(
            "refresh stall, API calls in the run", {k: float(r.api_calls) for k, r in runs.items()}
        ),
    ]
    result.columns = [
        "library",
        "reads",
        "p50 ms",
        "p99 ms",
        "p99.9 ms",
        "max ms",
        "stalled reads",
        "% time waiting",
        "errors",
        "API calls",
        "by operation",
        "rotation seen after s",
    ]
    for lib, r in runs.items():
        result.rows.append(
            [
                LABELS[lib],
                r.reads,
                r.p50_ms,
                r.p99_ms,
                r.p999_ms,
                r.max_ms,
                r.stalled_reads,
                100 * r.blocked_share,
                r.errors,
                r.api_calls,
                r.by_operation,
                r.pickup_seconds,
            ]
        )
    result.notes = [
        f"TTL {s.stall_ttl_seconds:g} s, endpoint latency "
        f"{s.stall_latency_seconds * 1000:.0f} ms, {s.stall_readers} readers each pausing "
        f"{s.stall_read_interval_seconds * 1000:g} ms between reads, {s.stall_seconds:g} s "
        "per library; a read is stalled above half the endpoint latency.",
        "Readers pause between reads, so one stall costs each reader one slow read: p99 can "
        "miss it. '% time waiting' is the readers' time spent in stalled reads over their "
        "total time, i.e. the share of requests that would wait if they arrived at a steady "
        "rate instead.",
        "The secret is rotated half way; 'rotation seen after' is the time until the first "
        "read that returned the new value (bounded by each library's TTL by design).",
    ]
    if runs[OURS].stats is not None:
        result.notes.append(f"secretcache stats() after the run: {runs[OURS].stats}.")
    result.data = {"runs": {k: dataclasses.asdict(r) for k, r in runs.items()}}
    result.plot_data = {"series": series, "duration": s.stall_seconds}
    return result
