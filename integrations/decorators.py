"""Decorators that hand a function the current value of a secret on every call.

Unlike decorators that read a secret once when the module is imported (and keep it
frozen through every rotation after), these read through a ``SecretCache`` at each
call: a hit is a dictionary lookup, and a rotated secret reaches the next call.

::

    @inject_secret("prod/api-key")
    def call_api(api_key, path): ...

    @inject_secrets(password=Secret("prod/db", key="password"), settings=AppSettings)
    def connect(host, *, password, settings): ...

Needs no third-party library.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeVar, Union

from secretcache import SecretCache, SecretValue, Stage, default_cache

if TYPE_CHECKING:
    from secretcache import AsyncSecretCache

__all__ = ["Secret", "SecretSpec", "aresolve", "inject_secret", "inject_secrets", "resolve"]

R = TypeVar("R")
Kind = Literal["text", "json", "binary", "value"]
AnyCache = Union[SecretCache, "AsyncSecretCache"]  # a runtime alias on 3.10
_KINDS = ("text", "json", "binary", "value")


@dataclass(frozen=True)
class Secret:
    """Which secret to inject, and in which form.

    ``kind``: ``"text"`` (the SecretString, the default), ``"json"`` (parsed once per
    version, read-only), ``"binary"`` (the SecretBinary) or ``"value"`` (the
    ``SecretValue`` itself). ``key`` injects one key of a JSON object secret instead.
    ``stage`` or ``version_id`` select a version other than AWSCURRENT.
    """

    secret_id: str
    key: str | None = None
    kind: Kind = "text"
    stage: str | Stage | None = None
    version_id: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValueError(f"kind must be one of {_KINDS}, not {self.kind!r}")
        if self.key is not None and self.kind not in ("text", "json"):
            raise ValueError(
                f"key= reads a JSON object; it cannot be combined with kind={self.kind!r}"
            )
        if self.stage is not None and self.version_id is not None:
            raise ValueError("pass either stage or version_id, not both")

    def read(self, cache: SecretCache) -> Any:
        """This secret's value from ``cache``, in the form asked for."""
        return self.shape(cache.get(self.secret_id, stage=self.stage, version_id=self.version_id))

    async def aread(self, cache: AsyncSecretCache) -> Any:
        """This secret's value from an ``AsyncSecretCache``, in the form asked for."""
        value = await cache.get(self.secret_id, stage=self.stage, version_id=self.version_id)
        return self.shape(value)

    def shape(self, value: SecretValue) -> Any:
        """The form asked for of one version."""
        if self.key is not None:
            return value.field(self.key)
        return _FORMS[self.kind](value)


_FORMS: dict[str, Callable[[SecretValue], Any]] = {
    "text": lambda value: value.text,
    "json": lambda value: value.json(),
    "binary": lambda value: value.binary,
    "value": lambda value: value,
}

# A secret id (its text), a Secret, or a factory called with no arguments on every
# call (a pydantic-settings class reading through SecretsManagerSettingsSource, say).
SecretSpec = str | Secret | Callable[[], Any]


def resolve(spec: SecretSpec, cache: SecretCache | None = None) -> Any:
    """The value ``spec`` stands for right now (``cache=None``: ``default_cache()``)."""
    if isinstance(spec, str):
        return (cache if cache is not None else default_cache()).get(spec).text
    if isinstance(spec, Secret):
        return spec.read(cache if cache is not None else default_cache())
    return spec()


async def aresolve(spec: SecretSpec, cache: AnyCache | None = None) -> Any:
    """``resolve`` for coroutine functions: an ``AsyncSecretCache`` is awaited."""
    if not _is_async(cache):
        return resolve(spec, cache)  # type: ignore[arg-type]  # a SecretCache or None
    assert cache is not None
    if isinstance(spec, str):
        return (await cache.get(spec)).text  # type: ignore[misc]  # an AsyncSecretCache
    if isinstance(spec, Secret):
        return await spec.aread(cache)  # type: ignore[arg-type]
    return spec()


def _is_async(cache: object) -> bool:
    return inspect.iscoroutinefunction(getattr(cache, "get", None))


def _check_cache(func: Callable[..., Any], cache: object) -> None:
    if _is_async(cache) and not inspect.iscoroutinefunction(func):
        raise TypeError(f"{func.__qualname__}() is not async: it needs a SecretCache")


def _check_spec(name: str, spec: object) -> None:
    if not (isinstance(spec, (str, Secret)) or callable(spec)):
        raise TypeError(
            f"{name}: expected a secret id, a Secret or a callable, not {type(spec).__name__}"
        )


def inject_secret(
    spec: SecretSpec, *, cache: AnyCache | None = None
) -> Callable[[Callable[..., R]], Callable[..., R]]:
    """Pass the secret's current value as the first positional argument of every call.

    A function whose first parameter is named ``self`` or ``cls`` gets it second, so the
    decorator works on methods. ``cache=None`` means ``default_cache()`` at call time; an
    ``async def`` function may be given an ``AsyncSecretCache``, which it awaits.
    """
    _check_spec("inject_secret", spec)

    def decorate(func: Callable[..., R]) -> Callable[..., R]:
        _check_cache(func, cache)
        params = list(inspect.signature(func).parameters)
        skip = 1 if params and params[0] in ("self", "cls") else 0

        def call(args: tuple[Any, ...], kwargs: dict[str, Any]) -> R:
            value = resolve(spec, cache)  # type: ignore[arg-type]  # _check_cache: sync
            return func(*args[:skip], value, *args[skip:], **kwargs)

        async def acall(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            value = await aresolve(spec, cache)
            return await func(*args[:skip], value, *args[skip:], **kwargs)  # type: ignore[misc]

        return _wrap(func, call, acall)

    return decorate


def inject_secrets(
    specs: Mapping[str, SecretSpec] | None = None,
    /,
    *,
    cache: AnyCache | None = None,
    **named: SecretSpec,
) -> Callable[[Callable[..., R]], Callable[..., R]]:
    """Pass each secret's current value as the keyword argument named for it, every call.

    A keyword the caller passes explicitly wins and its secret is not read (handy in
    tests). To inject into a parameter called ``cache``, pass a mapping as ``specs``.
    """
    wanted = {**(specs or {}), **named}
    for name, spec in wanted.items():
        _check_spec(name, spec)

    def decorate(func: Callable[..., R]) -> Callable[..., R]:
        _check_parameters(func, wanted)
        _check_cache(func, cache)

        def call(args: tuple[Any, ...], kwargs: dict[str, Any]) -> R:
            for name, spec in wanted.items():
                if name not in kwargs:
                    kwargs[name] = resolve(spec, cache)  # type: ignore[arg-type]  # sync
            return func(*args, **kwargs)

        async def acall(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            for name, spec in wanted.items():
                if name not in kwargs:
                    kwargs[name] = await aresolve(spec, cache)
            return await func(*args, **kwargs)  # type: ignore[misc]  # a coroutine function

        return _wrap(func, call, acall)

    return decorate


def _check_parameters(func: Callable[..., Any], names: Mapping[str, object]) -> None:
    """Fail at decoration time, not at the first call, on a name the function cannot take."""
    params = inspect.signature(func).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    takes = {
        n
        for n, p in params.items()
        if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    }
    unknown = sorted(set(names) - takes)
    if unknown:
        raise TypeError(f"{func.__qualname__}() has no keyword parameter {', '.join(unknown)}")


def _wrap(
    func: Callable[..., R],
    call: Callable[[tuple[Any, ...], dict[str, Any]], R],
    acall: Callable[[tuple[Any, ...], dict[str, Any]], Coroutine[Any, Any, Any]],
) -> Callable[..., R]:
    """A wrapper with ``func``'s metadata; a coroutine function stays one."""
    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            # With an AsyncSecretCache a miss is awaited off the loop; with a SecretCache
            # a hit never waits and a miss fetches on the calling thread.
            return await acall(args, kwargs)

        return async_wrapper  # type: ignore[return-value]

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> R:
        return call(args, kwargs)

    return wrapper
