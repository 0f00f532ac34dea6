"""Test doubles for code that uses secretcache: a fake Secrets Manager and a manual clock.

``FakeSecretsManager`` keeps Secrets Manager's stage semantics (one version per label;
moving AWSCURRENT hands AWSPREVIOUS to the version it left), counts calls per operation
and injects faults and latency. Errors are botocore ``ClientError`` objects shaped like
the service's. Use it with a ``ManualClock`` so tests move time instead of sleeping::

    clock = ManualClock()
    fake = FakeSecretsManager()
    fake.create_secret(Name="prod/db", SecretString='{"password": "x"}')
    cache = SecretCache(fake, ttl_seconds=60, timer=clock, sleep=clock.sleep)
    cache.get("prod/db")
    clock.advance(61)
    assert fake.calls["GetSecretValue"] == 1
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

__all__ = ["FakeSecretsManager", "ManualClock"]

CURRENT, PENDING, PREVIOUS = "AWSCURRENT", "AWSPENDING", "AWSPREVIOUS"


class ManualClock:
    """A monotonic clock that moves only when told; ``sleep`` moves it instead of waiting."""

    def __init__(self, start: float = 1000.0) -> None:
        self._now = start
        self._lock = threading.Lock()
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a monotonic clock does not go back")
        with self._lock:
            self._now += seconds

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.advance(seconds)


@dataclass
class _Version:
    string: str | None
    binary: bytes | None
    created: datetime


@dataclass
class _Secret:
    name: str
    arn: str
    versions: dict[str, _Version] = field(default_factory=dict)
    stages: dict[str, str] = field(default_factory=dict)  # label -> version id
    deleted: bool = False


def _client_error(code: str, message: str, operation: str, status: int = 400) -> Exception:
    from botocore.exceptions import ClientError

    response: Any = {  # botocore's TypedDict wants metadata a fake has no use for
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, operation)


class FakeSecretsManager:
    """An in-memory Secrets Manager client. Thread-safe.

    ``calls`` counts requests per operation name (``"GetSecretValue"``, ...).
    ``fail(operation, code)`` queues errors; ``latency_seconds`` delays every request.
    """

    def __init__(self, *, latency_seconds: float = 0.0, region: str = "us-east-1") -> None:
        self.latency_seconds = latency_seconds
        self.calls: Counter[str] = Counter()
        self._region = region
        self._secrets: dict[str, _Secret] = {}
        self._faults: dict[str, deque[tuple[str, int]]] = {}
        self._always: dict[str, tuple[str, int]] = {}
        self._lock = threading.Lock()

    # -- fault injection -------------------------------------------------------------------

    def fail(
        self,
        operation: str,
        code: str = "ThrottlingException",
        *,
        times: int | None = 1,
        status: int = 400,
    ) -> None:
        """Make the next ``times`` calls of ``operation`` fail (``None``: until ``heal``)."""
        with self._lock:
            if times is None:
                self._always[operation] = (code, status)
            else:
                self._faults.setdefault(operation, deque()).extend([(code, status)] * times)

    def heal(self, operation: str | None = None) -> None:
        """Stop injected failures (of one operation, or all)."""
        with self._lock:
            for faults in (self._faults, self._always):
                if operation is None:
                    faults.clear()
                else:
                    faults.pop(operation, None)

    def _enter(self, operation: str) -> None:
        with self._lock:
            self.calls[operation] += 1
            queued = self._faults.get(operation)
            fault = queued.popleft() if queued else self._always.get(operation)
        if self.latency_seconds:
            time.sleep(self.latency_seconds)
        if fault is not None:
            code, status = fault
            raise _client_error(code, f"injected {code}", operation, status)

    def _secret(self, secret_id: str, operation: str, *, allow_deleted: bool = False) -> _Secret:
        secret = self._secrets.get(secret_id) or next(
            (s for s in self._secrets.values() if s.arn == secret_id), None
        )
        if secret is None:
            raise _client_error(
                "ResourceNotFoundException",
                "Secrets Manager can't find the specified secret.",
                operation,
            )
        if secret.deleted and not allow_deleted:
            raise _client_error(
                "InvalidRequestException",
                "You can't perform this operation on the secret because it was marked for deletion.",
                operation,
            )
        return secret

    # -- writes ----------------------------------------------------------------------------

    def create_secret(
        self,
        *,
        Name: str,
        SecretString: str | None = None,
        SecretBinary: bytes | None = None,
        ClientRequestToken: str | None = None,
        **_: Any,
    ) -> dict[str, Any]:
        self._enter("CreateSecret")
        with self._lock:
            if Name in self._secrets:
                raise _client_error("ResourceExistsException", "already exists", "CreateSecret")
            arn = f"arn:aws:secretsmanager:{self._region}:123456789012:secret:{Name}-{uuid.uuid4().hex[:6]}"
            secret = self._secrets[Name] = _Secret(Name, arn)
            version_id = None
            if SecretString is not None or SecretBinary is not None:
                version_id = self._add_version(
                    secret, SecretString, SecretBinary, ClientRequestToken, [CURRENT]
                )
        return {"ARN": arn, "Name": Name, "VersionId": version_id}

    def put_secret_value(
        self,
        *,
        SecretId: str,
        SecretString: str | None = None,
        SecretBinary: bytes | None = None,
        VersionStages: Iterable[str] = (CURRENT,),
        ClientRequestToken: str | None = None,
    ) -> dict[str, Any]:
        self._enter("PutSecretValue")
        with self._lock:
            secret = self._secret(SecretId, "PutSecretValue")
            stages = list(VersionStages)
            version_id = self._add_version(
                secret, SecretString, SecretBinary, ClientRequestToken, stages
            )
        return {
            "ARN": secret.arn,
            "Name": secret.name,
            "VersionId": version_id,
            "VersionStages": stages,
        }

    def _add_version(
        self,
        secret: _Secret,
        string: str | None,
        binary: bytes | None,
        token: str | None,
        stages: list[str],
    ) -> str:
        version_id = token or str(uuid.uuid4())
        secret.versions[version_id] = _Version(string, binary, datetime.now(timezone.utc))
        for stage in stages:
            self._move(secret, stage, version_id)
        return version_id

    def _move(self, secret: _Secret, stage: str, version_id: str | None) -> None:
        old = secret.stages.get(stage)
        if version_id is None:
            secret.stages.pop(stage, None)
            return
        secret.stages[stage] = version_id
        if stage == CURRENT and old is not None and old != version_id:
            secret.stages[PREVIOUS] = old

    def update_secret_version_stage(
        self,
        *,
        SecretId: str,
        VersionStage: str,
        MoveToVersionId: str | None = None,
        RemoveFromVersionId: str | None = None,
    ) -> dict[str, Any]:
        self._enter("UpdateSecretVersionStage")
        with self._lock:
            secret = self._secret(SecretId, "UpdateSecretVersionStage")
            holder = secret.stages.get(VersionStage)
            if holder is not None and holder not in {MoveToVersionId, RemoveFromVersionId}:
                raise _client_error(
                    "InvalidParameterException",
                    f"{VersionStage} is attached to another version; name it in RemoveFromVersionId",
                    "UpdateSecretVersionStage",
                )
            if MoveToVersionId is not None and MoveToVersionId not in secret.versions:
                raise _client_error(
                    "ResourceNotFoundException", "no such version", "UpdateSecretVersionStage"
                )
            self._move(secret, VersionStage, MoveToVersionId)
        return {"ARN": secret.arn, "Name": secret.name}

    def delete_secret(self, *, SecretId: str, **_: Any) -> dict[str, Any]:
        self._enter("DeleteSecret")
        with self._lock:
            secret = self._secret(SecretId, "DeleteSecret")
            secret.deleted = True
        return {"ARN": secret.arn, "Name": secret.name}

    def rotate(self, secret_id: str, new_string: str) -> str:
        """Put a new version as AWSPENDING, then promote it: a rotation's stage moves."""
        pending = self.put_secret_value(
            SecretId=secret_id, SecretString=new_string, VersionStages=[PENDING]
        )
        current = self.stages(secret_id).get(CURRENT)
        self.update_secret_version_stage(
            SecretId=secret_id,
            VersionStage=CURRENT,
            MoveToVersionId=pending["VersionId"],
            RemoveFromVersionId=current,
        )
        self.update_secret_version_stage(
            SecretId=secret_id, VersionStage=PENDING, RemoveFromVersionId=pending["VersionId"]
        )
        return str(pending["VersionId"])

    def stages(self, secret_id: str) -> dict[str, str]:
        """Stage label -> version id, without counting a call."""
        with self._lock:
            return dict(self._secret(secret_id, "DescribeSecret", allow_deleted=True).stages)

    # -- reads -----------------------------------------------------------------------------

    def get_secret_value(
        self, *, SecretId: str, VersionId: str | None = None, VersionStage: str | None = None
    ) -> dict[str, Any]:
        self._enter("GetSecretValue")
        with self._lock:
            return self._read(SecretId, VersionId, VersionStage, "GetSecretValue")

    def _read(
        self, secret_id: str, version_id: str | None, stage: str | None, operation: str
    ) -> dict[str, Any]:
        secret = self._secret(secret_id, operation)
        if version_id is None:
            version_id = secret.stages.get(stage or CURRENT)
            if version_id is None:
                raise _client_error(
                    "ResourceNotFoundException",
                    f"Secrets Manager can't find the specified secret value for staging label: {stage}",
                    operation,
                )
        version = secret.versions.get(version_id)
        if version is None or (stage is not None and secret.stages.get(stage) != version_id):
            raise _client_error(
                "ResourceNotFoundException",
                "Secrets Manager can't find the specified secret value",
                operation,
            )
        response: dict[str, Any] = {
            "ARN": secret.arn,
            "Name": secret.name,
            "VersionId": version_id,
            "VersionStages": sorted(s for s, v in secret.stages.items() if v == version_id),
            "CreatedDate": version.created,
        }
        if version.string is not None:
            response["SecretString"] = version.string
        if version.binary is not None:
            response["SecretBinary"] = version.binary
        return response

    def batch_get_secret_value(self, *, SecretIdList: Iterable[str]) -> dict[str, Any]:
        ids = list(SecretIdList)
        if len(ids) > 20:
            raise _client_error(
                "InvalidParameterException", "at most 20 ids", "BatchGetSecretValue"
            )
        self._enter("BatchGetSecretValue")
        values: list[dict[str, Any]] = []
        errors: list[dict[str, str]] = []
        with self._lock:
            for secret_id in ids:
                try:
                    values.append(self._read(secret_id, None, None, "BatchGetSecretValue"))
                except Exception as exc:  # noqa: BLE001  # reported per id, as the service does
                    error = exc.response["Error"]  # type: ignore[attr-defined]
                    errors.append(
                        {
                            "SecretId": secret_id,
                            "ErrorCode": error["Code"],
                            "Message": error["Message"],
                        }
                    )
        return {"SecretValues": values, "Errors": errors}

    def describe_secret(self, *, SecretId: str) -> dict[str, Any]:
        self._enter("DescribeSecret")
        with self._lock:
            secret = self._secret(SecretId, "DescribeSecret", allow_deleted=True)
            by_version: dict[str, list[str]] = {v: [] for v in secret.versions}
            for stage, version_id in secret.stages.items():
                by_version[version_id].append(stage)
            return {
                "ARN": secret.arn,
                "Name": secret.name,
                "RotationEnabled": False,
                "VersionIdsToStages": {v: sorted(s) for v, s in by_version.items() if s},
                **({"DeletedDate": datetime.now(timezone.utc)} if secret.deleted else {}),
            }
