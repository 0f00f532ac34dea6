"""The auth-failure classifiers, on errors the drivers really raise against real servers.

A refused login is "rejected" (worth another credential); a refused connection, a timeout,
a missing database or a failed query is not.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from secretcache.integrations._rejected import is_mysql_rejected, is_postgres_rejected
from tests.servers import DbLogin, free_port

pytestmark = pytest.mark.integration


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts TCP connections and never says a word (a hung server)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield int(listener.getsockname()[1])


@pytest.fixture
def pg_login(pg_server: Any) -> Iterator[DbLogin]:
    """A PostgreSQL login with its own database."""
    login = pg_server.create_login()
    yield login
    pg_server.drop_login(login.username)


@pytest.fixture
def my_login(mariadb_server: Any) -> Iterator[DbLogin]:
    """A MariaDB login with its own database."""
    login = mariadb_server.create_login()
    yield login
    mariadb_server.drop_login(login.username)


def _pg_error(**kwargs: Any) -> BaseException:
    import psycopg

    kwargs.setdefault("connect_timeout", 5)
    with pytest.raises(psycopg.Error) as info:
        psycopg.connect(**kwargs).close()
    return info.value


def _pg_kwargs(login: DbLogin, **overrides: Any) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "host": login.host,
        "port": login.port,
        "user": login.username,
        "password": login.password,
        "dbname": login.dbname,
    }
    kwargs.update(overrides)
    return kwargs


# ----------------------------------------------------------------------------- psycopg 3


def test_psycopg_wrong_password_is_rejected(pg_login: DbLogin) -> None:
    """A wrong password: OperationalError with sqlstate None, recognised by its message."""
    import psycopg

    error = _pg_error(**_pg_kwargs(pg_login, password="wrong"))
    assert type(error) is psycopg.OperationalError
    assert error.sqlstate is None  # what psycopg 3 really raises: no SQLSTATE to go by
    assert is_postgres_rejected(error)


def test_psycopg_unknown_user_is_rejected(pg_login: DbLogin) -> None:
    """An unknown user reads as a failed password (the server does not tell them apart)."""
    assert is_postgres_rejected(_pg_error(**_pg_kwargs(pg_login, user="nobody_here")))


def test_psycopg_async_wrong_password_is_rejected(pg_login: DbLogin) -> None:
    """The async connect raises the same recognisable error."""
    import psycopg

    async def connect() -> BaseException:
        with pytest.raises(psycopg.OperationalError) as info:
            await psycopg.AsyncConnection.connect(**_pg_kwargs(pg_login, password="wrong"))
        return info.value

    assert is_postgres_rejected(asyncio.run(connect()))


def test_psycopg_missing_database_is_not_rejected(pg_login: DbLogin) -> None:
    """A database that does not exist is no credential problem."""
    assert not is_postgres_rejected(_pg_error(**_pg_kwargs(pg_login, dbname="no_such_db")))


def test_psycopg_connection_refused_is_not_rejected(pg_login: DbLogin) -> None:
    """Nothing listening: not an auth failure."""
    assert not is_postgres_rejected(_pg_error(**_pg_kwargs(pg_login, port=free_port())))


def test_psycopg_timeout_is_not_rejected(pg_login: DbLogin, silent_port: int) -> None:
    """A server that never answers times out: not an auth failure."""
    error = _pg_error(**_pg_kwargs(pg_login, port=silent_port, connect_timeout=1))
    assert not is_postgres_rejected(error)


def test_psycopg_query_error_with_sqlstate_is_not_rejected(
    pg_server: Any, pg_login: DbLogin
) -> None:
    """An error with a SQLSTATE other than 28xxx is not, even if its text mentions one."""
    import psycopg

    with (
        pg_server.connect(pg_login.username, pg_login.password, pg_login.dbname) as conn,
        pytest.raises(psycopg.Error) as info,
    ):
        conn.execute(
            "DO $$ BEGIN RAISE EXCEPTION "
            "'password authentication failed for user x' USING ERRCODE = '22000'; END $$"
        )
    assert info.value.sqlstate == "22000"
    assert not is_postgres_rejected(info.value)


def test_psycopg_sqlstate_28p01_is_rejected(pg_server: Any, pg_login: DbLogin) -> None:
    """Where the server's SQLSTATE reaches the client, 28P01 and 28000 decide."""
    import psycopg

    with pg_server.connect(pg_login.username, pg_login.password, pg_login.dbname) as conn:
        for state in ("28P01", "28000"):
            with pytest.raises(psycopg.Error) as info:
                conn.execute(
                    f"DO $$ BEGIN RAISE EXCEPTION 'refused' USING ERRCODE = '{state}'; END $$"
                )
            assert info.value.sqlstate == state
            assert is_postgres_rejected(info.value)
            conn.rollback()


def test_sqlalchemy_wrapped_psycopg_error_is_rejected(pg_login: DbLogin) -> None:
    """A SQLAlchemy OperationalError is judged by the driver error it wraps."""
    import sqlalchemy

    url = sqlalchemy.URL.create(
        "postgresql+psycopg",
        username=pg_login.username,
        password="wrong",
        host=pg_login.host,
        port=pg_login.port,
        database=pg_login.dbname,
    )
    engine = sqlalchemy.create_engine(url)
    try:
        with pytest.raises(sqlalchemy.exc.OperationalError) as info:
            engine.connect()
    finally:
        engine.dispose()
    assert is_postgres_rejected(info.value)


# ----------------------------------------------------------------------------- PyMySQL


def _my_error(login: DbLogin, **overrides: Any) -> BaseException:
    import pymysql

    kwargs: dict[str, Any] = {
        "host": login.host,
        "port": login.port,
        "user": login.username,
        "password": login.password,
        "database": login.dbname,
        "connect_timeout": 5,
        "ssl_disabled": True,
    }
    kwargs.update(overrides)
    with pytest.raises(pymysql.MySQLError) as info:
        pymysql.connect(**kwargs).close()
    return info.value


def test_pymysql_wrong_password_is_rejected(my_login: DbLogin) -> None:
    """A wrong password: OperationalError(1045, ...)."""
    import pymysql

    error = _my_error(my_login, password="wrong")
    assert type(error) is pymysql.err.OperationalError
    assert error.args[0] == 1045
    assert is_mysql_rejected(error)


def test_pymysql_unknown_user_is_rejected(my_login: DbLogin) -> None:
    """An unknown user is 1045 too."""
    assert is_mysql_rejected(_my_error(my_login, user="nobody_here"))


def test_pymysql_missing_database_is_not_rejected(mariadb_server: Any, my_login: DbLogin) -> None:
    """A database the user may not use (1044) or that does not exist is no login failure."""
    error = _my_error(my_login, database="no_such_db")
    assert error.args[0] in (1044, 1049)
    assert not is_mysql_rejected(error)


def test_pymysql_connection_refused_is_not_rejected(my_login: DbLogin) -> None:
    """Nothing listening (2003): not an auth failure."""
    error = _my_error(my_login, port=free_port())
    assert error.args[0] == 2003
    assert not is_mysql_rejected(error)


def test_pymysql_timeout_is_not_rejected(my_login: DbLogin, silent_port: int) -> None:
    """A server that never sends its greeting times out: not an auth failure."""
    # connect_timeout bounds the TCP connect only; the greeting is read under read_timeout.
    error = _my_error(my_login, port=silent_port, connect_timeout=1, read_timeout=1)
    assert not is_mysql_rejected(error)


def test_mysql_connector_shape_is_rejected() -> None:
    """mysql-connector's ProgrammingError carries errno 1045 (it is not installed here)."""
    try:
        import mysql.connector  # noqa: F401
    except ImportError:
        pass
    else:  # pragma: no cover - only where the optional driver is installed
        pytest.skip("covered by a real mysql-connector error where installed")

    class ProgrammingError(Exception):
        def __init__(self, msg: str, errno: int, sqlstate: str) -> None:
            super().__init__(msg)
            self.errno, self.sqlstate = errno, sqlstate

    ProgrammingError.__module__ = "mysql.connector.errors"
    assert is_mysql_rejected(ProgrammingError("Access denied", 1045, "28000"))
    assert not is_mysql_rejected(ProgrammingError("Unknown database", 1049, "42000"))


# ----------------------------------------------------------------------------- others


@pytest.mark.parametrize(
    "error",
    [
        OSError(1045, "not a database error"),
        ValueError("password authentication failed for user x"),
        ConnectionRefusedError(),
        TimeoutError(),
    ],
)
def test_foreign_errors_are_not_rejected(error: BaseException) -> None:
    """Errors of anything but a database driver are never auth failures."""
    assert not is_postgres_rejected(error)
    assert not is_mysql_rejected(error)
