"""PyMySQL connections whose logins come from a secret (MySQL, MariaDB, Aurora MySQL).

::

    from secretcache.integrations import pymysql as sc_pymysql

    conn = sc_pymysql.connect("prod/mysql")

When the server answers 1045 (access denied: a rotation is under way), the connection is
retried with AWSCURRENT refreshed, then AWSPENDING, until ``timeout_seconds``; then
``CredentialsRejectedError`` is raised, chained to PyMySQL's error. Any other error is
PyMySQL's own, raised at once.

Keyword arguments are PyMySQL's (``autocommit=``, ``connect_timeout=``, ``charset=``, ...);
``host``, ``port`` and ``database`` given here win over the secret's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from secretcache import SecretCache, SecretValue

from ._connecting import (
    DEFAULT_TIMEOUT_SECONDS,
    Timeout,
    check_timeout,
    connect_with_secret,
    resolve_cache,
)
from ._credentials import MYSQL, connect_params, parse_credentials, reject_credential_kwargs
from ._rejected import is_mysql_rejected

try:
    import pymysql
except ImportError as exc:
    raise ImportError(
        "secretcache.integrations.pymysql needs PyMySQL: pip install 'secretcache[pymysql]'"
    ) from exc

__all__ = ["DEFAULT_TIMEOUT_SECONDS", "connect", "is_credentials_rejected"]

LOGIN_KEYWORDS = ("user", "password", "passwd")

is_credentials_rejected = is_mysql_rejected


def connection_params(value: SecretValue, given: Mapping[str, Any]) -> dict[str, Any]:
    """PyMySQL's connect keywords: the secret's login and address, ``given`` on top."""
    return connect_params(
        parse_credentials(value, family=MYSQL),
        given,
        database_key="database",
        password_as_bytes=True,
    )


def connect(
    secret_id: str,
    *,
    cache: SecretCache | None = None,
    timeout_seconds: Timeout = DEFAULT_TIMEOUT_SECONDS,
    **kwargs: Any,
) -> Any:
    """A new ``pymysql.connections.Connection`` logged in with the credential in ``secret_id``."""
    reject_credential_kwargs(kwargs, *LOGIN_KEYWORDS)
    return connect_with_secret(
        resolve_cache(cache),
        secret_id,
        lambda value: pymysql.connect(**connection_params(value, kwargs)),
        is_rejected=is_mysql_rejected,
        timeout_seconds=check_timeout(timeout_seconds),
    )
