"""docs/rotation.md's snippets run: the handlers build, and the local driver rotates a real login."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

DOC = Path(__file__).resolve().parents[2] / "docs" / "rotation.md"


def blocks() -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", DOC.read_text(), flags=re.MULTILINE | re.DOTALL)


def test_handler_and_strategy_snippets_define_what_they_say() -> None:
    """The three-line rotation functions and the custom strategy build without I/O."""
    pytest.importorskip("psycopg")
    pytest.importorskip("pymysql")
    namespaces = []
    for block in blocks()[:3]:
        namespace: dict[str, Any] = {}
        exec(compile(block, str(DOC), "exec"), namespace)  # noqa: S102  # our own docs
        namespaces.append(namespace)
    assert callable(namespaces[0]["lambda_handler"])
    assert callable(namespaces[1]["lambda_handler"])
    assert {"create_credential", "set_credential", "test_credential"} <= set(
        vars(namespaces[2]["VendorApiKey"])
    )


def test_local_driver_snippet_rotates_a_real_login(
    pg_server: Any, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The 'without Lambda' snippet rotates prod/app/db on moto and PostgreSQL, twice safely."""
    import boto3

    region = "ap-northeast-3"  # moto's state is per process: a region of this test's own
    for name, value in {
        "AWS_ENDPOINT_URL_SECRETS_MANAGER": moto_endpoint,
        "AWS_DEFAULT_REGION": region,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(name, value)
    login = pg_server.create_login()
    admin: Any = boto3.client("secretsmanager")
    admin.create_secret(Name="prod/app/db", SecretString=json.dumps(login.secret()))
    try:
        exec(compile(blocks()[3], str(DOC), "exec"), {})  # noqa: S102  # our own docs
        current = json.loads(
            admin.get_secret_value(SecretId="prod/app/db", VersionStage="AWSCURRENT")[
                "SecretString"
            ]
        )
        assert current["password"] != login.password
        pg_server.connect(login.username, current["password"], login.dbname).close()
        with pytest.raises(Exception, match="password authentication failed"):
            pg_server.connect(login.username, login.password, login.dbname)
    finally:
        admin.delete_secret(SecretId="prod/app/db", ForceDeleteWithoutRecovery=True)
        pg_server.drop_login(login.username)
