"""SQLAlchemy 2 engines whose connections log in with a secret: PostgreSQL and MariaDB."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from secretcache import AsyncSecretCache, SecretCache, SecretFormatError
from tests.integrations.db_support import Rotations
from tests.integrations.rotation_support import Engine, Setup
from tests.servers import DbLogin

pytestmark = pytest.mark.integration

sqlalchemy = pytest.importorskip("sqlalchemy")
sc_sqlalchemy = pytest.importorskip("secretcache.integrations.sqlalchemy")

NO_TLS = {"ssl_disabled": True}  # for PyMySQL: the test server has no TLS


@pytest.fixture
def login(pg_server: Any) -> Iterator[DbLogin]:
    """A PostgreSQL login with its own database."""
    created = pg_server.create_login()
    yield created
    pg_server.drop_login(created.username)


def _whoami(engine: Any) -> tuple[Any, ...]:
    with engine.connect() as conn:
        row = conn.execute(sqlalchemy.text("SELECT current_user, current_database()")).one()
    return tuple(row)


def test_create_engine_from_rds_secret(cache: SecretCache, secret: str, login: DbLogin) -> None:
    """The URL comes from the secret (no login in it); connections log in as its user."""
    engine = sc_sqlalchemy.create_engine(secret, cache=cache)
    try:
        assert engine.url.drivername == "postgresql+psycopg"
        assert (engine.url.host, engine.url.port, engine.url.database) == (
            login.host,
            login.port,
            login.dbname,
        )
        assert engine.url.username is None and engine.url.password is None
        assert login.password not in repr(engine) + str(engine.url)
        assert _whoami(engine) == (login.username, login.dbname)
    finally:
        engine.dispose()


def test_parameters_are_copied_not_filled_in(cache: SecretCache, secret: str) -> None:
    """SQLAlchemy's own connect parameters never receive the password (a copy does)."""
    engine = sqlalchemy.create_engine(sc_sqlalchemy.create_engine(secret, cache=cache).url)
    seen: list[dict[str, Any]] = []
    sqlalchemy.event.listen(engine, "do_connect", lambda d, r, a, cparams: seen.append(cparams))
    sc_sqlalchemy.attach(engine, secret, cache=cache)
    try:
        _whoami(engine)
    finally:
        engine.dispose()
    assert seen
    assert "password" not in seen[0] and "user" not in seen[0]


def test_attach_to_a_user_built_engine_with_a_login_only_secret(
    cache: SecretCache, sm_client: Any, secret_name: str, login: DbLogin
) -> None:
    """A username/password secret on an engine whose URL the application wrote."""
    sm_client.create_secret(
        Name=secret_name,
        SecretString=json.dumps({"username": login.username, "password": login.password}),
    )
    url = f"postgresql+psycopg://{login.host}:{login.port}/{login.dbname}"
    engine = sc_sqlalchemy.attach(sqlalchemy.create_engine(url), secret_name, cache=cache)
    try:
        assert _whoami(engine) == (login.username, login.dbname)
    finally:
        engine.dispose()


def test_create_engine_without_engine_key_needs_drivername(
    cache: SecretCache, sm_client: Any, secret_name: str, login: DbLogin
) -> None:
    """No 'engine' in the secret: a SecretFormatError asks for drivername=; given, it works."""
    document = {key: item for key, item in login.secret().items() if key != "engine"}
    sm_client.create_secret(Name=secret_name, SecretString=json.dumps(document))
    with pytest.raises(SecretFormatError, match="has no 'engine': pass drivername="):
        sc_sqlalchemy.create_engine(secret_name, cache=cache)
    engine = sc_sqlalchemy.create_engine(
        secret_name, cache=cache, drivername="postgresql+psycopg", database="postgres"
    )
    try:
        assert _whoami(engine) == (login.username, "postgres")
    finally:
        engine.dispose()


def test_attach_refuses_unknown_drivers_and_twice(cache: SecretCache, secret: str) -> None:
    """An unknown driver, or attaching twice, is a ValueError at once."""
    with pytest.raises(ValueError, match=r"unsupported driver sqlite\+pysqlite"):
        sc_sqlalchemy.attach(sqlalchemy.create_engine("sqlite://"), secret, cache=cache)
    engine = sc_sqlalchemy.create_engine(secret, cache=cache)
    with pytest.raises(ValueError, match="already logs in with secret"):
        sc_sqlalchemy.attach(engine, secret, cache=cache)


def test_sync_engine_refuses_an_async_cache(make_client: Callable[..., Any], secret: str) -> None:
    """A sync engine cannot await an AsyncSecretCache: a TypeError when attaching."""
    engine = sqlalchemy.create_engine("postgresql+psycopg://127.0.0.1/x")
    with pytest.raises(TypeError, match="needs a SecretCache"):
        sc_sqlalchemy.attach(engine, secret, cache=AsyncSecretCache(make_client()))


def test_pre_ping_across_a_rotation(
    pg_server: Any, sm_client: Any, secret_name: str, cache: SecretCache
) -> None:
    """After a real rotation, a pooled connection keeps working, and when the server drops it
    pre-ping reconnects with the new password (recycling is exercised under load in
    test_db_rotation.py)."""
    setup = Setup(Engine("postgres", pg_server), sm_client, secret_name)
    try:
        value = setup.secret("single")
        engine = sc_sqlalchemy.create_engine(
            secret_name, cache=cache, pool_size=1, max_overflow=0, pool_pre_ping=True
        )
        pids = []
        with engine.connect() as conn:
            pids.append(conn.execute(sqlalchemy.text("SELECT pg_backend_pid()")).scalar())
        rotations = Rotations(
            sm_client,
            secret_name,
            setup.engine.strategy("single"),
            window_seconds=0,
            settle_seconds=0,
        )
        rotations.rotate()
        with engine.connect() as conn:  # the pooled session outlives the password change
            pids.append(conn.execute(sqlalchemy.text("SELECT pg_backend_pid()")).scalar())
        pg_server.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s",
            (value["username"],),
        )
        with engine.connect() as conn:  # pre-ping finds it dead and reconnects
            pids.append(conn.execute(sqlalchemy.text("SELECT pg_backend_pid()")).scalar())
        engine.dispose()
    finally:
        setup.cleanup()
    assert pids[0] == pids[1]
    assert pids[2] != pids[1]


def test_create_async_engine(cache: SecretCache, secret: str, login: DbLogin) -> None:
    """An AsyncEngine on psycopg's async driver; its connections log in with the secret."""

    async def main() -> tuple[Any, ...]:
        engine = sc_sqlalchemy.create_async_engine(secret, cache=cache)
        try:
            async with engine.connect() as conn:
                result = await conn.execute(sqlalchemy.text("SELECT current_user"))
                return tuple(result.one())
        finally:
            await engine.dispose()

    assert asyncio.run(main()) == (login.username,)


def test_attach_async_engine_with_async_cache(
    make_client: Callable[..., Any], secret: str, login: DbLogin
) -> None:
    """attach() on an AsyncEngine the application built, with an AsyncSecretCache."""
    from sqlalchemy.ext.asyncio import create_async_engine

    async def main() -> tuple[Any, ...]:
        async with AsyncSecretCache(make_client()) as acache:
            url = f"postgresql+psycopg://{login.host}:{login.port}/{login.dbname}"
            engine = sc_sqlalchemy.attach(create_async_engine(url), secret, cache=acache)
            try:
                async with engine.connect() as conn:
                    result = await conn.execute(sqlalchemy.text("SELECT current_user"))
                    return tuple(result.one())
            finally:
                await engine.dispose()

    assert asyncio.run(main()) == (login.username,)


def test_create_async_engine_with_async_cache(
    make_client: Callable[..., Any], secret: str, login: DbLogin
) -> None:
    """With an AsyncSecretCache and a drivername, host, port and database come from the secret."""

    async def main() -> tuple[Any, ...]:
        async with AsyncSecretCache(make_client()) as acache:
            engine = sc_sqlalchemy.create_async_engine(
                secret, cache=acache, drivername="postgresql+psycopg"
            )
            try:
                assert engine.url.host is None  # filled per connection, from the secret
                async with engine.connect() as conn:
                    result = await conn.execute(
                        sqlalchemy.text("SELECT current_user, current_database()")
                    )
                    return tuple(result.one())
            finally:
                await engine.dispose()

    assert asyncio.run(main()) == (login.username, login.dbname)


def test_create_async_engine_with_async_cache_needs_drivername(
    make_client: Callable[..., Any], secret: str
) -> None:
    """Without a drivername there is no way to read the engine from an async cache here."""
    with pytest.raises(TypeError, match="drivername"):
        sc_sqlalchemy.create_async_engine(secret, cache=AsyncSecretCache(make_client()))


def test_async_engine_uses_pending_password_in_the_window(
    pg_server: Any, sm_client: Any, cache: SecretCache, secret: str, login: DbLogin
) -> None:
    """The async listener retries like the sync one: AWSPENDING inside the rotation window."""
    new_password = "new-" + uuid.uuid4().hex

    async def main() -> tuple[Any, ...]:
        engine = sc_sqlalchemy.create_async_engine(secret, cache=cache, poolclass=_null_pool())
        try:
            async with engine.connect():
                pass
            sm_client.put_secret_value(
                SecretId=secret,
                SecretString=json.dumps(login.secret(password=new_password)),
                VersionStages=["AWSPENDING"],
            )
            pg_server.set_password(login.username, new_password)
            async with engine.connect() as conn:
                result = await conn.execute(sqlalchemy.text("SELECT current_user"))
                return tuple(result.one())
        finally:
            await engine.dispose()

    assert asyncio.run(main()) == (login.username,)


def _null_pool() -> Any:
    from sqlalchemy.pool import NullPool

    return NullPool


def test_mysql_engine(
    mariadb_server: Any, cache: SecretCache, sm_client: Any, secret_name: str
) -> None:
    """A mariadb secret makes a mysql+pymysql engine; its connections log in (non-ASCII too)."""
    created = mariadb_server.create_login("pässwörd-" + uuid.uuid4().hex[:6])
    try:
        sm_client.create_secret(Name=secret_name, SecretString=json.dumps(created.secret()))
        engine = sc_sqlalchemy.create_engine(secret_name, cache=cache, connect_args=NO_TLS)
        assert engine.url.drivername == "mysql+pymysql"
        try:
            with engine.connect() as conn:
                who = conn.execute(sqlalchemy.text("SELECT CURRENT_USER(), DATABASE()")).one()
        finally:
            engine.dispose()
    finally:
        mariadb_server.drop_login(created.username)
    assert who[0].split("@")[0] == created.username
    assert who[1] == created.dbname
