"""SQLAlchemy 2 engines whose new connections always log in with the secret's credential.

::

    from secretcache.integrations.sqlalchemy import attach, create_engine

    engine = create_engine("prod/db", pool_pre_ping=True)      # URL from the secret
    engine = attach(sqlalchemy.create_engine("postgresql+psycopg://db.internal/app"), "prod/login")

A ``do_connect`` listener fills a copy of the connection parameters with the secret's
username and password for every new DBAPI connection; pooled connections stay as they
are (``pool_pre_ping``, ``pool_recycle`` and ``dispose()`` work as usual). When the server
refuses the login (a rotation is under way), the listener retries with AWSCURRENT
refreshed, then AWSPENDING, until ``timeout_seconds``; then ``CredentialsRejectedError``
is raised, chained to the driver's error. Other connect errors are SQLAlchemy's usual
``OperationalError`` wrapping the driver's, raised at once.

Drivers: ``postgresql+psycopg`` (sync and async engines) and ``mysql+pymysql`` /
``mariadb+pymysql``. Host, port and database in the engine's URL win over the secret's;
the secret fills those the URL leaves out.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, cast

from secretcache import SecretCache, SecretFormatError, SecretValue

from ._connecting import (
    DEFAULT_TIMEOUT_SECONDS,
    Timeout,
    check_timeout,
    connect_with_secret,
    connect_with_secret_async,
    resolve_cache,
)
from ._credentials import MYSQL, POSTGRESQL, connect_params, parse_credentials
from ._rejected import is_mysql_rejected, is_postgres_rejected

try:
    import sqlalchemy
    from sqlalchemy import event
    from sqlalchemy import util as sa_util
    from sqlalchemy.engine import URL, Engine
except ImportError as exc:
    raise ImportError(
        "secretcache.integrations.sqlalchemy needs SQLAlchemy 2: "
        "pip install 'secretcache[sqlalchemy]'"
    ) from exc

if TYPE_CHECKING:
    from sqlalchemy.engine.interfaces import Dialect
    from sqlalchemy.ext.asyncio import AsyncEngine

    from secretcache import AsyncSecretCache

__all__ = ["DEFAULT_TIMEOUT_SECONDS", "attach", "create_async_engine", "create_engine"]

DEFAULT_DRIVERNAMES: Mapping[str, str] = {
    POSTGRESQL: "postgresql+psycopg",
    MYSQL: "mysql+pymysql",
}


@dataclass(frozen=True)
class _Driver:
    """Where a DBAPI driver takes each part of the login, and how it says "refused"."""

    family: str
    is_rejected: Callable[[BaseException], bool]
    database_key: str = "database"
    password_as_bytes: bool = False


_DRIVERS: Mapping[tuple[str, str], _Driver] = {
    ("postgresql", "psycopg"): _Driver(POSTGRESQL, is_postgres_rejected, database_key="dbname"),
    # PyMySQL encodes a str password as latin-1; the server hashed UTF-8.
    ("mysql", "pymysql"): _Driver(MYSQL, is_mysql_rejected, password_as_bytes=True),
    ("mariadb", "pymysql"): _Driver(MYSQL, is_mysql_rejected, password_as_bytes=True),
}

E = TypeVar("E")

_ATTACHED: weakref.WeakKeyDictionary[Engine, str] = weakref.WeakKeyDictionary()


def create_engine(
    secret_id: str,
    *,
    cache: SecretCache | None = None,
    drivername: str | None = None,
    timeout_seconds: Timeout = DEFAULT_TIMEOUT_SECONDS,
    host: str | None = None,
    port: int | None = None,
    database: str | None = None,
    **engine_kwargs: Any,
) -> Engine:
    """A ``sqlalchemy.Engine`` for the database an RDS-style secret describes.

    The URL (without login) comes from the secret's engine, host, port and dbname;
    ``drivername`` defaults to ``postgresql+psycopg`` or ``mysql+pymysql`` by the secret's
    engine; ``host``/``port``/``database`` override the secret's. ``engine_kwargs`` go
    to ``sqlalchemy.create_engine``.
    """
    url = _url(resolve_cache(cache).get(secret_id), drivername, host, port, database)
    return attach(
        sqlalchemy.create_engine(url, **engine_kwargs),
        secret_id,
        cache=cache,
        timeout_seconds=timeout_seconds,
    )


def create_async_engine(
    secret_id: str,
    *,
    cache: SecretCache | AsyncSecretCache | None = None,
    drivername: str | None = None,
    timeout_seconds: Timeout = DEFAULT_TIMEOUT_SECONDS,
    host: str | None = None,
    port: int | None = None,
    database: str | None = None,
    **engine_kwargs: Any,
) -> AsyncEngine:
    """An ``AsyncEngine`` (psycopg's async driver) for the database the secret describes.

    Like :func:`create_engine`; cache reads and backoff never block the event loop. With a
    ``SecretCache`` the URL is read from the secret when the engine is built. With an
    ``AsyncSecretCache`` (which cannot be read from this plain function) pass
    ``drivername``: the URL then holds only what is given here, and each connection takes
    the secret's host, port and dbname for the parts left out.
    """
    from sqlalchemy.ext import asyncio as sa_asyncio

    if cache is None or isinstance(cache, SecretCache):
        url = _url(resolve_cache(cache).get(secret_id), drivername, host, port, database)
    elif drivername is None:
        raise TypeError(
            "create_async_engine with an AsyncSecretCache needs drivername= "
            "(e.g. 'postgresql+psycopg'); host, port and dbname come from the secret"
        )
    else:
        url = URL.create(drivername, host=host, port=port, database=database)
    return attach(
        sa_asyncio.create_async_engine(url, **engine_kwargs),
        secret_id,
        cache=cache,
        timeout_seconds=timeout_seconds,
    )


def _url(
    value: SecretValue,
    drivername: str | None,
    host: str | None,
    port: int | None,
    database: str | None,
) -> URL:
    creds = parse_credentials(value)
    if drivername is None:
        if creds.family is None:
            raise SecretFormatError(
                f"secret {value.name!r} (version {value.version_id}) has no 'engine': "
                "pass drivername=",
                secret_id=value.name,
            )
        drivername = DEFAULT_DRIVERNAMES[creds.family]
    return URL.create(
        drivername,
        host=host if host is not None else creds.host,
        port=port if port is not None else creds.port,
        database=database if database is not None else creds.dbname,
    )


def attach(
    engine: E,
    secret_id: str,
    *,
    cache: SecretCache | AsyncSecretCache | None = None,
    timeout_seconds: Timeout = DEFAULT_TIMEOUT_SECONDS,
) -> E:
    """Make every new connection of ``engine`` (an ``Engine`` or ``AsyncEngine``) log in
    with the credential in ``secret_id``; returns ``engine``.

    ``cache=None`` means ``default_cache()`` at each connect; an ``AsyncSecretCache``
    serves async engines only. Raises ``ValueError`` for a driver it does not know, or an
    engine already attached.
    """
    check_timeout(timeout_seconds)
    sync_engine = cast(Engine, getattr(engine, "sync_engine", engine))
    dialect = sync_engine.dialect
    if not dialect.is_async and cache is not None and not isinstance(cache, SecretCache):
        raise TypeError("a sync engine needs a SecretCache, not an AsyncSecretCache")
    driver = _DRIVERS.get((dialect.name, dialect.driver))
    if driver is None:
        known = ", ".join(sorted(f"{name}+{drv}" for name, drv in _DRIVERS))
        raise ValueError(f"unsupported driver {dialect.name}+{dialect.driver} (known: {known})")
    if sync_engine in _ATTACHED:
        raise ValueError(f"engine already logs in with secret {_ATTACHED[sync_engine]!r}")
    _ATTACHED[sync_engine] = secret_id
    listener = _Listener(secret_id, cache, timeout_seconds, driver)
    event.listen(
        sync_engine, "do_connect", listener.connect_async if dialect.is_async else listener.connect
    )
    return engine


class _Listener:
    """The ``do_connect`` handler: one per attached engine."""

    def __init__(
        self,
        secret_id: str,
        cache: SecretCache | AsyncSecretCache | None,
        timeout: Timeout,
        driver: _Driver,
    ) -> None:
        self.secret_id = secret_id
        self.cache = cache
        self.timeout = timeout
        self.driver = driver

    def params(self, value: SecretValue, cparams: Mapping[str, Any]) -> dict[str, Any]:
        """A copy of SQLAlchemy's connect parameters with this version's login."""
        driver = self.driver
        return connect_params(
            parse_credentials(value, family=driver.family),
            cparams,
            database_key=driver.database_key,
            password_as_bytes=driver.password_as_bytes,
        )

    def connect(
        self, dialect: Dialect, record: Any, cargs: tuple[Any, ...], cparams: dict[str, Any]
    ) -> Any:
        cache = resolve_cache(self.cache)
        assert isinstance(cache, SecretCache)  # attach() refused an async cache
        return connect_with_secret(
            cache,
            self.secret_id,
            lambda value: dialect.connect(*cargs, **self.params(value, cparams)),
            is_rejected=self.driver.is_rejected,
            timeout_seconds=self.timeout,
        )

    def connect_async(
        self, dialect: Dialect, record: Any, cargs: tuple[Any, ...], cparams: dict[str, Any]
    ) -> Any:
        # Called inside SQLAlchemy's greenlet: hand the search to the event loop, where
        # each attempt runs dialect.connect in a greenlet of its own.
        search = connect_with_secret_async(
            resolve_cache(self.cache),
            self.secret_id,
            lambda value: sa_util.greenlet_spawn(
                dialect.connect, *cargs, **self.params(value, cparams)
            ),
            is_rejected=self.driver.is_rejected,
            timeout_seconds=self.timeout,
            discard=lambda conn: sa_util.greenlet_spawn(conn.close),
        )
        return _await(search)


_await: Callable[[Any], Any] = getattr(sa_util, "await_", None) or sa_util.await_only
