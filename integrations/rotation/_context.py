"""What one rotation step sees: the client, the secret, its stages' values, a password source."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from secretcache._errors import (
    SecretCacheError,
    SecretFormatError,
    SecretNotFoundError,
    translate_error,
)

__all__ = [
    "DEFAULT_EXCLUDE_CHARACTERS",
    "PasswordPolicy",
    "RotationClient",
    "RotationContext",
    "SecretDict",
    "call_aws",
    "require",
]

SecretDict = dict[str, Any]

# What the AWS rotation samples exclude: characters that RDS refuses in passwords or that
# break connection strings and shells.
DEFAULT_EXCLUDE_CHARACTERS = "/@\"'\\"


class RotationClient(Protocol):
    """The methods of botocore's Secrets Manager client that a rotation calls.

    Spelled out keyword by keyword so that a client typed by ``mypy-boto3`` matches.
    """

    def describe_secret(self, *, SecretId: str) -> Any: ...  # noqa: N803

    def get_secret_value(
        self,
        *,
        SecretId: str,  # noqa: N803
        VersionId: str = ...,  # noqa: N803
        VersionStage: str = ...,  # noqa: N803
    ) -> Any: ...

    def put_secret_value(
        self,
        *,
        SecretId: str,  # noqa: N803
        ClientRequestToken: str = ...,  # noqa: N803
        SecretString: str = ...,  # noqa: N803
        VersionStages: Sequence[str] = ...,  # noqa: N803
    ) -> Any: ...

    def update_secret_version_stage(
        self,
        *,
        SecretId: str,  # noqa: N803
        VersionStage: str,  # noqa: N803
        RemoveFromVersionId: str = ...,  # noqa: N803
        MoveToVersionId: str = ...,  # noqa: N803
    ) -> Any: ...

    def get_random_password(
        self,
        *,
        PasswordLength: int = ...,  # noqa: N803
        ExcludeCharacters: str = ...,  # noqa: N803
        ExcludeNumbers: bool = ...,  # noqa: N803
        ExcludePunctuation: bool = ...,  # noqa: N803
        ExcludeUppercase: bool = ...,  # noqa: N803
        ExcludeLowercase: bool = ...,  # noqa: N803
        IncludeSpace: bool = ...,  # noqa: N803
        RequireEachIncludedType: bool = ...,  # noqa: N803
    ) -> Any: ...


def call_aws(client: RotationClient, method: str, secret_id: str, **kwargs: Any) -> Any:
    """Call a client method, translating botocore's failures into secretcache's tree."""
    try:
        return getattr(client, method)(**kwargs)
    except SecretCacheError:
        raise
    except Exception as exc:
        raise translate_error(exc, secret_id) from exc


def _flag(environ: Mapping[str, str], name: str, default: bool) -> bool:
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True, kw_only=True)
class PasswordPolicy:
    """The GetRandomPassword request that makes every new password. Immutable, shareable."""

    length: int = 32
    exclude_characters: str = DEFAULT_EXCLUDE_CHARACTERS
    exclude_numbers: bool = False
    exclude_punctuation: bool = False
    exclude_uppercase: bool = False
    exclude_lowercase: bool = False
    include_space: bool = False
    require_each_included_type: bool = True

    def __post_init__(self) -> None:
        if not 4 <= self.length <= 4096:
            raise ValueError(f"password length must be within 4..4096, not {self.length}")
        if (
            self.exclude_numbers
            and self.exclude_punctuation
            and self.exclude_uppercase
            and self.exclude_lowercase
            and not self.include_space
        ):
            raise ValueError("the password policy excludes every kind of character")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> PasswordPolicy:
        """The policy from the variables the AWS rotation samples read.

        ``PASSWORD_LENGTH``, ``EXCLUDE_CHARACTERS``, ``EXCLUDE_NUMBERS``,
        ``EXCLUDE_PUNCTUATION``, ``EXCLUDE_UPPERCASE``, ``EXCLUDE_LOWERCASE``,
        ``INCLUDE_SPACE``, ``REQUIRE_EACH_INCLUDED_TYPE``; unset means the default.
        """
        env = os.environ if environ is None else environ
        defaults = cls()
        length = env.get("PASSWORD_LENGTH", "").strip()
        return cls(
            length=int(length) if length else defaults.length,
            exclude_characters=env.get("EXCLUDE_CHARACTERS", defaults.exclude_characters),
            exclude_numbers=_flag(env, "EXCLUDE_NUMBERS", defaults.exclude_numbers),
            exclude_punctuation=_flag(env, "EXCLUDE_PUNCTUATION", defaults.exclude_punctuation),
            exclude_uppercase=_flag(env, "EXCLUDE_UPPERCASE", defaults.exclude_uppercase),
            exclude_lowercase=_flag(env, "EXCLUDE_LOWERCASE", defaults.exclude_lowercase),
            include_space=_flag(env, "INCLUDE_SPACE", defaults.include_space),
            require_each_included_type=_flag(
                env, "REQUIRE_EACH_INCLUDED_TYPE", defaults.require_each_included_type
            ),
        )

    def request(self) -> dict[str, Any]:
        """The keyword arguments of ``get_random_password``."""
        kwargs: dict[str, Any] = {
            "PasswordLength": self.length,
            "ExcludeNumbers": self.exclude_numbers,
            "ExcludePunctuation": self.exclude_punctuation,
            "ExcludeUppercase": self.exclude_uppercase,
            "ExcludeLowercase": self.exclude_lowercase,
            "IncludeSpace": self.include_space,
            "RequireEachIncludedType": self.require_each_included_type,
        }
        if self.exclude_characters:
            kwargs["ExcludeCharacters"] = self.exclude_characters
        return kwargs


def require(value: Mapping[str, Any], key: str, *, secret_id: str, what: str) -> Any:
    """``value[key]``, or a SecretFormatError naming the key (never the value)."""
    found = value.get(key)
    if found is None or found == "":
        raise SecretFormatError(
            f"{what} of secret {secret_id!r} has no {key!r} key", secret_id=secret_id
        )
    return found


def parse_secret(response: Mapping[str, Any], *, secret_id: str, what: str) -> SecretDict:
    """The JSON object in a GetSecretValue response."""
    text = response.get("SecretString")
    if not isinstance(text, str):
        raise SecretFormatError(
            f"{what} of secret {secret_id!r} is not a SecretString", secret_id=secret_id
        )
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise SecretFormatError(
            f"{what} of secret {secret_id!r} is not a JSON object", secret_id=secret_id
        )
    return value


class RotationContext:
    """One step's view of one rotation: values are read on first use, then kept.

    Made fresh for every step; not meant to be shared between threads.
    """

    def __init__(
        self,
        client: RotationClient,
        secret_id: str,
        token: str,
        *,
        policy: PasswordPolicy,
    ) -> None:
        self.client = client
        self.secret_id = secret_id
        self.token = token
        self.policy = policy
        self._values: dict[str, SecretDict | None] = {}

    def __repr__(self) -> str:
        return f"RotationContext(secret_id={self.secret_id!r}, token={self.token!r})"

    def _stage(self, stage: str, *, version_id: str | None = None) -> SecretDict | None:
        if stage not in self._values:
            kwargs: dict[str, Any] = {"SecretId": self.secret_id, "VersionStage": stage}
            if version_id is not None:
                kwargs["VersionId"] = version_id
            try:
                response = call_aws(self.client, "get_secret_value", self.secret_id, **kwargs)
            except SecretNotFoundError:
                self._values[stage] = None
            else:
                self._values[stage] = parse_secret(response, secret_id=self.secret_id, what=stage)
        return self._values[stage]

    @property
    def current(self) -> SecretDict:
        """The AWSCURRENT value (a JSON object)."""
        value = self._stage("AWSCURRENT")
        if value is None:
            raise SecretNotFoundError(
                f"secret {self.secret_id!r} has no AWSCURRENT version", secret_id=self.secret_id
            )
        return value

    @property
    def pending(self) -> SecretDict:
        """The value of this rotation's version (the token), staged AWSPENDING."""
        value = self._stage("AWSPENDING", version_id=self.token)
        if value is None:
            raise SecretNotFoundError(
                f"secret {self.secret_id!r} has no AWSPENDING value for version {self.token!r}",
                secret_id=self.secret_id,
            )
        return value

    @property
    def previous(self) -> SecretDict | None:
        """The AWSPREVIOUS value, or None before the first rotation."""
        return self._stage("AWSPREVIOUS")

    def read_secret(self, secret_id: str, *, what: str = "secret") -> SecretDict:
        """The AWSCURRENT JSON of another secret (a master secret, say).

        A missing secret raises SecretNotFoundError saying what it was needed for.
        """
        try:
            response = call_aws(
                self.client,
                "get_secret_value",
                secret_id,
                SecretId=secret_id,
                VersionStage="AWSCURRENT",
            )
        except SecretNotFoundError as exc:
            raise SecretNotFoundError(
                f"{what} {secret_id!r} (named by secret {self.secret_id!r}) not found",
                secret_id=secret_id,
                code=exc.code,
            ) from exc
        return parse_secret(response, secret_id=secret_id, what=what)

    def random_password(self) -> str:
        """A new password from GetRandomPassword with this rotation's policy."""
        response = call_aws(
            self.client, "get_random_password", self.secret_id, **self.policy.request()
        )
        password = response.get("RandomPassword")
        if not isinstance(password, str) or not password:
            raise SecretFormatError(
                "GetRandomPassword returned no password", secret_id=self.secret_id
            )
        return password
