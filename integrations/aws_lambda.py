"""AWS Lambda: secrets injected per invocation, prefetched at init, bounded by the deadline.

Everything reads through one module-level cache (``default_cache()`` unless ``cache=``),
which survives warm invocations: only a cold start or an expired TTL calls AWS. The
default client takes its region from ``AWS_REGION`` (Lambda sets it) and has short
timeouts and few retries (see ``secretcache.create_client``).

::

    from secretcache.integrations.aws_lambda import Secret, lambda_handler, prefetch

    prefetch(["prod/api-key", "prod/db"])          # init phase: one BatchGetSecretValue

    @lambda_handler(api_key="prod/api-key", db=Secret("prod/db", kind="json"))
    def handler(event, context, *, api_key, db): ...

Reading through the AWS Parameters and Secrets Lambda Extension instead of calling
Secrets Manager is opt-in: ``set_default_cache(SecretCache(ExtensionClient()))``.
Needs no third-party library beyond the core's.
"""

from __future__ import annotations

import base64
import contextvars
import functools
import json
import logging
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timezone
from typing import Any, Protocol, TypeVar

from secretcache import PrefetchResult, SecretCache, default_cache

from .decorators import Secret, SecretSpec, inject_secrets

__all__ = [
    "ExtensionClient",
    "ExtensionError",
    "LambdaContext",
    "Secret",
    "lambda_handler",
    "prefetch",
    "remaining_seconds",
]

log = logging.getLogger("secretcache")

R = TypeVar("R")

DEFAULT_RESERVE_SECONDS = 1.0
DEFAULT_MAX_SECONDS = 30.0  # SecretCache.call_with_secret's own default deadline


class LambdaContext(Protocol):
    """The part of the Lambda context object that secretcache reads."""

    def get_remaining_time_in_millis(self) -> int: ...


_current: contextvars.ContextVar[LambdaContext | None] = contextvars.ContextVar(
    "secretcache_lambda_context", default=None
)


def lambda_handler(
    specs: Mapping[str, SecretSpec] | None = None,
    /,
    *,
    cache: SecretCache | None = None,
    **named: SecretSpec,
) -> Callable[[Callable[..., R]], Callable[..., R]]:
    """Decorate ``handler(event, context, **secrets)``: each keyword gets its secret's
    current value at every invocation.

    A value is a secret id (its text), a ``Secret`` (JSON, binary, one key, a stage...)
    or a callable made on every invocation, such as a pydantic-settings class whose
    source reads through the same cache. Nothing is fetched at import time. While the
    handler runs, ``remaining_seconds()`` without arguments reads its context.
    """
    inject = inject_secrets(specs or {}, cache=cache, **named)

    def decorate(handler: Callable[..., R]) -> Callable[..., R]:
        injected = inject(handler)

        def invoke(event: Any, context: Any, *args: Any, **kwargs: Any) -> R:
            token = _current.set(context)
            try:
                return injected(event, context, *args, **kwargs)
            finally:
                _current.reset(token)

        return functools.update_wrapper(invoke, handler)

    return decorate


def prefetch(secret_ids: Iterable[str], *, cache: SecretCache | None = None) -> PrefetchResult:
    """Load many secrets' AWSCURRENT values into the cache, 20 per BatchGetSecretValue.

    Call it at module level to do the fetching in the init phase. Failures are logged
    (ids and error codes only) and returned on the result, never raised: a handler
    that needs a missing secret raises its typed error when it reads it.
    """
    result = (cache if cache is not None else default_cache()).prefetch(secret_ids)
    for secret_id, error in result.errors.items():
        log.warning("secretcache: prefetch of %r failed: %s", secret_id, error)
    return result


def remaining_seconds(
    context: LambdaContext | None = None,
    *,
    reserve_seconds: float = DEFAULT_RESERVE_SECONDS,
    max_seconds: float = DEFAULT_MAX_SECONDS,
) -> float:
    """Seconds this invocation may still spend, keeping ``reserve_seconds`` to answer.

    Pass it as ``timeout_seconds=`` to anything that retries until a deadline (refresh
    on authentication failure, the database integrations), so that it gives up before
    Lambda kills the invocation. ``context=None`` reads the context of the
    ``lambda_handler`` invocation in progress; outside one, ``max_seconds``.
    """
    if reserve_seconds < 0 or max_seconds < 0:
        raise ValueError("reserve_seconds and max_seconds must be >= 0")
    context = context if context is not None else _current.get()
    if context is None:
        return max_seconds
    left = context.get_remaining_time_in_millis() / 1000.0 - reserve_seconds
    return max(0.0, min(max_seconds, left))


# -- the AWS Parameters and Secrets Lambda Extension ---------------------------------------


class ExtensionError(Exception):
    """The extension answered with an error; ``response`` is shaped like botocore's.

    secretcache translates it like any AWS error (not found, access denied, throttled).
    """

    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(f"{code}: {message}" if message else code)
        self.response: dict[str, Any] = {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": status},
        }


# The extension is on this host: never send its token through an HTTP(S)_PROXY.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class ExtensionClient:
    """A ``SecretsManagerClient`` that reads through the Lambda extension on localhost.

    ``SecretCache(ExtensionClient())`` caches in process what the extension caches per
    execution environment. The extension keeps values for its own TTL
    (``SECRETS_MANAGER_TTL``, 300 s by default), so a refresh sees a rotation only after
    that. ``port`` defaults to ``PARAMETERS_SECRETS_EXTENSION_HTTP_PORT`` or 2773; the
    token, sent as ``X-Aws-Parameters-Secrets-Token``, to ``AWS_SESSION_TOKEN`` read at
    each request. Stateless: safe to share between threads.
    """

    def __init__(
        self,
        *,
        host: str = "localhost",
        port: int | None = None,
        token: str | None = None,
        timeout_seconds: float = 2.0,
    ) -> None:
        if timeout_seconds <= 0:
            raise ValueError("timeout_seconds must be > 0")
        if port is None:
            port = int(os.environ.get("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT") or 2773)
        self.base_url = f"http://{host}:{port}/secretsmanager/get"
        self._token = token
        self.timeout_seconds = timeout_seconds

    def __repr__(self) -> str:
        return f"ExtensionClient({self.base_url!r})"

    def get_secret_value(self, **request: Any) -> dict[str, Any]:
        """GetSecretValue (``SecretId``, ``VersionId``, ``VersionStage``) through the
        extension, answered in botocore's shape."""
        query = {"secretId": request["SecretId"]}
        if request.get("VersionId") is not None:
            query["versionId"] = request["VersionId"]
        if request.get("VersionStage") is not None:
            query["versionStage"] = request["VersionStage"]
        http_request = urllib.request.Request(  # noqa: S310  # our own http://host:port URL
            f"{self.base_url}?{urllib.parse.urlencode(query)}",
            headers={"X-Aws-Parameters-Secrets-Token": self._token_value()},
        )
        try:
            with _DIRECT.open(http_request, timeout=self.timeout_seconds) as answer:
                body = answer.read()
        except urllib.error.HTTPError as exc:
            raise _error_from(exc.code, exc.read()) from None
        return _response_from(json.loads(body))

    def batch_get_secret_value(self, **request: Any) -> dict[str, Any]:
        """The extension has no batch call: one request per id, errors reported per id."""
        values: list[dict[str, Any]] = []
        errors: list[dict[str, str]] = []
        for secret_id in request["SecretIdList"]:
            try:
                values.append(self.get_secret_value(SecretId=secret_id))
            except ExtensionError as exc:
                error = exc.response["Error"]
                errors.append(
                    {"SecretId": secret_id, "ErrorCode": error["Code"], "Message": error["Message"]}
                )
        return {"SecretValues": values, "Errors": errors}

    def describe_secret(self, **_: Any) -> Any:
        """Not served by the extension (and never called by SecretCache)."""
        raise NotImplementedError("the Lambda extension serves GetSecretValue only")

    def _token_value(self) -> str:
        token = self._token if self._token is not None else os.environ.get("AWS_SESSION_TOKEN")
        if not token:
            raise ExtensionError(
                "AccessDeniedException",
                "no token for the Lambda extension: AWS_SESSION_TOKEN is not set",
                401,
            )
        return token


def _error_from(status: int, body: bytes) -> ExtensionError:
    """The extension relays service errors as ``{"__type": code, "message": ...}``."""
    try:
        document = json.loads(body)
    except ValueError:
        document = None
    if isinstance(document, dict) and "__type" in document:
        code = str(document["__type"]).rsplit("#", 1)[-1]
        message = str(document.get("message") or document.get("Message") or "")
        return ExtensionError(code, message, status)
    if status in (401, 403):  # a plain-text "Bad Token": the token was refused
        return ExtensionError(
            "AccessDeniedException", "the Lambda extension refused the token", status
        )
    return ExtensionError(f"HTTP{status}", "the Lambda extension answered with an error", status)


def _response_from(document: dict[str, Any]) -> dict[str, Any]:
    """The extension's JSON (base64 binary, epoch dates) in botocore's shape (bytes, datetime)."""
    response = dict(document)
    if isinstance(response.get("SecretBinary"), str):
        response["SecretBinary"] = base64.b64decode(response["SecretBinary"])
    created = response.get("CreatedDate")
    if isinstance(created, (int, float)):
        response["CreatedDate"] = datetime.fromtimestamp(created, tz=timezone.utc)
    elif isinstance(created, str):
        try:
            response["CreatedDate"] = datetime.fromisoformat(created.replace("Z", "+00:00"))
        except ValueError:
            response["CreatedDate"] = None
    return response
