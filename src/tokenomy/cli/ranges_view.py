"""Shared `--ranges` options and rendering: P10–P90 bands and the tornado of what moves an output most."""

from __future__ import annotations

import typer
from rich.table import Table

from tokenomy.cli.base import console
from tokenomy.units import count, money

RANGES_HELP = (
    "Also give P10/P50/P90 of every output (Monte Carlo over the inputs' ranges and the model's measured error) "
    "and a tornado of the inputs that move the result most."
)


def ranges_option():
    return typer.Option(False, "--ranges", help=RANGES_HELP)


def seed_option():
    return typer.Option(0, "--seed", min=0, max=2**32 - 1, help="Seed of the --ranges draws.")


def draws_option():
    return typer.Option(2000, "--draws", min=1000, max=200_000, help="Draws of --ranges (≥ 1,000).")


def fmt_for(name: str):
    """A formatter for an output by its name."""
    if name.endswith("_usd") or "_usd." in name or name.endswith("usd_per_gw"):
        return money
    if name.endswith(("per_mtok", "per_gpu_hour")):
        return lambda v: f"${v:.3f}"
    if name.endswith(("irr", "irr_quarterly")):
        return lambda v: f"{v:.1%}"
    if name.startswith("ratio."):
        return lambda v: f"{v:.1f}x"
    if name.endswith(("years",)):
        return lambda v: f"{v:.1f} y"
    if name.endswith(("joules_per_token", "wh_per_query")):
        return lambda v: f"{v:.3f}"
    return count


def render_bands(rg, keys: list[str], title: str) -> None:
    """A table of P10 / P50 / P90 (and the point value) for ``keys`` that have a band."""
    table = Table(
        title=f"{title} (P10 / P50 / P90, {rg.draws:,} draws, seed {rg.seed})", title_justify="left"
    )
    for col in ("output", "P10", "P50", "P90", "point"):
        table.add_column(col, justify="left" if col == "output" else "right")
    for k in keys:
        b = rg.bands.get(k)
        if b is None:
            continue
        f = fmt_for(k)
        table.add_row(k, f(b.p10), f(b.p50), f(b.p90), "—" if b.point is None else f(b.point))
    console.print(table)


def render_tornado(rg, top: int = 6) -> None:
    """Per output: the inputs whose P10→P90 swing moves it most."""
    for t in rg.tornado:
        if not t.rows:
            continue
        f = fmt_for(t.output)
        table = Table(title=f"tornado: {t.output} (at point inputs {f(t.base)})", title_justify="left")
        for col in ("input", "at input P10", "at input P90", "swing"):
            table.add_column(col, justify="left" if col == "input" else "right")
        for r in t.rows[:top]:
            table.add_row(str(r["label"]), f(float(r["at_p10"])), f(float(r["at_p90"])), f(float(r["swing"])))
        console.print(table)
    for n in rg.notes:
        console.print(f"[dim]ranges: {n}[/]")
