"""SecretCache through a real botocore client over HTTP to moto's server."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import pytest

from secretcache import (
    SecretCache,
    SecretFormatError,
    SecretNotFoundError,
    SecretUnavailableError,
)

pytestmark = pytest.mark.integration

PASSWORD = "moto-s3cr3t-'\"\\%-пароль"


def count_calls(client: Any) -> dict[str, int]:
    """Count the API calls a real client sends, by operation name."""
    counts: dict[str, int] = {}

    def before_call(model: Any, **_: Any) -> None:
        counts[model.name] = counts.get(model.name, 0) + 1

    client.meta.events.register("before-call.secrets-manager.*", before_call)
    return counts


def rotate(client: Any, name: str, new_value: str) -> str:
    """The stage moves of a rotation, done explicitly (moto does not run rotation Lambdas)."""
    current = client.describe_secret(SecretId=name)["VersionIdsToStages"]
    old = next(v for v, stages in current.items() if "AWSCURRENT" in stages)
    pending = client.put_secret_value(
        SecretId=name, SecretString=new_value, VersionStages=["AWSPENDING"]
    )["VersionId"]
    client.update_secret_version_stage(
        SecretId=name, VersionStage="AWSCURRENT", MoveToVersionId=pending, RemoveFromVersionId=old
    )
    client.update_secret_version_stage(
        SecretId=name, VersionStage="AWSPENDING", RemoveFromVersionId=pending
    )
    return str(pending)


def test_read_by_stage_and_version(sm_client: Any, secret_name: str) -> None:
    """AWSCURRENT, AWSPENDING and a version id each read their own value."""
    first = sm_client.create_secret(Name=secret_name, SecretString=json.dumps({"password": "a"}))
    pending = sm_client.put_secret_value(
        SecretId=secret_name,
        SecretString=json.dumps({"password": "b"}),
        VersionStages=["AWSPENDING"],
    )
    cache = SecretCache(sm_client)
    current = cache.get(secret_name)
    assert current.version_id == first["VersionId"]
    assert current.field("password") == "a"
    assert current.arn == first["ARN"]
    assert current.created_date is not None
    assert cache.get(secret_name, stage="AWSPENDING").field("password") == "b"
    by_id = cache.get(secret_name, version_id=pending["VersionId"])
    assert by_id.field("password") == "b"
    assert "AWSPENDING" in by_id.stages


def test_full_rotation_is_followed(sm_client: Any, secret_name: str) -> None:
    """After a rotation's stage moves, a refresh returns the new version and fires the hook."""
    sm_client.create_secret(Name=secret_name, SecretString=json.dumps({"password": "old"}))
    calls = count_calls(sm_client)
    cache = SecretCache(sm_client)
    rotations: list[Any] = []
    cache.on_rotation(rotations.append)
    old = cache.get(secret_name)
    new_version = rotate(sm_client, secret_name, json.dumps({"password": "new"}))
    assert cache.get(secret_name) is old  # within the TTL
    assert cache.refresh(secret_name).field("password") == "new"
    assert [(e.previous_version_id, e.version_id) for e in rotations] == [
        (old.version_id, new_version)
    ]
    assert cache.get(secret_name, stage="AWSPREVIOUS").version_id == old.version_id
    assert calls["GetSecretValue"] == 3


def test_missing_secret(sm_client: Any) -> None:
    """A secret that does not exist raises SecretNotFoundError chained to botocore's error."""
    with pytest.raises(SecretNotFoundError) as info:
        SecretCache(sm_client).get("does/not/exist")
    assert type(info.value.__cause__).__name__ == "ResourceNotFoundException"


def test_missing_stage(sm_client: Any, secret_name: str) -> None:
    """Asking for AWSPENDING when no rotation runs raises SecretNotFoundError."""
    sm_client.create_secret(Name=secret_name, SecretString="x")
    with pytest.raises(SecretNotFoundError):
        SecretCache(sm_client).get(secret_name, stage="AWSPENDING")


def test_deleted_secret(sm_client: Any, secret_name: str) -> None:
    """A secret scheduled for deletion raises SecretNotFoundError saying so."""
    sm_client.create_secret(Name=secret_name, SecretString="x")
    sm_client.delete_secret(SecretId=secret_name, RecoveryWindowInDays=7)
    with pytest.raises(SecretNotFoundError, match="deletion"):
        SecretCache(sm_client).get(secret_name)


def test_batch_prefetch_with_one_missing(sm_client: Any, secret_name: str) -> None:
    """BatchGetSecretValue loads what exists and reports the missing id."""
    names = [f"{secret_name}-{i}" for i in range(3)]
    for name in names:
        sm_client.create_secret(Name=name, SecretString=name)
    calls = count_calls(sm_client)
    cache = SecretCache(sm_client)
    result = cache.prefetch([*names, f"{secret_name}-missing"])
    assert result.loaded == tuple(names)
    assert set(result.errors) == {f"{secret_name}-missing"}
    assert isinstance(result.errors[f"{secret_name}-missing"], SecretNotFoundError)
    assert [cache.get(n).text for n in names] == names
    assert calls == {"BatchGetSecretValue": 1}


@pytest.mark.parametrize(
    "text",
    [" ", "plain text", PASSWORD, "x" * (64 * 1024), json.dumps({"k": "ключ🔑"})],
    ids=["blank", "plain", "hostile", "64KiB", "unicode"],
)
def test_text_values_round_trip(sm_client: Any, secret_name: str, text: str) -> None:
    """Blank, hostile, 64 KiB (the service's maximum) and unicode values come back whole."""
    sm_client.create_secret(Name=secret_name, SecretString=text)
    assert SecretCache(sm_client).get(secret_name).text == text


def test_json_of_a_non_json_secret(sm_client: Any, secret_name: str) -> None:
    """json() on a text secret that is not JSON raises SecretFormatError without the text."""
    sm_client.create_secret(Name=secret_name, SecretString=PASSWORD)
    with pytest.raises(SecretFormatError, match="not valid JSON") as info:
        SecretCache(sm_client).get(secret_name).json()
    assert PASSWORD not in str(info.value)


def test_binary_secret(sm_client: Any, secret_name: str) -> None:
    """Binary reads as bytes; as text it is a SecretFormatError that quotes nothing."""
    blob = bytes(range(256))
    sm_client.create_secret(Name=secret_name, SecretBinary=blob)
    value = SecretCache(sm_client).get(secret_name)
    assert value.binary == blob
    with pytest.raises(SecretFormatError) as info:
        _ = value.text
    assert repr(blob) not in str(info.value)


def test_dead_endpoint_is_unavailable(make_client: Callable[..., Any]) -> None:
    """A closed port raises SecretUnavailableError, fast (no hot retry loop)."""
    import boto3
    from botocore.config import Config

    client = boto3.session.Session().client(
        "secretsmanager",
        region_name="us-east-1",
        endpoint_url="http://127.0.0.1:9",
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=Config(retries={"max_attempts": 1}, connect_timeout=1),
    )
    calls = count_calls(client)
    cache = SecretCache(client)
    for _ in range(5):
        with pytest.raises(SecretUnavailableError, match="unreachable"):
            cache.get("anything")
    assert calls == {"GetSecretValue": 1}  # later reads wait out the backoff


def test_botocore_debug_logs_carry_no_secret(
    sm_client: Any, secret_name: str, caplog: pytest.LogCaptureFixture
) -> None:
    """With DEBUG logging on, botocore's body logs are redacted; other records stay."""
    sm_client.create_secret(Name=secret_name, SecretString=json.dumps({"password": PASSWORD}))
    cache = SecretCache(sm_client)
    with caplog.at_level(logging.DEBUG):
        cache.get(secret_name)
        sm_client.put_secret_value(SecretId=secret_name, SecretString=PASSWORD)
    text = caplog.text
    assert "Response body" in text  # botocore did log the body...
    assert "redacted by secretcache" in text  # ...with the secret field replaced
    for needle in (PASSWORD, json.dumps(PASSWORD)[1:-1], "moto-s3cr3t"):
        assert needle not in text
    assert "GetSecretValue" in text  # the rest of botocore's logging is untouched
