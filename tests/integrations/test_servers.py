"""The test database servers really check passwords, and ALTER ROLE/USER really rotates them."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.integration


def _pg_rejects(pg_server: Any, username: str, password: str, dbname: str) -> str:
    import psycopg

    with pytest.raises(psycopg.OperationalError) as info:
        pg_server.connect(username, password, dbname).close()
    return str(info.value)


def _mariadb_rejects(mariadb_server: Any, username: str, password: str) -> int:
    import pymysql

    with pytest.raises(pymysql.err.OperationalError) as info:
        mariadb_server.connect(username, password).close()
    return int(info.value.args[0])


def test_pg_scram_login_over_tcp(pg_server: Any) -> None:
    """A role created with a password logs in over TCP with scram and owns its database."""
    login = pg_server.create_login()
    with pg_server.connect(login.username, login.password, login.dbname) as conn:
        row = conn.execute("SELECT current_user, current_database()").fetchone()
    assert row == (login.username, login.dbname)
    method = pg_server.execute(
        "SELECT rolpassword LIKE 'SCRAM-SHA-256$%%' FROM pg_authid WHERE rolname = %s",
        (login.username,),
    )
    assert method == [(True,)]
    pg_server.drop_login(login.username)


def test_pg_wrong_password_rejected(pg_server: Any) -> None:
    """TCP logins need the real password: a wrong one fails with the server's message."""
    login = pg_server.create_login()
    message = _pg_rejects(pg_server, login.username, login.password + "x", login.dbname)
    assert "password authentication failed" in message
    pg_server.drop_login(login.username)


def test_pg_alter_role_rotates_password(pg_server: Any) -> None:
    """After set_password the old password is rejected and the new one (hostile chars) works."""
    login = pg_server.create_login()
    new_password = "n'e\"w\\%p;é 😀"
    pg_server.set_password(login.username, new_password)
    message = _pg_rejects(pg_server, login.username, login.password, login.dbname)
    assert "password authentication failed" in message
    with pg_server.connect(login.username, new_password, login.dbname) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    pg_server.drop_login(login.username)
    assert not pg_server.role_exists(login.username)


def test_mariadb_login_over_tcp(mariadb_server: Any) -> None:
    """A user created with a password logs in over TCP and can use its own database."""
    login = mariadb_server.create_login()
    conn = mariadb_server.connect(login.username, login.password, login.dbname)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT DATABASE()")
            assert cur.fetchone() == (login.dbname,)
            cur.execute("CREATE TABLE t (x INT)")
    finally:
        conn.close()
    mariadb_server.drop_login(login.username)


def test_mariadb_wrong_password_rejected(mariadb_server: Any) -> None:
    """A wrong password fails with error 1045 (access denied)."""
    login = mariadb_server.create_login()
    assert _mariadb_rejects(mariadb_server, login.username, login.password + "x") == 1045
    mariadb_server.drop_login(login.username)


def test_mariadb_alter_user_rotates_password(mariadb_server: Any) -> None:
    """After set_password the old password gets 1045 and the new one (hostile chars) works."""
    login = mariadb_server.create_login()
    new_password = "n'e\"w\\%p;é 😀"
    mariadb_server.set_password(login.username, new_password)
    assert _mariadb_rejects(mariadb_server, login.username, login.password) == 1045
    mariadb_server.connect(login.username, new_password).close()
    mariadb_server.drop_login(login.username)
    assert mariadb_server.user_hosts(login.username) == []
