"""The four-step protocol against moto's server, with a user-written (API key) strategy."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from secretcache import SecretCacheError, SecretFormatError, SecretNotFoundError
from secretcache.integrations.rotation import (
    STEPS,
    PasswordPolicy,
    RotationContext,
    RotationStep,
    RotationStrategy,
    make_handler,
    rotate,
    run_step,
)
from tests.integrations.rotation_support import (
    assert_no_password_logged,
    assert_rotated_to,
    create_secret,
    current_version,
    read,
    stages,
)

pytestmark = pytest.mark.integration


class VendorApi:
    """A stand-in third-party service that issues API keys."""

    def __init__(self) -> None:
        self.live: set[str] = set()
        self.created = 0

    def create_key(self) -> str:
        self.created += 1
        key = f"key-{self.created}"
        self.live.add(key)
        return key


class ApiKeyStrategy(RotationStrategy):
    """What a user writes to rotate a third-party API key: a few lines."""

    def __init__(self, vendor: VendorApi) -> None:
        self.vendor = vendor
        self.sets = 0

    def create_credential(self, ctx: RotationContext) -> dict[str, Any]:
        return {**ctx.current, "api_key": self.vendor.create_key()}

    def set_credential(self, ctx: RotationContext) -> None:
        self.sets += 1  # the vendor made the key live when it issued it

    def test_credential(self, ctx: RotationContext) -> None:
        if ctx.pending["api_key"] not in self.vendor.live:
            raise RuntimeError("key rejected")


class PasswordStrategy(RotationStrategy):
    """The default create_credential (a GetRandomPassword password) and a no-op service."""

    def set_credential(self, ctx: RotationContext) -> None:
        pass

    def test_credential(self, ctx: RotationContext) -> None:
        pass


@pytest.fixture
def api_secret(sm_client: Any, secret_name: str) -> str:
    """A JSON secret holding an API key."""
    create_secret(sm_client, secret_name, {"api_key": "key-0", "account": "acme"})
    return secret_name


def test_rotate_moves_stages(sm_client: Any, api_secret: str) -> None:
    """After a rotation the token is AWSCURRENT, the old version AWSPREVIOUS, no AWSPENDING."""
    vendor = VendorApi()
    old = current_version(sm_client, api_secret)
    token = rotate(sm_client, api_secret, ApiKeyStrategy(vendor))
    assert_rotated_to(sm_client, api_secret, token, old)
    assert read(sm_client, api_secret) == {"api_key": "key-1", "account": "acme"}
    assert read(sm_client, api_secret, "AWSPREVIOUS")["api_key"] == "key-0"


def test_second_rotation_with_new_token(sm_client: Any, api_secret: str) -> None:
    """A second rotation with a new token moves AWSPREVIOUS to the first rotation's version."""
    strategy = ApiKeyStrategy(VendorApi())
    first = rotate(sm_client, api_secret, strategy)
    second = rotate(sm_client, api_secret, strategy)
    assert second != first
    assert_rotated_to(sm_client, api_secret, second, first)
    assert read(sm_client, api_secret)["api_key"] == "key-2"


def test_rerun_of_completed_rotation_changes_nothing(sm_client: Any, api_secret: str) -> None:
    """Re-running a finished rotation's token is a no-op: no new credential, same stages."""
    vendor = VendorApi()
    strategy = ApiKeyStrategy(vendor)
    old = current_version(sm_client, api_secret)
    token = rotate(sm_client, api_secret, strategy)
    rotate(sm_client, api_secret, strategy, token=token)
    assert vendor.created == 1
    assert strategy.sets == 1
    assert_rotated_to(sm_client, api_secret, token, old)


@pytest.mark.parametrize("crash_after", STEPS, ids=str)
def test_crash_after_step_then_rerun_completes(
    sm_client: Any, api_secret: str, crash_after: RotationStep
) -> None:
    """Interrupted after any step, a re-run with the same token completes the rotation once."""
    vendor = VendorApi()
    old = current_version(sm_client, api_secret)
    token = rotate(sm_client, api_secret, ApiKeyStrategy(vendor), stop_after=crash_after)
    rotate(sm_client, api_secret, ApiKeyStrategy(vendor), token=token)
    assert vendor.created == 1
    assert_rotated_to(sm_client, api_secret, token, old)
    assert read(sm_client, api_secret)["api_key"] == "key-1"


def test_crash_between_stage_move_and_pending_removal(sm_client: Any, api_secret: str) -> None:
    """If finishSecret died after moving AWSCURRENT, any re-run removes the stray AWSPENDING."""
    old = current_version(sm_client, api_secret)
    strategy = ApiKeyStrategy(VendorApi())
    token = rotate(sm_client, api_secret, strategy, stop_after=RotationStep.TEST)
    sm_client.update_secret_version_stage(
        SecretId=api_secret, VersionStage="AWSCURRENT", MoveToVersionId=token,
        RemoveFromVersionId=old,
    )  # fmt: skip
    assert "AWSPENDING" in stages(sm_client, api_secret)[token]
    rotate(sm_client, api_secret, strategy, token=token)
    assert_rotated_to(sm_client, api_secret, token, old)


def test_create_step_twice_keeps_first_value(sm_client: Any, api_secret: str) -> None:
    """createSecret repeated with the same token does not make a second credential."""
    vendor = VendorApi()
    strategy = ApiKeyStrategy(vendor)
    for _ in range(2):
        run_step(
            sm_client, api_secret, "t" * 32, "createSecret", strategy,
            require_rotation_enabled=False, allow_new_token=True,
        )  # fmt: skip
    assert vendor.created == 1
    assert read(sm_client, api_secret, "AWSPENDING")["api_key"] == "key-1"


@pytest.mark.parametrize("crash_after", STEPS[:3], ids=str)
def test_rotate_without_token_resumes_unfinished_rotation(
    sm_client: Any, api_secret: str, crash_after: RotationStep
) -> None:
    """rotate() without a token finishes an interrupted rotation instead of starting anew."""
    vendor = VendorApi()
    old = current_version(sm_client, api_secret)
    token = rotate(sm_client, api_secret, ApiKeyStrategy(vendor), stop_after=crash_after)
    assert rotate(sm_client, api_secret, ApiKeyStrategy(vendor)) == token
    assert vendor.created == 1
    assert_rotated_to(sm_client, api_secret, token, old)


def test_other_token_refused_while_rotation_unfinished(sm_client: Any, api_secret: str) -> None:
    """A new token is refused while another rotation holds AWSPENDING, as RotateSecret does."""
    strategy = ApiKeyStrategy(VendorApi())
    token = rotate(sm_client, api_secret, strategy, stop_after=RotationStep.SET)
    with pytest.raises(SecretCacheError, match="unfinished rotation") as info:
        rotate(sm_client, api_secret, strategy, token="w" * 32)
    assert info.value.code == "RotationInProgress"
    assert token in str(info.value)
    assert "AWSPENDING" in stages(sm_client, api_secret)[token]


def test_unknown_token_is_rejected(sm_client: Any, api_secret: str) -> None:
    """A step for a token that is not a version of the secret raises SecretNotFoundError."""
    with pytest.raises(SecretNotFoundError, match="is not a version"):
        run_step(
            sm_client, api_secret, "u" * 32, RotationStep.SET, ApiKeyStrategy(VendorApi()),
            require_rotation_enabled=False,
        )  # fmt: skip


def test_token_not_pending_is_rejected(sm_client: Any, api_secret: str) -> None:
    """A step for a version that is neither AWSCURRENT nor AWSPENDING is an error."""
    strategy = ApiKeyStrategy(VendorApi())
    first = rotate(sm_client, api_secret, strategy)
    rotate(sm_client, api_secret, strategy)
    with pytest.raises(SecretNotFoundError, match="not staged AWSPENDING"):
        run_step(
            sm_client, api_secret, first, RotationStep.SET, strategy,
            require_rotation_enabled=False,
        )  # fmt: skip


def test_handler_requires_rotation_enabled(sm_client: Any, api_secret: str) -> None:
    """The Lambda handler refuses a secret whose rotation is not enabled."""
    handler = make_handler(ApiKeyStrategy(VendorApi()), client=sm_client)
    event = {"SecretId": api_secret, "ClientRequestToken": "v" * 32, "Step": "createSecret"}
    with pytest.raises(SecretCacheError, match="rotation enabled") as info:
        handler(event, None)
    assert info.value.code == "RotationNotEnabled"


def test_handler_runs_the_steps(sm_client: Any, api_secret: str) -> None:
    """The handler dispatches setSecret/testSecret/finishSecret events to the protocol."""
    vendor = VendorApi()
    strategy = ApiKeyStrategy(vendor)
    old = current_version(sm_client, api_secret)
    token = rotate(sm_client, api_secret, strategy, stop_after="createSecret")
    handler = make_handler(strategy, client=sm_client, require_rotation_enabled=False)
    for step in ("setSecret", "testSecret", "finishSecret"):
        handler({"SecretId": api_secret, "ClientRequestToken": token, "Step": step}, None)
    assert strategy.sets == 1
    assert_rotated_to(sm_client, api_secret, token, old)


def test_handler_rejects_unknown_step(sm_client: Any, api_secret: str) -> None:
    """An event with an unknown Step is a ValueError, before any call."""
    handler = make_handler(ApiKeyStrategy(VendorApi()), client=sm_client)
    with pytest.raises(ValueError, match="not a Secrets Manager rotation event"):
        handler({"SecretId": api_secret, "ClientRequestToken": "x", "Step": "dance"}, None)


def test_failing_test_step_leaves_current_alone(sm_client: Any, api_secret: str) -> None:
    """If testSecret fails, AWSCURRENT does not move and the error propagates."""
    vendor = VendorApi()
    strategy = ApiKeyStrategy(vendor)
    old = current_version(sm_client, api_secret)
    token = rotate(sm_client, api_secret, strategy, stop_after=RotationStep.SET)
    vendor.live.clear()
    with pytest.raises(RuntimeError, match="key rejected"):
        rotate(sm_client, api_secret, strategy, token=token)
    assert stages(sm_client, api_secret) == {old: ["AWSCURRENT"], token: ["AWSPENDING"]}


def test_password_policy_is_applied(sm_client: Any, secret_name: str) -> None:
    """The default create_credential asks GetRandomPassword for the policy's password."""
    create_secret(sm_client, secret_name, {"username": "u", "password": "p0"})
    policy = PasswordPolicy(length=50, exclude_characters="aeiouAEIOU", exclude_punctuation=True)
    rotate(sm_client, secret_name, PasswordStrategy(), policy=policy)
    password = read(sm_client, secret_name)["password"]
    assert len(password) == 50
    assert password.isalnum()
    assert not set(password) & set("aeiouAEIOU")


def test_default_policy_excludes_quotes_and_slashes(sm_client: Any, secret_name: str) -> None:
    """By default passwords contain none of / @ " ' and backslash (as the AWS samples)."""
    create_secret(sm_client, secret_name, {"username": "u", "password": "p0"})
    for _ in range(3):
        rotate(sm_client, secret_name, PasswordStrategy())
        password = read(sm_client, secret_name)["password"]
        assert len(password) == 32
        assert not set(password) & set("/@\"'\\")


def test_policy_from_env() -> None:
    """PasswordPolicy.from_env reads the variables of the AWS rotation samples."""
    policy = PasswordPolicy.from_env(
        {"PASSWORD_LENGTH": "20", "EXCLUDE_CHARACTERS": ":", "EXCLUDE_PUNCTUATION": "true"}
    )
    assert policy == PasswordPolicy(length=20, exclude_characters=":", exclude_punctuation=True)
    assert PasswordPolicy.from_env({}) == PasswordPolicy()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"length": 3},
        {"length": 5000},
        {
            "exclude_numbers": True,
            "exclude_punctuation": True,
            "exclude_uppercase": True,
            "exclude_lowercase": True,
        },
    ],
)
def test_policy_validated_on_construction(kwargs: dict[str, Any]) -> None:
    """A policy that cannot make a password is refused when built, not at rotation time."""
    with pytest.raises(ValueError, match="password"):
        PasswordPolicy(**kwargs)


def test_missing_password_key_is_format_error(sm_client: Any, secret_name: str) -> None:
    """A secret without a password key fails createSecret with a message naming the key only."""
    create_secret(sm_client, secret_name, {"username": "u", "pass": "hunter2-value"})
    with pytest.raises(SecretFormatError, match="'password'") as info:
        rotate(sm_client, secret_name, PasswordStrategy())
    assert "hunter2-value" not in str(info.value)
    assert "AWSPENDING" not in str(stages(sm_client, secret_name))


def test_non_json_secret_is_format_error(sm_client: Any, secret_name: str) -> None:
    """A secret that is not a JSON object cannot be rotated, and the value is not quoted."""
    sm_client.create_secret(Name=secret_name, SecretString="plain-secret-text")
    with pytest.raises(SecretFormatError, match="not a JSON object") as info:
        rotate(sm_client, secret_name, PasswordStrategy())
    assert "plain-secret-text" not in str(info.value)


def test_missing_secret_is_not_found(sm_client: Any, secret_name: str) -> None:
    """Rotating a secret that does not exist raises SecretNotFoundError."""
    with pytest.raises(SecretNotFoundError):
        rotate(sm_client, secret_name, PasswordStrategy())


def test_debug_logs_hold_no_password(
    sm_client: Any, secret_name: str, caplog: pytest.LogCaptureFixture
) -> None:
    """With every logger at DEBUG (botocore's bodies included) no password is logged."""
    create_secret(sm_client, secret_name, {"username": "u", "password": "initial-pw-123"})
    caplog.set_level(logging.DEBUG)
    for name in ("botocore", "secretcache"):  # whatever levels other code left on them
        caplog.set_level(logging.DEBUG, logger=name)
    rotate(sm_client, secret_name, PasswordStrategy())
    rotate(sm_client, secret_name, PasswordStrategy())
    passwords = {
        "initial-pw-123",
        read(sm_client, secret_name)["password"],
        read(sm_client, secret_name, "AWSPREVIOUS")["password"],
    }
    assert any(r.name.startswith("botocore") for r in caplog.records)
    assert any(r.name == "secretcache.integrations.rotation" for r in caplog.records)
    assert_no_password_logged(caplog.records, passwords, caplog.text)


def test_public_api_is_pinned() -> None:
    """The rotation package exports exactly its documented names."""
    from secretcache.integrations import rotation

    assert rotation.__all__ == [
        "DEFAULT_EXCLUDE_CHARACTERS",
        "STEPS",
        "PasswordPolicy",
        "RotationClient",
        "RotationContext",
        "RotationStep",
        "RotationStrategy",
        "SecretDict",
        "make_handler",
        "rotate",
        "run_step",
    ]
    assert all(hasattr(rotation, name) for name in rotation.__all__)


def test_reprs_hold_no_secret(sm_client: Any, api_secret: str) -> None:
    """A context's and a parsed login's repr show identifiers only."""
    from secretcache.integrations.rotation._db import Login

    login = Login(host="h", port=1, username="u", password="pw-in-repr-123")
    assert "pw-in-repr-123" not in repr(login)
    ctx = RotationContext(sm_client, api_secret, "t" * 32, policy=PasswordPolicy())
    assert ctx.current["api_key"] == "key-0"
    assert "key-0" not in repr(ctx)


def test_engine_mismatch_error_quotes_no_secret_text(sm_client: Any, api_secret: str) -> None:
    """A wrong engine is named in the error; free text there (a pasted password) is not."""
    pytest.importorskip("psycopg")
    from secretcache.integrations.rotation.postgresql import SingleUser

    ctx = RotationContext(sm_client, api_secret, "t" * 32, policy=PasswordPolicy())
    login = {"host": "h", "username": "u", "password": "p"}
    with pytest.raises(SecretFormatError, match="is for engine 'mysql', not PostgreSQL"):
        SingleUser().login({**login, "engine": "mysql"}, ctx, "AWSCURRENT")
    with pytest.raises(SecretFormatError, match="is for engine, not PostgreSQL") as caught:
        SingleUser().login({**login, "engine": "hunter2 secret!"}, ctx, "AWSCURRENT")
    assert "hunter2" not in str(caught.value)
