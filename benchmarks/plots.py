"""PNG plots of the results. The only module that imports matplotlib (Agg backend)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ._libs import DICT, LABELS, LIBRARIES
from ._model import ScenarioResult

__all__ = ["make_plots"]

COLORS = {
    DICT: "#7f7f7f",
    LIBRARIES[0]: "#1f77b4",
    LIBRARIES[1]: "#d62728",
    LIBRARIES[2]: "#2ca02c",
}


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def make_plots(results: Sequence[ScenarioResult], out: Path) -> list[str]:
    """Write every plot the results allow; returns the files written."""
    by_key = {r.key: r for r in results if r.status == "ok"}
    written: list[str] = []
    makers = (
        ("hit", "hit_latency.png", _hit_latency),
        ("throughput", "throughput.png", _throughput),
        ("stall", "refresh_stall.png", _refresh_stall),
        ("stall", "api_calls_timeline.png", _calls_timeline),
        ("outage", "outage.png", _outage),
        ("rotation", "rotation_api_calls.png", _calls_timeline),
    )
    for key, filename, maker in makers:
        result = by_key.get(key)
        if result is None or not result.plot_data:
            continue
        path = out / filename
        maker(result.plot_data, path, result.title)
        written.append(str(path))
    return written


def _hit_latency(data: dict[str, Any], path: Path, title: str) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for key, samples in data["per_call_ns"].items():
        ordered = sorted(samples)
        n = len(ordered)
        cut = max(1, int(n * 0.999))  # the far tail is the OS, not the library
        xs = ordered[:cut]
        ys = [(i + 1) / n for i in range(cut)]
        ax.plot(xs, ys, label=LABELS[key], color=COLORS[key], linewidth=1.6)
    ax.set_xscale("log")
    ax.set_xlabel("ns per read (single call, incl. timer), log scale")
    ax.set_ylabel("fraction of reads")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _throughput(data: dict[str, Any], path: Path, title: str) -> None:
    plt = _pyplot()
    rates: dict[int, dict[str, float]] = data["rates"]
    threads = sorted(rates)
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for key in (DICT, *LIBRARIES):
        ax.plot(
            threads,
            [rates[t][key] for t in threads],
            marker="o",
            label=LABELS[key],
            color=COLORS[key],
        )
    ax.set_xscale("log", base=2)
    ax.set_xticks(threads, [str(t) for t in threads])
    ax.set_yscale("log")
    ax.set_xlabel("threads")
    ax.set_ylabel("reads/s (all threads), log scale")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _binned_max(
    ats: list[float], values: list[float], width: float
) -> tuple[list[float], list[float]]:
    bins: dict[int, float] = {}
    for at, value in zip(ats, values, strict=True):
        slot = int(at // width)
        bins[slot] = max(bins.get(slot, 0.0), value)
    slots = sorted(bins)
    return [s * width for s in slots], [bins[s] for s in slots]


def _refresh_stall(data: dict[str, Any], path: Path, title: str) -> None:
    plt = _pyplot()
    series = data["series"]
    fig, axes = plt.subplots(len(series), 1, figsize=(9, 2.3 * len(series)), sharex=True)
    for ax, (key, s) in zip(axes, series.items(), strict=True):
        xs, ys = _binned_max(s["read_at"], s["read_ms"], 0.05)
        ax.plot(xs, ys, color=COLORS[key], linewidth=1.0, label=f"{LABELS[key]}: slowest read")
        for call in s["call_at"]:
            ax.axvline(call, color="black", alpha=0.15, linewidth=0.8)
        ax.axvline(s["rotation_at"], color="orange", linestyle="--", label="rotation")
        ax.set_yscale("log")
        ax.set_ylabel("ms (max per 50 ms)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(loc="upper right", fontsize=8)
    axes[-1].set_xlabel("seconds (grey lines: API calls)")
    axes[0].set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _calls_timeline(data: dict[str, Any], path: Path, title: str) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 4.5))
    rotation_marked = False
    end = float(data.get("duration", 0.0))
    for key, s in data["series"].items():
        calls = sorted(s["call_at"])
        last = max(end, calls[-1] if calls else 0.0)
        ax.step(
            [0.0, *calls, last],
            [*range(len(calls) + 1), len(calls)],
            where="post",
            color=COLORS.get(key),
            label=LABELS.get(key, key),
        )
        if not rotation_marked:
            ax.axvline(s["rotation_at"], color="orange", linestyle="--", label="rotation")
            rotation_marked = True
    ax.set_xlabel("seconds")
    ax.set_ylabel("cumulative API calls")
    ax.set_title(f"API calls over time across expiries and a rotation\n({title})", fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _outage(data: dict[str, Any], path: Path, title: str) -> None:
    plt = _pyplot()
    reads: dict[str, list[tuple[float, str]]] = data["reads"]
    fig, axes = plt.subplots(len(reads), 1, figsize=(9, 2.3 * len(reads)), sharex=True)
    for ax, (key, rs) in zip(axes, reads.items(), strict=True):
        end = max((at for at, _ in rs), default=0.0)
        slots = range(int(end) + 1)
        served = [0] * len(slots)
        raised = [0] * len(slots)
        for at, outcome in rs:
            if outcome in ("old", "new"):
                served[int(at)] += 1
            else:
                raised[int(at)] += 1
        calls = [0] * len(slots)
        for at in data["calls"].get(key, []):
            if int(at) < len(calls):
                calls[int(at)] += 1
        xs = list(slots)
        ax.plot(xs, served, color=COLORS[key], label="reads served /s")
        ax.plot(xs, raised, color="black", linestyle=":", label="reads raised /s")
        ax.plot(xs, calls, color="purple", linestyle="--", label="API calls /s")
        ax.axvspan(0, data["recovered_at"], color="red", alpha=0.08)
        ax.axvline(data["expiry"], color="grey", linestyle="--", linewidth=0.8)
        ax.set_yscale("symlog", linthresh=1.0)
        ax.set_ylim(bottom=0)
        ax.set_ylabel(LABELS[key])
        ax.grid(True, alpha=0.3)
        ax.legend(loc="upper right", fontsize=7)
    axes[-1].set_xlabel("seconds (red: endpoint failing; dashed: TTL expiry)")
    axes[0].set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
