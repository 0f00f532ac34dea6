"""SecretsManagerSettingsSource: BaseSettings filled from JSON secrets through the cache."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest

pytest.importorskip("pydantic_settings")

from pydantic import AliasChoices, AliasPath, BaseModel, Field, SecretStr, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from secretcache import SecretCache, set_default_cache
from secretcache.integrations.pydantic_settings import SecretsManagerSettingsSource
from secretcache.testing import FakeSecretsManager

PASSWORD = "pw-Zq8#secret"
API_KEY = "api-K3y-secret"
HOST = "db.internal.example"
SECRET_VALUES = (PASSWORD, API_KEY, HOST, "5432", "u-secret-user")


@pytest.fixture
def fake() -> FakeSecretsManager:
    """A fake with an app secret (nested objects), a shared one and a binary one."""
    fake = FakeSecretsManager()
    fake.create_secret(
        Name="prod/app",
        SecretString=json.dumps(
            {
                "API_KEY": API_KEY,
                "Db": {"Host": HOST, "port": 5432, "Password": PASSWORD},
                "features": {"beta": True, "limits": {"rps": 50}},
                "tags": ["a", "b"],
                "proxy": None,
            }
        ),
    )
    fake.create_secret(
        Name="shared/app",
        SecretString=json.dumps(
            {
                "api_key": "shared-key",
                "db": {"host": "shared-host", "user": "u-secret-user"},
                "region": "eu-west-1",
            }
        ),
    )
    fake.create_secret(Name="prod/cert", SecretBinary=b"\x00\x01-cert-bytes")
    fake.create_secret(Name="prod/small", SecretString=json.dumps({"api_key": API_KEY}))
    fake.create_secret(Name="prod/list", SecretString='["not", "an", "object"]')
    fake.create_secret(Name="prod/broken", SecretString='{"password": "' + PASSWORD + '",')
    return fake


@pytest.fixture
def cache(fake: FakeSecretsManager) -> Iterator[SecretCache]:
    """A cache on the fake."""
    cache = SecretCache(fake)
    yield cache
    cache.close()


def settings_class(
    base: type[BaseSettings], secret_id: str | Sequence[str], **options: Any
) -> type[BaseSettings]:
    """``base`` with our source as its only source (after init kwargs)."""

    class Configured(base):  # type: ignore[valid-type,misc]
        @classmethod
        def settings_customise_sources(
            cls, settings_cls: type[BaseSettings], **sources: PydanticBaseSettingsSource
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            return (
                sources["init_settings"],
                SecretsManagerSettingsSource(settings_cls, secret_id, **options),
            )

    Configured.__name__ = base.__name__
    return Configured


class Db(BaseModel):
    host: str
    port: int = 5432
    password: SecretStr
    user: str = "app"


class Limits(BaseModel):
    rps: int


class Features(BaseModel):
    beta: bool
    limits: Limits


class AppSettings(BaseSettings):
    api_key: SecretStr
    db: Db
    features: Features
    tags: list[str]
    proxy: str | None = "default-proxy"


def assert_no_secret(text: str) -> None:
    """No secret value, nor the start of one (reprs get truncated), appears in ``text``."""
    for value in SECRET_VALUES:
        assert value[:6] not in text, f"{value!r} leaked"


def test_nested_objects_fill_nested_models(cache: SecretCache) -> None:
    """JSON objects fill nested models (two levels), keys matched case-insensitively."""
    settings: Any = settings_class(AppSettings, "prod/app", cache=cache)()
    assert settings.db.host == HOST
    assert settings.db.port == 5432
    assert settings.db.password.get_secret_value() == PASSWORD
    assert settings.features.limits.rps == 50
    assert settings.features.beta is True
    assert settings.tags == ["a", "b"]


def test_secret_str_fields_and_plain_types(cache: SecretCache) -> None:
    """SecretStr hides the value; validated fields hold plain str/int, not wrappers."""
    settings: Any = settings_class(AppSettings, "prod/app", cache=cache)()
    assert settings.api_key.get_secret_value() == API_KEY
    assert type(settings.db.host) is str
    assert type(settings.db.port) is int
    assert_no_secret(repr(settings.api_key) + repr(settings.db.password))


def test_json_null_sets_none(cache: SecretCache) -> None:
    """A top-level JSON null sets an optional field to None (not its default)."""
    settings: Any = settings_class(AppSettings, "prod/app", cache=cache)()
    assert settings.proxy is None


def test_aliases(cache: SecretCache) -> None:
    """alias, AliasChoices and AliasPath are honoured as pydantic-settings does."""

    class Aliased(BaseSettings):
        key: SecretStr = Field(alias="api_key")
        region: str = Field(validation_alias=AliasChoices("aws_region", "region"))
        db_host: str = Field(validation_alias=AliasPath("db", "host"))

    settings: Any = settings_class(Aliased, "shared/app", cache=cache)()
    assert settings.key.get_secret_value() == "shared-key"
    assert settings.region == "eu-west-1"
    assert settings.db_host == "shared-host"


def test_case_sensitive_settings_match_exactly(cache: SecretCache) -> None:
    """With case_sensitive=True, ``API_KEY`` does not fill ``api_key``."""

    class Exact(BaseSettings):
        model_config = SettingsConfigDict(case_sensitive=True)
        API_KEY: str
        api_key: str = "unset"

    settings: Any = settings_class(Exact, "prod/app", cache=cache)()
    assert (settings.API_KEY, settings.api_key) == (API_KEY, "unset")


def test_multiple_secrets_first_has_precedence(cache: SecretCache) -> None:
    """Earlier secrets win; objects are merged key by key."""

    class Merged(BaseSettings):
        api_key: str
        db: Db
        region: str

    settings: Any = settings_class(Merged, ["prod/app", "shared/app"], cache=cache)()
    assert settings.api_key == API_KEY  # prod/app wins
    assert settings.db.host == HOST  # prod/app wins inside the object
    assert settings.db.user == "u-secret-user"  # only shared/app has it
    assert settings.region == "eu-west-1"
    reverse: Any = settings_class(Merged, ["shared/app", "prod/app"], cache=cache)()
    assert (reverse.api_key, reverse.db.host) == ("shared-key", "shared-host")


def test_init_kwargs_and_env_keep_their_priority(
    cache: SecretCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sources earlier in settings_customise_sources win over the secret."""

    class Ordered(BaseSettings):
        api_key: str
        region: str

        @classmethod
        def settings_customise_sources(
            cls, settings_cls: type[BaseSettings], **sources: PydanticBaseSettingsSource
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            return (
                sources["init_settings"],
                sources["env_settings"],
                SecretsManagerSettingsSource(settings_cls, "shared/app", cache=cache),
            )

    monkeypatch.setenv("REGION", "from-env")
    settings = Ordered(api_key="from-init")
    assert (settings.api_key, settings.region) == ("from-init", "from-env")


def test_binary_secret_fills_the_named_bytes_field(cache: SecretCache) -> None:
    """binary_field names the bytes field a binary secret fills; repr hides it."""

    class WithCert(BaseSettings):
        region: str
        cert: bytes

    settings: Any = settings_class(
        WithCert, ["prod/cert", "shared/app"], cache=cache, binary_field="cert"
    )()
    assert settings.cert == b"\x00\x01-cert-bytes"
    assert isinstance(settings.cert, bytes)
    assert "cert-bytes" not in repr(settings)
    assert settings.region == "eu-west-1"


def test_binary_secret_without_binary_field_is_a_settings_error(cache: SecretCache) -> None:
    """A binary secret and no binary_field: SettingsError saying what to pass."""

    class WithCert(BaseSettings):
        cert: bytes = b""

    with pytest.raises(SettingsError, match="binary_field="):
        settings_class(WithCert, "prod/cert", cache=cache)()


def test_binary_field_must_be_a_field() -> None:
    """An unknown binary_field is refused when the source is built."""

    class WithCert(BaseSettings):
        cert: bytes = b""

    with pytest.raises(ValueError, match="not a field"):
        SecretsManagerSettingsSource(WithCert, "x", binary_field="certificate")


def test_stage_and_version_id(cache: SecretCache, fake: FakeSecretsManager) -> None:
    """stage= and version_id= read that version of the secret."""

    class Key(BaseSettings):
        api_key: str

    pending = fake.put_secret_value(
        SecretId="shared/app", SecretString='{"api_key": "next-key"}', VersionStages=["AWSPENDING"]
    )
    current: Any = settings_class(Key, "shared/app", cache=cache)()
    staged: Any = settings_class(Key, "shared/app", cache=cache, stage="AWSPENDING")()
    pinned: Any = settings_class(Key, "shared/app", cache=cache, version_id=pending["VersionId"])()
    assert (current.api_key, staged.api_key, pinned.api_key) == (
        "shared-key",
        "next-key",
        "next-key",
    )


def test_invalid_combinations_are_refused() -> None:
    """stage with version_id, a version id for several secrets, no secret id."""
    with pytest.raises(ValueError, match="either stage or version_id"):
        SecretsManagerSettingsSource(AppSettings, "a", stage="AWSPENDING", version_id="v")
    with pytest.raises(ValueError, match="single secret_id"):
        SecretsManagerSettingsSource(AppSettings, ["a", "b"], version_id="v")
    with pytest.raises(ValueError, match="non-empty"):
        SecretsManagerSettingsSource(AppSettings, [])


def test_missing_key_is_a_validation_error_without_values(cache: SecretCache) -> None:
    """A field the secret lacks: pydantic's "Field required", showing no secret value."""

    class NeedsMore(AppSettings):
        webhook_url: str

    with pytest.raises(ValidationError) as caught:
        settings_class(NeedsMore, ["prod/app", "shared/app"], cache=cache)()
    errors = caught.value.errors()
    assert [(e["loc"], e["type"]) for e in errors] == [(("webhook_url",), "missing")]
    assert_no_secret(str(caught.value))
    assert_no_secret(repr(caught.value))


def test_missing_key_of_a_small_secret_shows_no_value(cache: SecretCache) -> None:
    """The "Field required" input dict, short enough to print whole, shows masks only."""

    class Pair(BaseSettings):
        api_key: str
        webhook_url: str

    with pytest.raises(ValidationError) as caught:
        settings_class(Pair, "prod/small", cache=cache)()
    assert "'api_key': '**********'" in str(caught.value)
    assert_no_secret(str(caught.value))


def test_wrong_type_is_a_validation_error_without_values(cache: SecretCache) -> None:
    """A value of the wrong type is reported by field, its value masked."""

    class Wrong(BaseSettings):
        db: Db
        api_key: int

    with pytest.raises(ValidationError) as caught:
        settings_class(Wrong, "prod/app", cache=cache)()
    assert caught.value.errors()[0]["loc"] == ("api_key",)
    assert_no_secret(str(caught.value))


def test_missing_secret_is_a_settings_error(cache: SecretCache) -> None:
    """No such secret: SettingsError naming the settings class and the secret."""
    with pytest.raises(SettingsError, match=r"AppSettings.*'prod/nope' not found") as caught:
        settings_class(AppSettings, "prod/nope", cache=cache)()
    assert caught.value.__cause__ is not None


def test_malformed_secret_is_a_settings_error_without_the_value(cache: SecretCache) -> None:
    """Invalid JSON: SettingsError with the parse position, never the text."""
    with pytest.raises(SettingsError, match="not valid JSON") as caught:
        settings_class(AppSettings, "prod/broken", cache=cache)()
    chain = [caught.value, caught.value.__cause__, caught.value.__context__]
    assert_no_secret(" ".join(str(e) for e in chain))


def test_json_that_is_not_an_object_is_a_settings_error(cache: SecretCache) -> None:
    """A JSON array cannot be settings."""
    with pytest.raises(SettingsError, match="holds JSON tuple, not an object"):
        settings_class(AppSettings, "prod/list", cache=cache)()


def test_repr_names_the_secrets_only(cache: SecretCache) -> None:
    """The source's repr shows ids and stage."""
    source = SecretsManagerSettingsSource(AppSettings, "prod/app", cache=cache, stage="AWSCURRENT")
    assert (
        repr(source) == "SecretsManagerSettingsSource(secret_id=['prod/app'], stage='AWSCURRENT')"
    )


def test_default_cache_is_used(fake: FakeSecretsManager) -> None:
    """cache=None reads through default_cache()."""
    shared = SecretCache(fake)
    set_default_cache(shared)
    try:
        settings_class(AppSettings, "prod/app")()
        settings_class(AppSettings, "prod/app")()
        assert shared.stats().api_calls == 1
    finally:
        set_default_cache(None)


def test_env_prefix_is_opt_in(cache: SecretCache) -> None:
    """The settings' env_prefix does not apply to secret keys unless passed."""

    class Prefixed(BaseSettings):
        model_config = SettingsConfigDict(env_prefix="MYAPP_")
        region: str

    assert settings_class(Prefixed, "shared/app", cache=cache)().region == "eu-west-1"  # type: ignore[attr-defined]
    with pytest.raises(ValidationError):
        settings_class(Prefixed, "shared/app", cache=cache, env_prefix="MYAPP_")()


def test_nested_delimiter_flattened_keys(fake: FakeSecretsManager, cache: SecretCache) -> None:
    """Flattened keys (``db--password``) fill nested fields when a delimiter is set."""
    fake.create_secret(
        Name="prod/flat", SecretString=json.dumps({"db--host": HOST, "db--password": PASSWORD})
    )

    class Flat(BaseSettings):
        db: Db

    settings: Any = settings_class(Flat, "prod/flat", cache=cache, env_nested_delimiter="--")()
    assert (settings.db.host, settings.db.password.get_secret_value()) == (HOST, PASSWORD)


@pytest.mark.integration
def test_settings_100_times_make_one_api_call(
    sm_client: Any, make_client: Callable[..., Any]
) -> None:
    """Through moto: Settings() a hundred times within the TTL, one GetSecretValue."""
    name = f"settings/{uuid.uuid4().hex[:8]}"
    sm_client.create_secret(
        Name=name,
        SecretString=json.dumps({"api_key": API_KEY, "db": {"host": HOST, "password": PASSWORD}}),
    )
    client = make_client()
    calls: list[str] = []
    client.meta.events.register(
        "before-call.secrets-manager.*", lambda model, **_: calls.append(model.name)
    )
    cache = SecretCache(client)

    class Small(BaseSettings):
        api_key: SecretStr
        db: Db

    configured = settings_class(Small, name, cache=cache)
    built: list[Any] = [configured() for _ in range(100)]
    assert calls == ["GetSecretValue"]
    assert {s.db.password.get_secret_value() for s in built} == {PASSWORD}


@pytest.mark.integration
def test_binary_through_moto(sm_client: Any, make_client: Callable[..., Any]) -> None:
    """A real botocore binary answer fills the bytes field unchanged."""
    name = f"settings/{uuid.uuid4().hex[:8]}"
    sm_client.create_secret(Name=name, SecretBinary=bytes(range(256)))

    class Blob(BaseSettings):
        blob: bytes

    settings: Any = settings_class(
        Blob, name, cache=SecretCache(make_client()), binary_field="blob"
    )()
    assert bytes(settings.blob) == bytes(range(256))


def test_missing_library_names_the_extra() -> None:
    """Without pydantic-settings, importing the integration says what to install."""
    code = (
        "import sys\n"
        "sys.modules['pydantic_settings'] = None\n"
        "import secretcache.integrations.pydantic_settings\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True)
    assert out.returncode != 0
    assert "pip install 'secretcache[pydantic-settings]'" in out.stderr
