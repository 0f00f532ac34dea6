"""docs/databases.md: its snippets run, in order, against moto, PostgreSQL and MariaDB.

The default cache finds moto through the environment, in a region of its own (moto's
state is shared by the whole process). Between snippets the PostgreSQL secret is rotated
for real, and the first snippet's engine keeps connecting.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from secretcache import default_cache, set_default_cache
from tests.integrations.db_support import Rotations
from tests.integrations.rotation_support import Engine, Setup

pytestmark = pytest.mark.integration

DOC = Path(__file__).resolve().parents[2] / "docs" / "databases.md"
REGION = "ap-southeast-2"


def python_blocks() -> list[str]:
    """The doc's ```python fenced blocks."""
    return re.findall(r"^```python\n(.*?)^```", DOC.read_text(), flags=re.MULTILINE | re.DOTALL)


class Context:
    """A Lambda context with five seconds left."""

    def get_remaining_time_in_millis(self) -> int:
        return 5000


@pytest.fixture
def docs_client(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The default cache's client reaches moto in this doc's region; an admin client there."""
    import boto3

    for name, value in {
        "AWS_ENDPOINT_URL_SECRETS_MANAGER": moto_endpoint,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(name, value)
    client = boto3.client("secretsmanager")
    for name in ("prod/orders-db", "prod/orders-login", "prod/mysql-db"):
        client.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
    set_default_cache(None)
    yield client
    default_cache().close()
    set_default_cache(None)


def test_databases_doc(
    docs_client: Any,
    pg_server: Any,
    mariadb_server: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Every snippet runs; the first engine survives a real rotation between snippets."""
    pytest.importorskip("sqlalchemy")
    pytest.importorskip("psycopg_pool")
    pytest.importorskip("pymysql")
    import sqlalchemy

    postgres = Engine("postgres", pg_server)
    setup = Setup(postgres, docs_client, "prod/orders-db")
    login_only = pg_server.create_login()
    mysql_login = mariadb_server.create_login()
    try:
        orders = setup.secret("single")
        docs_client.create_secret(
            Name="prod/orders-login",
            SecretString=json.dumps(
                {"username": login_only.username, "password": login_only.password}
            ),
        )
        docs_client.create_secret(
            Name="prod/mysql-db", SecretString=json.dumps(mysql_login.secret())
        )
        monkeypatch.setenv(
            "DATABASE_URL",
            f"postgresql+psycopg://{login_only.host}:{login_only.port}/{login_only.dbname}",
        )
        blocks = python_blocks()
        assert len(blocks) == 6
        ns: dict[str, Any] = {}

        def run(block: str) -> None:
            exec(compile(block, str(DOC), "exec", dont_inherit=True), ns)  # noqa: S102

        run(blocks[0])  # SQLAlchemy
        first_engine = ns["engine"]
        Rotations(
            docs_client,
            "prod/orders-db",
            postgres.strategy("single"),
            window_seconds=0,
            settle_seconds=0,
        ).rotate()
        first_engine.dispose()  # every connection from here on is new
        with first_engine.connect() as conn:
            assert (
                conn.execute(sqlalchemy.text("SELECT current_user")).scalar()
                == (orders["username"])
            )
        run(blocks[1])  # psycopg and its pool
        run(blocks[2])  # attach
        ns["engine"].dispose()
        run(blocks[3])  # asyncio
        run(blocks[4])  # PyMySQL
        run(blocks[5])  # Lambda
        assert ns["handler"]({}, Context()) == {"statusCode": 200, "user": orders["username"]}
        ns["engine"].dispose()
        first_engine.dispose()
    finally:
        setup.cleanup()
        pg_server.drop_login(login_only.username)
        mariadb_server.drop_login(mysql_login.username)
    out = capsys.readouterr().out.split()
    assert out == [orders["username"], login_only.dbname, "1"]
