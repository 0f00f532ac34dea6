"""psycopg 3 connections and psycopg_pool pools from a secret, against the scram PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from secretcache import AsyncSecretCache, SecretCache, SecretFormatError
from tests.integrations.db_support import ApiCalls
from tests.servers import DbLogin

pytestmark = pytest.mark.integration

psycopg = pytest.importorskip("psycopg")
sc_psycopg = pytest.importorskip("secretcache.integrations.psycopg")


@pytest.fixture
def login(pg_server: Any) -> Iterator[DbLogin]:
    """A PostgreSQL login with its own database."""
    created = pg_server.create_login()
    yield created
    pg_server.drop_login(created.username)


def _whoami(conn: Any) -> tuple[Any, ...]:
    row = conn.execute("SELECT current_user, current_database()").fetchone()
    assert row is not None
    return tuple(row)


def test_connect_logs_in_with_the_secret(cache: SecretCache, secret: str, login: DbLogin) -> None:
    """connect() opens a psycopg.Connection as the secret's user, on its database."""
    with sc_psycopg.connect(secret, cache=cache) as conn:
        assert isinstance(conn, psycopg.Connection)
        assert _whoami(conn) == (login.username, login.dbname)


def test_connect_passes_psycopg_options_and_overrides(cache: SecretCache, secret: str) -> None:
    """psycopg's own keywords pass through; dbname given in code wins over the secret's."""
    with sc_psycopg.connect(secret, cache=cache, dbname="postgres", autocommit=True) as conn:
        assert conn.autocommit
        assert _whoami(conn)[1] == "postgres"


def test_secret_with_only_a_login(
    cache: SecretCache, sm_client: Any, secret_name: str, login: DbLogin
) -> None:
    """A username/password secret works with the address given in code."""
    sm_client.create_secret(
        Name=secret_name,
        SecretString=json.dumps({"username": login.username, "password": login.password}),
    )
    with sc_psycopg.connect(
        secret_name, cache=cache, host=login.host, port=login.port, dbname=login.dbname
    ) as conn:
        assert _whoami(conn) == (login.username, login.dbname)


def test_login_keywords_are_refused(cache: SecretCache, secret: str) -> None:
    """user=/password= would fight the secret: a TypeError, before any connection."""
    with pytest.raises(TypeError, match="password: the login comes from the secret"):
        sc_psycopg.connect(secret, cache=cache, password="x")


def test_mysql_secret_is_refused(
    cache: SecretCache, sm_client: Any, secret_name: str, login: DbLogin
) -> None:
    """A secret for a MySQL engine is a SecretFormatError, not a connection to nowhere."""
    sm_client.create_secret(Name=secret_name, SecretString=json.dumps(login.secret(engine="mysql")))
    with pytest.raises(SecretFormatError, match="mysql engine, not postgresql"):
        sc_psycopg.connect(secret_name, cache=cache)


def test_pending_password_is_used_in_the_rotation_window(
    pg_server: Any,
    make_client: Callable[..., Any],
    sm_client: Any,
    secret: str,
    login: DbLogin,
) -> None:
    """Between setSecret and finishSecret only AWSPENDING logs in, and is then remembered."""
    client = make_client()
    calls = ApiCalls(client)
    cache = SecretCache(client)
    sc_psycopg.connect(secret, cache=cache).close()  # warm: AWSCURRENT cached
    new_password = "new-" + uuid.uuid4().hex
    sm_client.put_secret_value(
        SecretId=secret,
        SecretString=json.dumps(login.secret(password=new_password)),
        VersionStages=["AWSPENDING"],
    )
    pg_server.set_password(login.username, new_password)

    with sc_psycopg.connect(secret, cache=cache) as conn:
        assert _whoami(conn)[0] == login.username
    after_first = calls.get_secret_value
    for _ in range(5):
        sc_psycopg.connect(secret, cache=cache).close()

    assert after_first == 3  # the first read, AWSCURRENT refetched, AWSPENDING
    assert calls.get_secret_value == after_first  # the working credential is reused


def test_connect_async(cache: SecretCache, secret: str, login: DbLogin) -> None:
    """connect_async() opens a psycopg.AsyncConnection as the secret's user."""

    async def main() -> tuple[Any, ...]:
        conn = await sc_psycopg.connect_async(secret, cache=cache)
        try:
            assert isinstance(conn, psycopg.AsyncConnection)
            cursor = await conn.execute("SELECT current_user")
            row = await cursor.fetchone()
            assert row is not None
            return tuple(row)
        finally:
            await conn.close()

    assert asyncio.run(main()) == (login.username,)


def test_connect_async_with_async_cache(
    make_client: Callable[..., Any], secret: str, login: DbLogin
) -> None:
    """connect_async() also takes an AsyncSecretCache."""

    async def main() -> tuple[Any, ...]:
        async with (
            AsyncSecretCache(make_client()) as acache,
            await sc_psycopg.connect_async(secret, cache=acache) as conn,
        ):
            row = await (await conn.execute("SELECT current_user")).fetchone()
            assert row is not None
            return tuple(row)

    assert asyncio.run(main()) == (login.username,)


def test_connection_class(cache: SecretCache, secret: str, login: DbLogin) -> None:
    """The class a pool connects with: cls.connect(conninfo) logs in with the secret."""
    cls = sc_psycopg.connection_class(secret, cache=cache)
    assert issubclass(cls, psycopg.Connection)
    with cls.connect("application_name=sct") as conn:
        assert isinstance(conn, cls)
        assert _whoami(conn) == (login.username, login.dbname)
        assert conn.execute("SHOW application_name").fetchone() == ("sct",)


def test_pool(cache: SecretCache, secret: str, login: DbLogin) -> None:
    """create_pool(): a psycopg_pool.ConnectionPool whose connections log in with the secret."""
    with sc_psycopg.create_pool(secret, cache=cache, min_size=1, max_size=2, open=False) as pool:
        with pool.connection() as conn:
            assert _whoami(conn) == (login.username, login.dbname)
        assert pool.get_stats()["connections_num"] >= 1


def test_pool_reconnects_with_the_pending_password(
    pg_server: Any, sm_client: Any, cache: SecretCache, secret: str, login: DbLogin
) -> None:
    """A pool refilling during the rotation window logs in with AWSPENDING."""
    with sc_psycopg.create_pool(secret, cache=cache, min_size=1, max_size=1, open=False) as pool:
        with pool.connection() as conn:
            conn.execute("SELECT 1")
        new_password = "new-" + uuid.uuid4().hex
        sm_client.put_secret_value(
            SecretId=secret,
            SecretString=json.dumps(login.secret(password=new_password)),
            VersionStages=["AWSPENDING"],
        )
        pg_server.set_password(login.username, new_password)
        pool.drain()  # the old connections go; the pool's workers connect anew
        with pool.connection(timeout=10) as conn:
            assert _whoami(conn)[0] == login.username
        assert pool.get_stats().get("connections_errors", 0) == 0


def test_async_pool(cache: SecretCache, secret: str, login: DbLogin) -> None:
    """create_async_pool(): an AsyncConnectionPool whose connections log in with the secret."""

    async def main() -> tuple[Any, ...]:
        async with (
            sc_psycopg.create_async_pool(
                secret, cache=cache, min_size=1, max_size=2, open=False
            ) as pool,
            pool.connection() as conn,
        ):
            row = await (await conn.execute("SELECT current_user")).fetchone()
            assert row is not None
            return tuple(row)

    assert asyncio.run(main()) == (login.username,)


def test_classifier_is_exported() -> None:
    """The classifier is public for code that builds its own retry with call_with_secret."""
    error = psycopg.OperationalError('... FATAL:  password authentication failed for user "x"')
    assert sc_psycopg.is_credentials_rejected(error)
