"""The public surface: what ``secretcache`` exports, and what importing it costs."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import secretcache
from secretcache import SecretCache, default_cache, set_default_cache


def test_all_is_pinned() -> None:
    """__all__ is sorted and exactly the documented names."""
    assert secretcache.__all__ == sorted(secretcache.__all__)
    assert set(secretcache.__all__) >= {
        "SecretCache",
        "SecretValue",
        "Stage",
        "default_cache",
        "SecretCacheError",
        "SecretNotFoundError",
        "SecretAccessDeniedError",
        "SecretUnavailableError",
        "SecretFormatError",
        "CredentialsRejectedError",
    }
    for name in secretcache.__all__:
        assert getattr(secretcache, name) is not None


def test_import_does_not_load_boto3_or_integrations() -> None:
    """``import secretcache`` loads neither boto3/botocore nor any integration's library."""
    code = (
        "import sys, secretcache\n"
        "heavy = {'boto3', 'botocore', 'sqlalchemy', 'psycopg', 'pymysql', 'pydantic_settings',"
        " 'pydantic', 'moto'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_import_time_profile_has_no_boto3() -> None:
    """-X importtime lists no boto3 or botocore module under ``import secretcache``."""
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import secretcache"],
        capture_output=True,
        text=True,
        check=True,
    )
    modules = [line.rsplit("|", 1)[-1].strip() for line in out.stderr.splitlines()]
    assert "secretcache" in modules
    assert not [m for m in modules if m.split(".")[0] in {"boto3", "botocore"}]


def test_default_cache_is_shared_and_replaceable() -> None:
    """default_cache() returns one instance until replaced."""
    set_default_cache(None)
    try:
        first = default_cache()
        assert default_cache() is first
        mine = SecretCache(object())  # type: ignore[arg-type]  # never called
        set_default_cache(mine)
        assert default_cache() is mine
    finally:
        set_default_cache(None)


def test_default_client_config(monkeypatch: pytest.MonkeyPatch) -> None:
    """The lazily created client has bounded timeouts, standard retries and our user agent."""
    monkeypatch.setenv("AWS_REGION", "eu-west-3")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    client = secretcache.create_client()
    config = client.meta.config  # type: ignore[attr-defined]
    assert client.meta.region_name == "eu-west-3"  # type: ignore[attr-defined]
    assert (config.connect_timeout, config.read_timeout) == (2, 5)
    assert config.retries["mode"] == "standard"
    assert "secretcache/" in config.user_agent_extra


def test_missing_region_is_a_typed_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """With no region anywhere, the first read raises SecretAccessDeniedError (configuration)."""
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_CONFIG_FILE", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    with pytest.raises(secretcache.SecretAccessDeniedError, match="not configured"):
        SecretCache().get("x")


def test_default_client_needs_no_boto3_import() -> None:
    """Without a boto3 default session, the client comes from botocore alone (faster cold start)."""
    code = (
        "import sys, secretcache\n"
        "secretcache.create_client(region_name='us-east-1')\n"
        "print('boto3' in sys.modules, 'botocore' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]


def test_default_client_uses_boto3_default_session_when_set_up() -> None:
    """An application's boto3.setup_default_session() (profile, credentials) is honoured."""
    code = (
        "import boto3, secretcache\n"
        "boto3.setup_default_session(region_name='ap-south-1', aws_access_key_id='a',"
        " aws_secret_access_key='b')\n"
        "client = secretcache.create_client()\n"
        "print(client.meta.region_name, client._request_signer._credentials.access_key)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert out.stdout.split() == ["ap-south-1", "a"]


def test_prefetch_without_a_region_reports_each_id_and_counts_no_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An unconfigured client fails every id with its own typed error; no API call is counted."""
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    cache = SecretCache()
    result = cache.prefetch(["a", "b"])
    assert set(result.errors) == {"a", "b"}
    assert all(isinstance(e, secretcache.SecretAccessDeniedError) for e in result.errors.values())
    assert "'b'" in str(result.errors["b"])
    assert result.errors["a"].__cause__ is not None
    assert (result.api_calls, cache.stats().api_calls, cache.stats().errors) == (0, 0, 2)
