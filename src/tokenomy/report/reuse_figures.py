"""Report figures for KV-cache reuse and routing (inline SVG)."""

from __future__ import annotations

from collections.abc import Sequence

from tokenomy.report.figures import _svg, plt

HIT_RATES = (0.0, 0.5, 0.9)


def reuse_svg(rows: Sequence[dict]) -> str:
    """Tokens per second per GPU at the tier's floor against the prefix hit rate, one line per system."""
    fig, ax = plt.subplots(figsize=(7, 4))
    for hw in sorted({r["hardware"] for r in rows}):
        pts = sorted(
            (r["hit_rate"], r["tok_s_per_gpu"]) for r in rows if r["hardware"] == hw and r["tok_s_per_gpu"]
        )
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=hw)
    ax.set_xlabel("prefix hit rate (share of prompt tokens served from the KV cache)")
    ax.set_ylabel("tok/s per GPU at the tier's floor")
    ax.set_yscale("log")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    return _svg(fig)


def routing_svg(results: Sequence) -> str:
    """Success against $ per solved task (log) for every routing policy, the Pareto set joined."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for kind, color in (
        ("single", "#888888"),
        ("router", "#1f77b4"),
        ("cascade", "#ff7f0e"),
        ("oracle", "#2ca02c"),
    ):
        pts = [r for r in results if r.kind == kind and r.usd_per_solved_task]
        ax.scatter(
            [r.usd_per_solved_task for r in pts], [r.success_rate for r in pts], c=color, label=kind, s=24
        )
    front = sorted((r for r in results if r.pareto), key=lambda r: r.usd_per_solved_task)
    ax.plot(
        [r.usd_per_solved_task for r in front],
        [r.success_rate for r in front],
        "k--",
        lw=1,
        label="Pareto set",
    )
    ax.set_xscale("log")
    ax.set_xlabel("$ per solved task (held-out prompts)")
    ax.set_ylabel("success rate")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    return _svg(fig)
