"""The benchmark command: ``python -m benchmarks [--quick] [--only KEY,...]``.

Runs every scenario against one in-process moto endpoint, prints each scenario's table and
then the headline table of ratios, and writes ``results.json``, ``report.md`` and the PNG
plots (to ``benchmarks/results/``; ``--quick`` runs write to ``benchmarks/results/quick/``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import platform
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path

from ._anchors import anchor_notes
from ._endpoint import MotoEndpoint
from ._libs import library_versions, load_secretcache
from ._model import Context, ScenarioResult, Settings
from ._report import HEADLINE_COLUMNS, headline_rows, text_table, write_json, write_markdown
from .scenarios import SCENARIOS

__all__ = ["main"]

RESULTS = Path(__file__).resolve().parent / "results"

METHOD = [
    "- One process, one moto server (`moto.server.ThreadedMotoServer` on 127.0.0.1, port 0). "
    "Each library instance gets its own real botocore client over HTTP; all clients share one "
    "configuration: botocore retries off (`total_max_attempts=1`), so each library's own "
    "refresh and retry policy is what is measured and one API call is one HTTP request.",
    "- API calls are counted exactly, per library instance, with botocore's "
    "`before-call.secrets-manager` event on that instance's own client (outcomes from "
    "`after-call` / `after-call-error`). Calls made by the harness (creating and rotating "
    "secrets) go through a separate, uncounted admin client.",
    "- Latency and outages are injected with a `before-send` handler on each library's client: "
    "it sleeps for the configured latency, then sends the request to moto, or, during an "
    "outage, answers it with HTTP 500 `InternalServiceError`. It runs inside the library's "
    "botocore call, where a slow or failing endpoint is felt, identically for all three "
    "libraries (all three reach Secrets Manager only through the botocore client).",
    "- Repeats are interleaved (the order of libraries rotates) and ratios are medians of "
    "paired per-repeat ratios where a scenario repeats; absolute numbers are printed but the "
    "machine is noisy. The garbage collector stays on, as in production.",
    "- Secret values are random, kept in memory to check what each library returned, and never "
    "printed or written.",
]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="secretcache vs aws-secretsmanager-caching vs Powertools parameters, "
        "against one moto endpoint.",
    )
    parser.add_argument(
        "--quick", action="store_true", help="short durations (CI smoke run, under a minute)"
    )
    parser.add_argument(
        "--only", default="", help=f"comma-separated scenarios to run: {','.join(SCENARIOS)}"
    )
    parser.add_argument("--skip", default="", help="comma-separated scenarios to leave out")
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=None,
        help="endpoint latency added to every request in the stampede scenario (default 50)",
    )
    parser.add_argument(
        "--stall-latency-ms",
        type=float,
        default=None,
        help="endpoint latency in the refresh-stall scenario (default 200)",
    )
    parser.add_argument(
        "--outage-seconds",
        type=float,
        default=None,
        help="how long the endpoint fails after expiry (default 30, quick 6)",
    )
    parser.add_argument("--output", type=Path, default=None, help="directory for the results")
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    parser.add_argument("--list", action="store_true", help="list the scenarios and exit")
    return parser


def _selected(only: str, skip: str) -> list[str]:
    wanted = [k.strip() for k in only.split(",") if k.strip()] or list(SCENARIOS)
    dropped = {k.strip() for k in skip.split(",") if k.strip()}
    unknown = [k for k in [*wanted, *dropped] if k not in SCENARIOS]
    if unknown:
        raise SystemExit(
            f"unknown scenario(s): {', '.join(unknown)}; known: {', '.join(SCENARIOS)}"
        )
    return [k for k in SCENARIOS if k in wanted and k not in dropped]


def _settings(args: argparse.Namespace) -> Settings:
    def seconds(ms: float | None) -> float | None:
        return None if ms is None else ms / 1000

    return Settings.for_mode(
        quick=args.quick,
        latency_seconds=seconds(args.latency_ms),
        stall_latency_seconds=seconds(args.stall_latency_ms),
        outage_seconds=args.outage_seconds,
    )


def _run_one(ctx: Context, key: str) -> ScenarioResult:
    title, scenario = SCENARIOS[key]
    started = time.perf_counter()
    try:
        result = scenario(ctx)
    except Exception as exc:  # noqa: BLE001 - one broken scenario must not hide the others
        traceback.print_exc(limit=4, file=sys.stderr)
        result = ScenarioResult(key, title, status="failed")
        result.notes = [f"failed: {type(exc).__name__}: {str(exc)[:200]}"]
    result.seconds = time.perf_counter() - started
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmarks; 0 when every selected scenario ran, 1 if one failed."""
    args = _parser().parse_args(argv)
    if args.list:
        for key, (title, _) in SCENARIOS.items():
            print(f"{key:12} {title}")
        return 0
    settings = _settings(args)
    keys = _selected(args.only, args.skip)
    out: Path = args.output or (RESULTS / "quick" if settings.quick else RESULTS)
    out.mkdir(parents=True, exist_ok=True)
    _, placeholder = load_secretcache()
    if placeholder:
        print(
            "WARNING: secretcache.SecretCache is not importable; measuring a PLACEHOLDER "
            "stand-in in its place.",
            file=sys.stderr,
        )

    # The SDK logs each outage (stale served, failed refresh) once per episode; with no
    # handler configured, logging's last resort would interleave those lines with the tables.
    logging.getLogger("secretcache").addHandler(logging.NullHandler())
    started = time.perf_counter()
    endpoint = MotoEndpoint()
    ctx = Context(settings, endpoint, placeholder)
    results: list[ScenarioResult] = []
    try:
        for index, key in enumerate(keys, 1):
            print(f"\n[{index}/{len(keys)}] {SCENARIOS[key][0]}", flush=True)
            result = _run_one(ctx, key)
            results.append(result)
            if result.columns:
                print(text_table(result.columns, result.rows))
            for note in result.notes:
                print(f"  - {note}")
            print(f"  ({result.status}, {result.seconds:.1f} s)", flush=True)
    finally:
        endpoint.stop()
    elapsed = time.perf_counter() - started

    print("\nHeadline (vs X: times better than X; ours/dict: 1 is the floor)")
    if placeholder:
        print("!! PLACEHOLDER: the secretcache column is a stand-in, not the SDK !!")
    print(text_table(HEADLINE_COLUMNS, headline_rows(results)))

    meta = {
        "command": " ".join(
            ["python -m benchmarks", *(argv if argv is not None else sys.argv[1:])]
        ),
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "mode": "quick" if settings.quick else "full",
        "seconds": elapsed,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "versions": library_versions(),
        "placeholder": placeholder,
        "settings": settings,
        "method": METHOD,
    }
    plots: list[str] = []
    if not args.no_plots:
        from .plots import make_plots

        plots = make_plots(results, out)
    write_json(out / "results.json", meta, results)
    write_markdown(out / "report.md", meta, results, plots, anchor_notes())
    print(
        f"\nWrote {out / 'results.json'}, {out / 'report.md'} and {len(plots)} plots ({elapsed:.0f} s)."
    )
    return 1 if any(r.status == "failed" for r in results) else 0
