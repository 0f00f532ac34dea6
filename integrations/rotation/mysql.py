"""MySQL and MariaDB rotation strategies (PyMySQL): ``SingleUser`` and ``AlternatingUsers``.

Literals are quoted by the driver's escaping (which follows the server's
NO_BACKSLASH_ESCAPES mode), identifiers with backticks. Passwords are sent to the
server as UTF-8 bytes: PyMySQL encodes a ``str`` password as latin-1, which the server
rejects for any non-ASCII password it hashed from UTF-8.

A user exists once per host (``'name'@'%'``, ``'name'@'localhost'``...): the clone is
made on every host the original has, with the original's grants copied from
``SHOW GRANTS``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from secretcache._errors import SecretCacheError, SecretFormatError

from .._rejected import is_mysql_rejected
from ._db import AlternatingUsersStrategy, Database, Login, SingleUserStrategy

__all__ = ["AlternatingUsers", "MySQLDatabase", "SingleUser"]

MAX_USERNAME_CHARS = 32  # MySQL 5.7.8+; MariaDB allows 80, so 32 is safe on both


def _pymysql() -> Any:
    try:
        import pymysql
    except ImportError:
        raise ImportError(
            "MySQL/MariaDB rotation needs PyMySQL: pip install 'secretcache[pymysql]'"
        ) from None
    return pymysql


def _backticks(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


class MySQLDatabase(Database):
    """MySQL and MariaDB through PyMySQL."""

    name = "MySQL"
    engines = frozenset({"mysql", "mariadb", "aurora-mysql", "aurora"})
    default_port = 3306

    def __init__(self, *, max_username_chars: int = MAX_USERNAME_CHARS) -> None:
        self._pymysql = _pymysql()
        self.max_username_chars = max_username_chars

    def connect(self, login: Login, *, timeout_seconds: float, options: Mapping[str, Any]) -> Any:
        """A PyMySQL connection in autocommit mode, charset utf8mb4."""
        kwargs: dict[str, Any] = {"charset": "utf8mb4", **options}
        return self._pymysql.connect(
            host=login.host,
            port=login.port,
            user=login.username,
            password=login.password.encode("utf-8"),
            database=login.dbname,
            connect_timeout=timeout_seconds,
            autocommit=True,
            **kwargs,
        )

    def is_rejected(self, exc: BaseException) -> bool:
        """The DB integrations' classifier: one definition of a refused MySQL login (1045)."""
        return is_mysql_rejected(exc)

    def check_username(self, username: str, *, secret_id: str) -> None:
        """Refuse a name longer than the server's limit (32 characters by default)."""
        if len(username) > self.max_username_chars:
            raise SecretFormatError(
                f"user name {username!r} of secret {secret_id!r} is longer than"
                f" {self.max_username_chars} characters, MySQL's limit",
                secret_id=secret_id,
            )

    def ping(self, conn: Any) -> None:
        """``SELECT 1``."""
        self._query(conn, "SELECT 1")

    @staticmethod
    def _query(conn: Any, statement: str, args: Any = None) -> list[tuple[Any, ...]]:
        with conn.cursor() as cur:
            cur.execute(statement, args)
            return list(cur.fetchall())

    def _account(self, conn: Any, username: str, host: str) -> str:
        return f"{conn.escape(username)}@{conn.escape(host)}"

    def set_own_password(self, conn: Any, login: Login, password: str) -> None:
        """MariaDB: ``SET PASSWORD = PASSWORD(...)``; MySQL: ``ALTER USER CURRENT_USER()``.

        (MariaDB wants the CREATE USER privilege for ALTER USER even on oneself.)
        """
        ((version,),) = self._query(conn, "SELECT VERSION()")
        literal = conn.escape(password)
        if "mariadb" in str(version).lower():
            self._query(conn, f"SET PASSWORD = PASSWORD({literal})")
        else:
            self._query(conn, f"ALTER USER CURRENT_USER() IDENTIFIED BY {literal}")

    def upsert_user(
        self, conn: Any, *, template: str, username: str, password: str, copy_grants: bool
    ) -> None:
        """On every host of ``template``: CREATE USER or ALTER USER, then copy grants.

        MySQL's DDL is not transactional; every statement here is safe to repeat.
        """
        hosts = [
            str(row[0])
            for row in self._query(conn, "SELECT Host FROM mysql.user WHERE User = %s", (template,))
        ]
        if not hosts:
            raise SecretCacheError(f"MySQL user {template!r} does not exist on the server")
        literal = conn.escape(password)
        for host in sorted(hosts):
            account = self._account(conn, username, host)
            exists = self._query(
                conn, "SELECT 1 FROM mysql.user WHERE User = %s AND Host = %s", (username, host)
            )
            verb = "ALTER USER" if exists else "CREATE USER"
            self._query(conn, f"{verb} {account} IDENTIFIED BY {literal}")
            if copy_grants or not exists:
                self._copy_grants(conn, template, username, host)

    def _copy_grants(self, conn: Any, template: str, username: str, host: str) -> None:
        source = self._account(conn, template, host)
        target = self._account(conn, username, host)
        # SHOW GRANTS names the grantee quoted with backticks (double quotes with
        # ANSI_QUOTES; single quotes in PROXY lines).
        grantees = [
            f"{_backticks(template)}@{_backticks(host)}",
            '"{}"@"{}"'.format(template.replace('"', '""'), host.replace('"', '""')),
            source,
        ]
        for (line,) in self._query(conn, f"SHOW GRANTS FOR {source}"):
            self._query(conn, _retarget(str(line), grantees, target, template))


def _retarget(line: str, grantees: list[str], target: str, template: str) -> str:
    """A SHOW GRANTS line for ``target``; authentication clauses dropped."""
    for grantee in grantees:
        for keyword in (" TO ", " FOR "):
            at = line.rfind(keyword + grantee)
            if at < 0:
                continue
            head = line[: at + len(keyword)]
            tail = line[at + len(keyword) + len(grantee) :]
            suffix = " WITH GRANT OPTION" if "WITH GRANT OPTION" in tail.upper() else ""
            return f"{head}{target}{suffix}"
    raise SecretCacheError(f"cannot copy a grant of MySQL user {template!r}: unexpected format")


class SingleUser(SingleUserStrategy):
    """The MySQL/MariaDB user changes its own password. Shareable between threads."""

    def __init__(
        self,
        *,
        connect_timeout_seconds: float = 5.0,
        connect_options: Mapping[str, Any] | None = None,
        connection_defaults: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(
            MySQLDatabase(),
            connect_timeout_seconds=connect_timeout_seconds,
            connect_options=connect_options,
            connection_defaults=connection_defaults,
        )


class AlternatingUsers(AlternatingUsersStrategy):
    """``name`` and ``name_clone`` take turns; the master secret's user manages them.

    The master needs CREATE USER, SELECT on ``mysql.user`` and every privilege it copies
    WITH GRANT OPTION. Shareable between threads.
    """

    def __init__(
        self,
        *,
        master_key: str = "masterarn",
        clone_suffix: str = "_clone",
        max_username_chars: int = MAX_USERNAME_CHARS,
        connect_timeout_seconds: float = 5.0,
        connect_options: Mapping[str, Any] | None = None,
        connection_defaults: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(
            MySQLDatabase(max_username_chars=max_username_chars),
            master_key=master_key,
            clone_suffix=clone_suffix,
            connect_timeout_seconds=connect_timeout_seconds,
            connect_options=connect_options,
            connection_defaults=connection_defaults,
        )
