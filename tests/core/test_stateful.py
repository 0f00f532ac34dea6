"""Hypothesis drives the cache and the fake through reads, rotations, time and faults,
and checks every answer against a reference model of what may be served."""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from secretcache import SecretCache, SecretNotFoundError, SecretUnavailableError
from secretcache.testing import FakeSecretsManager, ManualClock

TTL = 100.0
MAX_STALE = 300.0
BACKOFF_MAX = 40.0
MAX_SIZE = 3
NAMES = ("a", "b")
STAGES = ("AWSCURRENT", "AWSPENDING")


class CacheModel(RuleBasedStateMachine):
    """The model keeps, per (secret, stage), the history of which version held the stage."""

    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock()
        self.fake = FakeSecretsManager()
        self.cache = SecretCache(
            self.fake,
            ttl_seconds=TTL,
            max_size=MAX_SIZE,
            max_stale_seconds=MAX_STALE,
            backoff_base_seconds=1.0,
            backoff_max_seconds=BACKOFF_MAX,
            timer=self.clock,
            seed=0,
        )
        self.history: dict[tuple[str, str], list[tuple[float, str | None]]] = {}
        self.faulty = False
        self.counter = 0
        for name in NAMES:
            self.fake.create_secret(Name=name, SecretString=self._next_value())
        self._snapshot()

    def _next_value(self) -> str:
        self.counter += 1
        return f"value-{self.counter}"

    def _snapshot(self) -> None:
        now = self.clock()
        for name in NAMES:
            stages = self.fake.stages(name)
            for stage in STAGES:
                log = self.history.setdefault((name, stage), [])
                if not log or log[-1][1] != stages.get(stage):
                    log.append((now, stages.get(stage)))

    def _held_during(self, name: str, stage: str, since: float) -> set[str | None]:
        """Versions that held ``stage`` at some moment in [since, now]."""
        log = self.history[(name, stage)]
        held = set()
        for i, (_, version) in enumerate(log):
            end = log[i + 1][0] if i + 1 < len(log) else float("inf")
            if end > since or (end == since and i + 1 == len(log)):
                held.add(version)
        if log[-1][0] <= since:
            held.add(log[-1][1])
        return held

    @rule(name=st.sampled_from(NAMES), stage=st.sampled_from(STAGES))
    def read(self, name: str, stage: str) -> None:
        now = self.clock()
        try:
            value = self.cache.get(name, stage=stage)
        except SecretUnavailableError:
            assert self.faulty, "unavailable while the endpoint is healthy"
            return
        except SecretNotFoundError:
            assert None in self._held_during(name, stage, now - BACKOFF_MAX), (
                "not found, yet the stage existed throughout the backoff window"
            )
            return
        finally:
            self.cache.drain(timeout_seconds=5)
        # Never another stage's value, never older than the staleness bound.
        assert stage in self.fake_stages_ever(name, value.version_id)
        assert value.version_id in self._held_during(name, stage, now - TTL - MAX_STALE)
        if not self.faulty:
            assert value.version_id in self._held_during(name, stage, now - TTL)

    def fake_stages_ever(self, name: str, version_id: str) -> set[str]:
        return {
            s
            for (n, s), log in self.history.items()
            if n == name
            for _, v in log
            if v == version_id
        }

    @rule(name=st.sampled_from(NAMES))
    def rotate(self, name: str) -> None:
        self.fake.rotate(name, self._next_value())
        self._snapshot()

    @rule(name=st.sampled_from(NAMES))
    def start_rotation(self, name: str) -> None:
        self.fake.put_secret_value(
            SecretId=name, SecretString=self._next_value(), VersionStages=["AWSPENDING"]
        )
        self._snapshot()

    @rule(seconds=st.one_of(st.floats(0.0, 30.0), st.floats(30.0, 600.0)))
    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @rule()
    def break_endpoint(self) -> None:
        self.fake.fail("GetSecretValue", "ThrottlingException", times=None)
        self.faulty = True

    @rule()
    def heal_endpoint(self) -> None:
        # Values fetched during the fault may be served for up to TTL + MAX_STALE after it
        # ends; the model stays "faulty" (looser bound) until that has passed.
        self.fake.heal()
        self.clock.advance(TTL + MAX_STALE + BACKOFF_MAX)
        self.faulty = False

    @rule(name=st.sampled_from((*NAMES, None)))
    def invalidate(self, name: str | None) -> None:
        self.cache.invalidate(name)

    @invariant()
    def bounded_size(self) -> None:
        assert self.cache.stats().size <= MAX_SIZE


TestCacheModel = CacheModel.TestCase
TestCacheModel.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
