"""inject_secret / inject_secrets: values read through the cache on every call."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest

from secretcache import SecretCache, SecretFormatError, SecretValue, set_default_cache
from secretcache.integrations.decorators import Secret, inject_secret, inject_secrets, resolve
from secretcache.testing import FakeSecretsManager, ManualClock


@pytest.fixture
def fake() -> FakeSecretsManager:
    """A fake holding a text, a JSON and a binary secret."""
    fake = FakeSecretsManager()
    fake.create_secret(Name="api-key", SecretString="key-v1")
    fake.create_secret(Name="db", SecretString=json.dumps({"user": "app", "password": "pw-v1"}))
    fake.create_secret(Name="cert", SecretBinary=b"\x00cert")
    return fake


@pytest.fixture
def clock() -> ManualClock:
    """Time the tests move."""
    return ManualClock()


@pytest.fixture
def cache(fake: FakeSecretsManager, clock: ManualClock) -> Iterator[SecretCache]:
    """A cache on the fake, installed as the process default for the test."""
    cache = SecretCache(fake, ttl_seconds=60, ttl_jitter_fraction=0.0, timer=clock)
    set_default_cache(cache)
    yield cache
    set_default_cache(None)
    cache.close()


def test_inject_secret_passes_text_first(cache: SecretCache) -> None:
    """The string form passes the SecretString as the first positional argument."""

    @inject_secret("api-key")
    def call(api_key: str, path: str) -> str:
        return f"{api_key}:{path}"

    assert call("/x") == "key-v1:/x"


def test_inject_secret_on_a_method_keeps_self_first(cache: SecretCache) -> None:
    """On a method the secret comes after self."""

    class Client:
        @inject_secret("api-key")
        def call(self, api_key: str, path: str) -> tuple[object, str, str]:
            return self, api_key, path

    client = Client()
    assert client.call("/y") == (client, "key-v1", "/y")


def test_values_are_read_per_call_not_at_decoration(
    cache: SecretCache, fake: FakeSecretsManager, clock: ManualClock
) -> None:
    """Decorating fetches nothing; a rotation reaches the first call after the TTL."""

    @inject_secrets(password=Secret("db", key="password"))
    def connect(*, password: str) -> str:
        return password

    assert fake.calls["GetSecretValue"] == 0
    assert connect() == "pw-v1"
    fake.rotate("db", json.dumps({"user": "app", "password": "pw-v2"}))
    assert connect() == "pw-v1"  # still fresh
    clock.advance(61)
    assert connect() == "pw-v2"
    assert fake.calls["GetSecretValue"] == 2


def test_hits_make_no_api_call(cache: SecretCache, fake: FakeSecretsManager) -> None:
    """A thousand calls within the TTL cost one GetSecretValue."""

    @inject_secret("api-key")
    def call(api_key: str) -> str:
        return api_key

    for _ in range(1000):
        call()
    assert fake.calls["GetSecretValue"] == 1


def test_keyword_forms(cache: SecretCache) -> None:
    """Each kind of Secret injects its own form; a callable is made per call."""
    made: list[int] = []

    def factory() -> int:
        made.append(1)
        return len(made)

    @inject_secrets(
        key="api-key",
        doc=Secret("db", kind="json"),
        blob=Secret("cert", kind="binary"),
        value=Secret("db", kind="value"),
        n=factory,
    )
    def handler(*, key: str, doc: Any, blob: bytes, value: SecretValue, n: int) -> tuple[Any, ...]:
        return key, doc, blob, value, n

    key, doc, blob, value, n = handler()
    assert (key, dict(doc), blob, n) == (
        "key-v1",
        {"user": "app", "password": "pw-v1"},
        b"\x00cert",
        1,
    )
    assert isinstance(value, SecretValue) and value.name == "db"
    assert handler()[4] == 2


def test_explicit_keyword_wins_and_skips_the_read(
    cache: SecretCache, fake: FakeSecretsManager
) -> None:
    """A keyword the caller passes is used as is; its secret is not fetched."""

    @inject_secrets(password=Secret("db", key="password"))
    def connect(*, password: str) -> str:
        return password

    assert connect(password="override") == "override"
    assert fake.calls["GetSecretValue"] == 0


def test_mapping_form_injects_a_parameter_named_cache(cache: SecretCache) -> None:
    """A mapping reaches names the keyword form reserves (``cache``)."""

    @inject_secrets({"cache": "api-key"})
    def f(*, cache: str) -> str:
        return cache

    assert f() == "key-v1"


def test_explicit_cache_is_used(fake: FakeSecretsManager) -> None:
    """cache= is read instead of the default cache."""
    mine = SecretCache(fake)
    set_default_cache(SecretCache(FakeSecretsManager()))  # holds nothing
    try:

        @inject_secret("api-key", cache=mine)
        def f(api_key: str) -> str:
            return api_key

        assert f() == "key-v1"
    finally:
        set_default_cache(None)


def test_unknown_parameter_fails_at_decoration() -> None:
    """Naming a parameter the function lacks is a TypeError when decorating."""
    with pytest.raises(TypeError, match="no keyword parameter passwd"):

        @inject_secrets(passwd="db")
        def connect(*, password: str) -> None: ...


def test_var_keyword_function_accepts_any_name(cache: SecretCache) -> None:
    """A function taking **kwargs accepts any injected name."""

    @inject_secrets(anything="api-key")
    def f(**kwargs: str) -> dict[str, str]:
        return kwargs

    assert f() == {"anything": "key-v1"}


def test_bad_specs_are_rejected() -> None:
    """Specs are validated when the decorator is built."""
    with pytest.raises(TypeError, match="expected a secret id"):
        inject_secret(42)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="kind must be one of"):
        Secret("x", kind="yaml")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="cannot be combined"):
        Secret("x", key="k", kind="binary")
    with pytest.raises(ValueError, match="either stage or version_id"):
        Secret("x", stage="AWSPENDING", version_id="v")


def test_stage_and_version(cache: SecretCache, fake: FakeSecretsManager) -> None:
    """A Secret reads the stage or version it names."""
    pending = fake.put_secret_value(
        SecretId="api-key", SecretString="key-v2", VersionStages=["AWSPENDING"]
    )
    assert resolve(Secret("api-key", stage="AWSPENDING")) == "key-v2"
    assert resolve(Secret("api-key", version_id=pending["VersionId"])) == "key-v2"
    assert resolve("api-key") == "key-v1"


def test_missing_key_names_the_key_not_the_value(cache: SecretCache) -> None:
    """A missing JSON key raises SecretFormatError naming the key only."""

    @inject_secrets(token=Secret("db", key="token"))
    def f(*, token: str) -> str:
        return token

    with pytest.raises(SecretFormatError, match="'token'") as caught:
        f()
    assert "pw-v1" not in str(caught.value)


def test_wraps_keeps_metadata(cache: SecretCache) -> None:
    """The wrapper keeps the function's name, docstring and __wrapped__."""

    def original(api_key: str) -> str:
        """Doc."""
        return api_key

    wrapped = inject_secret("api-key")(original)
    assert (wrapped.__name__, wrapped.__doc__) == ("original", "Doc.")
    assert wrapped.__wrapped__ is original  # type: ignore[attr-defined]


def test_coroutine_function_stays_a_coroutine_function(cache: SecretCache) -> None:
    """Decorating an async function gives an async function reading per call."""
    import inspect

    @inject_secrets(key="api-key")
    async def handler(*, key: str) -> str:
        return key

    assert inspect.iscoroutinefunction(handler)
    assert asyncio.run(handler()) == "key-v1"


def test_async_function_awaits_an_async_cache_off_the_loop(fake: FakeSecretsManager) -> None:
    """With an AsyncSecretCache, a miss is awaited: a ticking probe task keeps running."""
    from secretcache import AsyncSecretCache

    fake.latency_seconds = 0.2

    async def main() -> tuple[list[Any], float]:
        async with AsyncSecretCache(fake) as acache:

            @inject_secret("api-key", cache=acache)
            async def first(key: str) -> str:
                return key

            @inject_secrets(cache=acache, db=Secret("db", key="password"))
            async def second(*, db: str) -> str:
                return db

            gaps: list[float] = []
            stop = asyncio.Event()

            async def probe() -> None:
                loop = asyncio.get_running_loop()
                last = loop.time()
                while not stop.is_set():
                    await asyncio.sleep(0)
                    now = loop.time()
                    gaps.append(now - last)
                    last = now

            ticker = asyncio.create_task(probe())
            results = [await first(), await second()]
            stop.set()
            await ticker
            return results, max(gaps)

    results, largest_gap = asyncio.run(main())
    assert results == ["key-v1", "pw-v1"]
    assert largest_gap < 0.1  # the two 200 ms fetches ran off the event loop


def test_sync_function_refuses_an_async_cache(fake: FakeSecretsManager) -> None:
    """A plain function cannot await: giving it an AsyncSecretCache fails at decoration."""
    from secretcache import AsyncSecretCache

    acache = AsyncSecretCache(fake)
    with pytest.raises(TypeError, match="not async"):

        @inject_secret("api-key", cache=acache)
        def handler(key: str) -> str:
            return key
