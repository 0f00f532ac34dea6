"""End to end: 8 threads query through the SDK while 10 rotations run back to back.

For each engine (PostgreSQL with scram auth, MariaDB) and strategy (single user,
alternating users), 8 worker threads query continuously: 4 through
``secretcache.integrations.sqlalchemy.create_engine`` (2 sharing a one-connection pool
recycled every 0.2 s, 2 on a ``NullPool``, a new connection per query) and 4 through the
driver integration (``psycopg.connect`` / ``pymysql.connect``, a new connection per query).
Meanwhile the main thread runs 10 rotations with the rotation library's local driver,
``rotate()``: the real four steps (GetRandomPassword, ALTER ROLE/USER on the server, the
stage moves on moto), a short pause between rotations. One ``SecretCache`` with a short
TTL, on its own botocore client to moto, serves every worker, so that it follows the
rotations as an application's cache would.

Asserted: no query failed; every worker completed queries in every rotation period (from
the start of one rotation to the start of the next), and queries completed inside every
``rotate()`` call; the pooled engine opened new connections in every period; after the 10
rotations AWSCURRENT logs in, the stages are AWSCURRENT and AWSPREVIOUS only, and the
first password is rejected; GetSecretValue calls by the cache's client stay a handful per
rotation; the cache's refreshes found most of the new AWSCURRENT versions. Run with
``-s`` for the figures (they are in every assertion message too).
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import pytest

from secretcache import RotationEvent, SecretCache
from secretcache.integrations.rotation import rotate
from tests.integrations.db_support import ApiCalls, Load, LoadResult, count_in
from tests.integrations.rotation_support import (
    ENGINES,
    KINDS,
    Engine,
    Setup,
    read,
    stages,
)

pytestmark = pytest.mark.integration

ROTATIONS = 10
WORKERS = 8
# Between two rotations (each takes 0.3-0.9 s here, more on a loaded machine): with it a
# rotation period is long enough for every worker to finish a query, and the file runs
# in well under a minute.
GAP_SECONDS = 0.3
# Short enough that the cache refetches AWSCURRENT a few times during the run, on top of
# the refetches the integrations make when the database refuses a login.
TTL_SECONDS = 1.5
# Per rotation (measured: ~2.8 single user, ~0.9 alternating): a TTL refresh (a period
# lasts about half a TTL), AWSCURRENT refetched and AWSPENDING fetched by the first worker
# refused, a straggler's recheck.
MAX_CALLS_PER_ROTATION = 6
RECYCLE_SECONDS = 0.2
# PyMySQL 1.2 builds a TLS context per connection unless told; the test server has no TLS.
PYMYSQL_OPTIONS: dict[str, Any] = {"ssl_disabled": True}


@dataclass
class Progress:
    """When each worker thread finished each successful query, by worker."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    done: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))

    def counted(self, label: str, query: Callable[[], object]) -> Callable[[], None]:
        """``query`` recording, on success, when this worker finished it."""

        def run() -> None:
            query()
            worker = f"{label}/{threading.current_thread().name}"
            now = time.monotonic()
            with self.lock:
                self.done[worker].append(now)

        return run


@dataclass
class Group:
    """Workers running one way of querying."""

    label: str
    workers: int
    query: Callable[[], object]
    close: Callable[[], object] = lambda: None
    opened: list[float] = field(default_factory=list)  # new connections, when opened


def _sqlalchemy(
    label: str, cache: SecretCache, secret_id: str, workers: int, **engine_kwargs: Any
) -> Group:
    import sqlalchemy

    from secretcache.integrations.sqlalchemy import create_engine

    engine = create_engine(secret_id, cache=cache, timeout_seconds=20, **engine_kwargs)
    group = Group(label, workers, lambda: None, engine.dispose)
    sqlalchemy.event.listen(engine, "connect", lambda *_: group.opened.append(time.monotonic()))

    def query() -> None:
        with engine.connect() as conn:
            assert conn.execute(sqlalchemy.text("SELECT 1")).scalar() == 1

    group.query = query
    return group


def _psycopg(cache: SecretCache, secret_id: str, workers: int) -> Group:
    from secretcache.integrations import psycopg as sc_psycopg

    def query() -> None:
        with sc_psycopg.connect(secret_id, cache=cache, timeout_seconds=20) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)

    return Group("psycopg", workers, query)


def _pymysql(cache: SecretCache, secret_id: str, workers: int) -> Group:
    from secretcache.integrations import pymysql as sc_pymysql

    def query() -> None:
        conn = sc_pymysql.connect(secret_id, cache=cache, timeout_seconds=20, **PYMYSQL_OPTIONS)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT 1")
                assert cur.fetchone() == (1,)
        finally:
            conn.close()

    return Group("pymysql", workers, query)


def _groups(engine_name: str, cache: SecretCache, secret_id: str) -> list[Group]:
    """4 SQLAlchemy workers (2 pooled, 2 NullPool) and 4 on the driver integration."""
    from sqlalchemy.pool import NullPool

    connect_args = PYMYSQL_OPTIONS if engine_name == "mariadb" else {}
    pooled = _sqlalchemy(
        "sqlalchemy-pool",
        cache,
        secret_id,
        2,
        connect_args=connect_args,
        pool_size=1,
        max_overflow=0,
        pool_recycle=RECYCLE_SECONDS,
        pool_pre_ping=True,
    )
    unpooled = _sqlalchemy(
        "sqlalchemy-nullpool", cache, secret_id, 2, connect_args=connect_args, poolclass=NullPool
    )
    driver = (_psycopg if engine_name == "postgres" else _pymysql)(cache, secret_id, 4)
    return [pooled, unpooled, driver]


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> Engine:
    """Each database engine in turn (SQLAlchemy needed too)."""
    pytest.importorskip("sqlalchemy")
    fixture = "pg_server" if request.param == "postgres" else "mariadb_server"
    return Engine(request.param, request.getfixturevalue(fixture))


@pytest.fixture
def setup(engine: Engine, sm_client: Any, secret_name: str) -> Iterator[Setup]:
    """Logins and secrets for one test, dropped afterwards (clones too)."""
    helper = Setup(engine, sm_client, secret_name)
    yield helper
    helper.cleanup()


@dataclass
class Run:
    """What one end-to-end run did."""

    results: dict[str, LoadResult]
    progress: Progress
    groups: list[Group]
    starts: list[float]  # time.monotonic() at the start of each rotation
    ends: list[float]  # ... and at its end
    stopped: float  # when the last period ended
    calls_per_rotation: float
    calls: dict[str, int]
    followed: int  # how many of the rotations' versions the cache saw become AWSCURRENT

    @property
    def queries(self) -> int:
        return sum(result.attempted for result in self.results.values())

    @property
    def failed(self) -> int:
        return sum(result.failed for result in self.results.values())

    def periods(self) -> list[tuple[float, float]]:
        """Each rotation's period: its start to the next one's (the last: to the stop)."""
        return list(zip(self.starts, [*self.starts[1:], self.stopped], strict=True))

    def per_period(self, stamps: list[float]) -> list[int]:
        return [count_in(stamps, start, end) for start, end in self.periods()]

    def inside_rotations(self) -> list[int]:
        """Queries (all workers) finished inside each ``rotate()`` call."""
        return [
            sum(count_in(stamps, start, end) for stamps in self.progress.done.values())
            for start, end in zip(self.starts, self.ends, strict=True)
        ]

    def summary(self, engine: str, kind: str) -> str:
        errors = {label: dict(result.errors) for label, result in self.results.items()}
        during = sum(self.inside_rotations())
        rotating = sum(end - start for start, end in zip(self.starts, self.ends, strict=True))
        stall, slowest = max(
            (max(b - a for a, b in pairwise(stamps)), worker)
            for worker, stamps in self.progress.done.items()
        )
        return (
            f"{engine}/{kind}: longest stall {stall:.2f} s ({slowest}), "
            f"{self.queries} queries, {self.failed} failed {errors}, "
            f"{during} finished inside rotate() calls ({rotating:.1f} s of "
            f"{self.stopped - self.starts[0]:.1f} s), GetSecretValue per rotation "
            f"{self.calls_per_rotation:.1f} ({self.calls}), the cache saw {self.followed} of "
            f"{ROTATIONS} new AWSCURRENT versions"
        )


def _run(engine: Engine, kind: str, setup: Setup, sm_client: Any, client: Any) -> Run:
    """Warm 8 workers up, run ROTATIONS rotations back to back under them; what happened."""
    calls = ApiCalls(client)
    cache = SecretCache(client, ttl_seconds=TTL_SECONDS)
    followed: set[str] = set()  # the new AWSCURRENT versions the cache's refreshes found

    def on_rotation(event: RotationEvent) -> None:
        if event.stage == "AWSCURRENT":
            followed.add(event.version_id)

    cache.on_rotation(on_rotation)
    groups = _groups(engine.name, cache, setup.secret_name)
    progress = Progress()
    loads = {g.label: Load(progress.counted(g.label, g.query), workers=g.workers) for g in groups}
    strategy = engine.strategy(kind)
    starts: list[float] = []
    ends: list[float] = []
    tokens: list[str] = []
    try:
        with ExitStack() as stack:
            for load in loads.values():
                stack.enter_context(load)
            for load in loads.values():
                load.wait_for(load.workers * 2)
            before = calls.get_secret_value
            for _ in range(ROTATIONS):
                starts.append(time.monotonic())
                tokens.append(rotate(sm_client, setup.secret_name, strategy))
                ends.append(time.monotonic())
                time.sleep(GAP_SECONDS)
            stopped = time.monotonic()
            fetched = calls.get_secret_value - before
    finally:
        for group in groups:
            group.close()
        cache.close()
    return Run(
        results={label: load.result() for label, load in loads.items()},
        progress=progress,
        groups=groups,
        starts=starts,
        ends=ends,
        stopped=stopped,
        calls_per_rotation=fetched / ROTATIONS,
        calls=dict(calls.by_operation),
        followed=len(followed & set(tokens)),
    )


@pytest.mark.parametrize("kind", KINDS)
def test_ten_rotations_under_eight_workers_fail_no_query(
    record_property: Callable[[str, object], None],
    setup: Setup,
    engine: Engine,
    make_client: Callable[..., Any],
    sm_client: Any,
    kind: str,
) -> None:
    """8 workers (SQLAlchemy and the driver integration), 10 real rotations: zero failures."""
    first = setup.secret(kind)
    run = _run(engine, kind, setup, sm_client, make_client())
    summary = run.summary(engine.name, kind)
    print(f"\n{summary}")
    record_property("queries", run.queries)
    record_property("failed", run.failed)
    record_property("get_secret_value_per_rotation", run.calls_per_rotation)

    assert run.failed == 0, summary
    assert len(run.progress.done) == WORKERS, f"{sorted(run.progress.done)}; {summary}"
    for worker, stamps in sorted(run.progress.done.items()):
        counts = run.per_period(stamps)
        assert min(counts) >= 1, f"{worker} finished no query in a period: {counts}; {summary}"
    inside = run.inside_rotations()
    assert min(inside) >= 1, f"no query finished inside a rotate() call: {inside}; {summary}"
    pooled = run.per_period(run.groups[0].opened)
    assert min(pooled) >= 1, (
        f"the pooled engine opened no connection in a period: {pooled}; {summary}"
    )
    assert run.calls_per_rotation <= MAX_CALLS_PER_ROTATION, summary
    assert run.followed >= ROTATIONS // 2, f"the cache did not follow the rotations: {summary}"

    current = read(sm_client, setup.secret_name)
    assert engine.logs_in(current), summary
    labels = sorted(
        label for found in stages(sm_client, setup.secret_name).values() for label in found
    )
    assert labels == ["AWSCURRENT", "AWSPREVIOUS"], summary
    # Single user: the first password is long gone. Alternating: after an even number of
    # rotations AWSCURRENT is the first user again, with its fifth new password.
    assert current["username"] == first["username"], summary
    assert current["password"] != first["password"], summary
    assert not engine.logs_in(first), f"the first password still logs in; {summary}"
