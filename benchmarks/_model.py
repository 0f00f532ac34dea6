"""What a scenario is given (:class:`Context`, :class:`Settings`) and what it returns."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from ._endpoint import MotoEndpoint
from ._libs import Subject, make_subject

__all__ = ["Context", "Headline", "ScenarioResult", "Settings"]


@dataclass(frozen=True)
class Settings:
    """Every duration and size the scenarios use. ``quick`` shortens all of them."""

    quick: bool = False
    # Added endpoint latency where a read may reach the endpoint (stampede, outage, API calls).
    latency_seconds: float = 0.05
    # 1. hit latency
    hit_rounds: int = 30
    hit_batches_per_round: int = 25
    # Short batches: on a loaded machine a batch that spans an OS time slice is inflated;
    # 0.2 ms batches rarely do, and the median of a round discards those that did.
    hit_batch_seconds: float = 0.0002
    hit_samples: int = 20_000
    # 2. hit throughput
    throughput_threads: tuple[int, ...] = (1, 2, 8, 32)
    throughput_seconds: float = 0.25
    throughput_repeats: int = 7
    # 3. cold stampede
    stampede_threads: int = 64
    stampede_repeats: int = 5
    # 4. refresh stall (and a rotation half way through)
    stall_latency_seconds: float = 0.2
    stall_ttl_seconds: float = 2.0
    stall_seconds: float = 10.0
    stall_readers: int = 4
    stall_read_interval_seconds: float = 0.002
    # 5. endpoint outage
    outage_seconds: float = 30.0
    outage_ttl_seconds: float = 2.0
    recovery_seconds: float = 65.0  # past any backoff the three reach in a 30 s outage
    outage_readers: int = 2
    outage_read_interval_seconds: float = 0.01
    outage_latency_seconds: float = 0.01
    # 6. API calls per hour: default TTLs divided by ``calls_scale`` (the AWS library's, whose
    # default is 3600 s and whose refresh times are whole seconds, by ``calls_scale_aws``)
    calls_scale: float = 100.0
    calls_scale_aws: float = 300.0
    calls_window_seconds: float = 60.0
    calls_sizes: tuple[int, ...] = (1, 10, 100)
    calls_read_period_seconds: float = 0.1
    # 7. cold start
    cold_runs: int = 5

    @classmethod
    def for_mode(cls, *, quick: bool, **overrides: Any) -> Settings:
        """Full-run settings, or the quick (CI smoke) ones; ``overrides`` win over both."""
        base = cls()
        if quick:
            base = dataclasses.replace(
                base,
                quick=True,
                hit_rounds=10,
                hit_samples=5_000,
                throughput_seconds=0.15,
                throughput_repeats=2,
                stampede_repeats=2,
                stall_seconds=3.0,
                outage_seconds=4.0,
                recovery_seconds=3.0,
                calls_scale_aws=900.0,
                calls_window_seconds=8.0,
                cold_runs=2,
            )
        given = {key: value for key, value in overrides.items() if value is not None}
        return dataclasses.replace(base, **given)


@dataclass
class Headline:
    """One line of the headline table: a metric for each library, and ours' advantage.

    ``advantage`` maps an anchor to how many times better this SDK is (>1: ours better);
    scenarios that pair their repeats pass the median of per-repeat ratios here, otherwise it
    is computed from ``values``. ``vs_dict`` is ours / dict for hit metrics.
    """

    metric: str
    values: dict[str, float | None]
    lower_is_better: bool = True
    advantage: dict[str, float | None] = field(default_factory=dict)
    vs_dict: float | None = None
    digits: int = 3


@dataclass
class ScenarioResult:
    """A scenario's findings: headline lines, a detail table, notes, and raw data."""

    key: str
    title: str
    status: str = "ok"  # ok | skipped | failed
    headline: list[Headline] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    rows: list[list[Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)  # JSON-able, goes to results.json
    plot_data: dict[str, Any] = field(default_factory=dict)  # in memory only, for the plots
    seconds: float = 0.0


@dataclass
class Context:
    """What every scenario gets: settings, the shared endpoint, and a subject factory."""

    settings: Settings
    endpoint: MotoEndpoint
    placeholder: bool

    def subject(
        self, library: str, *, ttl_seconds: float | None = None, latency_seconds: float = 0.0
    ) -> Subject:
        """A fresh library instance on a fresh instrumented client."""
        probe = self.endpoint.probe(latency_seconds=latency_seconds)
        return make_subject(library, probe, ttl_seconds=ttl_seconds)
