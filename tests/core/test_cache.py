"""SecretCache's logic on the fake client and a manual clock: no test here sleeps."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable

import pytest

from secretcache import (
    ErrorEvent,
    RotationEvent,
    SecretAccessDeniedError,
    SecretCache,
    SecretNotFoundError,
    SecretUnavailableError,
    Stage,
    StaleEvent,
)
from secretcache.testing import FakeSecretsManager, ManualClock

MakeCache = Callable[..., SecretCache]


def gets(fake: FakeSecretsManager) -> int:
    return fake.calls["GetSecretValue"]


# -- freshness -----------------------------------------------------------------------------


def test_hit_within_ttl_makes_no_call(fake: FakeSecretsManager, make_cache: MakeCache) -> None:
    """Reads within the TTL are served from memory: one call for many reads."""
    cache = make_cache(ttl_seconds=60)
    first = cache.get("db")
    assert all(cache.get("db") is first for _ in range(100))
    assert gets(fake) == 1
    stats = cache.stats()
    assert (stats.hits, stats.misses, stats.api_calls) == (100, 1, 1)


def test_advisory_window_serves_then_refreshes_in_background(
    fake: FakeSecretsManager, clock: ManualClock, make_cache: MakeCache
) -> None:
    """In the last fifth of the TTL a read returns the held value and refreshes behind it."""
    cache = make_cache(ttl_seconds=100, refresh_ahead_fraction=0.2)
    old = cache.get("db")
    clock.advance(79)
    assert cache.get("db") is old
    assert gets(fake) == 1  # before the advisory window: no refresh
    fake.rotate("db", '{"password": "v2-pass"}')
    clock.advance(2)
    assert cache.get("db") is old  # served at once, although a refresh started
    assert cache.drain(timeout_seconds=5)
    assert gets(fake) == 2
    assert cache.get("db").field("password") == "v2-pass"
    assert cache.stats().misses == 1


def test_expired_value_is_refetched_before_returning(
    fake: FakeSecretsManager, clock: ManualClock, make_cache: MakeCache
) -> None:
    """Past the TTL a read waits for the new value."""
    cache = make_cache(ttl_seconds=10)
    cache.get("db")
    fake.rotate("db", '{"password": "v2-pass"}')
    clock.advance(10)
    assert cache.get("db").field("password") == "v2-pass"
    assert gets(fake) == 2


def test_jitter_shortens_ttl_within_bounds(fake: FakeSecretsManager, clock: ManualClock) -> None:
    """Each entry's TTL is drawn from [ttl * (1 - jitter), ttl]."""
    cache = SecretCache(fake, ttl_seconds=100, ttl_jitter_fraction=0.1, timer=clock, seed=3)
    expiries = []
    for i in range(200):
        fake.create_secret(Name=f"s{i}", SecretString="x")
        cache.get(f"s{i}")
        expiries.append(cache._entries[f"s{i}"].expires_at - clock())
    assert min(expiries) >= 90.0
    assert max(expiries) <= 100.0
    assert max(expiries) - min(expiries) > 5.0  # actually spread, not constant


def test_version_id_entries_never_expire(
    fake: FakeSecretsManager, clock: ManualClock, make_cache: MakeCache
) -> None:
    """A version id's value is immutable: cached until evicted, whatever the clock says."""
    cache = make_cache(ttl_seconds=1)
    version = fake.stages("db")["AWSCURRENT"]
    pinned = cache.get("db", version_id=version)
    fake.rotate("db", '{"password": "v2-pass"}')
    clock.advance(10_000)
    assert cache.get("db", version_id=version) is pinned
    assert gets(fake) == 1


def test_stages_are_cached_separately(fake: FakeSecretsManager, make_cache: MakeCache) -> None:
    """AWSCURRENT and AWSPENDING are different keys; Stage and str spellings are one key."""
    pending = fake.put_secret_value(
        SecretId="db", SecretString='{"password": "p"}', VersionStages=["AWSPENDING"]
    )
    cache = make_cache()
    assert cache.get("db", stage=Stage.PENDING).version_id == pending["VersionId"]
    assert cache.get("db", stage="AWSPENDING").version_id == pending["VersionId"]
    assert cache.get("db").version_id != pending["VersionId"]
    assert cache.get("db", stage="AWSCURRENT") is cache.get("db")
    assert gets(fake) == 2


# -- errors, staleness, backoff ---------------------------------------------------------------


def test_missing_secret_raises_not_found_and_is_not_hammered(
    fake: FakeSecretsManager, clock: ManualClock, make_cache: MakeCache
) -> None:
    """A permanent error is raised with its type; repeated reads within backoff make no call."""
    cache = make_cache(backoff_base_seconds=5)
    for _ in range(10):
        with pytest.raises(SecretNotFoundError, match="'nope' not found"):
            cache.get("nope")
    assert gets(fake) == 1
    clock.advance(5)
    with pytest.raises(SecretNotFoundError):
        cache.get("nope")
    assert gets(fake) == 2


def test_each_raise_is_a_fresh_exception(fake: FakeSecretsManager, make_cache: MakeCache) -> None:
    """No stored exception instance is raised twice."""
    cache = make_cache()
    seen = []
    for _ in range(3):
        with pytest.raises(SecretNotFoundError) as info:
            cache.get("nope")
        seen.append(info.value)
    assert len({id(e) for e in seen}) == 3


def test_deleted_secret_is_not_found(fake: FakeSecretsManager, make_cache: MakeCache) -> None:
    """A secret scheduled for deletion reads as SecretNotFoundError."""
    fake.delete_secret(SecretId="db")
    with pytest.raises(SecretNotFoundError, match="scheduled for deletion"):
        make_cache().get("db")


def test_access_denied(fake: FakeSecretsManager, make_cache: MakeCache) -> None:
    """AccessDeniedException becomes SecretAccessDeniedError, chained to the botocore error."""
    fake.fail("GetSecretValue", "AccessDeniedException")
    with pytest.raises(SecretAccessDeniedError) as info:
        make_cache().get("db")
    assert type(info.value.__cause__).__name__ == "ClientError"


def test_transient_error_serves_stale_within_bound(
    fake: FakeSecretsManager,
    clock: ManualClock,
    make_cache: MakeCache,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Throttling past expiry serves the held value, counted and logged once, until the bound."""
    cache = make_cache(
        ttl_seconds=10, max_stale_seconds=100, backoff_base_seconds=1, backoff_max_seconds=4
    )
    held = cache.get("db")
    fake.fail("GetSecretValue", "ThrottlingException", times=None)
    clock.advance(10)
    with caplog.at_level(logging.WARNING, logger="secretcache"):
        for _ in range(5):
            assert cache.get("db") is held
            clock.advance(1)
    stale_logs = [r for r in caplog.records if "serving stale" in r.getMessage()]
    assert len(stale_logs) == 1
    assert "v1-pass" not in caplog.text
    assert cache.stats().stale_served == 5
    clock.advance(100)  # past expiry + max_stale_seconds
    cache.drain(5)
    with pytest.raises(SecretUnavailableError, match="ThrottlingException"):
        cache.get("db")


def test_stale_retries_back_off_exponentially_with_a_cap(
    fake: FakeSecretsManager, clock: ManualClock, make_cache: MakeCache
) -> None:
    """While serving stale, retries are spaced by growing, jittered, capped delays."""
    cache = make_cache(
        ttl_seconds=10, max_stale_seconds=10_000, backoff_base_seconds=1, backoff_max_seconds=16
    )
    cache.get("db")
    fake.fail("GetSecretValue", "ThrottlingException", times=None)
    clock.advance(10)
    attempts: list[float] = []
    calls = gets(fake)
    for _ in range(4000):  # 400 s of reads, one every 0.1 s
        cache.get("db")
        cache.drain(5)
        if gets(fake) != calls:
            calls = gets(fake)
            attempts.append(clock())
        clock.advance(0.1)
    gaps = [b - a for a, b in itertools.pairwise(attempts)]
    for failures, gap in enumerate(gaps[:4], start=1):  # d = 2**(failures-1); gap in [d/2, d]
        ceiling = 2.0 ** (failures - 1)
        assert ceiling / 2 <= gap <= ceiling + 0.2  # + one read step of the loop
    assert max(gaps) <= 16 + 0.2
    assert min(gaps[5:]) >= 8  # capped at 16, equal jitter keeps at least half


def test_permanent_error_after_expiry_is_not_served_stale(
    fake: FakeSecretsManager, clock: ManualClock, make_cache: MakeCache
) -> None:
    """A deleted secret stops being served once its TTL is over."""
    cache = make_cache(ttl_seconds=10)
    cache.get("db")
    fake.delete_secret(SecretId="db")
    clock.advance(10)
    with pytest.raises(SecretNotFoundError):
        cache.get("db")


def test_no_value_and_transient_error_raises_unavailable(
    fake: FakeSecretsManager, make_cache: MakeCache
) -> None:
    """With nothing servable, a transient failure raises SecretUnavailableError."""
    fake.fail("GetSecretValue", "InternalServiceError", status=500)
    with pytest.raises(SecretUnavailableError):
        make_cache().get("db")


# -- refresh, invalidate, eviction ------------------------------------------------------------


def test_refresh_fetches_now_and_never_sleeps(
    fake: FakeSecretsManager, clock: ManualClock, make_cache: MakeCache
) -> None:
    """refresh() makes one call at once and returns the new version; nothing sleeps."""
    cache = make_cache()
    cache.get("db")
    new_version = fake.rotate("db", '{"password": "v2-pass"}')
    assert cache.refresh("db").version_id == new_version
    assert cache.get("db").version_id == new_version
    assert gets(fake) == 2
    assert clock.slept == []


def test_refresh_raises_even_when_a_value_is_held(
    fake: FakeSecretsManager, make_cache: MakeCache
) -> None:
    """A forced refresh reports its failure; the held value stays servable."""
    cache = make_cache()
    held = cache.get("db")
    fake.fail("GetSecretValue", "ThrottlingException")
    with pytest.raises(SecretUnavailableError):
        cache.refresh("db")
    assert cache.get("db") is held


def test_invalidate_one_and_all(fake: FakeSecretsManager, make_cache: MakeCache) -> None:
    """invalidate(id) forgets every stage of that secret; invalidate() forgets everything."""
    fake.create_secret(Name="other", SecretString="o")
    cache = make_cache()
    cache.get("db")
    cache.get("db", stage="AWSCURRENT")
    cache.get("other")
    cache.invalidate("db")
    assert cache.stats().size == 1
    cache.get("db")
    cache.get("other")
    assert gets(fake) == 3
    cache.invalidate()
    assert cache.stats().size == 0


def test_lru_eviction_keeps_recently_read(
    fake: FakeSecretsManager, clock: ManualClock, make_cache: MakeCache
) -> None:
    """At max_size the least recently read entry goes first."""
    for name in "abc":
        fake.create_secret(Name=name, SecretString=name)
    cache = make_cache(max_size=2)
    cache.get("a")
    clock.advance(1)
    cache.get("b")
    clock.advance(1)
    cache.get("a")  # a is now more recent than b
    clock.advance(1)
    cache.get("c")  # evicts b
    assert cache.stats().size == 2
    assert cache.stats().evictions == 1
    calls = gets(fake)
    cache.get("a")
    assert gets(fake) == calls
    cache.get("b")
    assert gets(fake) == calls + 1


def test_same_version_keeps_the_parsed_object(
    fake: FakeSecretsManager, clock: ManualClock, make_cache: MakeCache
) -> None:
    """A refresh that finds the same version keeps the object, so JSON is parsed once."""
    cache = make_cache(ttl_seconds=10)
    first = cache.get("db")
    document = first.json()
    clock.advance(11)
    assert cache.get("db") is first
    assert first.json() is document
    assert gets(fake) == 2


# -- hooks and stats -------------------------------------------------------------------------


def test_rotation_hook_fires_once_per_new_version(
    fake: FakeSecretsManager, clock: ManualClock, make_cache: MakeCache
) -> None:
    """on_rotation gets the old and new version ids when a stage moves."""
    cache = make_cache(ttl_seconds=10)
    events: list[RotationEvent] = []
    cache.on_rotation(events.append)
    old = cache.get("db").version_id
    new = fake.rotate("db", '{"password": "v2-pass"}')
    clock.advance(11)
    cache.get("db")
    clock.advance(11)
    cache.get("db")
    assert events == [RotationEvent("db", "AWSCURRENT", old, new)]
    assert cache.stats().rotations == 1


def test_error_and_stale_hooks(
    fake: FakeSecretsManager, clock: ManualClock, make_cache: MakeCache
) -> None:
    """on_error fires per failed fetch; on_stale once per failure streak."""
    cache = make_cache(ttl_seconds=10, backoff_base_seconds=1)
    errors: list[ErrorEvent] = []
    stale: list[StaleEvent] = []
    cache.on_error(errors.append)
    cache.on_stale(stale.append)
    cache.get("db")
    fake.fail("GetSecretValue", "ThrottlingException", times=2)
    clock.advance(10)
    cache.get("db")
    clock.advance(2)
    cache.get("db")
    cache.drain(5)
    assert [e.error.code for e in errors] == ["ThrottlingException", "ThrottlingException"]
    assert len(stale) == 1
    assert stale[0].age_seconds == pytest.approx(10)


def test_a_failing_hook_does_not_break_reads(
    fake: FakeSecretsManager,
    clock: ManualClock,
    make_cache: MakeCache,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A hook that raises is logged; the read still returns."""
    cache = make_cache(ttl_seconds=10)

    def broken(event: RotationEvent) -> None:
        raise RuntimeError("hook bug")

    cache.on_rotation(broken)
    cache.get("db")
    fake.rotate("db", "{}")
    clock.advance(11)
    assert cache.get("db").text == "{}"
    assert "rotation hook" in caplog.text


def test_hooks_run_outside_the_lock(
    fake: FakeSecretsManager, clock: ManualClock, make_cache: MakeCache
) -> None:
    """A hook may call back into the cache (it would deadlock if called under the lock)."""
    cache = make_cache(ttl_seconds=10)
    seen = []
    cache.on_rotation(lambda event: seen.append(cache.stats().rotations))
    cache.get("db")
    fake.rotate("db", "{}")
    clock.advance(11)
    cache.get("db")
    assert seen == [1]


# -- prefetch --------------------------------------------------------------------------------


def test_prefetch_batches_twenty_and_reports_missing(
    fake: FakeSecretsManager, make_cache: MakeCache
) -> None:
    """45 ids make 3 BatchGetSecretValue calls; the missing one is reported, the rest served."""
    names = [f"p{i}" for i in range(44)]
    for name in names:
        fake.create_secret(Name=name, SecretString=name)
    cache = make_cache()
    result = cache.prefetch([*names, "missing"])
    assert fake.calls["BatchGetSecretValue"] == 3
    assert result.api_calls == 3
    assert set(result.errors) == {"missing"}
    assert isinstance(result.errors["missing"], SecretNotFoundError)
    assert not result.ok
    with pytest.raises(SecretNotFoundError):
        result.raise_for_errors()
    assert result.loaded == tuple(names)
    assert [cache.get(n).text for n in names] == names
    assert gets(fake) == 0


def test_prefetch_throttled_batch_reports_every_id(
    fake: FakeSecretsManager, make_cache: MakeCache
) -> None:
    """A batch call that fails reports each of its ids with the translated error."""
    fake.fail("BatchGetSecretValue", "ThrottlingException")
    result = make_cache().prefetch(["db", "x"])
    assert set(result.errors) == {"db", "x"}
    assert all(isinstance(e, SecretUnavailableError) for e in result.errors.values())
    assert "'db'" in str(result.errors["db"])


# -- configuration ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [
        {"ttl_seconds": 0},
        {"max_size": 0},
        {"refresh_ahead_fraction": 1.0},
        {"ttl_jitter_fraction": -0.1},
        {"max_stale_seconds": -1},
        {"backoff_base_seconds": 10, "backoff_max_seconds": 1},
    ],
)
def test_invalid_configuration_is_rejected(
    fake: FakeSecretsManager, options: dict[str, float]
) -> None:
    """Bad settings fail at construction, not at the first read."""
    with pytest.raises(ValueError):  # noqa: PT011  # each option has its own message
        SecretCache(fake, **options)  # type: ignore[arg-type]


def test_repr_shows_no_values(fake: FakeSecretsManager, make_cache: MakeCache) -> None:
    """The cache's repr shows its size and TTL only."""
    cache = make_cache()
    cache.get("db")
    assert "v1-pass" not in repr(cache)
    assert "size=1" in repr(cache)


def test_missing_stage_error_names_the_stage_and_logs_quietly(
    fake: FakeSecretsManager, make_cache: MakeCache, caplog: pytest.LogCaptureFixture
) -> None:
    """No AWSPENDING (no rotation under way) is the usual answer: named, and not a warning."""
    cache = make_cache()
    with (
        caplog.at_level(logging.DEBUG, logger="secretcache"),
        pytest.raises(SecretNotFoundError, match=r"'db' \(AWSPENDING\) not found"),
    ):
        cache.get("db", stage="AWSPENDING")
    assert [r.levelno for r in caplog.records if "fetching" in r.getMessage()] == [logging.DEBUG]
    with pytest.raises(SecretNotFoundError, match=r"'db' \(version nope\) not found"):
        cache.get("db", version_id="nope")
