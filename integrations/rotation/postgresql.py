"""PostgreSQL rotation strategies (psycopg 3): ``SingleUser`` and ``AlternatingUsers``.

Passwords are hashed on the client (libpq's ``PQencryptPasswordConn``, with the server's
``password_encryption``) before ``ALTER ROLE ... PASSWORD``, so no plaintext reaches the
server's statement log. Identifiers and literals are quoted with ``psycopg.sql``:
``PASSWORD`` cannot take a bound parameter.

The clone user is a member of the original role (``GRANT name TO name_clone``), so it
holds every privilege the original has, now and later.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from secretcache._errors import SecretFormatError

from .._rejected import is_postgres_rejected
from ._db import AlternatingUsersStrategy, Database, Login, SingleUserStrategy

__all__ = ["AlternatingUsers", "PostgresDatabase", "SingleUser"]

MAX_IDENTIFIER_BYTES = 63  # NAMEDATALEN - 1: longer names are silently truncated


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError:
        raise ImportError(
            "PostgreSQL rotation needs psycopg 3: pip install 'secretcache[psycopg]'"
        ) from None
    return psycopg


class PostgresDatabase(Database):
    """PostgreSQL through psycopg 3."""

    name = "PostgreSQL"
    engines = frozenset({"postgres", "postgresql", "aurora-postgresql"})
    default_port = 5432

    def __init__(self) -> None:
        self._psycopg = _psycopg()

    def connect(self, login: Login, *, timeout_seconds: float, options: Mapping[str, Any]) -> Any:
        """A psycopg connection in autocommit mode."""
        return self._psycopg.connect(
            host=login.host,
            port=login.port,
            user=login.username,
            password=login.password,
            dbname=login.dbname or "postgres",
            connect_timeout=max(1, round(timeout_seconds)),
            autocommit=True,
            **options,
        )

    def is_rejected(self, exc: BaseException) -> bool:
        """The DB integrations' classifier: one definition of a refused PostgreSQL login."""
        return is_postgres_rejected(exc)

    def check_username(self, username: str, *, secret_id: str) -> None:
        """PostgreSQL would truncate a name longer than 63 bytes: refuse it."""
        if len(username.encode("utf-8")) > MAX_IDENTIFIER_BYTES:
            raise SecretFormatError(
                f"user name {username!r} of secret {secret_id!r} is longer than PostgreSQL's"
                f" {MAX_IDENTIFIER_BYTES} bytes",
                secret_id=secret_id,
            )

    def _password_literal(self, conn: Any, username: str, password: str) -> Any:
        sql = self._psycopg.sql
        verifier = conn.pgconn.encrypt_password(password.encode("utf-8"), username.encode("utf-8"))
        return sql.Literal(verifier.decode("ascii"))

    def set_own_password(self, conn: Any, login: Login, password: str) -> None:
        """``ALTER ROLE CURRENT_USER PASSWORD '<verifier>'``."""
        sql = self._psycopg.sql
        literal = self._password_literal(conn, login.username, password)
        conn.execute(sql.SQL("ALTER ROLE CURRENT_USER PASSWORD {}").format(literal))

    def upsert_user(
        self, conn: Any, *, template: str, username: str, password: str, copy_grants: bool
    ) -> None:
        """CREATE or ALTER the role and, if asked, make it a member of ``template``; atomic."""
        sql = self._psycopg.sql
        literal = self._password_literal(conn, username, password)
        role = sql.Identifier(username)
        with conn.transaction():
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (username,))
            created = exists.fetchone() is None
            verb = sql.SQL("CREATE ROLE" if created else "ALTER ROLE")
            conn.execute(sql.SQL("{} {} WITH LOGIN PASSWORD {}").format(verb, role, literal))
            if copy_grants or created:
                conn.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(template), role))

    def ping(self, conn: Any) -> None:
        """``SELECT 1``."""
        conn.execute("SELECT 1").fetchone()


class SingleUser(SingleUserStrategy):
    """The PostgreSQL user changes its own password. Shareable between threads."""

    def __init__(
        self,
        *,
        connect_timeout_seconds: float = 5.0,
        connect_options: Mapping[str, Any] | None = None,
        connection_defaults: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(
            PostgresDatabase(),
            connect_timeout_seconds=connect_timeout_seconds,
            connect_options=connect_options,
            connection_defaults=connection_defaults,
        )


class AlternatingUsers(AlternatingUsersStrategy):
    """``name`` and ``name_clone`` take turns; the master secret's user manages them.

    The master needs CREATEROLE (and ADMIN on the original role from PostgreSQL 16) or
    superuser. Shareable between threads.
    """

    def __init__(
        self,
        *,
        master_key: str = "masterarn",
        clone_suffix: str = "_clone",
        connect_timeout_seconds: float = 5.0,
        connect_options: Mapping[str, Any] | None = None,
        connection_defaults: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(
            PostgresDatabase(),
            master_key=master_key,
            clone_suffix=clone_suffix,
            connect_timeout_seconds=connect_timeout_seconds,
            connect_options=connect_options,
            connection_defaults=connection_defaults,
        )
