"""The scenarios, in the order they run. Each module has ``KEY``, ``TITLE`` and ``run(ctx)``."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

from .. import async_cache
from .._model import Context, ScenarioResult
from . import (
    api_calls,
    cold_start,
    hit_latency,
    outage,
    refresh_stall,
    rotation,
    stampede,
    throughput,
)

__all__ = ["SCENARIOS", "Scenario"]

Scenario = Callable[[Context], ScenarioResult]

_MODULES: tuple[ModuleType, ...] = (
    hit_latency,
    throughput,
    stampede,
    refresh_stall,
    outage,
    api_calls,
    cold_start,
    rotation,
    async_cache,
)

SCENARIOS: dict[str, tuple[str, Scenario]] = {m.KEY: (m.TITLE, m.run) for m in _MODULES}
