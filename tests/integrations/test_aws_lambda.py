"""AWS Lambda helpers: per-invocation injection, init-phase prefetch, the deadline.

Handlers run against moto's server through real botocore clients; API calls are
counted with a ``before-call`` event hook on the client.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from secretcache import (
    CredentialsRejectedError,
    SecretCache,
    SecretNotFoundError,
    default_cache,
    set_default_cache,
)
from secretcache.integrations.aws_lambda import (
    Secret,
    lambda_handler,
    prefetch,
    remaining_seconds,
)
from secretcache.testing import FakeSecretsManager, ManualClock

pytestmark = pytest.mark.integration


class FakeContext:
    """The part of a Lambda context the SDK reads; time left follows a clock."""

    def __init__(self, remaining_ms: int, clock: Callable[[], float] | None = None) -> None:
        self._clock = clock or (lambda: 0.0)
        self._deadline = self._clock() + remaining_ms / 1000.0
        self.function_name = "test-function"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - self._clock()) * 1000))


def count_calls(client: Any) -> dict[str, int]:
    """API calls a real botocore client sends, by operation name."""
    counts: dict[str, int] = {}

    def before_call(model: Any, **_: Any) -> None:
        counts[model.name] = counts.get(model.name, 0) + 1

    client.meta.events.register("before-call.secrets-manager.*", before_call)
    return counts


@pytest.fixture
def names(sm_client: Any) -> dict[str, str]:
    """Three secrets a handler uses: a text API key, a JSON database secret, settings."""
    prefix = f"lambda/{uuid.uuid4().hex[:8]}"
    secrets = {
        "api": "api-key-value",
        "db": json.dumps({"username": "app", "password": "db-pass"}),
        "settings": json.dumps({"region": "eu-west-1", "timeout_seconds": 7}),
    }
    for name, value in secrets.items():
        sm_client.create_secret(Name=f"{prefix}/{name}", SecretString=value)
    return {name: f"{prefix}/{name}" for name in secrets}


@pytest.fixture
def module_cache(make_client: Callable[..., Any]) -> Iterator[tuple[SecretCache, dict[str, int]]]:
    """The process-wide cache a Lambda module uses, on a counted client to moto."""
    client = make_client()
    calls = count_calls(client)
    cache = SecretCache(client)
    set_default_cache(cache)
    yield cache, calls
    set_default_cache(None)
    cache.close()


def make_handler(names: dict[str, str], settings: Callable[[], Any] | None = None) -> Any:
    """What a handler module defines at import time."""
    extra = {"settings": settings} if settings is not None else {}

    @lambda_handler(api_key=names["api"], db=Secret(names["db"], kind="json"), **extra)
    def handler(event: dict[str, Any], context: Any, *, api_key: str, db: Any, **rest: Any) -> Any:
        return {"key": api_key, "user": db["username"], "n": event["n"], **rest}

    return handler


def test_import_time_fetches_nothing(
    names: dict[str, str], module_cache: tuple[SecretCache, dict[str, int]]
) -> None:
    """Decorating the handler (module import) makes no API call."""
    _, calls = module_cache
    make_handler(names)
    assert calls == {}


def test_cold_then_warm_invocations(
    names: dict[str, str], module_cache: tuple[SecretCache, dict[str, int]]
) -> None:
    """The cold invocation fetches each secret once; 99 warm ones call nothing."""
    _, calls = module_cache
    handler = make_handler(names)
    first = handler({"n": 0}, FakeContext(3000))
    assert first == {"key": "api-key-value", "user": "app", "n": 0}
    assert calls == {"GetSecretValue": 2}
    for n in range(1, 100):
        assert handler({"n": n}, FakeContext(3000))["n"] == n
    assert calls == {"GetSecretValue": 2}


def test_prefetch_at_init_makes_the_first_invocation_warm(
    names: dict[str, str], module_cache: tuple[SecretCache, dict[str, int]]
) -> None:
    """prefetch() at import: one BatchGetSecretValue, then no call at any invocation."""
    _, calls = module_cache
    result = prefetch([names["api"], names["db"]])
    handler = make_handler(names)
    assert result.ok and result.api_calls == 1
    assert calls == {"BatchGetSecretValue": 1}
    for n in range(10):
        handler({"n": n}, FakeContext(3000))
    assert calls == {"BatchGetSecretValue": 1}


def test_typed_settings_per_invocation(
    names: dict[str, str], module_cache: tuple[SecretCache, dict[str, int]]
) -> None:
    """A pydantic-settings class is built per invocation from the cache: one fetch in all."""
    pytest.importorskip("pydantic_settings")
    from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

    from secretcache.integrations.pydantic_settings import SecretsManagerSettingsSource

    class AppSettings(BaseSettings):
        region: str
        timeout_seconds: int

        @classmethod
        def settings_customise_sources(
            cls, settings_cls: type[BaseSettings], **sources: PydanticBaseSettingsSource
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            return (SecretsManagerSettingsSource(settings_cls, names["settings"]),)

    _, calls = module_cache
    handler = make_handler(names, settings=AppSettings)
    results = [handler({"n": n}, FakeContext(3000)) for n in range(20)]
    assert {(r["settings"].region, r["settings"].timeout_seconds) for r in results} == {
        ("eu-west-1", 7)
    }
    assert calls == {"GetSecretValue": 3}


def test_default_cache_takes_region_from_aws_region(
    moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no cache configured, the lazily built client uses AWS_REGION, as Lambda sets it."""
    import boto3

    region = "eu-central-1"
    name = f"lambda/{uuid.uuid4().hex[:8]}"
    boto3.session.Session().client(
        "secretsmanager", region_name=region, endpoint_url=moto_endpoint
    ).create_secret(Name=name, SecretString="regional")
    monkeypatch.setenv("AWS_REGION", region)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")  # AWS_REGION wins
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", moto_endpoint)
    set_default_cache(None)
    try:

        @lambda_handler(value=name)
        def handler(event: Any, context: Any, *, value: str) -> str:
            return value

        assert [handler({}, FakeContext(3000)) for _ in range(5)] == ["regional"] * 5
        assert default_cache().stats().api_calls == 1
    finally:
        default_cache().close()
        set_default_cache(None)


def test_prefetch_45_secrets_makes_3_batch_calls_and_reports_the_missing_one(
    sm_client: Any, make_client: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    """45 ids → BatchGetSecretValue calls of 20, 20 and 5; the absent id is reported."""
    prefix = f"bulk/{uuid.uuid4().hex[:8]}"
    ids = [f"{prefix}/{i:02d}" for i in range(45)]
    missing = ids[33]
    for secret_id in ids:
        if secret_id != missing:
            sm_client.create_secret(Name=secret_id, SecretString=f"value-{secret_id}")
    client = make_client()
    calls = count_calls(client)
    cache = SecretCache(client)
    with caplog.at_level(logging.WARNING, logger="secretcache"):
        result = prefetch(ids, cache=cache)
    assert calls == {"BatchGetSecretValue": 3}
    assert result.api_calls == 3
    assert set(result.errors) == {missing}
    assert isinstance(result.errors[missing], SecretNotFoundError)
    assert len(result.loaded) == 44
    assert missing in caplog.text
    assert all(cache.get(i).text == f"value-{i}" for i in ids if i != missing)
    assert calls == {"BatchGetSecretValue": 3}  # everything else was a hit


# -- the deadline ----------------------------------------------------------------------------


def test_remaining_seconds_keeps_the_reserve() -> None:
    """Time left minus the reserve, never negative, capped by max_seconds."""
    assert remaining_seconds(FakeContext(5000), reserve_seconds=1.0) == pytest.approx(4.0)
    assert remaining_seconds(FakeContext(500), reserve_seconds=1.0) == 0.0
    assert remaining_seconds(FakeContext(900_000), max_seconds=30.0) == 30.0
    assert remaining_seconds(max_seconds=12.0) == 12.0  # no invocation in progress
    with pytest.raises(ValueError, match=">= 0"):
        remaining_seconds(FakeContext(1000), reserve_seconds=-1)


def test_remaining_seconds_reads_the_current_invocation() -> None:
    """Inside a lambda_handler, remaining_seconds() needs no context argument."""
    set_default_cache(SecretCache(FakeSecretsManager()))
    try:

        @lambda_handler()
        def handler(event: Any, context: Any) -> float:
            return remaining_seconds(reserve_seconds=0.5)

        assert handler({}, FakeContext(3000)) == pytest.approx(2.5)
        assert remaining_seconds() == 30.0  # the context is gone after the invocation
    finally:
        set_default_cache(None)


class RejectedError(Exception):
    """What a service raises for a refused credential."""


def test_refresh_on_auth_failure_gives_up_before_the_invocation_times_out() -> None:
    """A credential refused forever: CredentialsRejectedError once the time left, less the
    reserve, is spent; the reserve is still there to answer."""
    clock = ManualClock()
    fake = FakeSecretsManager()
    fake.create_secret(Name="db", SecretString=json.dumps({"password": "wrong"}))
    cache = SecretCache(fake, timer=clock, sleep=clock.sleep, seed=1)
    context = FakeContext(5000, clock)
    attempts: list[float] = []

    def connect(value: Any) -> None:
        attempts.append(clock())
        raise RejectedError("password authentication failed")

    start = clock()
    with pytest.raises(CredentialsRejectedError) as caught:
        cache.call_with_secret(
            "db",
            connect,
            is_rejected=lambda exc: isinstance(exc, RejectedError),
            timeout_seconds=remaining_seconds(context, reserve_seconds=1.0),
        )
    assert clock() - start == pytest.approx(4.0)
    assert context.get_remaining_time_in_millis() == 1000
    assert len(attempts) > 2  # it did retry within the budget
    assert isinstance(caught.value.__cause__, RejectedError)
    assert "wrong" not in str(caught.value)


def test_handler_errors_reach_the_runtime_typed(
    module_cache: tuple[SecretCache, dict[str, int]],
) -> None:
    """A missing secret raises its typed error from the invocation, not at import."""

    @lambda_handler(value="lambda/does-not-exist")
    def handler(event: Any, context: Any, *, value: str) -> str:
        return value

    with pytest.raises(SecretNotFoundError, match="does-not-exist"):
        handler({}, FakeContext(3000))


def test_handler_keeps_its_metadata() -> None:
    """The decorated handler keeps name and docstring (Lambda resolves it by name)."""

    @lambda_handler()
    def handler(event: Any, context: Any) -> None:
        """Doc."""

    assert (handler.__name__, handler.__doc__) == ("handler", "Doc.")
