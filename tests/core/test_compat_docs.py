"""docs/migrating.md: its snippets run, in order, against moto's server."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

DOC = Path(__file__).resolve().parents[2] / "docs" / "migrating.md"


def test_migrating_doc_snippets_run(
    moto_endpoint: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The compat cache, its decorators, ClientError handling, None for a missing stage,
    an immediate refresh and the native backend print what the doc promises."""
    import boto3

    region = "ca-central-1"  # moto's state is per process: a region of this doc's own
    for name, value in {
        "AWS_ENDPOINT_URL_SECRETS_MANAGER": moto_endpoint,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(name, value)
    client: Any = boto3.client("secretsmanager")
    secrets = {
        "prod/orders/app": json.dumps({"username": "app", "password": "pw-migrating"}),
        "prod/webhook-token": "tok",
    }
    for name, value in secrets.items():
        client.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
        client.create_secret(Name=name, SecretString=value)
    blocks = re.findall(r"^```python\n(.*?)^```", DOC.read_text(), flags=re.MULTILINE | re.DOTALL)
    assert len(blocks) == 3
    namespace: dict[str, Any] = {}
    for block in blocks:
        exec(compile(block, str(DOC), "exec", dont_inherit=True), namespace)  # noqa: S102
    assert capsys.readouterr().out.splitlines() == [
        "connecting as app order-42:signed",
        "ResourceNotFoundException True",
        "True",
        "True",
        "app True",
        # app, webhook, retired, AWSPENDING, then the refresh of both stages read
        "6 API calls",
    ]
    assert json.loads(namespace["secret"])["password"] == "pw-migrating"
    namespace["cache"].backend.close()
