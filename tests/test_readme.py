"""The README's Python snippets run, in order, against a real moto endpoint."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from secretcache import set_default_cache

pytestmark = pytest.mark.integration

README = Path(__file__).resolve().parent.parent / "README.md"
CORE_SECTION_END = "<!-- sections:"


def python_blocks(text: str) -> list[str]:
    """The ```python fenced blocks of a Markdown text."""
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)


@pytest.fixture
def private_moto(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A moto server of our own: README names like prod/db stay out of other tests' way."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    for name, value in {
        "AWS_ENDPOINT_URL_SECRETS_MANAGER": endpoint,
        "AWS_REGION": "eu-north-1",  # moto keeps one state per process: a region of our own
        "AWS_DEFAULT_REGION": "eu-north-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(name, value)
    set_default_cache(None)
    yield endpoint
    set_default_cache(None)
    server.stop()


def test_core_readme_snippets_run(private_moto: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Every snippet before the integration sections runs and prints what it promises."""
    import boto3

    client: Any = boto3.client("secretsmanager")
    client.create_secret(Name="prod/db", SecretString=json.dumps({"password": "readme-pw"}))
    client.put_secret_value(
        SecretId="prod/db",
        SecretString=json.dumps({"password": "next"}),
        VersionStages=["AWSPENDING"],
    )
    client.create_secret(Name="prod/api-key", SecretString=json.dumps({"api_key": "k"}))
    core = README.read_text().split(CORE_SECTION_END)[0]
    blocks = python_blocks(core)
    assert len(blocks) >= 5
    namespace: dict[str, Any] = {}
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)  # noqa: S102  # our own README
    assert namespace["handler"]({}, None) == {"statusCode": 200}
    out = capsys.readouterr().out
    assert "SecretValue(name='prod/db'" in out
    assert "missing: secret 'prod/no-such-secret' not found" in out
    assert "('prod/db', 'prod/api-key') ['prod/gone']" in out
    assert "CacheStats(" in out
    assert "readme-pw" not in out


def test_integration_snippets_are_the_ones_docs_tests_run() -> None:
    """Each README block after the core is, verbatim, a block of a docs/ page whose test runs it."""
    docs = README.parent / "docs"
    doc_blocks = {block for page in docs.glob("*.md") for block in python_blocks(page.read_text())}
    integration_part = README.read_text().split(CORE_SECTION_END, 1)[1]
    blocks = python_blocks(integration_part)
    assert len(blocks) >= 5
    for block in blocks:
        assert block in doc_blocks, f"README block not run by a docs test:\n{block[:200]}"
    tests = (README.parent / "tests").rglob("test_*.py")
    runners = "\n".join(path.read_text() for path in tests)
    for page in docs.glob("*.md"):
        if python_blocks(page.read_text()):
            assert page.name in runners, f"no test runs docs/{page.name}"
