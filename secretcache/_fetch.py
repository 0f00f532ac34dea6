"""The boundary to Secrets Manager: the client protocol, the default client, fetching.

Every botocore failure is translated here, once, into the secretcache error tree.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Sequence
from typing import Any, Protocol, cast

from ._errors import SecretCacheError, error_for_code, translate_error
from ._redact import install_log_redaction
from ._value import SecretValue

__all__ = [
    "BATCH_SIZE",
    "SecretsManagerClient",
    "batch_errors",
    "batch_fetch",
    "create_client",
    "fetch",
]

BATCH_SIZE = 20  # BatchGetSecretValue's limit on SecretIdList
USER_AGENT = "secretcache/0.1.0"


class SecretsManagerClient(Protocol):
    """The methods of botocore's Secrets Manager client that secretcache calls."""

    def get_secret_value(self, **kwargs: Any) -> Any: ...

    def batch_get_secret_value(self, **kwargs: Any) -> Any: ...

    def describe_secret(self, **kwargs: Any) -> Any: ...


def create_client(
    *, region_name: str | None = None, endpoint_url: str | None = None
) -> SecretsManagerClient:
    """A botocore client with settings for short-lived callers: bounded timeouts, few retries.

    The region comes from ``AWS_REGION``/``AWS_DEFAULT_REGION`` (Lambda sets both) unless
    given. If the application has set up boto3's default session, the client comes from it
    (its profile and credentials); otherwise from a plain botocore session, which finds
    credentials the same way and spares a cold start the import of boto3.
    """
    from botocore.config import Config  # deferred: importing secretcache imports no AWS SDK

    install_log_redaction()
    config = Config(
        connect_timeout=2,
        read_timeout=5,
        retries={"mode": "standard", "max_attempts": 3},
        user_agent_extra=USER_AGENT,
    )
    region = region_name or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    options: dict[str, Any] = {
        "region_name": region,
        "endpoint_url": endpoint_url,
        "config": config,
    }
    boto3_session = getattr(sys.modules.get("boto3"), "DEFAULT_SESSION", None)
    client: Any
    if boto3_session is not None:
        client = boto3_session.client("secretsmanager", **options)
    else:
        import botocore.session

        client = botocore.session.get_session().create_client("secretsmanager", **options)
    return cast(SecretsManagerClient, client)


def fetch(
    client: SecretsManagerClient, secret_id: str, stage: str | None, version_id: str | None
) -> SecretValue:
    """One GetSecretValue naming its stage or version explicitly."""
    request: dict[str, str] = {"SecretId": secret_id}
    if version_id is not None:
        request["VersionId"] = version_id
        where: str | None = f"version {version_id}"
    else:
        request["VersionStage"] = stage or "AWSCURRENT"
        where = None if request["VersionStage"] == "AWSCURRENT" else request["VersionStage"]
    try:
        response = client.get_secret_value(**request)
    except Exception as exc:
        raise translate_error(exc, secret_id, where) from exc
    return SecretValue.from_response(response)


def batch_fetch(
    client: SecretsManagerClient, secret_ids: Sequence[str]
) -> tuple[list[SecretValue], dict[str, SecretCacheError]]:
    """One BatchGetSecretValue for at most BATCH_SIZE ids: the values and per-id errors."""
    if len(secret_ids) > BATCH_SIZE:
        raise ValueError(f"at most {BATCH_SIZE} ids per BatchGetSecretValue")
    try:
        response = client.batch_get_secret_value(SecretIdList=list(secret_ids))
    except Exception as exc:  # noqa: BLE001  # the boundary: every failure is translated
        return [], batch_errors(exc, secret_ids)
    values = [SecretValue.from_response(item) for item in response.get("SecretValues", ())]
    errors = {
        item["SecretId"]: error_for_code(
            item.get("ErrorCode", "Unknown"), item["SecretId"], item.get("Message", "")
        )
        for item in response.get("Errors", ())
    }
    # An id the response names neither by name nor by ARN, nor as an error, was dropped
    # by the service: report it rather than leave it silently unloaded.
    answered = {v.name for v in values} | {v.arn for v in values} | set(errors)
    for sid in secret_ids:
        if sid not in answered:
            errors[sid] = error_for_code("ResourceNotFoundException", sid)
    return values, errors


def batch_errors(exc: BaseException, secret_ids: Iterable[str]) -> dict[str, SecretCacheError]:
    """A failure of a whole batch, translated once per id and chained to it."""
    errors = {sid: translate_error(exc, sid) for sid in secret_ids}
    for error in errors.values():
        error.__cause__ = exc
    return errors
