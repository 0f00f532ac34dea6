"""8. Rotation under load: failed queries and GetSecretValue calls while a DB password rotates.

A private PostgreSQL cluster with scram-sha-256 (``tests.servers.PgServer``, started and
stopped by this scenario) and the shared moto endpoint. For each contender in turn, on a
login and secret of its own: 8 threads open a new connection per query (``SELECT 1``, a
short pause between queries) while the secret is rotated for real, several times, by the
rotation library's four steps (``tests.integrations.db_support.Rotations``): createSecret,
setSecret (``ALTER ROLE ... PASSWORD``), the window held open, testSecret, finishSecret.
Same schedule for every contender, once with a single user and once with alternating users.

Contenders:

- secretcache: ``secretcache.integrations.psycopg.connect(secret_id, cache=...)`` on a
  ``SecretCache`` with its default TTL (300 s): refresh on authentication failure.
- password from the environment: the login read once at start, as a deploy would inject it.
- aws-secretsmanager-caching with its default refresh interval (3600 s), read per query.
- Powertools ``SecretsProvider.get(max_age=300)`` (the harness's setting for it), per query.

Reported per contender: failed queries, GetSecretValue (and all API) calls per rotation on
its own counted client, and how long after setSecret new logins worked again.
"""

from __future__ import annotations

import dataclasses
import json
import statistics
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .._libs import ANCHORS, AWS, LABELS, LIBRARIES, OURS, POWERTOOLS
from .._measure import advantage
from .._model import Context, Headline, ScenarioResult

__all__ = ["CONTENDERS", "KEY", "TITLE", "RotationRun", "Schedule", "run"]

KEY = "rotation"
TITLE = "Rotation under load (PostgreSQL): failed queries and API calls per rotation"

ENV = "env"
CONTENDERS = (OURS, ENV, AWS, POWERTOOLS)
CONTENDER_LABELS = {**LABELS, ENV: "env var (read once)"}
STRATEGIES = ("single", "alternating")
WORKERS = 8


@dataclass(frozen=True)
class Schedule:
    """The rotation schedule every contender gets."""

    rotations: int
    window_seconds: float  # setSecret → finishSecret, new logins forced in it
    settle_seconds: float  # before setSecret and after finishSecret


@dataclass(frozen=True)
class RotationRun:
    """One contender under one strategy."""

    contender: str
    strategy: str
    queries: int
    failed: int
    errors: dict[str, int]
    get_secret_value_per_rotation: float
    api_calls_per_rotation: float
    by_operation: dict[str, int]
    recovered_after_seconds: float | None  # worst rotation; None: still failing at its end
    call_at: list[float]
    rotation_at: float
    duration: float

    @property
    def failed_percent(self) -> float:
        return 100.0 * self.failed / self.queries if self.queries else 0.0


def run(ctx: Context) -> ScenarioResult:
    if ctx.placeholder:
        return _skipped("secretcache is not importable: nothing to measure.")
    try:
        import psycopg  # noqa: F401

        from tests.servers import PgServer, find_pg_bindir
    except ImportError as exc:
        return _skipped(f"needs psycopg and the repository's tests/ on sys.path ({exc.name}).")
    bindir = find_pg_bindir()
    if bindir is None:
        return _skipped("PostgreSQL server binaries (initdb, pg_ctl, postgres) not found.")
    schedule = (
        Schedule(rotations=2, window_seconds=0.3, settle_seconds=0.2)
        if ctx.settings.quick
        else Schedule(rotations=3, window_seconds=0.5, settle_seconds=0.4)
    )
    server = PgServer(bindir)
    server.start()
    try:
        runs = [
            _one(ctx, server, contender, strategy, schedule)
            for strategy in STRATEGIES
            for contender in CONTENDERS
        ]
    finally:
        server.stop()
    return _result(runs, schedule)


def _skipped(why: str) -> ScenarioResult:
    result = ScenarioResult(KEY, TITLE, status="skipped")
    result.notes = [why]
    return result


def _one(ctx: Context, server: Any, contender: str, strategy: str, plan: Schedule) -> RotationRun:
    from tests.integrations.db_support import Load, Rotations
    from tests.integrations.rotation_support import Engine, Setup

    engine = Engine("postgres", server)
    name = f"bench/rotation/{strategy}/{contender}/{uuid.uuid4().hex[:8]}"
    setup = Setup(engine, ctx.endpoint.admin, name)
    try:
        initial = setup.secret(strategy)
        query, probe, close = _contender(ctx, contender, name, initial)
        rotations = Rotations(
            ctx.endpoint.admin,
            name,
            engine.strategy(strategy),
            window_seconds=plan.window_seconds,
            settle_seconds=plan.settle_seconds,
        )
        load = Load(query, workers=WORKERS)
        with load:
            load.wait_for(WORKERS * 2)
            origin, origin_perf = time.monotonic(), time.perf_counter()
            for _ in range(plan.rotations):
                rotations.rotate()
            end, end_perf = time.monotonic(), time.perf_counter()
        close()
    finally:
        setup.cleanup()
    result = load.result()
    calls = [c for c in (probe.log.calls if probe else []) if origin_perf <= c.started < end_perf]
    by_operation: dict[str, int] = {}
    for call in calls:
        by_operation[call.operation] = by_operation.get(call.operation, 0) + 1
    sets = [w.set_at for w in rotations.windows]
    return RotationRun(
        contender=contender,
        strategy=strategy,
        queries=result.attempted,
        failed=result.failed,
        errors=dict(result.errors),
        get_secret_value_per_rotation=by_operation.get("GetSecretValue", 0) / plan.rotations,
        api_calls_per_rotation=len(calls) / plan.rotations,
        by_operation=by_operation,
        recovered_after_seconds=_worst_recovery(result.outcomes, sets, end),
        call_at=[c.started - origin_perf for c in calls],
        rotation_at=sets[0] - origin,
        duration=end - origin,
    )


def _contender(
    ctx: Context, contender: str, name: str, initial: dict[str, Any]
) -> tuple[Callable[[], None], Any, Callable[[], object]]:
    """(a query that opens a new connection, the counted probe or None, a cleanup)."""
    import psycopg

    address = {"host": initial["host"], "port": initial["port"], "dbname": initial["dbname"]}

    def connect(username: str, password: str) -> None:
        with psycopg.connect(
            **address, user=username, password=password, connect_timeout=5
        ) as conn:
            conn.execute("SELECT 1")

    if contender == OURS:
        from secretcache import SecretCache
        from secretcache.integrations import psycopg as sc_psycopg

        probe = ctx.endpoint.probe()
        cache = SecretCache(probe.client)

        def ours() -> None:
            with sc_psycopg.connect(name, cache=cache, connect_timeout=5) as conn:
                conn.execute("SELECT 1")

        return ours, probe, cache.close
    if contender == ENV:
        username, password = initial["username"], initial["password"]  # read once, at start
        return lambda: connect(username, password), None, lambda: None
    subject = ctx.subject(contender)  # the library's default refresh interval

    def library() -> None:
        value = json.loads(subject.text(subject.read(name)))
        connect(value["username"], value["password"])

    return library, subject.probe, subject.close or (lambda: None)


def _worst_recovery(
    outcomes: list[tuple[float, bool]], set_times: list[float], end: float
) -> float | None:
    """Per rotation, seconds from setSecret until the last failure before things worked
    again (0 when nothing failed); the worst rotation. None if one never recovered."""
    worst = 0.0
    bounds = [*set_times[1:], end]
    for start, stop in zip(set_times, bounds, strict=True):
        span = [(at, ok) for at, ok in outcomes if start <= at < stop]
        failures = [at for at, ok in span if not ok]
        if not failures:
            continue
        if not any(ok and at > failures[-1] for at, ok in span):
            return None
        worst = max(worst, failures[-1] - start)
    return worst


def _result(runs: list[RotationRun], plan: Schedule) -> ScenarioResult:
    result = ScenarioResult(KEY, TITLE)
    by_key = {(r.strategy, r.contender): r for r in runs}

    def values(strategy: str, metric: Callable[[RotationRun], float]) -> dict[str, float]:
        return {lib: metric(by_key[(strategy, lib)]) for lib in LIBRARIES}

    def headline(metric: str, vals: dict[str, float]) -> Headline:
        return Headline(
            metric,
            dict(vals),
            advantage={a: advantage(vals[OURS], vals[a], lower_is_better=True) for a in ANCHORS},
            digits=3,
        )

    result.headline = [
        headline(
            f"rotation under load, failed queries ({strategy}, {plan.rotations} rotations)",
            values(strategy, lambda r: float(r.failed)),
        )
        for strategy in STRATEGIES
    ] + [
        headline(
            "rotation under load, GetSecretValue per rotation (single user)",
            values("single", lambda r: r.get_secret_value_per_rotation),
        )
    ]
    result.columns = [
        "strategy",
        "contender",
        "queries",
        "failed",
        "failed %",
        "GetSecretValue / rotation",
        "API calls / rotation",
        "new logins work again after s",
        "errors",
    ]
    for r in runs:
        result.rows.append(
            [
                r.strategy,
                CONTENDER_LABELS[r.contender],
                r.queries,
                r.failed,
                r.failed_percent,
                r.get_secret_value_per_rotation,
                r.api_calls_per_rotation,
                "never (in the run)"
                if r.recovered_after_seconds is None
                else r.recovered_after_seconds,
                r.errors or "-",
            ]
        )
    env_single = by_key[("single", ENV)]
    result.notes = [
        f"{WORKERS} threads, a new PostgreSQL connection (scram-sha-256) per query; "
        f"{plan.rotations} real rotations per run (rotation library steps), the setSecret → "
        f"finishSecret window held {plan.window_seconds:g} s, {plan.settle_seconds:g} s "
        "before and after; each contender on its own login, secret and counted client.",
        "Single user: the old password stops working at setSecret, before AWSCURRENT moves. "
        "Alternating users: each rotation changes the password of the user AWSCURRENT left "
        "one rotation earlier, so failures start at the second rotation.",
        f"Password read once from the environment: {env_single.failed} of "
        f"{env_single.queries} queries failed (single user), and never recovered.",
        "aws-secretsmanager-caching at its default 3600 s refresh interval, Powertools at "
        "max_age=300 (its default): both keep serving the old password until "
        "then; API calls per rotation count only calls made during the rotations.",
        "'new logins work again after': worst rotation, seconds from setSecret to the last "
        "failed query before queries succeeded again (0: none failed).",
    ]
    result.data = {
        "schedule": dataclasses.asdict(plan),
        "runs": [
            {**dataclasses.asdict(r), "call_at": None, "failed_percent": r.failed_percent}
            for r in runs
        ],
        "median_queries": statistics.median(r.queries for r in runs),
    }
    single = {lib: by_key[("single", lib)] for lib in LIBRARIES}
    result.plot_data = {
        "series": {
            lib: {"call_at": r.call_at, "rotation_at": r.rotation_at} for lib, r in single.items()
        },
        "duration": max(r.duration for r in single.values()),
    }
    return result
