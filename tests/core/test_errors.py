"""Error translation at the botocore boundary, and error hygiene."""

from __future__ import annotations

import pickle

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
)

from secretcache import (
    CredentialsRejectedError,
    SecretAccessDeniedError,
    SecretCacheError,
    SecretFormatError,
    SecretNotFoundError,
    SecretUnavailableError,
)
from secretcache._errors import translate_error


def client_error(code: str, message: str = "m", status: int = 400) -> ClientError:
    return ClientError(
        {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },  # type: ignore[typeddict-item]
        "GetSecretValue",
    )


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (client_error("ResourceNotFoundException"), SecretNotFoundError),
        (
            client_error("InvalidRequestException", "it was marked for deletion."),
            SecretNotFoundError,
        ),
        (client_error("AccessDeniedException"), SecretAccessDeniedError),
        (client_error("DecryptionFailure"), SecretAccessDeniedError),
        (client_error("KMSDisabledException"), SecretAccessDeniedError),
        (client_error("ThrottlingException"), SecretUnavailableError),
        (client_error("InternalServiceError", status=500), SecretUnavailableError),
        (client_error("SomethingNew", status=503), SecretUnavailableError),
        (client_error("InvalidParameterException"), SecretCacheError),
        (EndpointConnectionError(endpoint_url="http://127.0.0.1:1"), SecretUnavailableError),
        (ConnectTimeoutError(endpoint_url="http://127.0.0.1:1"), SecretUnavailableError),
        (ConnectionRefusedError(), SecretUnavailableError),
        (NoCredentialsError(), SecretAccessDeniedError),
    ],
)
def test_translation(exc: Exception, expected: type[SecretCacheError]) -> None:
    """Each botocore failure maps to exactly one class of the tree, naming the secret."""
    error = translate_error(exc, "prod/db")
    assert type(error) is expected
    assert "'prod/db'" in str(error)
    assert error.secret_id == "prod/db"


def test_only_transient_errors_are_retryable() -> None:
    """retryable marks SecretUnavailableError only."""
    assert SecretUnavailableError("x").retryable
    for cls in (SecretNotFoundError, SecretAccessDeniedError, SecretFormatError, SecretCacheError):
        assert not cls("x").retryable


def test_tree_shape() -> None:
    """The hierarchy is the one DESIGN.md draws, with the stdlib bases it names."""
    assert issubclass(SecretNotFoundError, LookupError)
    assert issubclass(SecretFormatError, ValueError)
    for cls in (
        SecretNotFoundError,
        SecretAccessDeniedError,
        SecretUnavailableError,
        SecretFormatError,
        CredentialsRejectedError,
    ):
        assert issubclass(cls, SecretCacheError)


def test_clone_is_a_new_instance_with_the_same_cause() -> None:
    """clone() gives each waiter its own exception object; the cause is kept."""
    cause = client_error("ThrottlingException")
    error = translate_error(cause, "s")
    error.__cause__ = cause
    twin = error.clone()
    assert twin is not error
    assert type(twin) is type(error)
    assert str(twin) == str(error)
    assert twin.__cause__ is cause
    assert twin.secret_id == "s"


def test_errors_pickle() -> None:
    """Errors survive pickling (multiprocessing, Lambda error reporting)."""
    error = SecretNotFoundError(
        "secret 's' not found", secret_id="s", code="ResourceNotFoundException"
    )
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301  # our own bytes
    assert (type(copy), str(copy), copy.secret_id, copy.code) == (
        SecretNotFoundError,
        str(error),
        "s",
        "ResourceNotFoundException",
    )
