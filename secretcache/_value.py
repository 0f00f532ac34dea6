"""Immutable secret values, version stages and the cache key."""

from __future__ import annotations

import json
import threading
from collections.abc import Hashable, Iterable
from datetime import datetime
from enum import Enum
from typing import Any, NoReturn

from ._errors import SecretFormatError

__all__ = ["FrozenDict", "SecretValue", "Stage", "cache_key", "freeze"]


class Stage(str, Enum):
    """The version stages Secrets Manager's rotation protocol moves."""

    CURRENT = "AWSCURRENT"
    PENDING = "AWSPENDING"
    PREVIOUS = "AWSPREVIOUS"

    def __str__(self) -> str:
        return self.value


def cache_key(secret_id: str, stage: str | None = None, version_id: str | None = None) -> Hashable:
    """The one key function: a secret's AWSCURRENT is keyed by its id alone.

    The fast path of ``SecretCache.get`` relies on that: it looks up ``secret_id`` directly.
    """
    if version_id is not None:
        if stage is not None:
            raise ValueError("pass either stage or version_id, not both")
        return (secret_id, "version", version_id)
    stage = stage.value if isinstance(stage, Stage) else stage
    if stage is None or stage == "AWSCURRENT":
        return secret_id
    return (secret_id, "stage", stage)


class FrozenDict(dict[str, Any]):
    """A ``dict`` that refuses mutation: what ``SecretValue.json()`` returns for objects."""

    __slots__ = ()

    def _readonly(self, *args: object, **kwargs: object) -> NoReturn:
        raise TypeError("secret JSON is read-only")

    __setitem__ = __delitem__ = __ior__ = _readonly
    clear = pop = popitem = setdefault = update = _readonly

    def __hash__(self) -> int:  # type: ignore[override]
        return id(self)

    def __reduce__(self) -> tuple[Any, ...]:
        return (dict, (dict(self),))


def freeze(value: Any) -> Any:
    """Objects become FrozenDict, arrays tuples; scalars are already immutable."""
    if isinstance(value, dict):
        frozen = FrozenDict()
        dict.update(frozen, ((k, freeze(v)) for k, v in value.items()))
        return frozen
    if isinstance(value, list):
        return tuple(freeze(v) for v in value)
    return value


_PARSE_LOCK = threading.Lock()
_UNPARSED = object()


class SecretValue:
    """One version of a secret. Immutable; ``repr`` shows identifiers, never the value.

    Safe to share between threads: ``json()`` parses once per version, under a lock taken
    only on the first call.
    """

    __slots__ = (
        "_binary",
        "_parsed",
        "_string",
        "arn",
        "created_date",
        "name",
        "stages",
        "version_id",
    )

    name: str
    arn: str | None
    version_id: str
    stages: tuple[str, ...]
    created_date: datetime | None
    _string: str | None
    _binary: bytes | None
    _parsed: Any

    def __init__(
        self,
        *,
        name: str,
        version_id: str,
        stages: Iterable[str] = (),
        arn: str | None = None,
        created_date: datetime | None = None,
        string: str | None = None,
        binary: bytes | None = None,
    ) -> None:
        fields = {
            "name": name,
            "arn": arn,
            "version_id": version_id,
            "stages": tuple(stages),
            "created_date": created_date,
            "_string": string,
            "_binary": None if binary is None else bytes(binary),
            "_parsed": _UNPARSED,
        }
        for field, value in fields.items():
            object.__setattr__(self, field, value)

    @classmethod
    def from_response(cls, response: dict[str, Any]) -> SecretValue:
        """Build from a GetSecretValue (or BatchGetSecretValue item) response."""
        return cls(
            name=response.get("Name") or response.get("ARN") or "",
            arn=response.get("ARN"),
            version_id=response["VersionId"],
            stages=response.get("VersionStages") or (),
            created_date=response.get("CreatedDate"),
            string=response.get("SecretString"),
            binary=response.get("SecretBinary"),
        )

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError("SecretValue is immutable")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError("SecretValue is immutable")

    def __repr__(self) -> str:
        kind = "binary" if self._binary is not None else "text"
        return (
            f"SecretValue(name={self.name!r}, version_id={self.version_id!r}, "
            f"stages={self.stages!r}, kind={kind!r})"
        )

    __str__ = __repr__

    def __reduce__(self) -> NoReturn:
        raise TypeError("SecretValue is not picklable: secret material stays in memory")

    def _describe(self) -> str:
        return f"secret {self.name!r} (version {self.version_id})"

    @property
    def text(self) -> str:
        """The SecretString; SecretFormatError if this version holds binary."""
        if self._string is None:
            raise SecretFormatError(
                f"{self._describe()} holds binary, not text", secret_id=self.name
            )
        return self._string

    @property
    def binary(self) -> bytes:
        """The SecretBinary; SecretFormatError if this version holds text."""
        if self._binary is None:
            raise SecretFormatError(
                f"{self._describe()} holds text, not binary", secret_id=self.name
            )
        return self._binary

    @property
    def is_binary(self) -> bool:
        return self._binary is not None

    def json(self) -> Any:
        """The text parsed as JSON, once per version; objects and arrays come back read-only."""
        parsed = self._parsed
        if parsed is _UNPARSED:
            with _PARSE_LOCK:
                parsed = self._parsed
                if parsed is _UNPARSED:
                    parsed = freeze(self._parse())
                    object.__setattr__(self, "_parsed", parsed)
        return parsed

    def _parse(self) -> Any:
        text = self.text
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            # Not chained: JSONDecodeError.doc holds the whole secret.
            where = f"line {exc.lineno} column {exc.colno}"
            error = SecretFormatError(
                f"{self._describe()} is not valid JSON ({exc.msg} at {where})",
                secret_id=self.name,
            )
        raise error from None

    def field(self, key: str) -> Any:
        """One key of a JSON object secret; SecretFormatError naming the key if it is missing."""
        document = self.json()
        if not isinstance(document, dict):
            raise SecretFormatError(f"{self._describe()} is not a JSON object", secret_id=self.name)
        try:
            return document[key]
        except KeyError:
            raise SecretFormatError(
                f"{self._describe()} has no key {key!r}", secret_id=self.name
            ) from None
