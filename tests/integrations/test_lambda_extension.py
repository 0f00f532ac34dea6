"""ExtensionClient against a local HTTP server speaking the Lambda extension's API.

The server answers ``GET /secretsmanager/get?secretId=..&versionStage=..|versionId=..``
as the AWS Parameters and Secrets Lambda Extension does: the GetSecretValue JSON
(SecretBinary base64, CreatedDate in epoch seconds), service errors relayed as
``{"__type": code, "message": ...}`` with the service's status, and 403 "Bad Token"
when the ``X-Aws-Parameters-Secrets-Token`` header is not the session token.
"""

from __future__ import annotations

import base64
import json
import socket
import threading
import urllib.parse
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from secretcache import (
    SecretAccessDeniedError,
    SecretCache,
    SecretNotFoundError,
    SecretUnavailableError,
)
from secretcache.integrations.aws_lambda import ExtensionClient
from secretcache.testing import FakeSecretsManager

pytestmark = pytest.mark.integration

TOKEN = "session-token-for-the-test"


class ExtensionServer:
    """A threaded HTTP server on 127.0.0.1 backed by a FakeSecretsManager."""

    def __init__(self, fake: FakeSecretsManager) -> None:
        self.fake = fake
        self.requests: list[dict[str, Any]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.handle(self)

            def log_message(self, *args: Any) -> None:  # keep the test output quiet
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        url = urllib.parse.urlsplit(request.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        self.requests.append({"path": url.path, **query})
        if request.headers.get("X-Aws-Parameters-Secrets-Token") != TOKEN:
            self.reply(request, 403, b"Bad Token")
            return
        if url.path != "/secretsmanager/get":
            self.reply(request, 404, b"Not found")
            return
        try:
            found = self.fake.get_secret_value(
                SecretId=query["secretId"],
                VersionId=query.get("versionId"),
                VersionStage=query.get("versionStage"),
            )
        except Exception as exc:  # noqa: BLE001  # relayed as the extension relays it
            error = exc.response["Error"]  # type: ignore[attr-defined]
            body = {"__type": error["Code"], "message": error["Message"]}
            self.reply(request, 400, json.dumps(body).encode())
            return
        document = dict(found)
        document["CreatedDate"] = found["CreatedDate"].timestamp()
        if "SecretBinary" in found:
            document["SecretBinary"] = base64.b64encode(found["SecretBinary"]).decode()
        self.reply(request, 200, json.dumps(document).encode())

    @staticmethod
    def reply(request: BaseHTTPRequestHandler, status: int, body: bytes) -> None:
        request.send_response(status)
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)


@pytest.fixture
def fake() -> FakeSecretsManager:
    """Secrets behind the extension."""
    fake = FakeSecretsManager()
    fake.create_secret(Name="prod/api", SecretString="api-value")
    fake.create_secret(Name="prod/cert", SecretBinary=b"\x00\xffcert")
    return fake


@pytest.fixture
def server(fake: FakeSecretsManager, monkeypatch: pytest.MonkeyPatch) -> Iterator[ExtensionServer]:
    """The extension's endpoint, its port and the session token in the environment."""
    server = ExtensionServer(fake)
    server.thread.start()
    monkeypatch.setenv("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT", str(server.port))
    monkeypatch.setenv("AWS_SESSION_TOKEN", TOKEN)
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


def test_port_and_token_come_from_the_environment(server: ExtensionServer) -> None:
    """With no arguments the client finds the port and token Lambda sets."""
    client = ExtensionClient(host="127.0.0.1")
    response = client.get_secret_value(SecretId="prod/api", VersionStage="AWSCURRENT")
    assert response["SecretString"] == "api-value"
    assert isinstance(response["CreatedDate"], datetime)
    assert server.requests == [
        {"path": "/secretsmanager/get", "secretId": "prod/api", "versionStage": "AWSCURRENT"}
    ]


def test_default_port_is_2773(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without PARAMETERS_SECRETS_EXTENSION_HTTP_PORT the extension's port is 2773."""
    monkeypatch.delenv("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT", raising=False)
    assert ExtensionClient().base_url == "http://localhost:2773/secretsmanager/get"


def test_secret_cache_reads_through_the_extension(
    server: ExtensionServer, fake: FakeSecretsManager
) -> None:
    """SecretCache(ExtensionClient()) serves text, binary, stages and versions, and caches."""
    cache = SecretCache(ExtensionClient(host="127.0.0.1"))
    pending = fake.put_secret_value(
        SecretId="prod/api", SecretString="api-next", VersionStages=["AWSPENDING"]
    )
    assert cache.get("prod/api").text == "api-value"
    assert cache.get("prod/cert").binary == b"\x00\xffcert"
    assert cache.get("prod/api", stage="AWSPENDING").text == "api-next"
    assert cache.get("prod/api", version_id=pending["VersionId"]).text == "api-next"
    for _ in range(50):
        cache.get("prod/api")
    assert len(server.requests) == 4
    assert server.requests[3]["versionId"] == pending["VersionId"]


def test_errors_are_translated(server: ExtensionServer) -> None:
    """A relayed ResourceNotFoundException is SecretNotFoundError."""
    cache = SecretCache(ExtensionClient(host="127.0.0.1"))
    with pytest.raises(SecretNotFoundError, match="nope"):
        cache.get("prod/nope")


def test_a_wrong_token_is_access_denied(server: ExtensionServer) -> None:
    """The extension's 403 "Bad Token" is SecretAccessDeniedError; the token is not shown."""
    cache = SecretCache(ExtensionClient(host="127.0.0.1", token="not-the-token"))
    with pytest.raises(SecretAccessDeniedError) as caught:
        cache.get("prod/api")
    assert "not-the-token" not in str(caught.value)


def test_missing_token_is_access_denied(
    server: ExtensionServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without AWS_SESSION_TOKEN no request is sent; the error says what is missing."""
    monkeypatch.delenv("AWS_SESSION_TOKEN")
    cache = SecretCache(ExtensionClient(host="127.0.0.1"))
    with pytest.raises(SecretAccessDeniedError) as caught:
        cache.get("prod/api")
    assert "AWS_SESSION_TOKEN" in str(caught.value.__cause__)
    assert server.requests == []


def test_no_extension_listening_is_unavailable() -> None:
    """Connection refused is a transient SecretUnavailableError."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there
    cache = SecretCache(ExtensionClient(host="127.0.0.1", port=port, token=TOKEN))
    with pytest.raises(SecretUnavailableError):
        cache.get("prod/api")


def test_prefetch_through_the_extension(server: ExtensionServer) -> None:
    """The extension has no batch call: prefetch asks per id and reports failures per id."""
    cache = SecretCache(ExtensionClient(host="127.0.0.1"))
    result = cache.prefetch(["prod/api", "prod/cert", "prod/missing"])
    assert set(result.loaded) == {"prod/api", "prod/cert"}
    assert isinstance(result.errors["prod/missing"], SecretNotFoundError)
    assert cache.get("prod/cert").binary == b"\x00\xffcert"
    assert len(server.requests) == 3


def test_the_proxy_is_bypassed(server: ExtensionServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """HTTP_PROXY never sees the token: the extension is on this host."""
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens on discard
    monkeypatch.setenv("NO_PROXY", "")
    client = ExtensionClient(host="127.0.0.1")
    assert client.get_secret_value(SecretId="prod/api")["SecretString"] == "api-value"


def test_describe_is_not_served() -> None:
    """The extension has no DescribeSecret (and SecretCache never calls it)."""
    with pytest.raises(NotImplementedError):
        ExtensionClient(token=TOKEN).describe_secret(SecretId="x")
