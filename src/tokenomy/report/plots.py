"""Matplotlib figures (headless, Agg backend): frontiers with labelled axes and units."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from tokenomy.econ.cost import PricedFrontier  # noqa: E402


def plot_frontiers(
    priced: Sequence[PricedFrontier],
    path: str | Path,
    title: str | None = None,
    measured: Sequence[tuple[str, float, float]] = (),
) -> Path:
    """Three panels against tok/s/user: tput per GPU, tok/s per MW (all-in), and $ per M tokens.

    Extrapolated points are hollow; ``measured`` (label, tok/s/user, tok/s/GPU) are overlaid on the first panel.
    """
    frontiers = [pf.frontier for pf in priced]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, 3, figsize=(16, 5), constrained_layout=True)
    panels = [
        ("tok_s_per_gpu", "throughput per GPU (tok/s, input + output)", False),
        ("tok_s_per_mw", "tok/s per MW (all-in provisioned power)", False),
        ("usd_per_mtok", "cost ($ per M tokens)", True),
    ]
    for ax, (attr, label, log) in zip(axes, panels, strict=True):
        for pf in priced:
            f = pf.frontier
            value = pf.usd_per_mtok if attr == "usd_per_mtok" else (lambda p, a=attr: getattr(p, a))
            pts = [p for p in f.points if value(p) is not None]
            if not pts:
                continue
            xs = [p.tok_s_per_user for p in pts]
            ys = [value(p) for p in pts]
            (line,) = ax.plot(xs, ys, linewidth=1.2, label=f"{f.hardware} {f.precision}")
            for extra in (False, True):
                sel = [(x, y) for x, y, p in zip(xs, ys, pts, strict=True) if p.extrapolated == extra]
                if sel:
                    ax.scatter(
                        *zip(*sel, strict=True),
                        s=14,
                        color=line.get_color(),
                        facecolors="none" if extra else line.get_color(),
                        zorder=3,
                    )
        if attr == "tok_s_per_gpu" and measured:
            for kind in sorted({m[0] for m in measured}):
                sel = [(x, y) for lab, x, y in measured if lab == kind]
                ax.scatter(
                    *zip(*sel, strict=True), marker="x", s=28, zorder=4, label=f"measured: {kind}"[:60]
                )
        ax.set_xlabel("interactivity (tok/s/user)")
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
        if log:
            ax.set_yscale("log")
        ax.legend(fontsize=8)
    f0 = frontiers[0]
    fig.suptitle(
        title
        or f"{f0.model}, ISL {f0.isl} / OSL {f0.osl}: throughput vs interactivity frontier (hollow: extrapolated)"
    )
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
