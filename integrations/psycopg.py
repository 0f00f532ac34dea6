"""psycopg 3 connections and psycopg_pool pools whose logins come from a secret.

::

    from secretcache.integrations import psycopg as sc_psycopg

    with sc_psycopg.connect("prod/db") as conn:
        conn.execute("SELECT 1")

    pool = sc_psycopg.create_pool("prod/db", min_size=1, max_size=10, open=True)

Every new connection reads the secret through the cache (a dictionary read when warm).
When the server refuses the login (a rotation is under way), the connection is retried
with AWSCURRENT refreshed, then AWSPENDING, until ``timeout_seconds``; then
``CredentialsRejectedError`` is raised, chained to psycopg's error. Any other error
(connection refused, timeout, missing database) is psycopg's own, raised at once.

psycopg_pool connects in background workers and reports only ``PoolTimeout`` to the
caller, so the credential logic lives in the class the pool connects with:
:func:`connection_class` builds it, :func:`create_pool` passes it.

Keyword arguments are psycopg's (``autocommit=``, ``row_factory=``, ``connect_timeout=``,
``conninfo=``, ...); ``host``, ``port`` and ``dbname`` given here win over the secret's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from secretcache import SecretCache, SecretValue

if TYPE_CHECKING:
    from secretcache import AsyncSecretCache

from ._connecting import (
    DEFAULT_TIMEOUT_SECONDS,
    Timeout,
    check_timeout,
    connect_with_secret,
    connect_with_secret_async,
    resolve_cache,
)
from ._credentials import (
    POSTGRESQL,
    connect_params,
    parse_credentials,
    reject_credential_kwargs,
)
from ._rejected import is_postgres_rejected

try:
    import psycopg
except ImportError as exc:
    raise ImportError(
        "secretcache.integrations.psycopg needs psycopg 3: pip install 'secretcache[psycopg]'"
    ) from exc

__all__ = [
    "DEFAULT_TIMEOUT_SECONDS",
    "async_connection_class",
    "connect",
    "connect_async",
    "connection_class",
    "create_async_pool",
    "create_pool",
    "is_credentials_rejected",
]

LOGIN_KEYWORDS = ("user", "password")

is_credentials_rejected = is_postgres_rejected


def connection_params(value: SecretValue, given: Mapping[str, Any]) -> dict[str, Any]:
    """psycopg's connect keywords: the secret's login and address, ``given`` on top."""
    return connect_params(parse_credentials(value, family=POSTGRESQL), given, database_key="dbname")


def connect(
    secret_id: str,
    *,
    cache: SecretCache | None = None,
    timeout_seconds: Timeout = DEFAULT_TIMEOUT_SECONDS,
    **kwargs: Any,
) -> psycopg.Connection[Any]:
    """A new ``psycopg.Connection`` logged in with the credential in ``secret_id``."""
    reject_credential_kwargs(kwargs, *LOGIN_KEYWORDS)
    return connect_with_secret(
        resolve_cache(cache),
        secret_id,
        lambda value: psycopg.Connection.connect(**connection_params(value, kwargs)),
        is_rejected=is_postgres_rejected,
        timeout_seconds=check_timeout(timeout_seconds),
    )


async def connect_async(
    secret_id: str,
    *,
    cache: SecretCache | AsyncSecretCache | None = None,
    timeout_seconds: Timeout = DEFAULT_TIMEOUT_SECONDS,
    **kwargs: Any,
) -> psycopg.AsyncConnection[Any]:
    """A new ``psycopg.AsyncConnection`` logged in with the credential in ``secret_id``.

    The event loop is never blocked: with a ``SecretCache`` the cache reads and backoff
    run in a worker thread, with an ``AsyncSecretCache`` they are awaited.
    """
    reject_credential_kwargs(kwargs, *LOGIN_KEYWORDS)
    return await connect_with_secret_async(
        resolve_cache(cache),
        secret_id,
        lambda value: psycopg.AsyncConnection.connect(**connection_params(value, kwargs)),
        is_rejected=is_postgres_rejected,
        timeout_seconds=check_timeout(timeout_seconds),
        discard=_close_async,
    )


async def _close_async(conn: psycopg.AsyncConnection[Any]) -> None:
    await conn.close()


def connection_class(
    secret_id: str,
    *,
    cache: SecretCache | None = None,
    timeout_seconds: Timeout = DEFAULT_TIMEOUT_SECONDS,
) -> type[psycopg.Connection[Any]]:
    """A ``psycopg.Connection`` subclass whose ``connect()`` logs in with the secret.

    For ``psycopg_pool.ConnectionPool(connection_class=...)`` or any code that calls
    ``cls.connect(conninfo, **kwargs)``. ``cache=None`` is resolved at each connect.
    """
    check_timeout(timeout_seconds)

    class SecretConnection(psycopg.Connection[Any]):
        @classmethod
        def connect(cls, conninfo: str = "", **kwargs: Any) -> SecretConnection:
            reject_credential_kwargs(kwargs, *LOGIN_KEYWORDS)
            conn: SecretConnection = connect_with_secret(
                resolve_cache(cache),
                secret_id,
                lambda value: cls._log_in(value, conninfo, kwargs),
                is_rejected=is_postgres_rejected,
                timeout_seconds=timeout_seconds,
            )
            return conn

        @classmethod
        def _log_in(
            cls, value: SecretValue, conninfo: str, kwargs: Mapping[str, Any]
        ) -> SecretConnection:
            return super().connect(conninfo, **connection_params(value, kwargs))

    SecretConnection.__qualname__ = SecretConnection.__name__ = f"SecretConnection[{secret_id}]"
    return SecretConnection


def async_connection_class(
    secret_id: str,
    *,
    cache: SecretCache | AsyncSecretCache | None = None,
    timeout_seconds: Timeout = DEFAULT_TIMEOUT_SECONDS,
) -> type[psycopg.AsyncConnection[Any]]:
    """A ``psycopg.AsyncConnection`` subclass whose ``connect()`` logs in with the secret.

    For ``psycopg_pool.AsyncConnectionPool(connection_class=...)``.
    """
    check_timeout(timeout_seconds)

    class SecretAsyncConnection(psycopg.AsyncConnection[Any]):
        @classmethod
        async def connect(cls, conninfo: str = "", **kwargs: Any) -> SecretAsyncConnection:
            reject_credential_kwargs(kwargs, *LOGIN_KEYWORDS)
            return await connect_with_secret_async(
                resolve_cache(cache),
                secret_id,
                lambda value: cls._log_in(value, conninfo, kwargs),
                is_rejected=is_postgres_rejected,
                timeout_seconds=timeout_seconds,
                discard=_close_async,
            )

        @classmethod
        async def _log_in(
            cls, value: SecretValue, conninfo: str, kwargs: Mapping[str, Any]
        ) -> SecretAsyncConnection:
            return await super().connect(conninfo, **connection_params(value, kwargs))

    name = f"SecretAsyncConnection[{secret_id}]"
    SecretAsyncConnection.__qualname__ = SecretAsyncConnection.__name__ = name
    return SecretAsyncConnection


def create_pool(
    secret_id: str,
    *,
    cache: SecretCache | None = None,
    timeout_seconds: Timeout = DEFAULT_TIMEOUT_SECONDS,
    conninfo: str = "",
    **pool_kwargs: Any,
) -> Any:
    """A ``psycopg_pool.ConnectionPool`` whose connections log in with the secret.

    ``pool_kwargs`` are the pool's (``min_size=``, ``max_size=``, ``open=``, ``kwargs=``
    for psycopg, ...). Returns the pool (typed ``Any``: psycopg_pool is an optional extra).
    """
    pool_module = _psycopg_pool()
    return pool_module.ConnectionPool(
        conninfo,
        connection_class=connection_class(secret_id, cache=cache, timeout_seconds=timeout_seconds),
        **pool_kwargs,
    )


def create_async_pool(
    secret_id: str,
    *,
    cache: SecretCache | AsyncSecretCache | None = None,
    timeout_seconds: Timeout = DEFAULT_TIMEOUT_SECONDS,
    conninfo: str = "",
    **pool_kwargs: Any,
) -> Any:
    """A ``psycopg_pool.AsyncConnectionPool`` whose connections log in with the secret.

    Open it with ``async with`` or ``await pool.open()`` (pass ``open=False``).
    """
    pool_module = _psycopg_pool()
    return pool_module.AsyncConnectionPool(
        conninfo,
        connection_class=async_connection_class(
            secret_id, cache=cache, timeout_seconds=timeout_seconds
        ),
        **pool_kwargs,
    )


def _psycopg_pool() -> Any:
    try:
        import psycopg_pool
    except ImportError as exc:
        raise ImportError(
            "psycopg pools need psycopg_pool: pip install 'secretcache[psycopg]'"
        ) from exc
    return psycopg_pool
