"""docs/lambda.md, docs/pydantic.md, docs/decorators.md: their snippets run against moto.

Each doc's ```python blocks run in order in one namespace, with the default cache's
client finding moto through the environment. Each doc gets its own AWS region on the
session's moto server, whose state is shared by the whole process.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from secretcache import default_cache, set_default_cache
from secretcache.testing import FakeSecretsManager

pytestmark = pytest.mark.integration

DOCS = Path(__file__).resolve().parents[2] / "docs"


def python_blocks(doc: str) -> list[str]:
    """The ```python fenced blocks of a doc."""
    text = (DOCS / doc).read_text()
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)


def run(doc: str, block: str, namespace: dict[str, Any]) -> None:
    # dont_inherit: the docs must not see this module's `from __future__ import annotations`
    exec(compile(block, str(DOCS / doc), "exec", dont_inherit=True), namespace)  # noqa: S102


class Context:
    """A Lambda context with three seconds left."""

    def get_remaining_time_in_millis(self) -> int:
        return 3000


@pytest.fixture
def region_of_moto(
    moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[str], Any]]:
    """Point the default client at moto in a region; returns a client factory per region."""
    import boto3

    def use(region: str) -> Any:
        for name, value in {
            "AWS_ENDPOINT_URL_SECRETS_MANAGER": moto_endpoint,
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
        }.items():
            monkeypatch.setenv(name, value)
        return boto3.client("secretsmanager")

    set_default_cache(None)
    yield use
    default_cache().close()
    set_default_cache(None)


def create(client: Any, secrets: dict[str, Any]) -> None:
    """Create (or reset) the doc's secrets; bytes become binary secrets."""
    for name, value in secrets.items():
        client.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
        if isinstance(value, bytes):
            client.create_secret(Name=name, SecretBinary=value)
        else:
            client.create_secret(Name=name, SecretString=json.dumps(value))


def test_lambda_doc(region_of_moto: Callable[[str], Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """Prefetch at import, warm invocations, typed settings, the deadline, the extension."""
    pytest.importorskip("pydantic_settings")
    from tests.integrations.test_lambda_extension import TOKEN, ExtensionServer

    payments = {"api_key": "k-live", "endpoint": "https://pay.example"}
    orders = {"username": "app", "password": "pw-lambda-doc"}
    create(region_of_moto("eu-west-2"), {"prod/payments-api": payments, "prod/orders-db": orders})
    blocks = python_blocks("lambda.md")
    assert len(blocks) == 4
    ns: dict[str, Any] = {}

    run("lambda.md", blocks[0], ns)
    assert default_cache().stats().api_calls == 1  # the init-phase batch
    for _ in range(20):
        assert ns["handler"]({}, Context()) == {"statusCode": 200, "user": "app"}
    assert default_cache().stats().api_calls == 1

    run("lambda.md", blocks[1], ns)
    assert ns["charge"]({}, Context()) == {"statusCode": 200, "endpoint": "https://pay.example"}
    run("lambda.md", blocks[2], ns)
    assert ns["pay"]({}, Context()) == {"statusCode": 200, "result": "paid"}
    assert default_cache().stats().api_calls == 1

    fake = FakeSecretsManager()
    fake.create_secret(Name="prod/payments-api", SecretString=json.dumps(payments))
    fake.create_secret(Name="prod/orders-db", SecretString=json.dumps(orders))
    server = ExtensionServer(fake)
    server.thread.start()
    try:
        monkeypatch.setenv("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT", str(server.port))
        monkeypatch.setenv("AWS_SESSION_TOKEN", TOKEN)
        run("lambda.md", blocks[3], ns)
        assert ns["handler"]({}, Context()) == {"statusCode": 200, "user": "app"}
        assert [r["secretId"] for r in server.requests] == ["prod/payments-api", "prod/orders-db"]
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()


def test_pydantic_doc(
    region_of_moto: Callable[[str], Any], capsys: pytest.CaptureFixture[str]
) -> None:
    """Nested models, two secrets, one call per secret for 101 Settings(), binary, stage,
    errors without values."""
    pytest.importorskip("pydantic_settings")
    client = region_of_moto("eu-north-1")
    app = {
        "database": {"host": "db.internal", "port": 5432, "username": "app", "password": "pw-doc"},
        "api_key": "k-doc",
    }
    create(
        client,
        {
            "prod/orders/app": app,
            "prod/shared": {"region": "eu-north-1", "api_key": "shared-key"},
            "prod/client-cert": bytes(range(32)),
        },
    )
    app["database"]["password"] = "pw-next"  # type: ignore[index]
    client.put_secret_value(
        SecretId="prod/orders/app", SecretString=json.dumps(app), VersionStages=["AWSPENDING"]
    )
    blocks = python_blocks("pydantic.md")
    assert len(blocks) == 3
    ns: dict[str, Any] = {}
    for block in blocks:
        run("pydantic.md", block, ns)
    assert ns["settings"].api_key.get_secret_value() == "k-doc"
    assert ns["NextSettings"]().database.password.get_secret_value() == "pw-next"
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "db.internal 5432 ********** eu-north-1",
        "2 API calls",
        "32 certificate bytes",
        "**********",
        "('webhook_url',) missing",
        "Absent: cannot load settings from Secrets Manager: "
        "secret 'prod/no-such-secret' not found (ResourceNotFoundException)",
    ]


def test_decorators_doc(
    region_of_moto: Callable[[str], Any], capsys: pytest.CaptureFixture[str]
) -> None:
    """inject_secret on a function, inject_secrets on a method, read through the cache."""
    create(
        region_of_moto("ap-south-1"),
        {"prod/webhook-token": "tok-123456", "prod/orders-db": {"password": "pw-abcdef"}},
    )
    blocks = python_blocks("decorators.md")
    assert len(blocks) == 1
    ns: dict[str, Any] = {}
    run("decorators.md", blocks[0], ns)
    assert capsys.readouterr().out.splitlines() == [
        "order-42:signed-with-12-chars",
        "connecting to db.internal as app (9-char password)",
    ]
    assert ns["OrdersRepository"]().connect("h", password="test").endswith("(4-char password)")
