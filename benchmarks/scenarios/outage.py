"""5. Endpoint outage: what each library serves or raises while the endpoint fails, and after.

All three libraries run at once (the finding is what they serve and how many calls they
make, not latency), each on its own client with a 2 s TTL and steady readers. At t=0 every
request starts failing with HTTP 500 ``InternalServiceError`` (after the added latency),
for the TTL plus the outage length, so the outage runs that long *after* every value has
expired. During the outage the secret is rotated on the backend, so that after the endpoint
recovers the run shows how soon each library serves the current value again (the run ends
when all three do, or after ``recovery_seconds``).
"""

from __future__ import annotations

import dataclasses
import inspect
import time
from collections import Counter
from dataclasses import dataclass

from secretcache import SecretCache

from .._libs import ANCHORS, LABELS, LIBRARIES, OURS, Subject
from .._measure import advantage
from .._model import Context, Headline, ScenarioResult
from .._readers import Read, Readers

KEY = "outage"
TITLE = "Endpoint outage after expiry: what is served, what is raised, how many calls"


@dataclass(frozen=True)
class OutageRun:
    """One library's outage and recovery."""

    reads_after_expiry: int
    served_after_expiry: int
    raised_after_expiry: int
    raised_types: dict[str, int]
    first_raise_at: float | None
    calls_during_outage: int
    calls_per_minute_after_expiry: float
    recovery_seconds: float | None
    calls_during_recovery: int
    stats: dict[str, object] | None


def run(ctx: Context) -> ScenarioResult:
    s = ctx.settings
    subjects: dict[str, Subject] = {}
    names: dict[str, str] = {}
    values: dict[str, str] = {}
    readers: dict[str, Readers] = {}
    for library in LIBRARIES:
        name, value = ctx.endpoint.create_secret(f"outage-{library}")
        subject = ctx.subject(
            library, ttl_seconds=s.outage_ttl_seconds, latency_seconds=s.outage_latency_seconds
        )
        subject.read(name)
        subjects[library], names[library], values[library] = subject, name, value
    origin = time.perf_counter()
    for library, subject in subjects.items():
        if subject.probe:
            subject.probe.faults.failing = True
        readers[library] = Readers(
            subject,
            names[library],
            threads=s.outage_readers,
            interval=s.outage_read_interval_seconds,
            origin=origin,
            labels={},
        )
    for library in subjects:
        new = ctx.endpoint.new_value()
        readers[library].labels.update({values[library]: "old", new: "new"})
        ctx.endpoint.rotate(names[library], new)
    for r in readers.values():
        r.start()

    outage_end = s.outage_ttl_seconds + s.outage_seconds
    time.sleep(outage_end)
    for subject in subjects.values():
        if subject.probe:
            subject.probe.faults.failing = False
    recovered_at = time.perf_counter() - origin
    deadline = time.monotonic() + s.recovery_seconds
    while time.monotonic() < deadline and not all(r.seen("new") for r in readers.values()):
        time.sleep(0.1)
    time.sleep(0.2)
    reads = {lib: r.stop() for lib, r in readers.items()}

    runs = {
        lib: _summarise(ctx, subjects[lib], reads[lib], origin, recovered_at) for lib in LIBRARIES
    }
    call_times = {
        lib: [c.started - origin for c in subject.probe.log.calls if c.started >= origin]
        for lib, subject in subjects.items()
        if subject.probe
    }
    for subject in subjects.values():
        subject.close()
    return _result(ctx, runs, reads, call_times, recovered_at)


def _summarise(
    ctx: Context, subject: Subject, reads: list[Read], origin: float, recovered_at: float
) -> OutageRun:
    s = ctx.settings
    expiry = s.outage_ttl_seconds
    after_expiry = [r for r in reads if expiry <= r.at < recovered_at]
    raised = [r for r in reads if r.at < recovered_at and r.outcome not in ("old", "new")]
    log = subject.probe.log if subject.probe else None
    outage_calls = log.count(origin, origin + recovered_at) if log else 0
    calls_after_expiry = log.count(origin + expiry, origin + recovered_at) if log else 0
    first_new = next((r.at for r in reads if r.at >= recovered_at and r.outcome == "new"), None)
    window = max(recovered_at - expiry, 1e-9)
    return OutageRun(
        reads_after_expiry=len(after_expiry),
        served_after_expiry=sum(r.outcome in ("old", "new") for r in after_expiry),
        raised_after_expiry=sum(r.outcome not in ("old", "new") for r in after_expiry),
        raised_types=dict(Counter(r.outcome for r in raised)),
        first_raise_at=raised[0].at if raised else None,
        calls_during_outage=outage_calls,
        calls_per_minute_after_expiry=calls_after_expiry * 60 / window,
        recovery_seconds=None if first_new is None else first_new - recovered_at,
        calls_during_recovery=log.count(origin + recovered_at) if log else 0,
        stats=subject.stats() if subject.stats else None,
    )


def _result(
    ctx: Context,
    runs: dict[str, OutageRun],
    reads: dict[str, list[Read]],
    call_times: dict[str, list[float]],
    recovered_at: float,
) -> ScenarioResult:
    s = ctx.settings
    result = ScenarioResult(KEY, TITLE)
    raised = {k: float(r.raised_after_expiry) for k, r in runs.items()}
    calls = {k: float(r.calls_during_outage) for k, r in runs.items()}
    result.headline = [
        Headline(
            f"outage {s.outage_seconds:g} s after expiry, reads that raised",
            raised,
            advantage={
                a: advantage(raised[OURS], raised[a], lower_is_better=True) for a in ANCHORS
            },
        ),
        Headline(
            "outage, API calls made during it",
            calls,
            advantage={a: advantage(calls[OURS], calls[a], lower_is_better=True) for a in ANCHORS},
        ),
    ]
    recovery = {k: r.recovery_seconds for k, r in runs.items()}
    if all(v is not None for v in recovery.values()):
        known = {k: float(v) for k, v in recovery.items() if v is not None}
        result.headline.append(
            Headline(
                "after recovery, s until the current value is served",
                dict(known),
                advantage={
                    a: advantage(known[OURS], known[a], lower_is_better=True) for a in ANCHORS
                },
            )
        )
    result.columns = [
        "library",
        "reads after expiry",
        "served",
        "raised",
        "raised types",
        "first raise at s",
        "calls in outage",
        "calls/min after expiry",
        "current value after recovery, s",
    ]
    for lib, r in runs.items():
        result.rows.append(
            [
                LABELS[lib],
                r.reads_after_expiry,
                r.served_after_expiry,
                r.raised_after_expiry,
                r.raised_types or "-",
                r.first_raise_at,
                r.calls_during_outage,
                r.calls_per_minute_after_expiry,
                r.recovery_seconds
                if r.recovery_seconds is not None
                else f"not within {s.recovery_seconds:g} s",
            ]
        )
    result.notes = [
        f"TTL {s.outage_ttl_seconds:g} s; every request fails (HTTP 500 InternalServiceError "
        f"after {s.outage_latency_seconds * 1000:g} ms) from t=0 to t={recovered_at:.1f} s, "
        f"i.e. {s.outage_seconds:g} s past expiry; then recovery until every library serves "
        f"the current value (at most {s.recovery_seconds:g} s). "
        f"{s.outage_readers} readers per library, one read every "
        f"{s.outage_read_interval_seconds * 1000:g} ms each; the three libraries run at once.",
        "The secret is rotated on the backend at t=0; served values during the outage are the "
        "pre-outage value (stale). 'current value after recovery' is the time from recovery to "
        "the first read returning the rotated value. It is one sample and depends on where the "
        "outage ends in each library's retry schedule: secretcache retries with jittered "
        "exponential backoff capped at backoff_max_seconds "
        f"({inspect.signature(SecretCache).parameters['backoff_max_seconds'].default:g} s by "
        "default); the AWS library "
        "at 1, 2, 4, 8, ... s after each failure without jitter, capped at 3600 s; Powertools "
        "calls the endpoint on every read after expiry, so it recovers at once and also "
        "calls thousands of times during the outage.",
    ]
    if runs[OURS].stats is not None:
        result.notes.append(f"secretcache stats() after the run: {runs[OURS].stats}.")
    result.data = {
        "runs": {k: dataclasses.asdict(r) for k, r in runs.items()},
        "recovered_at": recovered_at,
    }
    result.plot_data = {
        "reads": {k: [(r.at, r.outcome) for r in rs] for k, rs in reads.items()},
        "calls": call_times,
        "recovered_at": recovered_at,
        "expiry": s.outage_ttl_seconds,
    }
    return result
