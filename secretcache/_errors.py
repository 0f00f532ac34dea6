"""The one exception tree of secretcache, and the one place foreign errors enter it.

::

    SecretCacheError
    ├── SecretNotFoundError      (LookupError) no such secret, stage or version
    ├── SecretAccessDeniedError  IAM or KMS refused
    ├── SecretUnavailableError   transient failure (throttling, network, 5xx), nothing servable
    ├── SecretFormatError        (ValueError) not JSON / binary vs text / missing key
    └── CredentialsRejectedError a database kept rejecting every candidate credential

Messages name secrets by id and carry the AWS error code; they never quote a value.
"""

from __future__ import annotations

import copy
from typing import Any

__all__ = [
    "CredentialsRejectedError",
    "SecretAccessDeniedError",
    "SecretCacheError",
    "SecretFormatError",
    "SecretNotFoundError",
    "SecretUnavailableError",
    "translate_error",
]


class SecretCacheError(Exception):
    """Base class of every error secretcache raises."""

    retryable: bool = False

    def __init__(self, message: str, *, secret_id: str | None = None, code: str | None = None):
        super().__init__(message)
        self.secret_id = secret_id
        self.code = code

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.args[0], self.secret_id, self.code))

    def clone(self) -> SecretCacheError:
        """A fresh instance with the same type and message, for raising to another waiter."""
        twin = copy.copy(self)
        twin.__traceback__ = None
        twin.__cause__ = self.__cause__
        twin.__context__ = None
        return twin


def _rebuild(
    cls: type[SecretCacheError], message: str, secret_id: str | None, code: str | None
) -> SecretCacheError:
    return cls(message, secret_id=secret_id, code=code)


class SecretNotFoundError(SecretCacheError, LookupError):
    """No such secret, stage or version (or the secret is scheduled for deletion)."""


class SecretAccessDeniedError(SecretCacheError):
    """IAM, KMS or missing credentials refused the read."""


class SecretUnavailableError(SecretCacheError):
    """A transient failure (throttling, network, 5xx) and no value that may be served."""

    retryable = True


class SecretFormatError(SecretCacheError, ValueError):
    """The value is not of the shape asked for. The message never quotes the value."""


class CredentialsRejectedError(SecretCacheError):
    """Every candidate credential was rejected until the deadline passed."""


_NOT_FOUND = {"ResourceNotFoundException"}
_DENIED = {
    "AccessDeniedException",
    "DecryptionFailure",
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "ExpiredTokenException",
    "InvalidClientTokenId",
    "KMSAccessDeniedException",
    "KMSDisabledException",
    "KMSInvalidStateException",
    "KMSNotFoundException",
}
_TRANSIENT = {
    "ThrottlingException",
    "Throttling",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "InternalServiceError",
    "InternalFailure",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "RequestTimeout",
    "RequestTimeoutException",
}
# botocore's own (non-HTTP) failures that are worth retrying: network and timeouts.
_TRANSIENT_BOTOCORE = {
    "EndpointConnectionError",
    "ConnectionClosedError",
    "ConnectTimeoutError",
    "ReadTimeoutError",
    "ProxyConnectionError",
    "HTTPClientError",
    "ConnectionError",
}


def translate_error(
    exc: BaseException, secret_id: str | None, where: str | None = None
) -> SecretCacheError:
    """Map a botocore/network failure to the secretcache tree; the caller raises it ``from exc``.

    ``where`` names the stage or version asked for, when it is not AWSCURRENT. Duck-typed
    so that importing secretcache does not import botocore.
    """
    if isinstance(exc, SecretCacheError):
        return exc
    name = _name(secret_id, where)
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        error = response.get("Error") or {}
        code = str(error.get("Code") or "Unknown")
        status = int((response.get("ResponseMetadata") or {}).get("HTTPStatusCode") or 0)
        return error_for_code(code, secret_id, str(error.get("Message") or ""), status, where)
    kinds = {cls.__name__ for cls in type(exc).__mro__}
    if kinds & _TRANSIENT_BOTOCORE or isinstance(exc, (OSError, TimeoutError)):
        return SecretUnavailableError(
            f"secret {name}: endpoint unreachable ({type(exc).__name__})",
            secret_id=secret_id,
            code=type(exc).__name__,
        )
    if "NoCredentialsError" in kinds or "NoRegionError" in kinds:
        return SecretAccessDeniedError(
            f"secret {name}: AWS client is not configured ({type(exc).__name__})",
            secret_id=secret_id,
            code=type(exc).__name__,
        )
    return SecretCacheError(f"secret {name}: unexpected {type(exc).__name__}", secret_id=secret_id)


def _name(secret_id: str | None, where: str | None) -> str:
    return repr(secret_id) if where is None else f"{secret_id!r} ({where})"


def error_for_code(
    code: str,
    secret_id: str | None,
    message: str = "",
    status: int = 0,
    where: str | None = None,
) -> SecretCacheError:
    """The secretcache error for an AWS error code (also used for BatchGetSecretValue errors)."""
    name = _name(secret_id, where)
    detail = f" ({code})"
    if code in _NOT_FOUND:
        return SecretNotFoundError(
            f"secret {name} not found{detail}", secret_id=secret_id, code=code
        )
    if "deletion" in message.lower() or "deleted" in message.lower():
        return SecretNotFoundError(
            f"secret {name} is scheduled for deletion{detail}", secret_id=secret_id, code=code
        )
    if code in _DENIED or code.startswith("KMS"):
        return SecretAccessDeniedError(
            f"access to secret {name} denied{detail}", secret_id=secret_id, code=code
        )
    if code in _TRANSIENT or status >= 500 or status == 429:
        return SecretUnavailableError(
            f"secret {name} temporarily unavailable{detail}", secret_id=secret_id, code=code
        )
    return SecretCacheError(
        f"secret {name}: request failed{detail}", secret_id=secret_id, code=code
    )
