"""When no credential works, or the database is down: the right error, fast, nothing leaked.

- Wrong password and no rotation: every integration raises ``CredentialsRejectedError``
  once its (short) deadline passes, chained to the driver's error, with a bounded number
  of GetSecretValue calls, and no password in any message, traceback or log record
  (captured at DEBUG, botocore's and the drivers' included).
- Database down (nothing listens on the port): the driver's own error at once, and no
  refetching of the secret.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from secretcache import CredentialsRejectedError, SecretCache
from tests.integrations.db_support import ApiCalls, leaked
from tests.servers import DbLogin, free_port

pytestmark = pytest.mark.integration

DEADLINE = 1.0
# Over a 1 s deadline: the first read, AWSCURRENT refetched and AWSPENDING looked up at the
# first refusal, then each at most once per second while backing off.
MAX_CALLS = 6


def _connect_psycopg(cache: SecretCache, secret_id: str, **kwargs: Any) -> None:
    from secretcache.integrations import psycopg as sc_psycopg

    sc_psycopg.connect(secret_id, cache=cache, **kwargs).close()


def _connect_psycopg_async(cache: SecretCache, secret_id: str, **kwargs: Any) -> None:
    from secretcache.integrations import psycopg as sc_psycopg

    async def run() -> None:
        conn = await sc_psycopg.connect_async(secret_id, cache=cache, **kwargs)
        await conn.close()

    asyncio.run(run())


def _connect_sqlalchemy(cache: SecretCache, secret_id: str, **kwargs: Any) -> None:
    from secretcache.integrations.sqlalchemy import create_engine

    engine = create_engine(secret_id, cache=cache, **kwargs)
    try:
        engine.connect().close()
    finally:
        engine.dispose()


def _connect_sqlalchemy_async(cache: SecretCache, secret_id: str, **kwargs: Any) -> None:
    from secretcache.integrations.sqlalchemy import create_async_engine

    async def run() -> None:
        engine = create_async_engine(secret_id, cache=cache, **kwargs)
        try:
            conn = await engine.connect()
            await conn.close()
        finally:
            await engine.dispose()

    asyncio.run(run())


def _connect_pymysql(cache: SecretCache, secret_id: str, **kwargs: Any) -> None:
    from secretcache.integrations import pymysql as sc_pymysql

    sc_pymysql.connect(secret_id, cache=cache, ssl_disabled=True, **kwargs).close()


CONNECTS: dict[str, tuple[str, Callable[..., None]]] = {
    "psycopg": ("postgres", _connect_psycopg),
    "psycopg_async": ("postgres", _connect_psycopg_async),
    "sqlalchemy": ("postgres", _connect_sqlalchemy),
    "sqlalchemy_async": ("postgres", _connect_sqlalchemy_async),
    "pymysql": ("mariadb", _connect_pymysql),
    "sqlalchemy_pymysql": ("mariadb", _connect_sqlalchemy),
}


NEEDS = {
    "psycopg": ["psycopg"],
    "psycopg_async": ["psycopg"],
    "sqlalchemy": ["psycopg", "sqlalchemy"],
    "sqlalchemy_async": ["psycopg", "sqlalchemy", "greenlet"],
    "pymysql": ["pymysql"],
    "sqlalchemy_pymysql": ["pymysql", "sqlalchemy"],
}


def _driver_error(engine: str) -> type[BaseException]:
    if engine == "postgres":
        import psycopg

        return psycopg.OperationalError
    import pymysql

    return pymysql.err.OperationalError


@pytest.fixture
def login(request: pytest.FixtureRequest) -> Iterator[DbLogin]:
    """A login on the server the test's integration talks to."""
    kind = request.node.callspec.params["kind"]
    for module in NEEDS[kind]:
        pytest.importorskip(module)
    engine = CONNECTS[kind][0]
    server = request.getfixturevalue("pg_server" if engine == "postgres" else "mariadb_server")
    created = server.create_login()
    yield created
    server.drop_login(created.username)


@pytest.mark.parametrize("kind", list(CONNECTS))
def test_wrong_password_raises_credentials_rejected_after_deadline(
    caplog: pytest.LogCaptureFixture,
    make_client: Callable[..., Any],
    sm_client: Any,
    secret_name: str,
    login: DbLogin,
    kind: str,
) -> None:
    """No rotation, wrong password: CredentialsRejectedError at the deadline, nothing leaked."""
    engine, connect = CONNECTS[kind]
    wrong = "wrong-" + uuid.uuid4().hex
    sm_client.create_secret(Name=secret_name, SecretString=json.dumps(login.secret(password=wrong)))
    client = make_client()
    calls = ApiCalls(client)
    cache = SecretCache(client)
    caplog.set_level(logging.DEBUG)

    started = time.monotonic()
    with pytest.raises(CredentialsRejectedError) as info:
        connect(cache, secret_name, timeout_seconds=DEADLINE)
    elapsed = time.monotonic() - started

    assert DEADLINE <= elapsed < DEADLINE + 2.0
    error = info.value
    assert isinstance(error.__cause__, _driver_error(engine))
    assert error.secret_id == secret_name
    assert calls.get_secret_value <= MAX_CALLS, calls.by_operation
    chain = "".join(traceback.format_exception(error))
    for text in (str(error), repr(error), chain):
        assert wrong not in text
        assert login.password not in text
    assert leaked(caplog.records, [wrong, login.password]) == []
    assert caplog.records  # DEBUG logging was on and did record something


def test_pool_with_wrong_password_times_out_without_leaking(
    caplog: pytest.LogCaptureFixture,
    make_client: Callable[..., Any],
    sm_client: Any,
    secret_name: str,
    pg_server: Any,
) -> None:
    """psycopg_pool reports PoolTimeout; its log names CredentialsRejectedError, no password."""
    psycopg_pool = pytest.importorskip("psycopg_pool")

    from secretcache.integrations import psycopg as sc_psycopg

    created = pg_server.create_login()
    wrong = "wrong-" + uuid.uuid4().hex
    sm_client.create_secret(
        Name=secret_name, SecretString=json.dumps(created.secret(password=wrong))
    )
    caplog.set_level(logging.DEBUG)
    cache = SecretCache(make_client())
    try:
        with (
            sc_psycopg.create_pool(
                secret_name, cache=cache, timeout_seconds=0.5, min_size=1, open=False, timeout=2
            ) as pool,
            pytest.raises(psycopg_pool.PoolTimeout),
        ):
            pool.getconn()
    finally:
        pg_server.drop_login(created.username)
    assert any("every credential in secret" in r.getMessage() for r in caplog.records)
    assert leaked(caplog.records, [wrong, created.password]) == []


@pytest.mark.parametrize("kind", list(CONNECTS))
def test_database_down_raises_driver_error_fast(
    make_client: Callable[..., Any],
    sm_client: Any,
    secret_name: str,
    login: DbLogin,
    kind: str,
) -> None:
    """Nothing listening on the port: the driver's error at once, no refetch of the secret."""
    engine, connect = CONNECTS[kind]
    down = login.secret(port=free_port())
    sm_client.create_secret(Name=secret_name, SecretString=json.dumps(down))
    client = make_client()
    calls = ApiCalls(client)
    cache = SecretCache(client)

    for _ in range(3):
        started = time.monotonic()
        with pytest.raises(Exception) as info:  # noqa: PT011  # checked just below
            connect(cache, secret_name, timeout_seconds=30.0)
        assert time.monotonic() - started < 1.0
        driver_error = getattr(info.value, "orig", info.value)  # SQLAlchemy wraps it
        assert isinstance(driver_error, _driver_error(engine))
        assert not isinstance(info.value, CredentialsRejectedError)
    assert calls.get_secret_value == 1  # the first read; refused connections refetch nothing


def test_leak_check_catches_a_logged_pgconn(
    caplog: pytest.LogCaptureFixture, pg_server: Any
) -> None:
    """The log check above can fail: psycopg's ``repr(exc.pgconn)`` does hold the password."""
    import psycopg

    created = pg_server.create_login()
    wrong = "wrong-" + uuid.uuid4().hex
    try:
        with pytest.raises(psycopg.OperationalError) as info:
            pg_server.connect(created.username, wrong, created.dbname)
    finally:
        pg_server.drop_login(created.username)
    caplog.set_level(logging.DEBUG)
    logging.getLogger("careless").debug("failed: %r", info.value.pgconn)
    assert leaked(caplog.records, [wrong]) != []
