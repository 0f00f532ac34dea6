"""The four-step rotation protocol of Secrets Manager, the Lambda handler and the local driver.

Every step first runs the guard: rotation enabled (in Lambda), the token is a version of
the secret, a token already AWSCURRENT means the rotation is done, and a token that is
not AWSPENDING is an error. Each step can be repeated after a crash at any point:

- createSecret puts a value only if the token has none (PutSecretValue with the token
  as ClientRequestToken is idempotent too);
- setSecret and testSecret are the strategy's, which must be repeatable;
- finishSecret moves AWSCURRENT to the token (AWSPREVIOUS follows) and then removes
  AWSPENDING; a crash between the two is repaired by the guard of any later step.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import uuid
from collections.abc import Callable, Mapping
from enum import Enum
from typing import Any

from secretcache._errors import SecretCacheError, SecretNotFoundError
from secretcache._redact import install_log_redaction

from ._context import PasswordPolicy, RotationClient, RotationContext, call_aws
from ._strategy import RotationStrategy

__all__ = ["STEPS", "RotationStep", "make_handler", "rotate", "run_step"]

logger = logging.getLogger("secretcache.integrations.rotation")

CURRENT = "AWSCURRENT"
PENDING = "AWSPENDING"


class RotationStep(str, Enum):
    """The steps Secrets Manager invokes a rotation function with, in order."""

    CREATE = "createSecret"
    SET = "setSecret"
    TEST = "testSecret"
    FINISH = "finishSecret"

    def __str__(self) -> str:
        return self.value


STEPS = (RotationStep.CREATE, RotationStep.SET, RotationStep.TEST, RotationStep.FINISH)


def _describe(client: RotationClient, secret_id: str) -> tuple[bool, dict[str, list[str]]]:
    """Whether rotation is enabled, and the stages of every version."""
    meta = call_aws(client, "describe_secret", secret_id, SecretId=secret_id)
    versions = {str(k): list(v) for k, v in (meta.get("VersionIdsToStages") or {}).items()}
    return bool(meta.get("RotationEnabled")), versions


def _remove_pending(client: RotationClient, secret_id: str, version_id: str) -> None:
    call_aws(
        client,
        "update_secret_version_stage",
        secret_id,
        SecretId=secret_id,
        VersionStage=PENDING,
        RemoveFromVersionId=version_id,
    )


def _guard(
    client: RotationClient,
    secret_id: str,
    token: str,
    step: RotationStep,
    *,
    require_rotation_enabled: bool,
    allow_new_token: bool,
) -> dict[str, list[str]] | None:
    """The stages by version if the step has work to do; None if the rotation is done."""
    enabled, versions = _describe(client, secret_id)
    if require_rotation_enabled and not enabled:
        raise SecretCacheError(
            f"secret {secret_id!r} does not have rotation enabled",
            secret_id=secret_id,
            code="RotationNotEnabled",
        )
    stages = versions.get(token)
    if stages is None:
        if allow_new_token and step is RotationStep.CREATE:
            return versions
        raise SecretNotFoundError(
            f"version {token!r} is not a version of secret {secret_id!r}", secret_id=secret_id
        )
    if CURRENT in stages:
        if PENDING in stages:  # a finishSecret that crashed after moving AWSCURRENT
            _remove_pending(client, secret_id, token)
        logger.info("rotation %s of secret %r: already AWSCURRENT", token, secret_id)
        return None
    if PENDING not in stages:
        raise SecretNotFoundError(
            f"version {token!r} of secret {secret_id!r} is not staged AWSPENDING",
            secret_id=secret_id,
        )
    return versions


def _create(ctx: RotationContext, strategy: RotationStrategy) -> None:
    try:
        ctx.pending  # noqa: B018 - reading it is the check
    except SecretNotFoundError:
        pass
    else:
        logger.info("createSecret %r: version %s already has a value", ctx.secret_id, ctx.token)
        return
    value = strategy.create_credential(ctx)
    call_aws(
        ctx.client,
        "put_secret_value",
        ctx.secret_id,
        SecretId=ctx.secret_id,
        ClientRequestToken=ctx.token,
        SecretString=json.dumps(value),
        VersionStages=[PENDING],
    )
    logger.info("createSecret %r: put version %s as AWSPENDING", ctx.secret_id, ctx.token)


def _finish(ctx: RotationContext, versions: Mapping[str, list[str]]) -> None:
    current = next((v for v, stages in versions.items() if CURRENT in stages), None)
    if current is None:
        raise SecretNotFoundError(
            f"secret {ctx.secret_id!r} has no AWSCURRENT version", secret_id=ctx.secret_id
        )
    call_aws(
        ctx.client,
        "update_secret_version_stage",
        ctx.secret_id,
        SecretId=ctx.secret_id,
        VersionStage=CURRENT,
        MoveToVersionId=ctx.token,
        RemoveFromVersionId=current,
    )
    # Secrets Manager's rotation service drops AWSPENDING itself; a local run (and moto)
    # does not, and a stray AWSPENDING would make readers try a stale credential.
    _remove_pending(ctx.client, ctx.secret_id, ctx.token)
    logger.info(
        "finishSecret %r: version %s is AWSCURRENT (was %s)", ctx.secret_id, ctx.token, current
    )


def run_step(
    client: RotationClient,
    secret_id: str,
    token: str,
    step: RotationStep | str,
    strategy: RotationStrategy,
    *,
    policy: PasswordPolicy | None = None,
    require_rotation_enabled: bool = True,
    allow_new_token: bool = False,
) -> None:
    """Run one step of the rotation of ``secret_id`` to version ``token``.

    ``allow_new_token`` lets createSecret start from a token that is not yet a version
    (RotateSecret creates that version before invoking a Lambda; a local run cannot).
    """
    step = RotationStep(step)
    install_log_redaction()  # botocore's DEBUG logs would show the values put and read
    versions = _guard(
        client,
        secret_id,
        token,
        step,
        require_rotation_enabled=require_rotation_enabled,
        allow_new_token=allow_new_token,
    )
    if versions is None:
        return
    ctx = RotationContext(client, secret_id, token, policy=policy or PasswordPolicy())
    logger.debug("%s %r: version %s", step, secret_id, token)
    if step is RotationStep.CREATE:
        _create(ctx, strategy)
    elif step is RotationStep.SET:
        strategy.set_credential(ctx)
        logger.info("setSecret %r: version %s is set", secret_id, token)
    elif step is RotationStep.TEST:
        strategy.test_credential(ctx)
        logger.info("testSecret %r: version %s works", secret_id, token)
    else:
        _finish(ctx, versions)


def rotate(
    client: RotationClient,
    secret_id: str,
    strategy: RotationStrategy,
    *,
    token: str | None = None,
    policy: PasswordPolicy | None = None,
    stop_after: RotationStep | str | None = None,
) -> str:
    """Run the four steps locally (no Lambda) and return the rotation's token.

    Re-running with the token of an interrupted rotation completes it, and so does a
    call without ``token`` while a rotation is unfinished (a version other than
    AWSCURRENT holds AWSPENDING); another token is then refused, as RotateSecret
    refuses it. ``stop_after`` ends the run after that step, as a crash would.
    Rotation need not be enabled on the secret.
    """
    _, versions = _describe(client, secret_id)
    unfinished = next(
        (v for v, stages in versions.items() if PENDING in stages and CURRENT not in stages),
        None,
    )
    if unfinished is not None and token not in (None, unfinished):
        raise SecretCacheError(
            f"secret {secret_id!r} has an unfinished rotation (version {unfinished!r} is"
            " AWSPENDING): finish it with that token, or remove its AWSPENDING label",
            secret_id=secret_id,
            code="RotationInProgress",
        )
    if unfinished is not None and token is None:
        logger.info("secret %r: resuming the unfinished rotation %s", secret_id, unfinished)
    token = token or unfinished or str(uuid.uuid4())
    last = RotationStep(stop_after) if stop_after is not None else None
    for step in STEPS:
        run_step(
            client,
            secret_id,
            token,
            step,
            strategy,
            policy=policy,
            require_rotation_enabled=False,
            allow_new_token=True,
        )
        if step is last:
            break
    return token


def _default_client() -> RotationClient:
    import boto3

    endpoint = os.environ.get("SECRETS_MANAGER_ENDPOINT") or None
    client: RotationClient = boto3.session.Session().client("secretsmanager", endpoint_url=endpoint)
    return client


def make_handler(
    strategy: RotationStrategy,
    *,
    client: RotationClient | None = None,
    policy: PasswordPolicy | None = None,
    require_rotation_enabled: bool = True,
) -> Callable[[Mapping[str, Any], object], None]:
    """A ``lambda_handler(event, context)`` for Secrets Manager rotation events.

    Without ``client`` one is made on the first invocation (endpoint from
    ``SECRETS_MANAGER_ENDPOINT`` if set); without ``policy`` it is read from the
    environment now (``PasswordPolicy.from_env``). Safe for concurrent invocations.
    """
    policy = policy or PasswordPolicy.from_env()
    lock = threading.Lock()
    clients: list[RotationClient] = [client] if client is not None else []

    def get_client() -> RotationClient:
        with lock:  # held only while creating a client, never across a call
            if not clients:
                clients.append(_default_client())
            return clients[0]

    def handler(event: Mapping[str, Any], context: object) -> None:
        try:
            secret_id = str(event["SecretId"])
            token = str(event["ClientRequestToken"])
            step = RotationStep(event["Step"])
        except (KeyError, ValueError) as exc:
            raise ValueError(f"not a Secrets Manager rotation event: {exc}") from None
        run_step(
            get_client(),
            secret_id,
            token,
            step,
            strategy,
            policy=policy,
            require_rotation_enabled=require_rotation_enabled,
        )

    return handler
