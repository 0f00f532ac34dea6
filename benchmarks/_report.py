"""Turning scenario results into the printed tables, ``results.json`` and ``report.md``."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ._libs import AWS, DICT, LABELS, LIBRARIES, POWERTOOLS
from ._model import Headline, ScenarioResult

__all__ = [
    "fmt",
    "headline_rows",
    "markdown_table",
    "text_table",
    "write_json",
    "write_markdown",
]

HEADLINE_COLUMNS = [
    "metric",
    LABELS[DICT],
    *(LABELS[k] for k in LIBRARIES),
    "ours/dict",
    "vs AWS lib",
    "vs Powertools",
]


def fmt(value: Any, digits: int = 3) -> str:
    """A compact human rendering of a number (or anything else) for tables."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        if math.isinf(value):
            return "inf"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        if value == 0:
            return "0"
        return f"{value:.{digits}g}"
    if isinstance(value, dict):
        return ", ".join(f"{k} {fmt(v)}" for k, v in value.items()) or "-"
    return str(value)


def fmt_ratio(value: float | None) -> str:
    """A ratio as ``12.3x``; ``-`` when it cannot be formed."""
    if value is None or math.isnan(value):
        return "-"
    if math.isinf(value):
        return "inf"
    if value >= 100:
        return f"{value:,.0f}x"
    if value >= 10:
        return f"{value:.1f}x"
    if value >= 0.01:
        return f"{value:.2f}x"
    return f"{value:.2g}x"


def _advantage(line: Headline, anchor: str) -> float | None:
    if anchor in line.advantage:
        return line.advantage[anchor]
    ours, other = line.values.get(LIBRARIES[0]), line.values.get(anchor)
    if ours is None or other is None or ours == 0:
        return None
    return other / ours if line.lower_is_better else ours / other


def headline_rows(results: Sequence[ScenarioResult]) -> list[list[str]]:
    """The headline table: every scenario's headline lines, formatted."""
    rows = []
    for result in results:
        for line in result.headline:
            rows.append(
                [
                    line.metric,
                    fmt(line.values.get(DICT), line.digits),
                    *(fmt(line.values.get(k), line.digits) for k in LIBRARIES),
                    fmt_ratio(line.vs_dict),
                    fmt_ratio(_advantage(line, AWS)),
                    fmt_ratio(_advantage(line, POWERTOOLS)),
                ]
            )
    return rows


def text_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A fixed-width table for the terminal."""
    cells = [[fmt(c) for c in row] for row in rows]
    widths = [len(c) for c in columns]
    for row in cells:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    for row in cells:
        lines.append(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    return "\n".join(lines)


def markdown_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub-flavoured Markdown table."""
    head = "| " + " | ".join(columns) + " |"
    rule = "|" + "|".join(":---" if i == 0 else "---:" for i in range(len(columns))) + "|"
    body = ["| " + " | ".join(fmt(c).replace("|", "/") for c in row) + " |" for row in rows]
    return "\n".join([head, rule, *body])


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _jsonable(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


def write_json(path: Path, meta: dict[str, Any], results: Sequence[ScenarioResult]) -> None:
    """``results.json``: run metadata, then each scenario without its in-memory plot data."""
    scenarios = {}
    for r in results:
        scenarios[r.key] = {
            "title": r.title,
            "status": r.status,
            "seconds": r.seconds,
            "headline": [_jsonable(h) for h in r.headline],
            "columns": r.columns,
            "rows": _jsonable(r.rows),
            "notes": r.notes,
            "data": _jsonable(r.data),
        }
    document = {"meta": _jsonable(meta), "scenarios": scenarios}
    path.write_text(json.dumps(document, indent=2, sort_keys=False) + "\n")


def write_markdown(
    path: Path,
    meta: dict[str, Any],
    results: Sequence[ScenarioResult],
    plots: Sequence[str],
    anchor_notes: str,
) -> None:
    """``report.md``: how it was run, the headline table, every scenario, the anchors' notes."""
    out = [
        "# secretcache benchmarks",
        "",
        f"Run `{meta['command']}` on {meta['date']} ({meta['mode']} mode, "
        f"{meta['seconds']:.0f} s): Python {meta['python']}, {meta['cpus']} CPUs, "
        + ", ".join(f"{k} {v}" for k, v in meta["versions"].items())
        + ".",
        "",
    ]
    if meta.get("placeholder"):
        out += [
            "> **PLACEHOLDER**: `secretcache.SecretCache` was not importable; the 'secretcache'",
            "> column measures a stand-in dict cache in `benchmarks/_libs.py`, not the SDK.",
            "",
        ]
    out += [
        "## Headline",
        "",
        "`vs AWS lib` / `vs Powertools`: how many times better secretcache is (>1: better; "
        "anchor/ours for times, calls and costs, ours/anchor for throughput). `ours/dict`: "
        "secretcache relative to the bare dict read (1 = the floor). Absolute times come from a "
        "noisy 2-CPU machine; the ratios are the verdict.",
        "",
        markdown_table(HEADLINE_COLUMNS, headline_rows(results)),
        "",
        "## Method",
        "",
        *meta["method"],
        "",
    ]
    for r in results:
        out += [f"## {r.title}", ""]
        if r.status != "ok":
            out += [f"*{r.status}*", ""]
        if r.columns:
            out += [markdown_table(r.columns, r.rows), ""]
        out += [f"- {note}" for note in r.notes]
        out.append("")
    if plots:
        out += ["## Plots", ""]
        out += [f"![{Path(p).stem}]({Path(p).name})" for p in plots]
        out.append("")
    out += [anchor_notes.strip(), ""]
    path.write_text("\n".join(out))
