"""8. Rotation under load: the slot the database work fills in.

Contract for whoever fills it: ``run(ctx)`` returns a :class:`~benchmarks._model.ScenarioResult`
with ``key = "rotation"``. For each library in ``benchmarks._libs.LIBRARIES``, build it with
``ctx.subject(library, ttl_seconds=..., latency_seconds=...)`` (a fresh counted client on the
shared moto endpoint; ``subject.probe.log`` holds its API calls), run queries against a real
database with credentials read through that subject while the secret is rotated the real way
(``ALTER ROLE ... PASSWORD`` on the server plus stage moves on the endpoint through
``ctx.endpoint.admin``), and report per library: failed queries, API calls per rotation, and
the time until new connections use the new password. Put those in ``headline`` (one
:class:`~benchmarks._model.Headline` per metric, ``lower_is_better=True``) and the call times
in ``plot_data["series"]`` shaped like the refresh-stall scenario's (``call_at``,
``rotation_at`` per library) to get the API-calls-over-time plot for free.

Until then it reports itself as skipped, so the suite and the report stay complete.
"""

from __future__ import annotations

from .._model import Context, ScenarioResult

KEY = "rotation"
TITLE = "Rotation under load (database): failed queries and API calls per rotation"


def run(ctx: Context) -> ScenarioResult:
    del ctx
    result = ScenarioResult(KEY, TITLE, status="skipped")
    result.notes = ["Not measured yet: this slot is filled by the database integration work."]
    return result
