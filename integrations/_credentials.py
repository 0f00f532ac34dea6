"""Database credentials from an RDS-style secret: the one parser every DB integration uses.

An RDS-style secret is a JSON object::

    {"engine": "postgres", "host": "...", "port": 5432, "username": "...",
     "password": "...", "dbname": "..."}

``username`` and ``password`` are required; ``port`` may be a number or a string of
digits; ``dbname`` (and ``engine``, ``host``, ``port``) may be left out when the code
gives them instead. Errors are ``SecretFormatError`` naming the key, never its value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from secretcache import SecretFormatError, SecretValue

__all__ = [
    "ENGINES",
    "MYSQL",
    "POSTGRESQL",
    "DbCredentials",
    "connect_params",
    "parse_credentials",
    "reject_credential_kwargs",
    "showable_engine",
]

POSTGRESQL = "postgresql"
MYSQL = "mysql"

# The ``engine`` values RDS and Secrets Manager's rotation templates write, by family.
ENGINES: Mapping[str, str] = {
    "postgres": POSTGRESQL,
    "postgresql": POSTGRESQL,
    "aurora-postgresql": POSTGRESQL,
    "mysql": MYSQL,
    "mariadb": MYSQL,
    "aurora-mysql": MYSQL,
    "aurora": MYSQL,  # Aurora MySQL 5.6-compatible, as RDS names it
}

_SHOWABLE = re.compile(r"[A-Za-z0-9_.-]{1,40}")  # an engine name worth quoting in an error


@dataclass(frozen=True)
class DbCredentials:
    """One version's login and connection details. ``repr`` never shows the password."""

    username: str
    password: str = field(repr=False)
    host: str | None = None
    port: int | None = None
    dbname: str | None = None
    engine: str | None = None
    family: str | None = None  # POSTGRESQL, MYSQL, or None when the secret names no engine
    version_id: str = ""


def parse_credentials(value: SecretValue, *, family: str | None = None) -> DbCredentials:
    """The credentials in an RDS-style secret version.

    ``family`` (POSTGRESQL or MYSQL) is what the caller connects to: a secret naming an
    engine of the other family is refused rather than sent to the wrong server.
    """
    document = value.json()
    where = f"secret {value.name!r} (version {value.version_id})"
    if not isinstance(document, Mapping):
        raise SecretFormatError(f"{where} is not a JSON object", secret_id=value.name)
    username = _text(document, "username", where, value.name, required=True)
    password = _text(document, "password", where, value.name, required=True)
    assert username is not None and password is not None
    engine = _text(document, "engine", where, value.name, required=False)
    engine_family: str | None = None
    if engine is not None:
        engine_family = ENGINES.get(engine.lower())
        if engine_family is None:
            shown = f" {engine!r}" if showable_engine(engine) else ""
            known = ", ".join(sorted(ENGINES))
            raise SecretFormatError(
                f"{where} has an unknown 'engine'{shown} (known: {known})", secret_id=value.name
            )
        if family is not None and engine_family != family:
            raise SecretFormatError(
                f"{where} is for a {engine_family} engine, not {family}", secret_id=value.name
            )
    return DbCredentials(
        username=username,
        password=password,
        host=_text(document, "host", where, value.name, required=False),
        port=_port(document, where, value.name),
        dbname=_text(document, "dbname", where, value.name, required=False),
        engine=engine,
        family=engine_family,
        version_id=value.version_id,
    )


def _text(
    document: Mapping[str, Any], key: str, where: str, secret_id: str, *, required: bool
) -> str | None:
    item = document.get(key)
    if item is None or item == "":
        if required:
            raise SecretFormatError(f"{where} has no {key!r}", secret_id=secret_id)
        return None
    if not isinstance(item, str):
        raise SecretFormatError(f"{where}: {key!r} is not a string", secret_id=secret_id)
    return item


def _port(document: Mapping[str, Any], where: str, secret_id: str) -> int | None:
    item = document.get("port")
    if item is None or item == "":
        return None
    if isinstance(item, str) and item.strip().isdigit():
        item = int(item.strip())
    if not isinstance(item, int) or isinstance(item, bool) or not 0 < item < 65536:
        raise SecretFormatError(f"{where}: 'port' is not a port number", secret_id=secret_id)
    return item


def connect_params(
    creds: DbCredentials,
    given: Mapping[str, Any],
    *,
    database_key: str,
    password_as_bytes: bool = False,
) -> dict[str, Any]:
    """A driver's connect keywords: the secret's address under ``given``, its login over it.

    ``password_as_bytes`` is for PyMySQL, which encodes a ``str`` password as latin-1 and so
    fails for any non-ASCII password the server hashed as UTF-8.
    """
    address = (("host", creds.host), ("port", creds.port), (database_key, creds.dbname))
    params: dict[str, Any] = {key: item for key, item in address if item is not None}
    params.update(given)
    params["user"] = creds.username
    params["password"] = creds.password.encode() if password_as_bytes else creds.password
    return params


def showable_engine(engine: str) -> bool:
    """Whether an ``engine`` value looks like an engine name, so is safe to quote in an error."""
    return _SHOWABLE.fullmatch(engine) is not None


def reject_credential_kwargs(kwargs: Mapping[str, Any], *names: str) -> None:
    """A login given in code would silently lose to the secret's: refuse it up front."""
    given = sorted(name for name in names if name in kwargs)
    if given:
        raise TypeError(
            f"{', '.join(given)}: the login comes from the secret; pass connection details only"
        )
