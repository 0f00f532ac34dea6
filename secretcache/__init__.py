"""secretcache: a fast, thread-safe, rotation-aware cache for AWS Secrets Manager."""

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

__version__ = "0.1.0"

__all__ = [
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
