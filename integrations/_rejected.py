"""Auth-failure classifiers: did the database refuse the credential, or fail some other way?

Only a refused login is worth another credential; a refused connection, a timeout or a
missing database is not, and is raised at once. What the drivers really raise (checked
against real servers in ``tests/integrations/test_db_classifiers.py``):

- psycopg 3: ``OperationalError`` with ``sqlstate=None`` and the server's message,
  ``... FATAL:  password authentication failed for user "app"`` (also for a user that
  does not exist: the server does not tell them apart). Where a SQLSTATE is present it is
  28P01 (invalid_password) or 28000 (invalid_authorization_specification).
- PyMySQL: ``OperationalError(1045, "Access denied for user ...")``.
- mysql-connector: ``ProgrammingError`` with ``errno`` 1045 (SQLSTATE 28000).

The classifiers read types and attributes only, so they import no driver, and never
format ``exc.pgconn`` (whose ``repr`` holds the password).
"""

from __future__ import annotations

import re

__all__ = ["is_mysql_rejected", "is_postgres_rejected"]

PG_REJECTED_SQLSTATES = frozenset({"28P01", "28000"})
# password, md5, scram-sha-256, PAM (RDS IAM) and LDAP failures all read "... authentication
# failed for user": libpq reports them as text only.
_PG_REJECTED_MESSAGE = re.compile(r"\bauthentication failed for user\b")
_PG_DRIVERS = frozenset({"psycopg", "psycopg2", "asyncpg"})

MYSQL_ACCESS_DENIED = 1045  # ER_ACCESS_DENIED_ERROR
_MYSQL_DRIVERS = frozenset({"pymysql", "MySQLdb", "mysql", "aiomysql", "asyncmy"})


def _driver_errors(exc: BaseException, drivers: frozenset[str]) -> BaseException | None:
    """The driver's own exception: ``exc``, or what a SQLAlchemy error wraps (``.orig``)."""
    for candidate in (exc, getattr(exc, "orig", None)):
        if isinstance(candidate, BaseException):
            root = type(candidate).__module__.partition(".")[0]
            if root in drivers:
                return candidate
    return None


def is_postgres_rejected(exc: BaseException) -> bool:
    """True when a PostgreSQL driver's error says the server refused the login."""
    error = _driver_errors(exc, _PG_DRIVERS)
    if error is None:
        return False
    state = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
    if state:
        return str(state) in PG_REJECTED_SQLSTATES
    message = error.args[0] if error.args and isinstance(error.args[0], str) else ""
    return bool(_PG_REJECTED_MESSAGE.search(message))


def is_mysql_rejected(exc: BaseException) -> bool:
    """True when a MySQL/MariaDB driver's error is 1045, access denied for the login."""
    error = _driver_errors(exc, _MYSQL_DRIVERS)
    if error is None:
        return False
    code = getattr(error, "errno", None)
    if code is None and error.args and isinstance(error.args[0], int):
        code = error.args[0]
    return code == MYSQL_ACCESS_DENIED
