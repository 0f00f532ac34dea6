"""Rotation strategies against real servers: PostgreSQL (scram), MariaDB, moto's endpoint."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from secretcache.integrations.rotation import STEPS, RotationStep, rotate
from tests.integrations.rotation_support import (
    ENGINES,
    KINDS,
    Engine,
    Setup,
    assert_rotated_to,
    current_version,
    read,
)

pytestmark = pytest.mark.integration


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


@pytest.mark.parametrize("kind", KINDS)
def test_rotation_current_logs_in_and_stages_right(
    setup: Setup, engine: Engine, sm_client: Any, kind: str
) -> None:
    """After a rotation AWSCURRENT logs in with a new password; stages CURRENT/PREVIOUS only."""
    initial = setup.secret(kind)
    old = current_version(sm_client, setup.secret_name)
    token = rotate(sm_client, setup.secret_name, engine.strategy(kind))
    assert_rotated_to(sm_client, setup.secret_name, token, old)
    current = read(sm_client, setup.secret_name)
    assert current["password"] != initial["password"]
    assert engine.logs_in(current)
    assert read(sm_client, setup.secret_name, "AWSPREVIOUS") == initial


def test_single_user_old_password_rejected(setup: Setup, engine: Engine, sm_client: Any) -> None:
    """Single user: after a rotation the old password no longer logs in."""
    initial = setup.secret("single")
    rotate(sm_client, setup.secret_name, engine.strategy("single"))
    current = read(sm_client, setup.secret_name)
    assert current["username"] == initial["username"]
    assert engine.logs_in(current)
    assert not engine.logs_in(initial)


def test_alternating_previous_user_works_until_next_rotation(
    setup: Setup, engine: Engine, sm_client: Any
) -> None:
    """Alternating: the AWSPREVIOUS user keeps logging in; the next rotation changes its password."""
    initial = setup.secret("alternating")
    strategy = engine.strategy("alternating")
    rotate(sm_client, setup.secret_name, strategy)
    first = read(sm_client, setup.secret_name)
    assert first["username"] == initial["username"] + "_clone"
    assert engine.logs_in(first)
    assert engine.logs_in(initial)  # AWSPREVIOUS, untouched
    rotate(sm_client, setup.secret_name, strategy)
    second = read(sm_client, setup.secret_name)
    assert second["username"] == initial["username"]
    assert engine.logs_in(second)
    assert engine.logs_in(first)  # now AWSPREVIOUS
    assert not engine.logs_in(initial)  # the same user, its old password


def test_alternating_clone_has_the_original_grants(
    setup: Setup, engine: Engine, sm_client: Any
) -> None:
    """The clone user can read what the original user created in its database."""
    initial = setup.secret("alternating")
    conn = engine.server.connect(initial["username"], initial["password"], initial["dbname"])
    try:
        engine.query(conn, "CREATE TABLE owned (x INT)")
        engine.query(conn, "INSERT INTO owned VALUES (42)")
    finally:
        conn.close()
    rotate(sm_client, setup.secret_name, engine.strategy("alternating"))
    clone = read(sm_client, setup.secret_name)
    conn = engine.server.connect(clone["username"], clone["password"], clone["dbname"])
    try:
        assert engine.query(conn, "SELECT x FROM owned") == [(42,)]
    finally:
        conn.close()


@pytest.mark.parametrize("kind", KINDS)
def test_second_rotation_with_new_token(
    setup: Setup, engine: Engine, sm_client: Any, kind: str
) -> None:
    """A second rotation with a new token after a completed one works."""
    setup.secret(kind)
    strategy = engine.strategy(kind)
    first = rotate(sm_client, setup.secret_name, strategy)
    second = rotate(sm_client, setup.secret_name, strategy)
    assert_rotated_to(sm_client, setup.secret_name, second, first)
    assert engine.logs_in(read(sm_client, setup.secret_name))


@pytest.mark.parametrize("crash_after", STEPS, ids=str)
@pytest.mark.parametrize("kind", KINDS)
def test_crash_after_step_then_rerun_completes(
    setup: Setup, engine: Engine, sm_client: Any, kind: str, crash_after: RotationStep
) -> None:
    """Interrupted after any step, a re-run from the start with the same token completes."""
    initial = setup.secret(kind)
    old = current_version(sm_client, setup.secret_name)
    token = rotate(sm_client, setup.secret_name, engine.strategy(kind), stop_after=crash_after)
    rotate(sm_client, setup.secret_name, engine.strategy(kind), token=token)
    assert_rotated_to(sm_client, setup.secret_name, token, old)
    current = read(sm_client, setup.secret_name)
    assert current["password"] != initial["password"]
    assert engine.logs_in(current)


@pytest.mark.parametrize("kind", KINDS)
def test_rotate_without_token_finishes_interrupted_rotation(
    setup: Setup, engine: Engine, sm_client: Any, kind: str
) -> None:
    """After a crash past setSecret (server already changed), a plain rotate() completes it."""
    initial = setup.secret(kind)
    old = current_version(sm_client, setup.secret_name)
    token = rotate(sm_client, setup.secret_name, engine.strategy(kind), stop_after="setSecret")
    assert rotate(sm_client, setup.secret_name, engine.strategy(kind)) == token
    assert_rotated_to(sm_client, setup.secret_name, token, old)
    current = read(sm_client, setup.secret_name)
    assert engine.logs_in(current)
    assert engine.logs_in(initial) is (kind == "alternating")
