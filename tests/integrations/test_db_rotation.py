"""Rotations under load: 8 workers query through each integration while the password rotates.

Every rotation is real: the rotation library's createSecret, setSecret (ALTER ROLE/USER on
the server), testSecret and finishSecret against moto, with the setSecret → finishSecret
window held open and new connections forced inside it (a connection per query, or a
small pool drained / an engine disposed, plus short recycle times). Single user: inside
the window only AWSPENDING logs in. Alternating users: each rotation changes the password
of the user AWSCURRENT does not hold, the one before last.

Asserted: no query failed; every worker kept querying; new connections were opened inside
every window; GetSecretValue calls per rotation stay a handful (counted on the client).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from secretcache import SecretCache
from tests.integrations.db_support import ApiCalls, AsyncLoad, Load, Rotations, count_in
from tests.integrations.rotation_support import Engine, Setup

pytestmark = pytest.mark.integration

ROTATIONS = 3
WORKERS = 8
# Per rotation: AWSCURRENT refetched once and AWSPENDING fetched once by the first workers
# refused, plus a few rechecks of stragglers (at most one per stage per second).
MAX_CALLS_PER_ROTATION = 5
# SQLAlchemy's pools recycle this often, so that new connections open inside every window
# (engine.dispose() with connections checked out leaves them to the garbage collector).
RECYCLE_SECONDS = 0.2
# PyMySQL 1.2 builds a TLS context per connection unless told (30 ms of the GIL each);
# the test server has no TLS.
PYMYSQL_OPTIONS: dict[str, Any] = {"ssl_disabled": True}


@dataclass
class Subject:
    """One integration under load: a query, a way to force new connections, a cleanup."""

    query: Callable[[], Any]
    force_new: Callable[[], object] = lambda: None
    close: Callable[[], object] = lambda: None
    opened: list[float] = field(default_factory=list)  # when each new connection was opened
    is_async: bool = False


def _psycopg_connect(cache: SecretCache, secret_id: str) -> Subject:
    from secretcache.integrations import psycopg as sc_psycopg

    subject = Subject(query=lambda: None)

    def query() -> None:
        subject.opened.append(time.monotonic())
        with sc_psycopg.connect(secret_id, cache=cache, timeout_seconds=10) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)

    subject.query = query
    return subject


def _psycopg_pool(cache: SecretCache, secret_id: str) -> Subject:
    from secretcache.integrations import psycopg as sc_psycopg

    subject = Subject(query=lambda: None)
    pool = sc_psycopg.create_pool(
        secret_id,
        cache=cache,
        timeout_seconds=10,
        min_size=2,
        max_size=2,
        max_lifetime=1.0,
        open=True,
        configure=lambda conn: subject.opened.append(time.monotonic()),
    )

    def query() -> None:
        with pool.connection() as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)

    subject.query, subject.force_new, subject.close = query, pool.drain, pool.close
    return subject


def _sqlalchemy(cache: SecretCache, secret_id: str, **engine_kwargs: Any) -> Subject:
    import sqlalchemy

    from secretcache.integrations.sqlalchemy import create_engine

    subject = Subject(query=lambda: None)
    engine = create_engine(
        secret_id,
        cache=cache,
        **engine_kwargs,
        timeout_seconds=10,
        pool_size=2,
        max_overflow=0,
        pool_recycle=RECYCLE_SECONDS,
        pool_pre_ping=True,
    )
    sqlalchemy.event.listen(engine, "connect", lambda *_: subject.opened.append(time.monotonic()))

    def query() -> None:
        with engine.connect() as conn:
            assert conn.execute(sqlalchemy.text("SELECT 1")).scalar() == 1

    subject.query, subject.close = query, engine.dispose
    return subject


def _sqlalchemy_async(cache: SecretCache, secret_id: str) -> Subject:
    import sqlalchemy

    from secretcache.integrations.sqlalchemy import create_async_engine

    subject = Subject(query=lambda: None, is_async=True)
    engine = create_async_engine(
        secret_id,
        cache=cache,
        timeout_seconds=10,
        pool_size=2,
        max_overflow=0,
        pool_recycle=RECYCLE_SECONDS,
        pool_pre_ping=True,
    )
    sqlalchemy.event.listen(
        engine.sync_engine, "connect", lambda *_: subject.opened.append(time.monotonic())
    )

    async def query() -> None:
        async with engine.connect() as conn:
            assert (await conn.execute(sqlalchemy.text("SELECT 1"))).scalar() == 1

    subject.query, subject.close = query, engine.dispose
    return subject


def _pymysql(cache: SecretCache, secret_id: str) -> Subject:
    from secretcache.integrations import pymysql as sc_pymysql

    subject = Subject(query=lambda: None)

    def query() -> None:
        subject.opened.append(time.monotonic())
        conn = sc_pymysql.connect(secret_id, cache=cache, timeout_seconds=10, **PYMYSQL_OPTIONS)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT 1")
                assert cur.fetchone() == (1,)
        finally:
            conn.close()

    subject.query = query
    return subject


SUBJECTS: dict[str, tuple[str, Callable[[SecretCache, str], Subject]]] = {
    "psycopg": ("postgres", _psycopg_connect),
    "psycopg_pool": ("postgres", _psycopg_pool),
    "sqlalchemy": ("postgres", _sqlalchemy),
    "sqlalchemy_async": ("postgres", _sqlalchemy_async),
    "pymysql": ("mariadb", _pymysql),
    "sqlalchemy_pymysql": (
        "mariadb",
        lambda cache, secret_id: _sqlalchemy(cache, secret_id, connect_args=PYMYSQL_OPTIONS),
    ),
}


NEEDS = {
    "psycopg": ["psycopg"],
    "psycopg_pool": ["psycopg", "psycopg_pool"],
    "sqlalchemy": ["psycopg", "sqlalchemy"],
    "sqlalchemy_async": ["psycopg", "sqlalchemy", "greenlet"],
    "pymysql": ["pymysql"],
    "sqlalchemy_pymysql": ["pymysql", "sqlalchemy"],
}


@pytest.fixture
def rig(
    request: pytest.FixtureRequest, sm_client: Any, secret_name: str
) -> Iterator[tuple[Engine, Setup]]:
    """The database (by the subject's engine) and a Setup that drops its users afterwards."""
    kind = request.node.callspec.params["kind"]
    for module in NEEDS[kind]:
        pytest.importorskip(module)
    engine_name = SUBJECTS[kind][0]
    fixture = "pg_server" if engine_name == "postgres" else "mariadb_server"
    engine = Engine(engine_name, request.getfixturevalue(fixture))
    setup = Setup(engine, sm_client, secret_name)
    yield engine, setup
    setup.cleanup()


def _run(subject: Subject, rotations: Rotations) -> Any:
    """Warm the load up, rotate ROTATIONS times under it; the load's result."""
    if subject.is_async:
        load: Load = AsyncLoad(subject.query, workers=WORKERS, teardown=subject.close)
    else:
        load = Load(subject.query, workers=WORKERS)
    rotations.on_window = subject.force_new
    try:
        with load:
            load.wait_for(WORKERS * 2)
            for _ in range(ROTATIONS):
                rotations.rotate()
    finally:
        if not subject.is_async:
            subject.close()
    return load.result()


@pytest.mark.parametrize("strategy", ["single", "alternating"])
@pytest.mark.parametrize("kind", list(SUBJECTS))
def test_rotation_under_load_fails_no_query(
    record_property: Callable[[str, object], None],
    rig: tuple[Engine, Setup],
    make_client: Callable[..., Any],
    sm_client: Any,
    secret_name: str,
    kind: str,
    strategy: str,
) -> None:
    """8 workers, 3 real rotations, new connections in every window: zero failed queries."""
    engine, setup = rig
    setup.secret(strategy)
    client = make_client()
    calls = ApiCalls(client)
    cache = SecretCache(client, ttl_seconds=300.0)
    subject = SUBJECTS[kind][1](cache, secret_name)
    rotations = Rotations(sm_client, secret_name, engine.strategy(strategy))
    before = calls.get_secret_value

    result = _run(subject, rotations)
    per_rotation = (calls.get_secret_value - before) / ROTATIONS
    record_property("queries", result.attempted)
    record_property("failed", result.failed)
    record_property("get_secret_value_per_rotation", per_rotation)

    assert result.failed == 0, result.errors
    assert result.ok == result.attempted
    assert min(result.per_worker) >= ROTATIONS, result.per_worker
    for window in rotations.windows:
        assert count_in(subject.opened, window.set_at, window.finished_at) >= 1
    assert per_rotation <= MAX_CALLS_PER_ROTATION, calls.by_operation


def test_env_var_baseline_fails_after_first_rotation(
    record_property: Callable[[str, object], None],
    pg_server: Any,
    sm_client: Any,
    secret_name: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The baseline: a password read once from the environment fails once the role rotates."""
    import psycopg

    engine = Engine("postgres", pg_server)
    setup = Setup(engine, sm_client, secret_name)
    try:
        value = setup.secret("single")
        monkeypatch.setenv("DB_PASSWORD", value["password"])  # what a deploy puts there
        password = os.environ["DB_PASSWORD"]  # read once, at start

        def query() -> None:
            with psycopg.connect(
                host=value["host"],
                port=value["port"],
                user=value["username"],
                password=password,
                dbname=value["dbname"],
                connect_timeout=5,
            ) as conn:
                conn.execute("SELECT 1")

        rotations = Rotations(sm_client, secret_name, engine.strategy("single"))
        with Load(query, workers=WORKERS) as load:
            load.wait_for(WORKERS * 2)
            first = rotations.rotate()
            rotations.rotate()
        result = load.result()
    finally:
        setup.cleanup()
    record_property("queries", result.attempted)
    record_property("failed", result.failed)
    assert result.failed > 0
    assert result.first_failure_at is not None and result.first_failure_at >= first.set_at
    assert set(result.errors) == {"OperationalError"}
