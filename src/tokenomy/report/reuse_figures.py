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


ROUTE_COLORS = {"single": "#888888", "router": "#1f77b4", "cascade": "#ff7f0e", "oracle": "#2ca02c"}


def draw_routing(ax, results: Sequence, label_front: bool = False) -> None:
    """Success against $ per solved task (log) for every routing policy, the Pareto set joined (and labelled)."""
    for kind, color in ROUTE_COLORS.items():
        pts = [r for r in results if r.kind == kind and r.usd_per_solved_task]
        ax.scatter(
            [r.usd_per_solved_task for r in pts], [r.success_rate for r in pts], c=color, label=kind, s=24
        )
    front = sorted((r for r in results if r.pareto), key=lambda r: r.usd_per_solved_task or 0.0)
    ax.plot(
        [r.usd_per_solved_task for r in front],
        [r.success_rate for r in front],
        "k--",
        lw=1,
        label="Pareto set",
    )
    if label_front:
        seen: dict[tuple[float, float], list[str]] = {}
        for r in front:  # policies at the same point share one label
            seen.setdefault((r.usd_per_solved_task, r.success_rate), []).append(r.policy)
        for (x, y), names in seen.items():
            label = names[0] + (f" (+{len(names) - 1} equal)" if len(names) > 1 else "")
            ax.annotate(label, (x, y), fontsize=7, xytext=(4, 4), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_ylabel("success rate")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)


def routing_svg(results: Sequence) -> str:
    """The routing chart of the report."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    draw_routing(ax, results)
    ax.set_xlabel("$ per solved task (held-out prompts)")
    return _svg(fig)


def routing_png(report, path) -> None:
    """`tokenomy route --plot`: the routing chart with the Pareto policies named, as a PNG."""
    fig, ax = plt.subplots(figsize=(9, 6))
    draw_routing(ax, report.results, label_front=True)
    ax.set_xlabel(f"$ per solved task ({report.price_table} prices, held-out prompts)")
    ax.set_title("routing policies: cost per solved task vs success")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
