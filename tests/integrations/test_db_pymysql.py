"""PyMySQL connections from a secret, against MariaDB."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from secretcache import SecretCache, SecretFormatError
from tests.integrations.db_support import ApiCalls
from tests.servers import DbLogin

pytestmark = pytest.mark.integration

pymysql = pytest.importorskip("pymysql")
sc_pymysql = pytest.importorskip("secretcache.integrations.pymysql")

NO_TLS = {"ssl_disabled": True}  # the test server has no TLS


@pytest.fixture
def login(mariadb_server: Any) -> Iterator[DbLogin]:
    """A MariaDB login with its own database."""
    created = mariadb_server.create_login()
    yield created
    mariadb_server.drop_login(created.username)


def _whoami(conn: Any) -> tuple[Any, ...]:
    with conn.cursor() as cur:
        cur.execute("SELECT SUBSTRING_INDEX(CURRENT_USER(), '@', 1), DATABASE()")
        return tuple(cur.fetchone())


def test_connect_logs_in_with_the_secret(cache: SecretCache, secret: str, login: DbLogin) -> None:
    """connect() opens a PyMySQL connection as the secret's user, on its database."""
    conn = sc_pymysql.connect(secret, cache=cache, **NO_TLS)
    try:
        assert isinstance(conn, pymysql.connections.Connection)
        assert _whoami(conn) == (login.username, login.dbname)
    finally:
        conn.close()


def test_non_ascii_password(
    mariadb_server: Any, cache: SecretCache, sm_client: Any, secret_name: str
) -> None:
    """A password outside latin-1 logs in (PyMySQL would encode a str as latin-1)."""
    created = mariadb_server.create_login("pässwörd-😀-" + uuid.uuid4().hex[:6])
    try:
        sm_client.create_secret(Name=secret_name, SecretString=json.dumps(created.secret()))
        conn = sc_pymysql.connect(secret_name, cache=cache, **NO_TLS)
        try:
            assert _whoami(conn)[0] == created.username
        finally:
            conn.close()
    finally:
        mariadb_server.drop_login(created.username)


def test_secret_with_only_a_login_and_overrides(
    cache: SecretCache, sm_client: Any, secret_name: str, login: DbLogin
) -> None:
    """A username/password secret with host, port and database given in code."""
    sm_client.create_secret(
        Name=secret_name,
        SecretString=json.dumps({"username": login.username, "password": login.password}),
    )
    conn = sc_pymysql.connect(
        secret_name,
        cache=cache,
        host=login.host,
        port=login.port,
        database=login.dbname,
        autocommit=True,
        **NO_TLS,
    )
    try:
        assert _whoami(conn) == (login.username, login.dbname)
        assert conn.get_autocommit()
    finally:
        conn.close()


@pytest.mark.parametrize("keyword", ["user", "password", "passwd"])
def test_login_keywords_are_refused(cache: SecretCache, secret: str, keyword: str) -> None:
    """A login given in code would fight the secret: a TypeError."""
    with pytest.raises(TypeError, match="the login comes from the secret"):
        sc_pymysql.connect(secret, cache=cache, **{keyword: "x"})


def test_postgres_secret_is_refused(
    cache: SecretCache, sm_client: Any, secret_name: str, login: DbLogin
) -> None:
    """A secret for a PostgreSQL engine is a SecretFormatError."""
    sm_client.create_secret(
        Name=secret_name, SecretString=json.dumps(login.secret(engine="postgres"))
    )
    with pytest.raises(SecretFormatError, match="postgresql engine, not mysql"):
        sc_pymysql.connect(secret_name, cache=cache)


def test_pending_password_is_used_in_the_rotation_window(
    mariadb_server: Any,
    make_client: Callable[..., Any],
    sm_client: Any,
    secret: str,
    login: DbLogin,
) -> None:
    """Between setSecret and finishSecret only AWSPENDING logs in, and is then remembered."""
    client = make_client()
    calls = ApiCalls(client)
    cache = SecretCache(client)
    sc_pymysql.connect(secret, cache=cache, **NO_TLS).close()
    new_password = "new-" + uuid.uuid4().hex
    sm_client.put_secret_value(
        SecretId=secret,
        SecretString=json.dumps(login.secret(password=new_password)),
        VersionStages=["AWSPENDING"],
    )
    mariadb_server.set_password(login.username, new_password)

    for _ in range(5):
        conn = sc_pymysql.connect(secret, cache=cache, **NO_TLS)
        assert _whoami(conn)[0] == login.username
        conn.close()
    assert calls.get_secret_value == 3  # the first read, AWSCURRENT refetched, AWSPENDING


def test_classifier_is_exported() -> None:
    """The classifier is public for code that builds its own retry with call_with_secret."""
    assert sc_pymysql.is_credentials_rejected(pymysql.err.OperationalError(1045, "denied"))
    assert not sc_pymysql.is_credentials_rejected(pymysql.err.OperationalError(2003, "down"))
