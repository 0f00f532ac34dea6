"""docs/asyncio.md: its Python snippets run, in order, against a real moto endpoint."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

DOC = Path(__file__).resolve().parents[2] / "docs" / "asyncio.md"


def python_blocks(text: str) -> list[str]:
    """The ```python fenced blocks of a Markdown text."""
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)


SECRETS = ("prod/inventory-db", "prod/billing-api")


@pytest.fixture
def doc_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A moto server found by the default client through the environment, and its secrets.

    moto keeps its state per process, shared by every server in it: the doc's secrets are
    deleted afterwards so that no other test sees them.
    """
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    for name, value in {
        "AWS_ENDPOINT_URL_SECRETS_MANAGER": f"http://{host}:{port}",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(name, value)
    client: Any = boto3.client("secretsmanager")
    client.create_secret(Name=SECRETS[0], SecretString=json.dumps({"password": "doc-pw"}))
    client.put_secret_value(
        SecretId=SECRETS[0],
        SecretString=json.dumps({"password": "next"}),
        VersionStages=["AWSPENDING"],
    )
    client.create_secret(Name=SECRETS[1], SecretString=json.dumps({"api_key": "k-live"}))
    try:
        yield client
    finally:
        for name in SECRETS:
            client.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
        server.stop()


def test_asyncio_doc_snippets_run(doc_endpoint: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """Every snippet of docs/asyncio.md runs and prints what the text promises."""
    import asyncio

    blocks = python_blocks(DOC.read_text())
    assert len(blocks) == 5
    namespace: dict[str, Any] = {}
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), namespace)  # noqa: S102  # our own doc
    assert namespace["handler"]({}, None) == {"statusCode": 200}
    cache = namespace["cache"]
    assert cache.stats().api_calls == 4  # the stampede, the batch, the refresh, AWSPENDING
    asyncio.run(cache.aclose())
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "500 reads, 1 API call"
    assert out[1] == "prod/inventory-db ('AWSCURRENT',) ('AWSPENDING',)"
    assert out[2] == "charged"
    assert "doc-pw" not in "\n".join(out)
