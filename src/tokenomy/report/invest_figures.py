"""Figures of the factory over time: cumulative cash, NPV by schedule, supply vs demand (SVG strings or PNG)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from tokenomy.econ.invest import InvestReport  # noqa: E402
from tokenomy.econ.supply import SupplyReport  # noqa: E402
from tokenomy.report.figures import _svg  # noqa: E402


def cumulative_cash_figure(rep: InvestReport):
    """Cumulative cash by quarter, one line per schedule, payback marked."""
    fig, ax = plt.subplots(figsize=(8, 4))
    for i, r in enumerate(rep.results):
        cum = np.asarray(r.cumulative_by_quarter_usd) / 1e9
        x = np.arange(1, len(cum) + 1) / 4.0
        ax.plot(np.concatenate([[0.0], x]), np.concatenate([[0.0], cum]), color=f"C{i}", label=r.schedule)
        if r.payback_years is not None:
            ax.axvline(r.payback_years, color=f"C{i}", ls=":", lw=1)
    ax.axhline(0, color="0.3", lw=0.8)
    start = rep.results[0].years[0] if rep.results else ""
    ax.set_xlabel(f"years from {start}")
    ax.set_ylabel("cumulative cash ($B)")
    ax.set_title(f"{rep.scenario}: cumulative cash (dotted: payback)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def npv_figure(rep: InvestReport):
    """NPV and peak funding need per schedule."""
    fig, ax = plt.subplots(figsize=(8, 3.2))
    names = [r.schedule for r in rep.results]
    y = np.arange(len(names))
    ax.barh(y - 0.2, [r.npv_usd / 1e9 for r in rep.results], height=0.4, label="NPV", color="C0")
    ax.barh(
        y + 0.2,
        [-r.peak_funding_usd / 1e9 for r in rep.results],
        height=0.4,
        label="peak funding need",
        color="C3",
    )
    ax.set_yticks(y, names)
    ax.axvline(0, color="0.3", lw=0.8)
    rate = rep.results[0].discount_rate if rep.results else 0
    ax.set_xlabel(f"$B (NPV at {rate:.0%})")
    ax.grid(True, axis="x", alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def supply_figure(rep: SupplyReport):
    """Tokens/day power can supply per nation vs demand paths (log scale), binding years marked."""
    fig, ax = plt.subplots(figsize=(8, 4))
    ends = [y + 1 for y in rep.years]  # values are at the end of each year
    for i, n in enumerate(rep.nations):
        ax.plot(
            ends,
            n.tokens_per_day,
            color=f"C{i}",
            lw=2,
            marker="o",
            ms=3,
            label=f"{n.name}: supply from new AI power",
        )
    for j, d in enumerate(rep.demand):
        ax.plot(
            ends,
            d.tokens_per_day,
            color=f"C{j + len(rep.nations)}",
            ls="--",
            label=f"{d.name} demand (+{d.growth_per_year:.0%}/yr beyond the data)",
        )
        pts = [p for p in d.points]
        ax.scatter(
            [int(p.as_of[:4]) + (int(p.as_of[5:7]) - 0.5) / 12 for p in pts],
            [p.value for p in pts],
            color=f"C{j + len(rep.nations)}",
            s=14,
            zorder=3,
        )
    ax.set_yscale("log")
    ax.set_ylabel("tokens per day (input + output)")
    ax.set_xlabel("date (lines: end of each year; dots: published figures)")
    ax.set_title("what new power can supply vs public demand paths")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    return fig


def cumulative_cash_svg(rep: InvestReport) -> str:
    return _svg(cumulative_cash_figure(rep))


def npv_svg(rep: InvestReport) -> str:
    return _svg(npv_figure(rep))


def supply_svg(rep: SupplyReport) -> str:
    return _svg(supply_figure(rep))


def save_png(fig, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path
