"""A pydantic-settings source that fills a ``BaseSettings`` from Secrets Manager JSON secrets.

::

    class Settings(BaseSettings):
        db: DbSettings                   # a nested JSON object
        api_key: SecretStr

        @classmethod
        def settings_customise_sources(cls, settings_cls, init_settings, env_settings,
                                       dotenv_settings, file_secret_settings):
            return (init_settings, env_settings,
                    SecretsManagerSettingsSource(settings_cls, ["prod/app", "shared/app"]))

Reads go through a ``SecretCache`` (``default_cache()`` unless ``cache=``), so creating
``Settings()`` again within the TTL makes no API call.

Keys are matched to fields the way pydantic-settings' ``EnvSettingsSource`` matches
environment variables (it is that class underneath): case-insensitively unless the
settings (or ``case_sensitive=``) say otherwise, by alias when a field has one, and with
``env_nested_delimiter`` flattening if configured. Unlike environment variables, JSON
values arrive typed: nested objects fill nested models, numbers stay numbers.

Several secrets: ``secret_id`` may be a sequence, highest precedence first (as
pydantic-settings orders its sources); their objects are merged deeply. A binary
secret fills the one field named by ``binary_field``.

Values this source returns print as ``'**********'``, so a ``ValidationError`` or
pydantic-settings' debug log never shows them; validated fields hold plain ``str``,
``int``, ``float`` (``bytes`` fields hold a ``bytes`` subclass with the same repr).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from secretcache import SecretCache, SecretCacheError, Stage, default_cache

try:
    from pydantic.fields import FieldInfo
    from pydantic_settings import EnvSettingsSource, SettingsError
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    raise ImportError(
        "secretcache.integrations.pydantic_settings needs pydantic-settings: "
        "pip install 'secretcache[pydantic-settings]'"
    ) from exc

if TYPE_CHECKING:
    from pydantic_settings import BaseSettings

__all__ = ["SecretsManagerSettingsSource"]

MASK = "**********"


class RedactedStr(str):
    """A ``str`` from a secret; its repr hides it. Validation turns it into a plain ``str``."""

    __slots__ = ()

    def __repr__(self) -> str:
        return repr(MASK)


class RedactedInt(int):
    """An ``int`` from a secret whose repr hides it."""

    __slots__ = ()

    def __repr__(self) -> str:
        return MASK


class RedactedFloat(float):
    """A ``float`` from a secret whose repr hides it."""

    __slots__ = ()

    def __repr__(self) -> str:
        return MASK


class RedactedBytes(bytes):
    """The ``bytes`` of a binary secret; its repr hides them."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"b{MASK!r}"


_REDACTED: dict[type, type] = {
    str: RedactedStr,
    int: RedactedInt,
    float: RedactedFloat,
    bytes: RedactedBytes,
}


class _JsonNull:
    """A top-level JSON ``null``: EnvSettingsSource reads ``None`` as "no value"."""

    def __repr__(self) -> str:
        return "null"


_NULL = _JsonNull()


def _redact(value: Any) -> Any:
    """Containers copied, leaves of the JSON scalar types wrapped (bool cannot be)."""
    if value is _NULL:
        return None
    kind = _REDACTED.get(type(value))
    if kind is not None:
        return kind(value)
    if isinstance(value, dict):
        return {key: _redact(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_redact(item) for item in value]
    return value


def _merge(low: dict[str, Any], high: Mapping[str, Any]) -> dict[str, Any]:
    """``low`` updated by ``high``, objects merged key by key."""
    merged = dict(low)
    for key, value in high.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _thaw(value: Any) -> Any:
    """Mutable copies of the cache's read-only JSON (pydantic-settings edits what it gets)."""
    if isinstance(value, dict):
        return {key: _thaw(item) for key, item in value.items()}
    if isinstance(value, tuple):
        return [_thaw(item) for item in value]
    return value


class SecretsManagerSettingsSource(EnvSettingsSource):
    """Settings values from one or more JSON secrets, read through a ``SecretCache``.

    ``secret_id``: one id or ARN, or a sequence of them, highest precedence first.
    ``stage`` or ``version_id`` select the version (AWSCURRENT by default; a version
    id needs a single secret). ``binary_field`` names the ``bytes`` field a binary
    secret fills. ``env_prefix`` applies to secret keys only if given (default none);
    ``case_sensitive`` and ``env_nested_delimiter`` default to the settings' config.

    The secrets are read when the source is created, that is on every ``Settings()``;
    a missing, unreadable or malformed secret raises ``SettingsError`` chained to the
    secretcache error, naming the secret and never quoting its value. Thread-safe as
    far as the cache is; a source object serves one settings instantiation.
    """

    def __init__(
        self,
        settings_cls: type[BaseSettings],
        secret_id: str | Sequence[str],
        *,
        cache: SecretCache | None = None,
        stage: str | Stage | None = None,
        version_id: str | None = None,
        binary_field: str | None = None,
        case_sensitive: bool | None = None,
        env_prefix: str = "",
        env_nested_delimiter: str | None = None,
        env_parse_enums: bool | None = None,
    ) -> None:
        ids = (secret_id,) if isinstance(secret_id, str) else tuple(secret_id)
        if not ids or not all(isinstance(i, str) and i for i in ids):
            raise ValueError("secret_id must be a secret id or a non-empty sequence of them")
        if stage is not None and version_id is not None:
            raise ValueError("pass either stage or version_id, not both")
        if version_id is not None and len(ids) > 1:
            raise ValueError("a version_id belongs to one secret: pass a single secret_id")
        if binary_field is not None and binary_field not in settings_cls.model_fields:
            raise ValueError(
                f"binary_field {binary_field!r} is not a field of {settings_cls.__name__}"
            )
        self._secret_ids = ids
        self._cache = cache
        self._stage = stage
        self._version_id = version_id
        self._binary_field = binary_field
        super().__init__(
            settings_cls,
            case_sensitive=case_sensitive,
            env_prefix=env_prefix,
            env_nested_delimiter=env_nested_delimiter,
            env_ignore_empty=False,
            env_parse_enums=env_parse_enums,
        )

    def __repr__(self) -> str:
        where = f", stage={str(self._stage)!r}" if self._stage is not None else ""
        where += f", version_id={self._version_id!r}" if self._version_id is not None else ""
        return f"{type(self).__name__}(secret_id={list(self._secret_ids)!r}{where})"

    # -- loading ---------------------------------------------------------------------------

    def _load_env_vars(self) -> Mapping[str, Any]:
        """The secrets' keys and values, merged; the first secret wins a conflict."""
        merged: dict[str, Any] = {}
        for secret_id in reversed(self._secret_ids):
            merged = _merge(merged, self._read(secret_id))
        return merged

    def _read(self, secret_id: str) -> dict[str, Any]:
        owner = self.settings_cls.__name__
        cache = self._cache if self._cache is not None else default_cache()
        try:
            value = cache.get(secret_id, stage=self._stage, version_id=self._version_id)
            if value.is_binary:
                return {self._binary_key(secret_id): value.binary}
            document = value.json()
        except SecretCacheError as exc:
            raise SettingsError(
                f"{owner}: cannot load settings from Secrets Manager: {exc}"
            ) from exc
        if not isinstance(document, dict):
            raise SettingsError(
                f"{owner}: secret {secret_id!r} holds JSON {type(document).__name__}, "
                "not an object of settings"
            )
        return {
            self._apply_case_sensitive(key): _NULL if item is None else _thaw(item)
            for key, item in document.items()
        }

    def _binary_key(self, secret_id: str) -> str:
        if self._binary_field is None:
            raise SettingsError(
                f"{self.settings_cls.__name__}: secret {secret_id!r} holds binary data; "
                "name the bytes field it fills with binary_field="
            )
        field = self.settings_cls.model_fields[self._binary_field]
        _, env_name, _ = self._extract_field_info(field, self._binary_field)[0]
        return env_name

    # -- values that JSON already typed -----------------------------------------------------

    def prepare_field_value(
        self, field_name: str, field: FieldInfo, value: Any, value_is_complex: bool
    ) -> Any:
        """Strings go through pydantic-settings' usual parsing; JSON objects, arrays,
        numbers and booleans arrive decoded and are used as they are."""
        if value is _NULL:
            return _NULL
        if value is None or isinstance(value, str):
            return super().prepare_field_value(field_name, field, value, value_is_complex)
        if isinstance(value, dict) and self.env_nested_delimiter:
            flattened = self.explode_env_vars(field_name, field, self.env_vars)
            return _merge(value, flattened) if flattened else value
        return value

    def decode_complex_value(self, field_name: str, field: FieldInfo, value: Any) -> Any:
        """Only text is JSON-decoded: a nested value of the secret is decoded already."""
        if not isinstance(value, (str, bytes)):
            return value
        return super().decode_complex_value(field_name, field, value)

    def __call__(self) -> dict[str, Any]:
        return {key: _redact(value) for key, value in super().__call__().items()}
