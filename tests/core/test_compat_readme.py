"""The AWS library's README examples run against secretcache.compat, through moto's server.

The snippets are aws-secretsmanager-caching 1.2.0's README, verbatim; only the import
line changes. When the AWS library is installed, a test checks that its README still
holds these snippets, so a drift upstream shows up here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

pytestmark = pytest.mark.integration

USAGE = """\
import botocore
import botocore.session
from aws_secretsmanager_caching import SecretCache, SecretCacheConfig

client = botocore.session.get_session().create_client('secretsmanager')
cache_config = SecretCacheConfig() # See below for defaults
cache = SecretCache(config=cache_config, client=client)

secret = cache.get_secret_string('mysecret')
"""

REFRESH = """\
refreshed = cache.refresh_secret_now('mysecret')  # bool
secret = cache.get_secret_string('mysecret')
"""

DECORATORS = """\
from aws_secretsmanager_caching import SecretCache
from aws_secretsmanager_caching import InjectKeywordedSecretString, InjectSecretString

cache = SecretCache()

@InjectKeywordedSecretString(secret_id='mysecret', cache=cache, func_username='username', func_password='password')
def function_to_be_decorated(func_username, func_password):
    print('Something cool is being done with the func_username and func_password arguments here')
    ...

@InjectSecretString('mysimplesecret', cache)
def function_to_be_decorated(arg1, arg2, arg3):
    # arg1 contains the cache lookup result of the 'mysimplesecret' secret.
    # arg2 and arg3, in this example, must still be passed when calling function_to_be_decorated().
"""

# As published, the last example's function has only comments for a body, which is a
# SyntaxError whichever library is imported; the test gives it one.
DECORATORS_BODY = "    return arg1, arg2, arg3\n"


def migrated(snippet: str) -> str:
    """The one change a migration makes: the import."""
    return snippet.replace(
        "from aws_secretsmanager_caching import", "from secretcache.compat import"
    )


class Recording(dict[str, Any]):
    """Module namespace that keeps every function bound to a name, redefinitions included."""

    def __init__(self) -> None:
        super().__init__()
        self.history: list[tuple[str, Any]] = []

    def __setitem__(self, key: str, value: Any) -> None:
        self.history.append((key, value))
        super().__setitem__(key, value)


@pytest.fixture
def readme_secrets(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The README's secrets on moto, which the default client finds through the environment.

    moto's state is per process, so the README's fixed names are deleted afterwards.
    Yields a botocore client to moto.
    """
    import boto3

    for name, value in {
        "AWS_ENDPOINT_URL_SECRETS_MANAGER": moto_endpoint,
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(name, value)
    client: Any = boto3.client("secretsmanager")
    secrets = {
        "mysecret": json.dumps({"username": "readme-user", "password": "pw1"}),
        "mysimplesecret": "simple-value",
    }
    for name, value in secrets.items():
        client.create_secret(Name=name, SecretString=value)
    yield client
    for name in secrets:
        client.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)


def rotate(client: Any, name: str, value: str) -> None:
    """AWSPENDING → AWSCURRENT, done explicitly (moto runs no rotation Lambda)."""
    stages = client.describe_secret(SecretId=name)["VersionIdsToStages"]
    old = next(v for v, s in stages.items() if "AWSCURRENT" in s)
    new = client.put_secret_value(SecretId=name, SecretString=value, VersionStages=["AWSPENDING"])
    client.update_secret_version_stage(
        SecretId=name,
        VersionStage="AWSCURRENT",
        MoveToVersionId=new["VersionId"],
        RemoveFromVersionId=old,
    )
    client.update_secret_version_stage(
        SecretId=name, VersionStage="AWSPENDING", RemoveFromVersionId=new["VersionId"]
    )


def test_usage_and_forced_refresh_examples(readme_secrets: Any) -> None:
    """Usage, then Forcing a Refresh: the value, and the rotated value after the refresh."""
    namespace: dict[str, Any] = {}
    exec(compile(migrated(USAGE), "README:usage", "exec"), namespace)  # noqa: S102  # fixed text
    assert type(namespace["cache"]).__module__ == "secretcache.compat"
    assert json.loads(namespace["secret"])["username"] == "readme-user"
    rotate(readme_secrets, "mysecret", json.dumps({"username": "readme-user", "password": "pw2"}))
    exec(compile(REFRESH, "README:refresh", "exec"), namespace)  # noqa: S102  # fixed text
    assert namespace["refreshed"] is True
    assert json.loads(namespace["secret"])["password"] == "pw2"


def test_decorator_examples(readme_secrets: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """Decorators: the keyworded one gets username/password, the other the secret first."""
    namespace = Recording()
    code = migrated(DECORATORS) + DECORATORS_BODY
    exec(compile(code, "README:decorators", "exec"), {}, namespace)  # noqa: S102  # fixed text
    keyworded, positional = [v for k, v in namespace.history if k == "function_to_be_decorated"]
    keyworded()
    assert "Something cool" in capsys.readouterr().out
    assert positional("two", "three") == ("simple-value", "two", "three")
    assert namespace["cache"].backend.stats().api_calls == 2  # one per secret, then hits
    for _ in range(10):
        keyworded()
        positional(2, 3)
    assert namespace["cache"].backend.stats().api_calls == 2


def test_readme_still_has_these_examples() -> None:
    """The installed AWS library's README (its package description) contains them verbatim."""
    pytest.importorskip("aws_secretsmanager_caching")
    from importlib.metadata import metadata

    readme = metadata("aws_secretsmanager_caching").get_payload()  # type: ignore[attr-defined]
    blocks = re.findall(r"^```python\n(.*?)^```", readme, flags=re.MULTILINE | re.DOTALL)
    assert blocks == [USAGE, REFRESH, DECORATORS]
