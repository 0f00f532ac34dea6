"""secretcache.compat: the aws-secretsmanager-caching API on top of secretcache."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from secretcache import (
    SecretAccessDeniedError,
    SecretCacheError,
    SecretNotFoundError,
    SecretUnavailableError,
)
from secretcache.compat import (
    InjectKeywordedSecretString,
    InjectSecretString,
    SecretCache,
    SecretCacheConfig,
)
from secretcache.testing import FakeSecretsManager


@pytest.fixture
def fake() -> FakeSecretsManager:
    """A text, a JSON and a binary secret."""
    fake = FakeSecretsManager()
    fake.create_secret(Name="plain", SecretString="plain-v1")
    fake.create_secret(Name="db", SecretString=json.dumps({"username": "app", "password": "pw-v1"}))
    fake.create_secret(Name="blob", SecretBinary=b"\x00blob")
    return fake


@pytest.fixture
def cache(fake: FakeSecretsManager) -> SecretCache:
    """The compat cache on the fake."""
    return SecretCache(client=fake)


def test_get_secret_string_and_binary(cache: SecretCache) -> None:
    """Text secrets give str (binary None); binary secrets give bytes (string None)."""
    assert cache.get_secret_string("plain") == "plain-v1"
    assert cache.get_secret_binary("plain") is None
    assert cache.get_secret_binary("blob") == b"\x00blob"
    assert cache.get_secret_string("blob") is None


def test_reads_are_cached_and_need_no_describe_secret(
    cache: SecretCache, fake: FakeSecretsManager
) -> None:
    """A hundred reads: one GetSecretValue and no DescribeSecret at all."""
    for _ in range(100):
        assert cache.get_secret_string("plain") == "plain-v1"
    assert dict(fake.calls) == {"CreateSecret": 3, "GetSecretValue": 1}


def test_version_stage_argument_and_default_stage(fake: FakeSecretsManager) -> None:
    """version_stage= reads a stage; default_version_stage changes the default."""
    fake.put_secret_value(SecretId="plain", SecretString="plain-v2", VersionStages=["AWSPENDING"])
    cache = SecretCache(client=fake)
    assert cache.get_secret_string("plain", "AWSPENDING") == "plain-v2"
    assert cache.get_secret_string("plain", version_stage="AWSCURRENT") == "plain-v1"
    pending = SecretCache(SecretCacheConfig(default_version_stage="AWSPENDING"), fake)
    assert pending.get_secret_string("plain") == "plain-v2"


def test_missing_stage_is_none_as_in_the_aws_library(cache: SecretCache) -> None:
    """A stage the secret does not have reads as None, not an error."""
    assert cache.get_secret_string("plain", "AWSPENDING") is None
    assert cache.get_secret_binary("plain", "NOSUCHSTAGE") is None


def test_missing_secret_raises_typed_error_that_is_a_client_error(cache: SecretCache) -> None:
    """A missing secret: SecretNotFoundError that ``except ClientError`` also catches."""
    with pytest.raises(ClientError) as caught:
        cache.get_secret_string("nope")
    assert isinstance(caught.value, SecretNotFoundError)
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert caught.value.operation_name == "GetSecretValue"
    assert "'nope' not found" in str(caught.value)


def test_access_denied_is_both(fake: FakeSecretsManager) -> None:
    """An IAM refusal is SecretAccessDeniedError and a ClientError with its code."""
    fake.fail("GetSecretValue", "AccessDeniedException")
    with pytest.raises(SecretAccessDeniedError) as caught:
        SecretCache(client=fake).get_secret_string("plain")
    assert isinstance(caught.value, ClientError)
    assert caught.value.response["Error"]["Code"] == "AccessDeniedException"


def test_network_failure_is_unavailable_not_a_client_error() -> None:
    """No endpoint: SecretUnavailableError (botocore raised no ClientError either)."""
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
    with pytest.raises(SecretUnavailableError) as caught:
        SecretCache(client=client).get_secret_string("x")
    assert not isinstance(caught.value, ClientError)


def test_each_raise_is_a_fresh_instance(cache: SecretCache) -> None:
    """Two failing reads raise two distinct exception objects (never one stored instance)."""
    errors = []
    for _ in range(2):
        with pytest.raises(SecretNotFoundError) as caught:
            cache.get_secret_string("nope")
        errors.append(caught.value)
    assert errors[0] is not errors[1]
    assert type(errors[0]) is type(errors[1])


def test_refresh_secret_now_picks_up_a_rotation_without_sleeping(
    cache: SecretCache, fake: FakeSecretsManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    """refresh_secret_now fetches at once (time.sleep is never called) and returns True."""
    assert cache.get_secret_string("plain") == "plain-v1"
    fake.rotate("plain", "plain-v2")
    assert cache.get_secret_string("plain") == "plain-v1"  # still cached

    def no_sleep(seconds: float) -> None:
        raise AssertionError(f"slept {seconds}s")

    monkeypatch.setattr("time.sleep", no_sleep)
    assert cache.refresh_secret_now("plain") is True
    assert cache.get_secret_string("plain") == "plain-v2"


def test_refresh_secret_now_also_refreshes_stages_read(
    cache: SecretCache, fake: FakeSecretsManager
) -> None:
    """Stages read before are refreshed too (the AWS library re-describes all of them)."""
    fake.put_secret_value(SecretId="plain", SecretString="p1", VersionStages=["AWSPENDING"])
    assert cache.get_secret_string("plain", "AWSPENDING") == "p1"
    fake.put_secret_value(SecretId="plain", SecretString="p2", VersionStages=["AWSPENDING"])
    assert cache.refresh_secret_now("plain") is True
    assert cache.get_secret_string("plain", "AWSPENDING") == "p2"


def test_refresh_is_true_when_a_stage_read_before_is_gone(
    cache: SecretCache, fake: FakeSecretsManager
) -> None:
    """AWSPENDING read during a rotation and removed after it does not fail the refresh."""
    fake.put_secret_value(SecretId="plain", SecretString="p1", VersionStages=["AWSPENDING"])
    assert cache.get_secret_string("plain", "AWSPENDING") == "p1"
    fake.rotate("plain", "plain-v2")  # ends with no AWSPENDING
    assert cache.refresh_secret_now("plain") is True
    assert cache.get_secret_string("plain") == "plain-v2"


def test_refresh_of_a_missing_secret_is_false(cache: SecretCache) -> None:
    """The secret itself not found: False."""
    assert cache.refresh_secret_now("nope") is False


def test_failed_refresh_returns_false_and_keeps_the_value(
    cache: SecretCache, fake: FakeSecretsManager
) -> None:
    """A refresh that fails returns False; the cached value is still served."""
    assert cache.get_secret_string("plain") == "plain-v1"
    fake.fail("GetSecretValue", "InternalServiceError", status=500)
    assert cache.refresh_secret_now("plain") is False
    assert cache.get_secret_string("plain") == "plain-v1"


def test_config_has_the_aws_library_options() -> None:
    """Every documented option, with its default; an unknown one is a TypeError."""
    config = SecretCacheConfig()
    assert {name: getattr(config, name) for name in SecretCacheConfig.OPTION_DEFAULTS} == {
        "max_cache_size": 1024,
        "exception_retry_delay_base": 1,
        "exception_retry_growth_factor": 2,
        "exception_retry_delay_max": 3600,
        "default_version_stage": "AWSCURRENT",
        "secret_refresh_interval": 3600,
        "secret_cache_hook": None,
    }
    with pytest.raises(TypeError):
        SecretCacheConfig(max_size=3)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="secret_refresh_interval"):
        SecretCacheConfig(secret_refresh_interval=0)
    assert "max_cache_size=1024" in repr(config)


def test_config_reaches_the_backend(fake: FakeSecretsManager) -> None:
    """max_cache_size and secret_refresh_interval configure the underlying cache."""
    cache = SecretCache(SecretCacheConfig(max_cache_size=2, secret_refresh_interval=90), fake)
    assert cache.backend.max_size == 2
    assert "ttl_seconds=90.0" in repr(cache.backend)
    for name in ("plain", "db", "blob"):
        cache.get_secret_string(name)
    assert cache.backend.stats().evictions == 1


def test_config_is_not_shared_with_the_caller(fake: FakeSecretsManager) -> None:
    """Changing the config object afterwards does not change the cache's default stage."""
    config = SecretCacheConfig()
    cache = SecretCache(config, fake)
    config.default_version_stage = "AWSPENDING"
    assert cache.get_secret_string("plain") == "plain-v1"


class RecordingHook:
    """A SecretCacheHook that wraps what it stores, and records calls."""

    def __init__(self) -> None:
        self.puts = 0
        self.gets = 0

    def put(self, obj: Any) -> Any:
        self.puts += 1
        return {"wrapped": obj}

    def get(self, cached_obj: Any) -> Any:
        self.gets += 1
        return cached_obj["wrapped"]


def test_secret_cache_hook_put_once_per_version_get_per_read(
    fake: FakeSecretsManager,
) -> None:
    """hook.put sees each version's GetSecretValue result once; hook.get every read."""
    hook = RecordingHook()
    cache = SecretCache(SecretCacheConfig(secret_cache_hook=hook), fake)
    assert [cache.get_secret_string("plain") for _ in range(3)] == ["plain-v1"] * 3
    assert (hook.puts, hook.gets) == (1, 3)
    fake.rotate("plain", "plain-v2")
    cache.refresh_secret_now("plain")
    assert cache.get_secret_string("plain") == "plain-v2"
    assert (hook.puts, hook.gets) == (2, 4)


def test_inject_secret_string(cache: SecretCache) -> None:
    """The secret string is the first argument; other arguments follow."""

    @InjectSecretString("plain", cache)
    def f(secret: str, a: int, b: int) -> tuple[str, int, int]:
        return secret, a, b

    assert f(1, 2) == ("plain-v1", 1, 2)


def test_inject_secret_string_on_a_method(cache: SecretCache) -> None:
    """On a method, self stays first (the AWS library's rule)."""

    class Service:
        @InjectSecretString("plain", cache)
        def call(self, secret: str, x: int) -> tuple[Any, str, int]:
            return self, secret, x

    service = Service()
    assert service.call(5) == (service, "plain-v1", 5)


def test_inject_keyworded_secret_string(cache: SecretCache, fake: FakeSecretsManager) -> None:
    """Keys of the JSON secret become keyword arguments, read at every call."""

    @InjectKeywordedSecretString("db", cache, user="username", pw="password")
    def connect(user: str, pw: str, port: int = 5432) -> tuple[str, str, int]:
        return user, pw, port

    assert connect(port=1) == ("app", "pw-v1", 1)
    fake.rotate("db", json.dumps({"username": "app", "password": "pw-v2"}))
    cache.refresh_secret_now("db")
    assert connect() == ("app", "pw-v2", 5432)


def test_inject_keyworded_errors_match_the_aws_library(cache: SecretCache) -> None:
    """Missing key and non-JSON secrets raise the AWS library's RuntimeErrors."""

    @InjectKeywordedSecretString("db", cache, token="token")
    def needs_token(token: str) -> str:
        return token

    @InjectKeywordedSecretString("plain", cache, x="x")
    def needs_json(x: str) -> str:
        return x

    with pytest.raises(RuntimeError, match=r"^Cached secret does not contain key token$"):
        needs_token()
    with pytest.raises(RuntimeError, match=r"^Cached secret is not valid JSON$") as caught:
        needs_json()
    assert "plain-v1" not in str(caught.value)


def test_signatures_match_the_aws_library() -> None:
    """Same parameter names, order and defaults as the installed AWS library."""
    aws = pytest.importorskip("aws_secretsmanager_caching")
    pairs = [
        (aws.SecretCache.__init__, SecretCache.__init__),
        (aws.SecretCache.get_secret_string, SecretCache.get_secret_string),
        (aws.SecretCache.get_secret_binary, SecretCache.get_secret_binary),
        (aws.SecretCache.refresh_secret_now, SecretCache.refresh_secret_now),
        (aws.InjectSecretString.__init__, InjectSecretString.__init__),
        (aws.InjectKeywordedSecretString.__init__, InjectKeywordedSecretString.__init__),
    ]
    for theirs, ours in pairs:
        assert list(inspect.signature(ours).parameters) == list(
            inspect.signature(theirs).parameters
        ), theirs.__qualname__
    assert dict(SecretCacheConfig.OPTION_DEFAULTS) == aws.SecretCacheConfig.OPTION_DEFAULTS
    aws_config = aws.SecretCacheConfig()
    ours_config = SecretCacheConfig()
    for name in aws.SecretCacheConfig.OPTION_DEFAULTS:
        assert getattr(ours_config, name) == getattr(aws_config, name)


def test_import_is_light() -> None:
    """Importing secretcache.compat loads neither boto3, botocore nor the AWS library."""
    code = (
        "import sys, secretcache.compat\n"
        "print(sorted({'boto3', 'botocore', 'aws_secretsmanager_caching'} & set(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.integration
def test_client_error_handling_code_keeps_working_through_moto(
    sm_client: Any, make_client: Callable[..., Any]
) -> None:
    """Code written for the AWS library (``except ClientError``) works unchanged."""
    name = f"compat/{uuid.uuid4().hex[:8]}"
    sm_client.create_secret(Name=name, SecretString="moto-value")
    cache = SecretCache(client=make_client())
    assert cache.get_secret_string(name) == "moto-value"
    try:
        cache.get_secret_string(f"{name}-missing")
    except ClientError as e:
        code = e.response["Error"]["Code"]
    assert code == "ResourceNotFoundException"
    assert cache.get_secret_string(name, "AWSPENDING") is None
    with pytest.raises(SecretCacheError):
        cache.get_secret_string(f"{name}-missing")
