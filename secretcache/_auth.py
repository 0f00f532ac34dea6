"""Refresh on authentication failure: find the credential a service accepts right now.

During a rotation the service and the secret's stages disagree for a while. With one
user, the service takes the new password (AWSPENDING) before AWSCURRENT moves to it;
with alternating users, AWSCURRENT moves and the old user keeps working until the next
rotation. An operation refused with one candidate tries, in order: AWSCURRENT refetched
(one fetch shared by every caller that failed on the same version), then AWSPENDING, then
backs off and starts over until the deadline, refetching at most once per
``RECHECK_SECONDS`` per process while it backs off.

A credential found to work is remembered per secret and tried first by every later
call, until AWSCURRENT moves to another version or the service refuses it.

The algorithm is written once, as a generator free of I/O (``_flow``, in the manner of
httpx's ``auth_flow``): it yields each step that waits (read, refresh, attempt, sleep) and
is sent the step's result or thrown its exception. ``call_with_secret`` runs the steps
for SecretCache, ``acall_with_secret`` awaits them for AsyncSecretCache.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Generator
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from ._errors import CredentialsRejectedError, SecretNotFoundError
from ._value import SecretValue, cache_key

if TYPE_CHECKING:
    from ._async import AsyncSecretCache
    from ._cache import SecretCache

__all__ = ["acall_with_secret", "call_with_secret"]

T = TypeVar("T")

RECHECK_SECONDS = 1.0  # a rejected stage is refetched at most this often per process
FIRST_BACKOFF_SECONDS = 0.1
MAX_BACKOFF_SECONDS = 2.0


class _Get(NamedTuple):
    """Read AWSCURRENT through the cache."""


class _Refresh(NamedTuple):
    """Fetch a stage now; a SecretNotFoundError is thrown back into the flow."""

    stage: str


class _Attempt(NamedTuple):
    """Run the operation with a candidate; its exception is thrown back into the flow."""

    value: SecretValue


class _Sleep(NamedTuple):
    """Back off."""

    seconds: float


_Step = _Get | _Refresh | _Attempt | _Sleep
_Flow = Generator[_Step, Any, Any]


def call_with_secret(
    cache: SecretCache,
    secret_id: str,
    operation: Callable[[SecretValue], T],
    *,
    is_rejected: Callable[[BaseException], bool],
    timeout_seconds: float,
) -> T:
    """See ``SecretCache.call_with_secret``."""
    flow = _flow(cache, secret_id, is_rejected=is_rejected, timeout_seconds=timeout_seconds)
    reply: Any = None
    error: Exception | None = None
    while True:
        try:
            step = flow.send(reply) if error is None else flow.throw(error)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]  # what operation returned
        reply = error = None
        try:
            if isinstance(step, _Attempt):
                reply = operation(step.value)
            elif isinstance(step, _Refresh):
                reply = cache.refresh(secret_id, stage=step.stage)
            elif isinstance(step, _Sleep):
                cache._sleep(step.seconds)
            else:
                reply = cache.get(secret_id)
        except Exception as exc:  # noqa: BLE001  # handed to the flow, which decides
            error = exc


async def acall_with_secret(
    cache: AsyncSecretCache,
    secret_id: str,
    operation: Callable[[SecretValue], Coroutine[Any, Any, T]],
    *,
    is_rejected: Callable[[BaseException], bool],
    timeout_seconds: float,
) -> T:
    """See ``AsyncSecretCache.call_with_secret``: the same flow, its steps awaited."""
    flow = _flow(cache._core, secret_id, is_rejected=is_rejected, timeout_seconds=timeout_seconds)
    reply: Any = None
    error: Exception | None = None
    while True:
        try:
            step = flow.send(reply) if error is None else flow.throw(error)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]  # what operation returned
        reply = error = None
        try:
            if isinstance(step, _Attempt):
                reply = await operation(step.value)
            elif isinstance(step, _Refresh):
                reply = await cache.refresh(secret_id, stage=step.stage)
            elif isinstance(step, _Sleep):
                await cache._sleep(step.seconds)
            else:
                reply = await cache.get(secret_id)
        except Exception as exc:  # noqa: BLE001  # handed to the flow, which decides
            error = exc


def _flow(
    cache: SecretCache,
    secret_id: str,
    *,
    is_rejected: Callable[[BaseException], bool],
    timeout_seconds: float,
) -> _Flow:
    """The algorithm; ``cache`` is read directly (no I/O), every wait is a yielded step."""
    deadline = cache._timer() + timeout_seconds
    current = yield _Get()
    value = _remembered(cache, secret_id, current) or current
    rejected: set[str] = set()
    delay = FIRST_BACKOFF_SECONDS
    retrying = False
    while True:
        started = cache._timer()
        try:
            result = yield _Attempt(value)
        except Exception as exc:
            if not is_rejected(exc):
                raise
            last = exc
            rejected.add(value.version_id)
            _forget(cache, secret_id, value)
        else:
            _remember(cache, secret_id, value)
            return result
        # Refetch a stage unless someone did since this attempt began (that fetch is the
        # one to share); once backing off, also at most once per RECHECK_SECONDS.
        since = min(started, cache._timer() - RECHECK_SECONDS) if retrying else started
        candidate = (yield from _candidate(cache, secret_id, "AWSCURRENT", rejected, since)) or (
            yield from _candidate(cache, secret_id, "AWSPENDING", rejected, since)
        )
        if candidate is None:
            remaining = deadline - cache._timer()
            if remaining <= 0:
                raise CredentialsRejectedError(
                    f"every credential in secret {secret_id!r} was rejected for "
                    f"{timeout_seconds:g}s (last: {type(last).__name__})",
                    secret_id=secret_id,
                ) from last
            yield _Sleep(min(remaining, delay * (0.5 + cache._rng.random() / 2)))
            delay = min(delay * 2, MAX_BACKOFF_SECONDS)
            rejected.clear()
            retrying = True
            candidate = _remembered(cache, secret_id, (yield _Get())) or (yield _Get())
        value = candidate


def _candidate(
    cache: SecretCache, secret_id: str, stage: str, rejected: set[str], since: float
) -> Generator[_Step, Any, SecretValue | None]:
    """The stage's value if not yet rejected; else refetched, unless fetched after ``since``."""
    entry = cache._entries.get(cache_key(secret_id, stage))
    if entry is not None:
        if entry.value is not None and entry.value.version_id not in rejected:
            return entry.value
        if entry.fetched_at > since:
            return None
    try:
        value: SecretValue = yield _Refresh(stage)
    except SecretNotFoundError:
        return None  # e.g. no rotation in progress: there is no AWSPENDING
    return None if value.version_id in rejected else value


def _remembered(cache: SecretCache, secret_id: str, current: SecretValue) -> SecretValue | None:
    known = cache._working.get(secret_id)
    if known is None:
        return None
    current_then, value = known
    if current_then != current.version_id:  # AWSCURRENT moved on: trust it again
        cache._working.pop(secret_id, None)
        return None
    return value


def _remember(cache: SecretCache, secret_id: str, value: SecretValue) -> None:
    current = cache._entries.get(secret_id)
    if current is None or current.value is None or current.value.version_id == value.version_id:
        cache._working.pop(secret_id, None)
    else:
        cache._working[secret_id] = (current.value.version_id, value)


def _forget(cache: SecretCache, secret_id: str, value: SecretValue) -> None:
    known = cache._working.get(secret_id)
    if known is not None and known[1].version_id == value.version_id:
        cache._working.pop(secret_id, None)
