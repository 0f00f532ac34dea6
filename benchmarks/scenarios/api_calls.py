"""6. API calls per hour per process at steady traffic, and what they cost a fleet.

Method: measured on a shortened clock, cross-checked analytically for the anchors.
Each library keeps its own refresh policy with its *default* TTL divided by a scale factor
(this SDK's and Powertools' 300 s by ``calls_scale``; the AWS library's 3600 s by
``calls_scale_aws``, because it draws refresh times in whole seconds). 1, 10 and 100 secrets
per library are read in a steady round robin (up to ten reader threads per instance), every
secret far more often than its TTL, all nine (library, size) instances at once, each on its
own counted client.

Estimator: for every secret, the intervals between successive API calls for it, starting
from the end of its cold read. An interval is counted only if it *starts* early enough that
it must have ended inside the window (start < end - bound, bound >= the longest possible
interval), so the estimate is not biased toward short intervals or by the AWS library's
delayed first refresh. Calls per hour = 3600 / mean interval / scale, per secret; a
process's total is that times the number of secrets (the three policies are per secret).
Cold-start calls (one per secret, two for the AWS library) are not part of the steady rate.
"""

from __future__ import annotations

import dataclasses
import inspect
import threading
import time
from collections import defaultdict
from dataclasses import dataclass

from .._libs import ANCHORS, AWS, LABELS, LIBRARIES, OURS, POWERTOOLS, Subject, load_secretcache
from .._measure import advantage
from .._model import Context, Headline, ScenarioResult

KEY = "calls"
TITLE = "API calls per hour per process at steady traffic, and cost for 1,000 processes"
PRICE_PER_CALL = 0.05 / 10_000  # USD, Secrets Manager API requests
HOURS_PER_MONTH = 730
FLEET = 1000
# Reader threads per instance: a library that fetches on the reader's thread delays only that
# reader's other secrets, by a few fetch times, which is small against the scaled TTL.
READERS = 10


def _ours_defaults() -> dict[str, float]:
    cls, _ = load_secretcache()
    found = {}
    for name, parameter in inspect.signature(cls).parameters.items():
        if isinstance(parameter.default, int | float) and not isinstance(parameter.default, bool):
            found[name] = float(parameter.default)
    return found


def default_ttls() -> dict[str, float]:
    """Each library's default refresh period, read from its installed source."""
    from aws_lambda_powertools.utilities.parameters.constants import DEFAULT_MAX_AGE_SECS
    from aws_secretsmanager_caching import SecretCacheConfig

    return {
        OURS: _ours_defaults().get("ttl_seconds", 300.0),
        AWS: float(SecretCacheConfig.OPTION_DEFAULTS["secret_refresh_interval"]),
        POWERTOOLS: float(DEFAULT_MAX_AGE_SECS),
    }


def analytic_per_secret_hour(defaults: dict[str, float]) -> dict[str, float | None]:
    """Steady calls per secret per hour, from each library's defaults and refresh rule."""
    ours = _ours_defaults()
    ahead, jitter = ours.get("refresh_ahead_fraction"), ours.get("ttl_jitter_fraction")
    ours_interval = (
        None
        if ahead is None or jitter is None
        # entry TTL = ttl * (1 - jitter * U), refreshed in the background at (1 - ahead) of it
        else defaults[OURS] * (1 - jitter / 2) * (1 - ahead)
    )
    aws_ttl = round(defaults[AWS])
    aws_mean_interval = (round(aws_ttl / 2) + aws_ttl) / 2  # randint(round(T/2), T)
    return {
        OURS: None if ours_interval is None else 3600 / ours_interval,
        AWS: 3600 / aws_mean_interval,  # one DescribeSecret per refresh
        POWERTOOLS: 3600 / defaults[POWERTOOLS],  # one GetSecretValue per max_age
    }


@dataclass
class Combo:
    """One library instance serving ``size`` secrets."""

    library: str
    size: int
    subject: Subject
    names: list[str]
    warm: dict[str, float] = dataclasses.field(default_factory=dict)


def _reader(subject: Subject, names: list[str], period: float, stop: threading.Event) -> None:
    step = period / len(names)
    next_at = time.perf_counter()
    while not stop.is_set():
        for name in names:
            subject.read(name)
            next_at += step
            delay = next_at - time.perf_counter()
            if delay > 0:
                stop.wait(delay)
            if stop.is_set():
                return


def _intervals(combo: Combo, end: float, bound: float) -> tuple[int, float]:
    """(calls, seconds) over the counted intervals of every secret of ``combo``."""
    per_secret: dict[str | None, list[float]] = defaultdict(list)
    for call in combo.subject.probe.log.calls if combo.subject.probe else []:
        per_secret[call.secret_id].append(call.started)
    cutoff = end - bound
    calls, seconds = 0, 0.0
    for name, warm in combo.warm.items():
        times = [warm, *sorted(t for t in per_secret[name] if warm <= t < end)]
        for start, stop in zip(times, [*times[1:], None], strict=True):
            if start >= cutoff:
                break
            if stop is None:  # no call for longer than the bound: observed, and call-free
                seconds += end - start
            else:
                calls += 1
                seconds += stop - start
    return calls, seconds


def run(ctx: Context) -> ScenarioResult:
    s = ctx.settings
    defaults = default_ttls()
    scale = {OURS: s.calls_scale, POWERTOOLS: s.calls_scale, AWS: s.calls_scale_aws}
    scaled = {lib: defaults[lib] / scale[lib] for lib in LIBRARIES}
    combos = [
        Combo(lib, size, ctx.subject(lib, ttl_seconds=scaled[lib]), [])
        for lib in LIBRARIES
        for size in s.calls_sizes
    ]
    for combo in combos:
        combo.names = [
            ctx.endpoint.create_secret(f"calls-{combo.size}")[0] for _ in range(combo.size)
        ]
    origin = time.perf_counter()
    for combo in combos:
        for name in combo.names:
            combo.subject.read(name)
            combo.warm[name] = time.perf_counter()
    bound = {lib: 1.25 * scaled[lib] + 2 * s.calls_read_period_seconds for lib in LIBRARIES}
    last_warm = max(t for c in combos for t in c.warm.values())
    end = max(origin + s.calls_window_seconds, last_warm + max(bound.values()) + 1.0)

    stop = threading.Event()
    threads = [
        threading.Thread(
            target=_reader,
            args=(c.subject, c.names[i::READERS], s.calls_read_period_seconds, stop),
            daemon=True,
        )
        for c in combos
        for i in range(min(READERS, c.size))
    ]
    for thread in threads:
        thread.start()
    time.sleep(max(0.0, end - time.perf_counter()))
    stop.set()
    for thread in threads:
        thread.join(30)

    measured: dict[tuple[str, int], float | None] = {}
    pooled: dict[str, list[float]] = {lib: [0.0, 0.0] for lib in LIBRARIES}
    for combo in combos:
        calls, seconds = _intervals(combo, end, bound[combo.library])
        pooled[combo.library][0] += calls
        pooled[combo.library][1] += seconds
        rate = calls / seconds / scale[combo.library] * 3600 if seconds else None
        measured[combo.library, combo.size] = None if rate is None else rate * combo.size
        combo.subject.close()
    per_secret = {
        lib: (c / t / scale[lib] * 3600 if t else float("nan")) for lib, (c, t) in pooled.items()
    }
    return _result(ctx, defaults, scaled, scale, per_secret, measured, end - origin)


def _cost(calls_per_hour: float) -> float:
    return calls_per_hour * HOURS_PER_MONTH * FLEET * PRICE_PER_CALL


def _result(
    ctx: Context,
    defaults: dict[str, float],
    scaled: dict[str, float],
    scale: dict[str, float],
    per_secret: dict[str, float],
    measured: dict[tuple[str, int], float | None],
    window: float,
) -> ScenarioResult:
    s = ctx.settings
    analytic = analytic_per_secret_hour(defaults)
    result = ScenarioResult(KEY, TITLE)
    biggest = max(s.calls_sizes)
    hourly = {lib: per_secret[lib] * biggest for lib in LIBRARIES}
    cost = {lib: _cost(hourly[lib]) for lib in LIBRARIES}
    result.headline = [
        Headline(
            "API calls/hour/process, 1 secret",
            dict(per_secret),
            advantage={
                a: advantage(per_secret[OURS], per_secret[a], lower_is_better=True) for a in ANCHORS
            },
        ),
        Headline(
            f"USD/month, {FLEET:,} processes x {biggest} secrets",
            dict(cost),
            advantage={a: advantage(cost[OURS], cost[a], lower_is_better=True) for a in ANCHORS},
            digits=4,
        ),
    ]
    result.columns = [
        "library",
        "default TTL s",
        "scaled TTL s",
        "secrets",
        "calls/hour (pooled x secrets)",
        "calls/hour (this instance)",
        "analytic calls/hour",
        f"USD/month, {FLEET:,} processes",
    ]
    for lib in LIBRARIES:
        for size in s.calls_sizes:
            per = analytic[lib]
            result.rows.append(
                [
                    LABELS[lib],
                    defaults[lib],
                    scaled[lib],
                    size,
                    per_secret[lib] * size,
                    measured[lib, size],
                    None if per is None else per * size,
                    _cost(per_secret[lib] * size),
                ]
            )
    result.notes = [
        f"Measured over {window:.0f} s with default TTLs scaled down (x1/{scale[OURS]:g} for "
        f"secretcache and Powertools, x1/{scale[AWS]:g} for the AWS library), every secret "
        f"read every {s.calls_read_period_seconds:g} s; see the method in the module docstring.",
        "Analytic: secretcache = one GetSecretValue per background refresh, at "
        "(1 - refresh_ahead_fraction) of an entry TTL jittered down by up to "
        "ttl_jitter_fraction, mean 0.76 T with the defaults; AWS library = one DescribeSecret "
        "per refresh, after randint(T/2, T) s, mean 0.75 T (GetSecretValue only when the "
        "version id changes); Powertools = one GetSecretValue per max_age. Measured figures "
        "sit a few % below: at the scaled TTLs the wait for the next read after a refresh "
        "falls due (up to the read period) is a visible part of the interval; at real TTLs "
        "it is not.",
        "The difference at defaults is the default TTL (secretcache 300 s, AWS library "
        "3600 s, Powertools 300 s). At the same configured TTL T the three make about "
        "3600/(0.76 T), 3600/(0.75 T) and 3600/T calls per secret per hour.",
        f"Cost = calls/hour x {HOURS_PER_MONTH} h x {FLEET:,} processes x $0.05 per 10,000 "
        "calls; cold starts add one call per secret per process start (two for the AWS "
        "library), not included.",
    ]
    result.data = {
        "defaults_seconds": defaults,
        "scaled_ttl_seconds": scaled,
        "scale": scale,
        "per_secret_calls_per_hour": per_secret,
        "analytic_per_secret_calls_per_hour": analytic,
        "measured_calls_per_hour": {f"{k[0]}/{k[1]}": v for k, v in measured.items()},
        "usd_per_month_fleet": {
            str(size): {lib: _cost(per_secret[lib] * size) for lib in LIBRARIES}
            for size in s.calls_sizes
        },
        "window_seconds": window,
    }
    return result
