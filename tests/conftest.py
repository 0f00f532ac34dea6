"""Session-wide servers: moto's Secrets Manager endpoint (and the databases, see servers.py)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

REGION = "us-east-1"


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto's server on 127.0.0.1, a free port, for the whole session."""
    pytest.importorskip("moto.server")
    from moto.server import ThreadedMotoServer

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="session")
def make_client(moto_endpoint: str) -> Callable[..., Any]:
    """A factory of real botocore Secrets Manager clients talking HTTP to moto.

    Retries as the SDK's own client does (standard mode, 3 attempts): under load moto's
    threaded server may drop a connection, which production botocore would retry.
    Pass ``retries=...`` to change that.
    """
    import boto3

    def make(**config: Any) -> Any:
        from botocore.config import Config

        return boto3.session.Session().client(
            "secretsmanager",
            region_name=REGION,
            endpoint_url=moto_endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(**{"retries": {"mode": "standard", "max_attempts": 3}, **config}),
        )

    return make


@pytest.fixture
def sm_client(make_client: Callable[..., Any]) -> Any:
    """A fresh botocore client on the session's moto server."""
    return make_client()


@pytest.fixture
def secret_name() -> str:
    """A name no other test uses: the moto server is shared by the session."""
    return f"test/{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Any]:
    """A private PostgreSQL cluster (scram-sha-256 on TCP) for the whole session.

    Yields a ``tests.servers.PgServer``: ``host``, ``port``, ``admin`` (superuser over the
    unix socket), ``create_login()``, ``set_password()``, ``drop_login()``, ``connect()``.
    Skips if PostgreSQL or psycopg is not installed; fails if the cluster will not start.
    """
    pytest.importorskip("psycopg")
    from tests.servers import PgServer, find_pg_bindir

    bindir = find_pg_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl, postgres) not found")
    server = PgServer(bindir)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def mariadb_server() -> Iterator[Any]:
    """MariaDB on 127.0.0.1:3306 (started if needed) with logins the tests create and drop.

    Yields a ``tests.servers.MariaDbServer`` with the same helpers as ``pg_server``.
    Skips if PyMySQL or the server binary is missing; fails if the server cannot be used.
    """
    pytest.importorskip("pymysql")
    from tests.servers import MARIADB_BINARY, MariaDbServer, port_open

    server = MariaDbServer()
    if not port_open(server.host, server.port) and not os.path.exists(MARIADB_BINARY):
        pytest.skip(f"MariaDB not listening on {server.host}:{server.port} and not installed")
    try:
        server.start()
        yield server
    finally:
        server.stop()
