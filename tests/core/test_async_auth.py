"""AsyncSecretCache.call_with_secret: refresh on authentication failure with async operations."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine
from typing import Any, TypeVar

import pytest

from secretcache import AsyncSecretCache, CredentialsRejectedError, SecretValue
from secretcache.testing import FakeSecretsManager, ManualClock

T = TypeVar("T")


class RejectedError(Exception):
    """The toy service's 'bad password'."""


class UnreachableError(Exception):
    """The toy service is down: not an authentication failure."""


class AsyncToyService:
    """Accepts exactly one password at a time, like a database user; logs in asynchronously."""

    def __init__(self, password: str) -> None:
        self.password = password
        self.attempts = 0
        self.down = False

    async def login(self, value: SecretValue) -> str:
        self.attempts += 1
        await asyncio.sleep(0)
        if self.down:
            raise UnreachableError("connection refused")
        if value.field("password") != self.password:
            raise RejectedError("password authentication failed")
        return "session"


def is_rejected(exc: BaseException) -> bool:
    return isinstance(exc, RejectedError)


def secret(password: str) -> str:
    return json.dumps({"username": "app", "password": password})


Setup = tuple[FakeSecretsManager, AsyncToyService, AsyncSecretCache]


@pytest.fixture
def setup(fake: FakeSecretsManager, clock: ManualClock) -> Setup:
    fake.put_secret_value(SecretId="db", SecretString=secret("pw1"))

    async def sleep(seconds: float) -> None:
        clock.sleep(seconds)  # backoff moves the manual clock instead of waiting

    cache = AsyncSecretCache(fake, ttl_seconds=300, timer=clock, sleep=sleep, seed=1)
    return fake, AsyncToyService("pw1"), cache


def call(cache: AsyncSecretCache, service: AsyncToyService, **kw: float) -> str:
    return asyncio.run(cache.call_with_secret("db", service.login, is_rejected=is_rejected, **kw))


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


def test_success_makes_one_call(setup: Setup) -> None:
    """With the right password the operation runs once and no refresh happens."""
    fake, service, cache = setup
    assert call(cache, service) == "session"
    assert (service.attempts, fake.calls["GetSecretValue"]) == (1, 1)


def test_single_user_rotation_window_uses_pending(setup: Setup) -> None:
    """Service already has the new password, AWSCURRENT still the old: AWSPENDING works."""
    fake, service, cache = setup
    run(cache.get("db"))
    fake.put_secret_value(SecretId="db", SecretString=secret("pw2"), VersionStages=["AWSPENDING"])
    service.password = "pw2"  # setSecret done, finishSecret not yet
    assert call(cache, service) == "session"
    assert fake.calls["GetSecretValue"] == 3  # first read, AWSCURRENT refetch, AWSPENDING
    for _ in range(20):  # every later call goes straight to the credential that worked
        call(cache, service)
    assert fake.calls["GetSecretValue"] == 3


def test_rotation_finished_refreshes_current(setup: Setup) -> None:
    """After finishSecret, a rejected stale AWSCURRENT is refetched and retried."""
    fake, service, cache = setup
    run(cache.get("db"))
    fake.rotate("db", secret("pw2"))
    service.password = "pw2"
    assert call(cache, service) == "session"
    assert service.attempts == 2
    assert run(cache.get("db")).field("password") == "pw2"


def test_wrong_password_raises_after_deadline(setup: Setup, clock: ManualClock) -> None:
    """No candidate works: awaited backoff until the deadline, then CredentialsRejectedError."""
    fake, service, cache = setup
    service.password = "something-else"
    with pytest.raises(CredentialsRejectedError, match="rejected for 10s") as info:
        call(cache, service, timeout_seconds=10)
    assert isinstance(info.value.__cause__, RejectedError)
    assert "pw1" not in str(info.value)
    assert sum(clock.slept) == pytest.approx(10, abs=0.01)
    assert max(clock.slept) <= 2.0  # backoff is capped
    assert fake.calls["GetSecretValue"] <= 1 + 2 + 2 * 10


def test_other_errors_propagate_at_once(setup: Setup) -> None:
    """A failure that is not a rejection is raised as is, with no refresh."""
    fake, service, cache = setup
    service.down = True
    with pytest.raises(UnreachableError):
        call(cache, service)
    assert (service.attempts, fake.calls["GetSecretValue"]) == (1, 1)


def test_concurrent_tasks_share_the_refresh(fake: FakeSecretsManager) -> None:
    """50 tasks failing on the same old version cause a handful of calls, not 50."""
    fake.put_secret_value(SecretId="db", SecretString=secret("pw1"))
    cache = AsyncSecretCache(fake)
    service = AsyncToyService("pw1")

    async def scenario() -> list[str]:
        await cache.get("db")
        fake.latency_seconds = 0.05
        fake.rotate("db", secret("pw2"))
        service.password = "pw2"
        return await asyncio.gather(
            *(
                cache.call_with_secret("db", service.login, is_rejected=is_rejected)
                for _ in range(50)
            )
        )

    assert run(scenario()) == ["session"] * 50
    assert fake.calls["GetSecretValue"] <= 3


def test_cancelled_operation_is_not_retried(setup: Setup) -> None:
    """Cancellation is not a rejection: it propagates from the operation at once."""
    fake, _, cache = setup

    async def scenario() -> None:
        started = asyncio.Event()

        async def hangs(value: SecretValue) -> str:
            started.set()
            await asyncio.Event().wait()
            return "never"

        task = asyncio.create_task(cache.call_with_secret("db", hangs, is_rejected=is_rejected))
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    run(scenario())
    assert fake.calls["GetSecretValue"] == 1
