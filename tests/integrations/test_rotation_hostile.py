"""Rotation with hostile values, clear errors, and no password in any log line or message."""

from __future__ import annotations

import json
import logging
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from secretcache import (
    CredentialsRejectedError,
    SecretFormatError,
    SecretNotFoundError,
)
from secretcache.integrations.rotation import PasswordPolicy, rotate
from tests.integrations.rotation_support import (
    ENGINES,
    KINDS,
    Engine,
    Setup,
    assert_no_password_logged,
    assert_rotated_to,
    current_version,
    read,
    stages,
)

pytestmark = pytest.mark.integration

HOSTILE_PASSWORD = "p'a\"s\\s%w;d -- é😀 $1 @/"
# GetRandomPassword may then return any printable character, quotes and backslash included.
ANY_CHARACTER = PasswordPolicy(length=40, exclude_characters="")


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> Engine:
    """Each database engine in turn."""
    fixture = "pg_server" if request.param == "postgres" else "mariadb_server"
    return Engine(request.param, request.getfixturevalue(fixture))


@pytest.fixture
def setup(engine: Engine, sm_client: Any, secret_name: str) -> Iterator[Setup]:
    """Logins and secrets for one test, dropped afterwards."""
    helper = Setup(engine, sm_client, secret_name)
    yield helper
    helper.cleanup()


def hostile_username() -> str:
    """Quotes, backslash, %, _ and non-ASCII; short enough for MySQL once suffixed _clone."""
    return f"o'b\"\\%é用_{uuid.uuid4().hex[:8]}"


@pytest.mark.parametrize("kind", KINDS)
def test_hostile_username_and_passwords(
    setup: Setup, engine: Engine, sm_client: Any, kind: str
) -> None:
    """Quotes, backslashes, % and unicode in names and passwords survive two rotations."""
    initial = setup.secret(kind, username=hostile_username(), password=HOSTILE_PASSWORD)
    assert engine.logs_in(initial)
    strategy = engine.strategy(kind)
    first = rotate(sm_client, setup.secret_name, strategy, policy=ANY_CHARACTER)
    second = rotate(sm_client, setup.secret_name, strategy, policy=ANY_CHARACTER)
    assert_rotated_to(sm_client, setup.secret_name, second, first)
    current = read(sm_client, setup.secret_name)
    assert current["username"] == initial["username"]
    assert engine.logs_in(current)
    if kind == "single":
        assert not engine.logs_in(initial)
    else:
        assert engine.logs_in(read(sm_client, setup.secret_name, "AWSPREVIOUS"))


def test_port_given_as_string(setup: Setup, engine: Engine, sm_client: Any) -> None:
    """An RDS-style secret whose port is a string rotates like one with an integer port."""
    setup.secret("single")
    value = read(sm_client, setup.secret_name)
    sm_client.put_secret_value(
        SecretId=setup.secret_name, SecretString=json.dumps({**value, "port": str(value["port"])})
    )
    rotate(sm_client, setup.secret_name, engine.strategy("single"))
    current = read(sm_client, setup.secret_name)
    assert current["port"] == str(value["port"])
    assert engine.logs_in(current)


def long_username(engine: Engine) -> str:
    """A valid user name whose clone name is over the engine's limit (63 bytes / 32 chars)."""
    suffix = uuid.uuid4().hex[:6]
    if engine.name == "postgres":
        return "é" * 28 + suffix  # 62 bytes; with _clone, 68
    return "u" * 21 + suffix  # 27 characters; with _clone, 33


def test_clone_name_too_long_is_clear_error(setup: Setup, engine: Engine, sm_client: Any) -> None:
    """A user name whose clone would be too long fails createSecret, before any change."""
    initial = setup.secret("alternating", username=long_username(engine))
    old = current_version(sm_client, setup.secret_name)
    with pytest.raises(SecretFormatError, match="is longer than"):
        rotate(sm_client, setup.secret_name, engine.strategy("alternating"))
    assert stages(sm_client, setup.secret_name) == {old: ["AWSCURRENT"]}
    assert engine.logs_in(initial)


def test_missing_master_secret_is_clear_error(setup: Setup, engine: Engine, sm_client: Any) -> None:
    """A masterarn naming no secret fails setSecret with SecretNotFoundError; nothing moves."""
    missing = f"arn:aws:secretsmanager:us-east-1:123456789012:secret:nope-{uuid.uuid4().hex[:6]}"
    initial = setup.secret("alternating", masterarn=missing)
    old = current_version(sm_client, setup.secret_name)
    with pytest.raises(SecretNotFoundError, match="master secret") as info:
        rotate(sm_client, setup.secret_name, engine.strategy("alternating"))
    assert missing in str(info.value)
    assert read(sm_client, setup.secret_name) == initial
    assert current_version(sm_client, setup.secret_name) == old
    assert engine.logs_in(initial)


def test_missing_masterarn_key_is_format_error(
    setup: Setup, engine: Engine, sm_client: Any
) -> None:
    """An alternating rotation of a secret without masterarn names the missing key."""
    setup.secret("single")
    with pytest.raises(SecretFormatError, match="'masterarn'"):
        rotate(sm_client, setup.secret_name, engine.strategy("alternating"))


def test_rejected_master_is_credentials_error(setup: Setup, engine: Engine, sm_client: Any) -> None:
    """A master secret with a wrong password: CredentialsRejectedError, password not quoted."""
    master = engine.create_master()
    setup.track(master.username)
    wrong = master.secret(password="wrong-master-pw-123")
    arn = sm_client.create_secret(Name=setup.master_name, SecretString=json.dumps(wrong))["ARN"]
    setup.secret("alternating", masterarn=arn)
    with pytest.raises(CredentialsRejectedError, match="master secret") as info:
        rotate(sm_client, setup.secret_name, engine.strategy("alternating"))
    assert "wrong-master-pw-123" not in str(info.value)


def test_single_user_recovers_with_previous_password(
    setup: Setup, engine: Engine, sm_client: Any
) -> None:
    """setSecret logs in with AWSPREVIOUS when the server went back to the previous password."""
    initial = setup.secret("single")
    rotate(sm_client, setup.secret_name, engine.strategy("single"))
    engine.server.set_password(initial["username"], initial["password"])  # a restored snapshot
    rotate(sm_client, setup.secret_name, engine.strategy("single"))
    assert engine.logs_in(read(sm_client, setup.secret_name))
    assert not engine.logs_in(initial)


def test_single_user_no_working_password(setup: Setup, engine: Engine, sm_client: Any) -> None:
    """If no stage's password logs in, setSecret raises CredentialsRejectedError; nothing moves."""
    initial = setup.secret("single")
    old = current_version(sm_client, setup.secret_name)
    engine.server.set_password(initial["username"], "changed-behind-our-back")
    with pytest.raises(CredentialsRejectedError, match="AWSPENDING, AWSCURRENT and AWSPREVIOUS"):
        rotate(sm_client, setup.secret_name, engine.strategy("single"))
    assert current_version(sm_client, setup.secret_name) == old


def test_secret_for_another_engine_is_refused(setup: Setup, engine: Engine, sm_client: Any) -> None:
    """A secret whose engine is not the strategy's is a SecretFormatError at createSecret."""
    value = setup.secret("single")
    other = "mysql" if engine.name == "postgres" else "postgres"
    sm_client.put_secret_value(
        SecretId=setup.secret_name, SecretString=json.dumps({**value, "engine": other})
    )
    with pytest.raises(SecretFormatError, match="engine"):
        rotate(sm_client, setup.secret_name, engine.strategy("single"))


@pytest.mark.parametrize("kind", KINDS)
def test_no_password_in_debug_logs(
    setup: Setup, engine: Engine, sm_client: Any, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Every logger at DEBUG through two rotations and a failed one: no password appears."""
    caplog.set_level(logging.DEBUG)
    for name in ("botocore", "secretcache"):  # whatever levels other code left on them
        caplog.set_level(logging.DEBUG, logger=name)
    initial = setup.secret(kind, password=HOSTILE_PASSWORD)
    strategy = engine.strategy(kind)
    rotate(sm_client, setup.secret_name, strategy)
    rotate(sm_client, setup.secret_name, strategy)
    passwords = {
        initial["password"],
        read(sm_client, setup.secret_name)["password"],
        read(sm_client, setup.secret_name, "AWSPREVIOUS")["password"],
    }
    if kind == "alternating":
        passwords.add(read(sm_client, setup.master_name)["password"])
    current = read(sm_client, setup.secret_name)
    engine.server.set_password(current["username"], "behind-our-back-pw")
    passwords.add("behind-our-back-pw")
    with pytest.raises(CredentialsRejectedError) as info:
        rotate(sm_client, setup.secret_name, engine.strategy("single"))
    passwords.add(read(sm_client, setup.secret_name, "AWSPENDING")["password"])
    assert any(r.name.startswith("botocore") for r in caplog.records)
    assert_no_password_logged(caplog.records, passwords, caplog.text, str(info.value))


@pytest.mark.parametrize(
    ("module", "driver", "extra"),
    [("postgresql", "psycopg", "psycopg"), ("mysql", "pymysql", "pymysql")],
)
def test_missing_driver_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, module: str, driver: str, extra: str
) -> None:
    """Without the driver, building a strategy raises ImportError naming the extra."""
    import importlib

    strategies = importlib.import_module(f"secretcache.integrations.rotation.{module}")
    monkeypatch.setitem(sys.modules, driver, None)
    with pytest.raises(ImportError, match=rf"pip install 'secretcache\[{extra}\]'"):
        strategies.SingleUser()
