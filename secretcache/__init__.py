"""secretcache: a fast, thread-safe, rotation-aware cache for AWS Secrets Manager."""

from typing import TYPE_CHECKING, Any

from ._cache import SecretCache
from ._default import default_cache, set_default_cache
from ._errors import (
    CredentialsRejectedError,
    SecretAccessDeniedError,
    SecretCacheError,
    SecretFormatError,
    SecretNotFoundError,
    SecretUnavailableError,
)
from ._fetch import SecretsManagerClient, create_client
from ._hooks import CacheStats, ErrorEvent, PrefetchResult, RotationEvent, StaleEvent
from ._value import SecretValue, Stage, cache_key

if TYPE_CHECKING:
    from ._async import AsyncSecretCache

__version__ = "0.1.0"

__all__ = [
    "AsyncSecretCache",
    "CacheStats",
    "CredentialsRejectedError",
    "ErrorEvent",
    "PrefetchResult",
    "RotationEvent",
    "SecretAccessDeniedError",
    "SecretCache",
    "SecretCacheError",
    "SecretFormatError",
    "SecretNotFoundError",
    "SecretUnavailableError",
    "SecretValue",
    "SecretsManagerClient",
    "Stage",
    "StaleEvent",
    "cache_key",
    "create_client",
    "default_cache",
    "set_default_cache",
]


def __getattr__(name: str) -> Any:
    # AsyncSecretCache imports asyncio (tens of ms): only an async application pays for it.
    if name == "AsyncSecretCache":
        from ._async import AsyncSecretCache

        return AsyncSecretCache
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
