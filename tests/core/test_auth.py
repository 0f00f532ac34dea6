"""Refresh on authentication failure, against a toy service that accepts one password."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable

import pytest

from secretcache import CredentialsRejectedError, SecretCache, SecretValue
from secretcache.testing import FakeSecretsManager, ManualClock


class RejectedError(Exception):
    """The toy service's 'bad password'."""


class UnreachableError(Exception):
    """The toy service is down: not an authentication failure."""


class ToyService:
    """Accepts exactly one password at a time, like a database user."""

    def __init__(self, password: str) -> None:
        self.password = password
        self.attempts = 0
        self.down = False
        self.lock = threading.Lock()

    def login(self, value: SecretValue) -> str:
        with self.lock:
            self.attempts += 1
        if self.down:
            raise UnreachableError("connection refused")
        if value.field("password") != self.password:
            raise RejectedError("password authentication failed")
        return "session"


def is_rejected(exc: BaseException) -> bool:
    return isinstance(exc, RejectedError)


def secret(password: str) -> str:
    return json.dumps({"username": "app", "password": password})


@pytest.fixture
def setup(
    fake: FakeSecretsManager, clock: ManualClock
) -> tuple[FakeSecretsManager, ToyService, SecretCache]:
    fake.put_secret_value(SecretId="db", SecretString=secret("pw1"))
    cache = SecretCache(fake, ttl_seconds=300, timer=clock, sleep=clock.sleep, seed=1)
    return fake, ToyService("pw1"), cache


Setup = tuple[FakeSecretsManager, ToyService, SecretCache]


def call(cache: SecretCache, service: ToyService, **kw: float) -> str:
    return cache.call_with_secret("db", service.login, is_rejected=is_rejected, **kw)


def test_success_makes_one_call(setup: Setup) -> None:
    """With the right password the operation runs once and no refresh happens."""
    fake, service, cache = setup
    assert call(cache, service) == "session"
    assert (service.attempts, fake.calls["GetSecretValue"]) == (1, 1)


def test_single_user_rotation_window_uses_pending(setup: Setup) -> None:
    """Service already has the new password, AWSCURRENT still the old: AWSPENDING works."""
    fake, service, cache = setup
    cache.get("db")
    pending = fake.put_secret_value(
        SecretId="db", SecretString=secret("pw2"), VersionStages=["AWSPENDING"]
    )
    service.password = "pw2"  # setSecret done, finishSecret not yet
    assert call(cache, service) == "session"
    assert fake.calls["GetSecretValue"] == 3  # first read, AWSCURRENT refetch, AWSPENDING
    # Every later call goes straight to the credential that worked.
    for _ in range(20):
        call(cache, service)
    assert fake.calls["GetSecretValue"] == 3
    assert cache._working["db"][1].version_id == pending["VersionId"]


def test_rotation_finished_refreshes_current(setup: Setup) -> None:
    """After finishSecret, a rejected stale AWSCURRENT is refetched and retried."""
    fake, service, cache = setup
    cache.get("db")
    fake.rotate("db", secret("pw2"))
    service.password = "pw2"
    assert call(cache, service) == "session"
    assert service.attempts == 2
    assert cache.get("db").field("password") == "pw2"


def test_remembered_credential_yields_to_a_moved_current(setup: Setup, clock: ManualClock) -> None:
    """Once AWSCURRENT moves to another version, the remembered credential is dropped."""
    fake, service, cache = setup
    cache.get("db")
    fake.put_secret_value(SecretId="db", SecretString=secret("pw2"), VersionStages=["AWSPENDING"])
    service.password = "pw2"
    call(cache, service)
    fake.rotate("db", secret("pw2"))  # finishSecret (a new version with the same password)
    clock.advance(301)
    call(cache, service)
    assert "db" not in cache._working


def test_wrong_password_raises_after_deadline(setup: Setup, clock: ManualClock) -> None:
    """No candidate works: backoff until the deadline, then CredentialsRejectedError."""
    fake, service, cache = setup
    service.password = "something-else"
    with pytest.raises(CredentialsRejectedError, match="rejected for 10s") as info:
        call(cache, service, timeout_seconds=10)
    assert isinstance(info.value.__cause__, RejectedError)
    assert "pw1" not in str(info.value)
    assert sum(clock.slept) == pytest.approx(10, abs=0.01)
    assert max(clock.slept) <= 2.0  # backoff is capped
    # While backing off, each stage is refetched at most once a second.
    assert fake.calls["GetSecretValue"] <= 1 + 2 + 2 * 10


def test_other_errors_propagate_at_once(setup: Setup) -> None:
    """A failure that is not a rejection is raised as is, with no refresh."""
    fake, service, cache = setup
    service.down = True
    with pytest.raises(UnreachableError):
        call(cache, service)
    assert (service.attempts, fake.calls["GetSecretValue"]) == (1, 1)


def test_concurrent_callers_share_the_refresh(
    fake: FakeSecretsManager,
) -> None:
    """16 threads failing on the same old version cause a handful of calls, not 16."""
    fake.put_secret_value(SecretId="db", SecretString=secret("pw1"))
    cache = SecretCache(fake)
    service = ToyService("pw1")
    cache.get("db")
    fake.latency_seconds = 0.05
    fake.rotate("db", secret("pw2"))
    service.password = "pw2"
    barrier = threading.Barrier(16)
    results: list[str] = []

    def work() -> None:
        barrier.wait()
        results.append(call(cache, service))

    threads = [threading.Thread(target=work) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert results == ["session"] * 16
    assert fake.calls["GetSecretValue"] <= 3


def test_rotation_in_steps_under_repeated_calls(setup: Setup, clock: ManualClock) -> None:
    """Drive the single-user protocol step by step; every call succeeds throughout."""
    fake, service, cache = setup
    steps: list[Callable[[], object]] = [
        lambda: fake.put_secret_value(
            SecretId="db", SecretString=secret("pw2"), VersionStages=["AWSPENDING"]
        ),
        lambda: setattr(service, "password", "pw2"),
        lambda: fake.update_secret_version_stage(
            SecretId="db",
            VersionStage="AWSCURRENT",
            MoveToVersionId=fake.stages("db")["AWSPENDING"],
            RemoveFromVersionId=fake.stages("db")["AWSCURRENT"],
        ),
        lambda: fake.update_secret_version_stage(
            SecretId="db",
            VersionStage="AWSPENDING",
            RemoveFromVersionId=fake.stages("db")["AWSPENDING"],
        ),
    ]
    for step in steps:
        step()
        for _ in range(5):
            assert call(cache, service) == "session"
            clock.advance(30)
    assert fake.calls["GetSecretValue"] <= 5
