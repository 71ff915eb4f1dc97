"""Matplotlib figures (headless, Agg backend): frontiers with labelled axes and units."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from tokenomy.perf.frontier import Frontier  # noqa: E402


def plot_frontiers(frontiers: Sequence[Frontier], path: str | Path, title: str | None = None) -> Path:
    """Three panels against tok/s/user: tput per GPU, tok/s per MW (all-in), and $ per M tokens."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, 3, figsize=(16, 5), constrained_layout=True)
    panels = [
        ("tput_per_gpu", "throughput per GPU (tok/s, input + output)", False),
        ("tok_s_per_mw", "tok/s per MW (all-in provisioned power)", False),
        ("usd_per_mtok", "cost ($ per M tokens)", True),
    ]
    for ax, (attr, label, log) in zip(axes, panels, strict=True):
        for f in frontiers:
            pts = [p for p in f.points if getattr(p, attr) is not None]
            if not pts:
                continue
            xs = [p.tok_s_per_user for p in pts]
            ys = [getattr(p, attr) for p in pts]
            ax.plot(xs, ys, marker="o", markersize=3, label=f"{f.hardware} {f.precision} ({f.backend})")
        ax.set_xlabel("interactivity (tok/s/user)")
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
        if log:
            ax.set_yscale("log")
        ax.legend(fontsize=8)
    f0 = frontiers[0]
    fig.suptitle(title or f"{f0.model}, ISL {f0.isl} / OSL {f0.osl}: throughput vs interactivity frontier")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
