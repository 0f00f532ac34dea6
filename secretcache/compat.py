"""A drop-in for ``aws-secretsmanager-caching``, backed by secretcache.

Migrating is one changed import::

    from secretcache.compat import SecretCache, SecretCacheConfig  # was: aws_secretsmanager_caching
    from secretcache.compat import InjectKeywordedSecretString, InjectSecretString

Same classes, signatures and documented behaviour (``get_secret_string``,
``get_secret_binary``, ``refresh_secret_now``, every ``SecretCacheConfig`` option, the
decorators and their ``RuntimeError`` messages). What differs, on purpose:

- No DescribeSecret: each stage is read with GetSecretValue naming it, so the IAM
  policy needs ``secretsmanager:GetSecretValue`` only, and a read costs one call, not two.
- ``refresh_secret_now`` does not sleep 2.5-10 s first; concurrent refreshes share one call.
- Hits copy nothing and take no lock; no lock is held across a network call.
- Errors are secretcache's typed errors (``SecretNotFoundError``...). When AWS answered
  with an error they are also ``botocore.exceptions.ClientError`` instances with the
  same ``response``, so ``except ClientError`` and ``e.response["Error"]["Code"]`` keep
  working; network failures raise ``SecretUnavailableError``.
- ``exception_retry_growth_factor`` is accepted but backoff always doubles (with jitter).
- After ``secret_refresh_interval``, a permanent error (secret deleted, access revoked)
  is raised rather than the last value served forever; transient errors still serve it.
- A ``secret_cache_hook`` sees GetSecretValue responses (there are no DescribeSecret
  results); secretcache itself still holds the value in memory.

Importing this module imports neither boto3 nor the AWS library.
"""

from __future__ import annotations

import functools
import json
import math
import threading
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, Protocol, TypeVar

from ._cache import SecretCache as _Cache
from ._errors import SecretCacheError, SecretNotFoundError
from ._fetch import SecretsManagerClient
from ._value import SecretValue

__all__ = [
    "InjectKeywordedSecretString",
    "InjectSecretString",
    "SecretCache",
    "SecretCacheConfig",
    "SecretCacheHook",
]

R = TypeVar("R")


class SecretCacheHook(Protocol):
    """What ``aws_secretsmanager_caching.cache.SecretCacheHook`` subclasses provide."""

    def put(self, obj: Any) -> Any: ...

    def get(self, cached_obj: Any) -> Any: ...


class SecretCacheConfig:
    """The AWS library's configuration object, with its option names and defaults.

    Intervals and delays are in seconds, as in the AWS library.
    """

    OPTION_DEFAULTS: Mapping[str, Any] = MappingProxyType(
        {
            "max_cache_size": 1024,
            "exception_retry_delay_base": 1,
            "exception_retry_growth_factor": 2,
            "exception_retry_delay_max": 3600,
            "default_version_stage": "AWSCURRENT",
            "secret_refresh_interval": 3600,
            "secret_cache_hook": None,
        }
    )

    def __init__(
        self,
        *,
        max_cache_size: int = 1024,
        exception_retry_delay_base: float = 1,
        exception_retry_growth_factor: float = 2,
        exception_retry_delay_max: float = 3600,
        default_version_stage: str = "AWSCURRENT",
        secret_refresh_interval: float = 3600,
        secret_cache_hook: SecretCacheHook | None = None,
    ) -> None:
        if max_cache_size < 1:
            raise ValueError("max_cache_size must be >= 1")
        if secret_refresh_interval <= 0:
            raise ValueError("secret_refresh_interval must be > 0")
        if exception_retry_delay_base < 0 or exception_retry_delay_max < 0:
            raise ValueError("exception retry delays must be >= 0")
        self.max_cache_size = max_cache_size
        self.exception_retry_delay_base = exception_retry_delay_base
        self.exception_retry_growth_factor = exception_retry_growth_factor
        self.exception_retry_delay_max = exception_retry_delay_max
        self.default_version_stage = default_version_stage
        self.secret_refresh_interval = secret_refresh_interval
        self.secret_cache_hook = secret_cache_hook

    def __repr__(self) -> str:
        options = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.OPTION_DEFAULTS)
        return f"SecretCacheConfig({options})"


class SecretCache:
    """The AWS library's ``SecretCache``, reading through a ``secretcache.SecretCache``.

    Thread-safe: any number of threads may call any method; a hit takes no lock.
    ``client`` is a botocore Secrets Manager client (``None``: one from the default
    session, created on first use). ``backend`` is the underlying cache (for
    ``stats()``, hooks, ``call_with_secret``...).
    """

    def __init__(
        self,
        config: SecretCacheConfig | None = None,
        client: SecretsManagerClient | None = None,
    ) -> None:
        config = config if config is not None else SecretCacheConfig()
        self._default_stage: str = config.default_version_stage  # a snapshot, as the AWS
        self._hook = config.secret_cache_hook  # library's deepcopy (the hook itself is shared)
        delay_base = max(float(config.exception_retry_delay_base), 0.001)
        self.backend = _Cache(
            client,
            ttl_seconds=float(config.secret_refresh_interval),
            max_size=config.max_cache_size,
            max_stale_seconds=math.inf,  # as the AWS library: the last value outlives outages
            backoff_base_seconds=delay_base,
            backoff_max_seconds=max(float(config.exception_retry_delay_max), delay_base),
        )
        self._hooked: dict[tuple[str, str], tuple[str, Any]] = {}
        self._stages: dict[str, set[str]] = {}
        self._lock = threading.Lock()  # guards _hooked and _stages; never held across I/O

    def __repr__(self) -> str:
        return f"<secretcache.compat.SecretCache backend={self.backend!r}>"

    def get_secret_string(self, secret_id: str, version_stage: str | None = None) -> str | None:
        """The SecretString of a stage (default ``default_version_stage``).

        ``None`` if that version holds binary, or if the secret has no such stage.
        """
        response = self._response(secret_id, version_stage)
        return None if response is None else response.get("SecretString")

    def get_secret_binary(self, secret_id: str, version_stage: str | None = None) -> bytes | None:
        """The SecretBinary of a stage; ``None`` if that version holds text or no such stage."""
        response = self._response(secret_id, version_stage)
        return None if response is None else response.get("SecretBinary")

    def refresh_secret_now(self, secret_id: str) -> bool:
        """Fetch every stage read so far of the secret now, without sleeping first.

        True if every refresh succeeded; on failure the cached values are kept.
        """
        with self._lock:
            stages = {self._default_stage} | self._stages.get(secret_id, set())
        ok = True
        for stage in sorted(stages):
            try:
                self.backend.refresh(secret_id, stage=stage)
            except SecretNotFoundError:
                # Another stage may come and go (AWSPENDING does), as the secret's own
                # stages do in the AWS library's DescribeSecret; the secret may not.
                ok = ok and stage != self._default_stage
            except SecretCacheError:
                ok = False
        return ok

    # -- the AWS library's result dictionaries ---------------------------------------------

    def _value(self, secret_id: str, version_stage: str | None) -> SecretValue | None:
        """The SecretValue of a stage; None if the secret exists but not the stage."""
        stage = version_stage or self._default_stage
        if stage != self._default_stage:
            with self._lock:
                self._stages.setdefault(secret_id, set()).add(stage)
        try:
            return self.backend.get(secret_id, stage=stage)
        except SecretNotFoundError as exc:
            if self._exists_without(secret_id, stage, exc):
                return None  # as the AWS library, which finds no version for the stage
            raise _compatible(exc) from exc.__cause__
        except SecretCacheError as exc:
            raise _compatible(exc) from exc.__cause__

    def _exists_without(self, secret_id: str, stage: str, exc: SecretNotFoundError) -> bool:
        """Whether the secret exists but has no version at ``stage``."""
        if _names_missing_version(exc):
            return True
        if stage == "AWSCURRENT":
            return False
        try:  # usually a hit; the answer itself is cached for the next miss
            self.backend.get(secret_id)
        except SecretCacheError:
            return False
        return True

    def _response(self, secret_id: str, version_stage: str | None) -> Mapping[str, Any] | None:
        value = self._value(secret_id, version_stage)
        if value is None:
            return None
        if self._hook is None:
            return _as_response(value)
        return self._through_hook(secret_id, version_stage, value)

    def _through_hook(
        self, secret_id: str, version_stage: str | None, value: SecretValue
    ) -> Mapping[str, Any]:
        """``hook.put`` once per version fetched, ``hook.get`` on every read."""
        assert self._hook is not None
        key = (secret_id, version_stage or self._default_stage)
        with self._lock:
            held = self._hooked.get(key)
        if held is None or held[0] != value.version_id:
            held = (value.version_id, self._hook.put(_as_response(value)))
            with self._lock:
                self._hooked[key] = held
        result: Mapping[str, Any] = self._hook.get(held[1])
        return result


def _as_response(value: SecretValue) -> dict[str, Any]:
    """The GetSecretValue fields the AWS library hands out, built without copying bytes twice."""
    response: dict[str, Any] = {
        "ARN": value.arn,
        "Name": value.name,
        "VersionId": value.version_id,
        "VersionStages": list(value.stages),
        "CreatedDate": value.created_date,
    }
    if value.is_binary:
        response["SecretBinary"] = value.binary
    else:
        response["SecretString"] = value.text
    return response


def _names_missing_version(exc: SecretCacheError) -> bool:
    """True when AWS found the secret but not the stage ("... for staging label: X")."""
    cause = exc.__cause__
    response = getattr(cause, "response", None)
    if not isinstance(response, dict):
        return False
    message = str((response.get("Error") or {}).get("Message") or "")
    return "staging label" in message.lower()


# -- errors that are also botocore ClientErrors -------------------------------------------


def _compatible(exc: SecretCacheError) -> SecretCacheError:
    """A fresh error of ``exc``'s type that is also a ClientError when AWS answered with one.

    Code written against the AWS library catches ``ClientError`` and reads
    ``response["Error"]["Code"]``; migrating must not silently stop that from working.
    """
    response = getattr(exc.__cause__, "response", None)
    if not isinstance(response, dict):
        return exc.clone()
    operation = getattr(exc.__cause__, "operation_name", None) or "GetSecretValue"
    return _client_error_type(type(exc))(
        str(exc),
        secret_id=exc.secret_id,
        code=exc.code,
        response=response,
        operation_name=operation,
    )


_CLIENT_ERROR_TYPES: dict[str, Callable[..., SecretCacheError]] = {}


def _client_error_type(kind: type[SecretCacheError]) -> Callable[..., SecretCacheError]:
    """``kind`` and ClientError in one class, made once per kind."""
    made = _CLIENT_ERROR_TYPES.get(kind.__qualname__)
    if made is None:
        made = _CLIENT_ERROR_TYPES.setdefault(kind.__qualname__, _make_client_error_type(kind))
    return made


def _make_client_error_type(kind: type[SecretCacheError]) -> Callable[..., SecretCacheError]:
    from botocore.exceptions import ClientError  # deferred: importing secretcache stays light

    def __init__(  # noqa: N807  # becomes the class's __init__
        self: Any,
        message: str,
        *,
        secret_id: str | None = None,
        code: str | None = None,
        response: dict[str, Any] | None = None,
        operation_name: str = "GetSecretValue",
    ) -> None:
        Exception.__init__(self, message)  # not ClientError's: it would format its own message
        self.secret_id, self.code = secret_id, code
        self.response = response or {"Error": {"Code": code or "Unknown", "Message": message}}
        self.operation_name = operation_name

    name = kind.__name__
    return type(name, (kind, ClientError), {"__init__": __init__, "__module__": __name__})


# -- decorators ---------------------------------------------------------------------------


class InjectSecretString:
    """Pass a secret's SecretString as the first argument of every call (after ``self``).

    Reads the cache on every call, as the AWS library's decorator does.
    """

    def __init__(self, secret_id: str, cache: SecretCache) -> None:
        self.cache = cache
        self.secret_id = secret_id

    def __call__(self, func: Callable[..., R]) -> Callable[..., R]:
        @functools.wraps(func)
        def _wrapped_func(*args: Any, **kwargs: Any) -> R:
            secret = self.cache.get_secret_string(secret_id=self.secret_id)
            # The AWS library's rule for methods: keep ``self`` first.
            if args and hasattr(args[0].__class__, func.__name__):
                return func(args[0], secret, *args[1:], **kwargs)
            return func(secret, *args, **kwargs)

        return _wrapped_func


class InjectKeywordedSecretString:
    """Pass keys of a JSON secret as keyword arguments: ``func_kwarg="secret_key"``.

    Raises ``RuntimeError`` if the secret is not JSON or lacks a key, as the AWS library
    does (naming the key, never the value). JSON objects nested in the secret arrive
    read-only.
    """

    def __init__(self, secret_id: str, cache: SecretCache, **kwargs: str) -> None:
        self.cache = cache
        self.kwarg_map = kwargs
        self.secret_id = secret_id

    def __call__(self, func: Callable[..., R]) -> Callable[..., R]:
        @functools.wraps(func)
        def _wrapped_func(*args: Any, **kwargs: Any) -> R:
            secret = self._document()
            resolved_kwargs = {}
            for orig_kwarg, secret_key in self.kwarg_map.items():
                try:
                    resolved_kwargs[orig_kwarg] = secret[secret_key]
                except (KeyError, TypeError):
                    raise RuntimeError(f"Cached secret does not contain key {secret_key}") from None
            return func(*args, **resolved_kwargs, **kwargs)

        return _wrapped_func

    def _document(self) -> Any:
        try:
            if isinstance(self.cache, SecretCache):
                value = self.cache._value(self.secret_id, None)
                if value is None or value.is_binary:
                    raise ValueError("no text")
                return value.json()  # parsed once per version, not on every call
            return json.loads(self.cache.get_secret_string(secret_id=self.secret_id))
        except (ValueError, TypeError):
            raise RuntimeError("Cached secret is not valid JSON") from None
