"""Tornado charts of `--ranges` as inline SVG (which inputs move an output most, P10 → P90 one at a time)."""

from __future__ import annotations

from tokenomy.econ.ranges import Tornado
from tokenomy.report.figures import _svg, plt


def tornado_svg(t: Tornado, label: str, scale: float = 1.0, unit: str = "", top: int = 8) -> str:
    """Horizontal bars from the output at an input's P10 to it at the input's P90, largest swing on top."""
    rows = list(reversed(t.rows[:top]))
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(rows) + 1.2))
    for i, r in enumerate(rows):
        lo, hi = float(r["at_p10"]) / scale, float(r["at_p90"]) / scale
        ax.barh(i, hi - lo, left=lo, color="#4c78a8" if hi >= lo else "#e45756")
    ax.axvline(t.base / scale, color="black", lw=1)
    ax.set_yticks(range(len(rows)), [str(r["label"]) for r in rows], fontsize=8)
    ax.set_xlabel(f"{label} {unit} (blue: input P10 → P90 raises it; red: lowers it)")
    ax.set_title(f"tornado: {label}", loc="left", fontsize=10)
    ax.grid(True, axis="x", alpha=0.3)
    return _svg(fig)
