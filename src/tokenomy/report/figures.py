"""Figures of the factory report as inline SVG strings (self-contained HTML, no network)."""

from __future__ import annotations

import io
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from tokenomy.econ.factory import Plan  # noqa: E402
from tokenomy.perf.frontier import Frontier  # noqa: E402

plt.rcParams["svg.fonttype"] = "none"  # keep text as text: smaller, searchable


def _svg(fig) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg") :]


def frontier_svg(frontiers: Sequence[Frontier], title: str) -> str:
    """tok/s per GPU and tok/s per MW against tok/s/user, one line per generation."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for f in frontiers:
        xs = [p.tok_s_per_user for p in f.points]
        axes[0].plot(xs, [p.tok_s_per_gpu for p in f.points], marker=".", label=f.hardware)
        if f.allin_kw_per_gpu:
            axes[1].plot(xs, [p.tok_s_per_mw / 1e6 for p in f.points], marker=".", label=f.hardware)
    axes[0].set_ylabel("throughput per GPU (tok/s)")
    axes[1].set_ylabel("tok/s per MW of all-in power (millions)")
    for ax in axes:
        ax.set_xlabel("interactivity (tok/s/user)")
        ax.set_yscale("log")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    return _svg(fig)


def allocation_svg(plan: Plan) -> str:
    """Stacked bars: MW per tier per generation (stranded power hatched)."""
    fig, ax = plt.subplots(figsize=(8, 4))
    names = [g.name for g in plan.generations]
    tiers = [t.name for t in plan.generations[0].tiers]
    bottom = [0.0] * len(names)
    for i, tier in enumerate(tiers):
        served = [g.tiers[i].power_mw if g.tiers[i].reachable else 0.0 for g in plan.generations]
        stranded = [0.0 if g.tiers[i].reachable else g.tiers[i].power_mw for g in plan.generations]
        ax.bar(names, served, bottom=bottom, label=tier, color=f"C{i}")
        bottom = [b + s for b, s in zip(bottom, served, strict=True)]
        if any(stranded):
            ax.bar(
                names,
                stranded,
                bottom=bottom,
                color="white",
                edgecolor=f"C{i}",
                hatch="//",
                label=f"{tier} (unreachable)",
            )
            bottom = [b + s for b, s in zip(bottom, stranded, strict=True)]
    ax.set_ylabel("power at the meter (MW)")
    ax.set_title("power by price tier")
    ax.legend(fontsize=8, bbox_to_anchor=(1.02, 1), loc="upper left")
    return _svg(fig)


def money_svg(plan: Plan) -> str:
    """Revenue, cost and margin per generation ($B per year)."""
    fig, ax = plt.subplots(figsize=(8, 4))
    names = [g.name for g in plan.generations]
    width = 0.27
    x = range(len(names))
    for k, (attr, label) in enumerate(
        (("revenue_usd", "revenue"), ("cost_usd", "cost"), ("margin_usd", "margin"))
    ):
        ax.bar(
            [i + (k - 1) * width for i in x],
            [getattr(g, attr) / 1e9 for g in plan.generations],
            width,
            label=label,
        )
    ax.set_xticks(list(x), names)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_ylabel("$ billions per year")
    ax.set_title("revenue, cost and margin")
    ax.legend()
    return _svg(fig)


def region_cost_svg(rows: Sequence[dict]) -> str:
    """$ per M tokens by region for each hardware (owned basis)."""
    fig, ax = plt.subplots(figsize=(9, 4))
    hardware = sorted({r["hardware"] for r in rows})
    regions = list(dict.fromkeys(r["region"] for r in rows))
    width = 0.8 / max(len(hardware), 1)
    for k, hw in enumerate(hardware):
        vals = [
            next((r["usd_per_mtok"] for r in rows if r["hardware"] == hw and r["region"] == reg), 0)
            for reg in regions
        ]
        ax.bar([i + k * width for i in range(len(regions))], vals, width, label=hw)
    ax.set_xticks([i + width * (len(hardware) - 1) / 2 for i in range(len(regions))], regions)
    ax.set_yscale("log")
    ax.set_ylabel("$ per M tokens (owned)")
    ax.set_title("cost per million tokens by region")
    ax.legend(fontsize=8)
    return _svg(fig)


def keynote_svg(k) -> str:
    """tok/s per MW against tok/s/user for every generation on one plot (the GTC keynote's chart): tiers as
    bands from their floor, each tier's operating point marked, measured points as crosses."""
    fig, ax = plt.subplots(figsize=(11, 5.5))
    floors = [t["floor"] for t in k.tiers]
    xmax = max([p["tok_s_per_user"] for s in k.series for p in s.frontier] + floors + [10.0]) * 1.3
    for i, t in enumerate(k.tiers):
        right = floors[i + 1] if i + 1 < len(floors) else xmax
        ax.axvspan(t["floor"], right, color=f"C{i}", alpha=0.07)
        ax.text(
            t["floor"] * 1.03,
            0.98,
            f"{t['name']} ≥{t['floor']:g}\n${t['price']:g}/M",
            transform=ax.get_xaxis_transform(),
            va="top",
            fontsize=8,
        )
    for j, s in enumerate(k.series):
        if not s.frontier:
            continue
        color = f"C{j}"
        xs = [p["tok_s_per_user"] for p in s.frontier]
        ys = [p["tok_s_per_mw"] / 1e6 for p in s.frontier]
        ax.plot(xs, ys, color=color, linewidth=1.5, label=f"{s.generation} ({s.hardware})")
        for extra in (False, True):
            sel = [(x, y) for x, y, p in zip(xs, ys, s.frontier, strict=True) if p["extrapolated"] == extra]
            if sel:
                ax.scatter(*zip(*sel, strict=True), s=10, color=color, facecolors="none" if extra else color)
        for op in s.operating:
            ax.scatter(
                op["tok_s_per_user"],
                op["tok_s_per_mw"] / 1e6,
                marker="D",
                s=46,
                color=color,
                edgecolors="black",
                zorder=4,
            )
            ax.annotate(
                op["tier"],
                (op["tok_s_per_user"], op["tok_s_per_mw"] / 1e6),
                fontsize=7,
                xytext=(4, 4),
                textcoords="offset points",
            )
        if s.measured:
            ax.scatter(
                [m["tok_s_per_user"] for m in s.measured],
                [m["tok_s_per_mw"] / 1e6 for m in s.measured],
                marker="x",
                s=22,
                color=color,
                alpha=0.8,
                label=f"measured {s.hardware} (InferenceX)",
            )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(right=xmax)
    ax.set_xlabel("interactivity (tok/s/user)")
    ax.set_ylabel("tok/s per MW of all-in power (millions)")
    ax.set_title(
        f"{k.model}, ISL {k.isl} / OSL {k.osl}: tokens per MW by generation (◆ tier operating points; hollow: extrapolated)"
    )
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize=7, loc="lower left")
    return _svg(fig)
