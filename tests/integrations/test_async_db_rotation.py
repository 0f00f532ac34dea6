"""Async database paths on an AsyncSecretCache: real rotations under load, zero failed queries.

The same rig as ``test_db_rotation.py`` (8 workers, 3 real rotations of a PostgreSQL
login, the setSecret → finishSecret window held open, new connections opened inside it),
but the workers are tasks on an event loop and the credentials come from an
``AsyncSecretCache``: psycopg's ``connect_async`` (a connection per query), psycopg_pool's
``AsyncConnectionPool`` and SQLAlchemy's async engine (small pools recycled often).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from secretcache import AsyncSecretCache
from tests.integrations.db_support import ApiCalls, AsyncLoad, Rotations, count_in
from tests.integrations.rotation_support import Engine, Setup
from tests.integrations.test_db_rotation import (
    MAX_CALLS_PER_ROTATION,
    RECYCLE_SECONDS,
    ROTATIONS,
    WORKERS,
    Subject,
)

pytestmark = pytest.mark.integration


@dataclass
class AsyncSubject(Subject):
    """A Subject whose query, setup and close are awaited on the load's event loop."""

    setup: Callable[[], Awaitable[object]] | None = None
    force_new_async: Callable[[], Awaitable[object]] | None = None


def _psycopg_connect_async(cache: AsyncSecretCache, secret_id: str) -> AsyncSubject:
    from secretcache.integrations import psycopg as sc_psycopg

    subject = AsyncSubject(query=lambda: None, is_async=True)

    async def query() -> None:
        subject.opened.append(time.monotonic())
        conn = await sc_psycopg.connect_async(secret_id, cache=cache, timeout_seconds=10)
        try:
            cursor = await conn.execute("SELECT 1")
            assert await cursor.fetchone() == (1,)
        finally:
            await conn.close()

    async def close() -> None:
        await cache.drain(timeout_seconds=10)

    subject.query, subject.close = query, close
    return subject


def _psycopg_async_pool(cache: AsyncSecretCache, secret_id: str) -> AsyncSubject:
    from secretcache.integrations import psycopg as sc_psycopg

    subject = AsyncSubject(query=lambda: None, is_async=True)

    async def opened(conn: object) -> None:
        subject.opened.append(time.monotonic())

    pool = sc_psycopg.create_async_pool(
        secret_id,
        cache=cache,
        timeout_seconds=10,
        min_size=2,
        max_size=2,
        max_lifetime=1.0,
        open=False,
        configure=opened,
    )

    async def query() -> None:
        async with pool.connection() as conn:
            cursor = await conn.execute("SELECT 1")
            assert await cursor.fetchone() == (1,)

    subject.query, subject.setup, subject.close = query, pool.open, pool.close
    subject.force_new_async = pool.drain
    return subject


def _sqlalchemy_async(cache: AsyncSecretCache, secret_id: str) -> AsyncSubject:
    import sqlalchemy
    from sqlalchemy.ext.asyncio import create_async_engine

    from secretcache.integrations.sqlalchemy import attach

    subject = AsyncSubject(query=lambda: None, is_async=True)
    # attach() on an engine built by hand, with an AsyncSecretCache (the attach() path;
    # create_async_engine is tested in test_db_sqlalchemy). Host, port and database come
    # from the secret.
    engine = attach(
        create_async_engine(
            "postgresql+psycopg://",
            pool_size=2,
            max_overflow=0,
            pool_recycle=RECYCLE_SECONDS,
            pool_pre_ping=True,
        ),
        secret_id,
        cache=cache,
        timeout_seconds=10,
    )
    sqlalchemy.event.listen(
        engine.sync_engine, "connect", lambda *_: subject.opened.append(time.monotonic())
    )

    async def query() -> None:
        async with engine.connect() as conn:
            assert (await conn.execute(sqlalchemy.text("SELECT 1"))).scalar() == 1

    subject.query, subject.close = query, engine.dispose
    return subject


SUBJECTS: dict[str, Callable[[AsyncSecretCache, str], AsyncSubject]] = {
    "psycopg_async": _psycopg_connect_async,
    "psycopg_async_pool": _psycopg_async_pool,
    "sqlalchemy_async": _sqlalchemy_async,
}


@pytest.fixture
def rig(pg_server: Any, sm_client: Any, secret_name: str) -> Iterator[tuple[Engine, Setup]]:
    """PostgreSQL and a Setup that drops its users afterwards."""
    engine = Engine("postgres", pg_server)
    setup = Setup(engine, sm_client, secret_name)
    yield engine, setup
    setup.cleanup()


@pytest.mark.parametrize("strategy", ["single", "alternating"])
@pytest.mark.parametrize("kind", list(SUBJECTS))
def test_async_rotation_under_load_fails_no_query(
    record_property: Callable[[str, object], None],
    rig: tuple[Engine, Setup],
    make_client: Callable[..., Any],
    sm_client: Any,
    secret_name: str,
    kind: str,
    strategy: str,
) -> None:
    """8 tasks, 3 real rotations, new connections in every window: zero failed queries."""
    engine, setup = rig
    setup.secret(strategy)
    client = make_client()
    calls = ApiCalls(client)
    cache = AsyncSecretCache(client, ttl_seconds=300.0)
    subject = SUBJECTS[kind](cache, secret_name)
    rotations = Rotations(sm_client, secret_name, engine.strategy(strategy))
    before = calls.get_secret_value

    load = AsyncLoad(subject.query, workers=WORKERS, setup=subject.setup, teardown=subject.close)
    force_new = subject.force_new_async
    if force_new is not None:
        rotations.on_window = lambda: load.call(force_new())
    with load:
        load.wait_for(WORKERS * 2)
        for _ in range(ROTATIONS):
            rotations.rotate()
    result = load.result()
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
