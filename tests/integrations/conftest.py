"""Fixtures the DB integration tests share; each module gives its own ``login``."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from secretcache import SecretCache
from tests.servers import DbLogin


@pytest.fixture
def secret(sm_client: Any, secret_name: str, login: DbLogin) -> str:
    """An RDS-style secret for the module's login; its name."""
    sm_client.create_secret(Name=secret_name, SecretString=json.dumps(login.secret()))
    return secret_name


@pytest.fixture
def cache(make_client: Callable[..., Any]) -> SecretCache:
    """A cache on its own moto client."""
    return SecretCache(make_client())
