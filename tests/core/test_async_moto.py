"""AsyncSecretCache through a real botocore client over HTTP to moto's server."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from secretcache import (
    AsyncSecretCache,
    RotationEvent,
    SecretNotFoundError,
    SecretUnavailableError,
    SecretValue,
)
from tests.core.async_support import LOOP_GAP_BOUND, LoopProbe, quietest_gap
from tests.core.test_moto import count_calls, rotate

pytestmark = pytest.mark.integration

SLOW_SECONDS = 0.2


def slow_down(client: Any, seconds: float) -> None:
    """Hold every request this long before it is sent (in the thread that sends it)."""

    def before_send(**_: Any) -> None:
        time.sleep(seconds)

    client.meta.events.register("before-send.secrets-manager.*", before_send)


def test_read_stages_and_follow_a_rotation(sm_client: Any, secret_name: str) -> None:
    """Stages and versions read their own values; a refresh after a rotation fires the hook."""
    sm_client.create_secret(Name=secret_name, SecretString=json.dumps({"password": "old"}))
    calls = count_calls(sm_client)
    cache = AsyncSecretCache(sm_client)
    rotations: list[RotationEvent] = []
    cache.on_rotation(rotations.append)

    async def scenario() -> tuple[SecretValue, str]:
        old = await cache.get(secret_name)
        new_version = rotate(sm_client, secret_name, json.dumps({"password": "new"}))
        assert await cache.get(secret_name) is old  # within the TTL
        assert (await cache.refresh(secret_name)).field("password") == "new"
        previous = await cache.get(secret_name, stage="AWSPREVIOUS")
        assert previous.version_id == old.version_id
        by_id = await cache.get(secret_name, version_id=new_version)
        assert by_id.field("password") == "new"
        await cache.aclose()
        return old, new_version

    old, new_version = asyncio.run(scenario())
    assert [(e.previous_version_id, e.version_id) for e in rotations] == [
        (old.version_id, new_version)
    ]
    assert calls["GetSecretValue"] == 4


def test_stampede_over_http_makes_one_call(sm_client: Any, secret_name: str) -> None:
    """200 tasks on one cold key send one GetSecretValue over the wire."""
    sm_client.create_secret(Name=secret_name, SecretString="s")
    calls = count_calls(sm_client)
    slow_down(sm_client, 0.05)
    cache = AsyncSecretCache(sm_client)

    async def stampede() -> list[SecretValue]:
        return await asyncio.gather(*(cache.get(secret_name) for _ in range(200)))

    values = asyncio.run(stampede())
    assert len({id(v) for v in values}) == 1
    assert calls == {"GetSecretValue": 1}


def test_loop_runs_while_a_slow_request_is_on_the_wire(
    make_client: Callable[..., Any], secret_name: str
) -> None:
    """A request held 200 ms by the client never stalls the event loop."""
    client = make_client()
    client.create_secret(Name=secret_name, SecretString="s")
    slow_down(client, SLOW_SECONDS)

    def measure() -> float:
        cache = AsyncSecretCache(client)  # a fresh cache: each run is a cold read

        async def scenario() -> float:
            async with LoopProbe() as probe:
                started = time.perf_counter()
                assert (await cache.get(secret_name)).text == "s"
                assert time.perf_counter() - started >= SLOW_SECONDS
            return probe.longest

        return asyncio.run(scenario())

    assert quietest_gap(measure) < LOOP_GAP_BOUND


def test_errors_are_translated(sm_client: Any, secret_name: str) -> None:
    """botocore's ResourceNotFoundException becomes SecretNotFoundError, chained."""
    cache = AsyncSecretCache(sm_client)
    with pytest.raises(SecretNotFoundError) as info:
        asyncio.run(cache.get(secret_name))
    assert type(info.value.__cause__).__name__ == "ResourceNotFoundException"


def test_dead_endpoint_is_unavailable() -> None:
    """A closed port raises SecretUnavailableError; later reads wait out the backoff."""
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
    cache = AsyncSecretCache(client)

    async def scenario() -> None:
        for _ in range(5):
            with pytest.raises(SecretUnavailableError, match="unreachable"):
                await cache.get("anything")

    asyncio.run(scenario())
    assert calls == {"GetSecretValue": 1}


def test_prefetch_over_http(sm_client: Any, secret_name: str) -> None:
    """prefetch loads through BatchGetSecretValue; the reads after it make no call."""
    names = [f"{secret_name}-{i}" for i in range(3)]
    for name in names:
        sm_client.create_secret(Name=name, SecretString=name)
    calls = count_calls(sm_client)
    cache = AsyncSecretCache(sm_client)

    async def scenario() -> list[str]:
        result = await cache.prefetch([*names, f"{secret_name}-missing"])
        assert set(result.errors) == {f"{secret_name}-missing"}
        return [(await cache.get(n)).text for n in names]

    assert asyncio.run(scenario()) == names
    assert calls == {"BatchGetSecretValue": 1}


def test_client_created_from_the_environment(
    moto_endpoint: str, sm_client: Any, secret_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no client given, the cache makes one (in a worker thread) and closes it on aclose."""
    sm_client.create_secret(Name=secret_name, SecretString="env")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")

    async def scenario() -> str:
        async with AsyncSecretCache(region_name="us-east-1", endpoint_url=moto_endpoint) as cache:
            return (await cache.get(secret_name)).text

    assert asyncio.run(scenario()) == "env"
