"""`tokenomy invest|supply`: the factory over years (cash flow, NPV, payback) and nations' power vs demand."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.table import Table

from tokenomy.catalog import UnknownIdError
from tokenomy.catalog.schema import MissingFigureError
from tokenomy.cli.base import app, console, fail, print_json
from tokenomy.cli.ranges_view import draws_option, ranges_option, seed_option
from tokenomy.units import count, money


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x:.1%}"


@app.command()
def invest(
    scenario: Path | None = typer.Argument(
        None, help="Scenario YAML with an `invest:` block (default: the built-in example)."
    ),
    example: bool = typer.Option(
        False, "--example", help="Print a commented scenario with an invest block and exit."
    ),
    roadmap: bool = typer.Option(
        False, "--roadmap", help="List the hardware roadmap (generations, dates, sources)."
    ),
    price_decline: float | None = typer.Option(
        None,
        "--price-decline",
        min=-0.9,
        max=0.99,
        help="Override: yearly token-price decline of every tier.",
    ),
    plot: Path | None = typer.Option(None, "--plot", help="Write a PNG of cumulative cash here."),
    ranges: bool = ranges_option(),
    seed: int = seed_option(),
    draws: int = draws_option(),
    json_out: bool = typer.Option(False, "--json", help="Print JSON on stdout and nothing else."),
) -> None:
    """Cash flow of an AI factory over years: build schedule, roadmap hardware, ramp-up, token-price decline,
    demand growth, power prices and refresh → revenue, opex, capex, cash flow, NPV, IRR and payback per year,
    per generation and total; schedules side by side with the break-even token-price decline."""
    from tokenomy.econ.invest import INVEST_EXAMPLE_YAML, default_invest, parse_invest
    from tokenomy.econ.invest import invest as run
    from tokenomy.econ.scenario import ScenarioError

    if example:
        sys.stdout.write(INVEST_EXAMPLE_YAML)
        return
    if roadmap:
        _roadmap(json_out)
        return
    try:
        if scenario is None:
            sc, spec = default_invest()
        elif not scenario.exists():
            fail(f"{scenario}: no such scenario file (see `tokenomy invest --example`)")
        else:
            sc, spec = parse_invest(scenario.read_text(encoding="utf-8"), str(scenario))
        if price_decline is not None:
            spec = spec.model_copy(update={"price_decline_per_year": price_decline})
        rep = run(sc, spec)
        rg = None
        if ranges:
            from tokenomy.econ.ranges_econ import invest_ranges

            rg = invest_ranges(sc, spec, draws, seed)
    except ScenarioError as exc:
        fail(str(exc))
    except (UnknownIdError, MissingFigureError, ValueError) as exc:
        fail(str(exc))
    if plot:
        from tokenomy.report.invest_figures import cumulative_cash_figure, save_png

        save_png(cumulative_cash_figure(rep), plot)
    if json_out:
        print_json(
            rep.as_dict() | {"plot": str(plot) if plot else None} | ({"ranges": rg.as_dict()} if rg else {})
        )
        return
    _render_invest(rep)
    if rg:
        from tokenomy.cli.ranges_view import render_bands, render_tornado

        keys = [k for k in rg.bands if k.endswith(("npv_usd", ".irr", "payback_years", "peak_funding_usd"))]
        render_bands(rg, keys, "ranges (yearly cash flow and revenue bands: --json)")
        render_tornado(rg, top=6)
    if plot:
        console.print(f"plot → [bold]{plot}[/]")


def _roadmap(json_out: bool) -> None:
    from tokenomy.catalog.markets import markets
    from tokenomy.catalog.views import figures_dict

    m = markets()
    rows = [
        {"id": g.id, "name": g.name, "system": g.system, "figures": figures_dict(g.figures)}
        for g in m.roadmap.values()
    ]
    if json_out:
        print_json(rows)
        return
    table = Table(title="hardware roadmap", title_justify="left")
    for col in ("id", "name", "system", "available", "conf", "source"):
        table.add_column(col, overflow="fold")
    for g in m.roadmap.values():
        f = g.figures["available_year"]
        table.add_row(g.id, g.name, g.system, f.note or f"{f.value:g}", f.confidence, f"{f.source} ({f.url})")
    console.print(table)


def _render_invest(rep) -> None:
    console.print(f"[bold]{rep.scenario}[/]: cash flow over {len(rep.results[0].years)} years")
    ut = Table(
        title="per MW of each generation (from `tokenomy plan`, full sales, first-year prices)",
        title_justify="left",
    )
    for col in (
        "generation",
        "system",
        "capex/MW",
        "revenue/MW-yr",
        "power/MW-yr",
        "opex/MW-yr",
        "GPUs/MW",
        "available from",
    ):
        ut.add_column(col, overflow="fold")
    for u in rep.units:
        ut.add_row(
            u.name,
            u.system,
            money(u.capex_usd_per_mw),
            money(u.revenue_usd_per_mw_year),
            money(u.power_usd_per_mw_year),
            money(u.opex_usd_per_mw_year),
            f"{u.gpus_per_mw:.0f}",
            u.available,
        )
    console.print(ut)
    console.print(
        "[dim]IRR —: the flows never turn negative, or change sign more than once (a refresh buys again): "
        "no unique rate[/]"
    )
    for r in rep.results:
        t = Table(title=f"schedule: {r.schedule}", title_justify="left")
        for col in (
            "year",
            "MW",
            "tokens sold",
            "revenue",
            "power",
            "opex",
            "op. cash",
            "capex",
            "tax",
            "cash flow",
            "cumulative",
        ):
            t.add_column(col, justify="left" if col == "year" else "right")
        for i, y in enumerate(r.years):
            t.add_row(
                y,
                f"{r.mw_in_service[i]:,.0f}",
                count(r.tokens_sold[i]),
                money(r.revenue_usd[i]),
                money(r.power_usd[i]),
                money(r.opex_usd[i]),
                money(r.operating_cash_usd[i]),
                money(r.capex_usd[i]),
                money(r.tax_usd[i]),
                money(r.cash_flow_usd[i]),
                money(r.cumulative_cash_usd[i]),
            )
        console.print(t)
        console.print(
            f"NPV at {r.discount_rate:.0%}: [bold]{money(r.npv_usd)}[/]; IRR {_pct(r.irr)} yearly, "
            f"{_pct(r.irr_quarterly)} on quarterly flows; payback "
            + (
                f"{r.payback_years:.2f} years ({r.payback_date})"
                if r.payback_years is not None
                else "not reached"
            )
            + f"; peak funding need {money(r.peak_funding_usd)}"
        )
        for g in r.by_generation:
            console.print(
                f"  {g.name}: NPV {money(g.npv_usd)}, capex {money(sum(g.capex_usd))}, IRR {_pct(g.irr)} yearly, "
                f"{_pct(g.irr_quarterly)} quarterly; payback "
                + (f"{g.payback_years:.2f} years" if g.payback_years is not None else "not reached")
            )
        for e in r.events:
            console.print(f"  [dim]{e}[/]")
    if rep.comparisons:
        ct = Table(title="buy now or wait", title_justify="left")
        for col in ("schedule A", "schedule B", "NPV A", "NPV B", "break-even price decline/yr"):
            ct.add_column(col)
        for c in rep.comparisons:
            ct.add_row(c.a, c.b, money(c.npv_a_usd), money(c.npv_b_usd), _pct(c.breakeven_price_decline))
        console.print(ct)
        for c in rep.comparisons:
            console.print(f"• {c.note}")
    console.print("[bold]assumptions[/]")
    for a in rep.assumptions:
        console.print(f"  • {a}")


def _years(text: str) -> tuple[int, int]:
    a, _, b = text.partition(":")
    try:
        return int(a), int(b or a)
    except ValueError:
        fail(f"--years '{text}': write FIRST:LAST, e.g. 2026:2030")
        raise


@app.command()
def supply(
    country: list[str] = typer.Option(
        [], "--country", "-c", help="Nation id (us, china); repeat. Default: all."
    ),
    years: str = typer.Option("2026:2030", "--years", help="FIRST:LAST year."),
    gw_per_year: float | None = typer.Option(
        None, "--gw-per-year", min=0.0, help="Override: GW added every year."
    ),
    target: bool = typer.Option(
        False, "--target", help="Use a nation's proposed GW/yr (OpenAI's +100 GW for the US)."
    ),
    ai_share: float | None = typer.Option(
        None, "--ai-share", min=0.0, max=1.0, help="Override: share of new GW that feeds AI."
    ),
    demand: list[str] = typer.Option([], "--demand", "-d", help="Demand path id (doubao, google); repeat."),
    demand_growth: float | None = typer.Option(
        None,
        "--demand-growth",
        help="Yearly demand growth beyond the data (default: from the first to the last point).",
    ),
    capex: float | None = typer.Option(None, "--capex", help="Reverse: capex in $, e.g. 1e12."),
    usd_per_gw: float | None = typer.Option(
        None, "--usd-per-gw", help="Reverse: $ per GW (default $40B [W])."
    ),
    hardware: str = typer.Option(
        "vr_nvl72", "--hardware", "-H", help="Reverse: system bought with the capex."
    ),
    mix: str | None = typer.Option(
        None, "--mix", help="Hardware of new AI capacity every year, e.g. gb300_nvl72=0.5,vr_nvl72=0.5."
    ),
    plot: Path | None = typer.Option(None, "--plot", help="Write a PNG of supply vs demand here."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON on stdout and nothing else."),
) -> None:
    """Nation scale: GW added per year × AI share × hardware → tokens/day power can supply, beside public demand
    paths (Doubao, Google) → the year power binds; and the reverse, capex → GW → GPUs, tokens/day, revenue."""
    from tokenomy.econ.supply import parse_hardware_mix
    from tokenomy.econ.supply import supply as run

    try:
        hardware_mix = parse_hardware_mix(mix) if mix else None
    except ValueError as exc:
        fail(f"--mix: {exc}")
    try:
        rep = run(
            country or None,
            _years(years),
            gw_per_year,
            target,
            ai_share,
            demand or None,
            demand_growth,
            capex,
            usd_per_gw,
            hardware,
            hardware_mix,
        )
    except (UnknownIdError, MissingFigureError, ValueError) as exc:
        fail(str(exc))
    if plot:
        from tokenomy.report.invest_figures import save_png, supply_figure

        save_png(supply_figure(rep), plot)
    if json_out:
        print_json(rep.as_dict() | {"plot": str(plot) if plot else None})
        return
    for n in rep.nations:
        g, s, p = n.gw_added_per_year, n.ai_share, n.pue
        console.print(
            f"[bold]{n.name}[/]: {g.value:g} GW added a year [{g.confidence}] ({g.source}, {g.url}, {g.as_of}"
            + (f"; {g.note}" if g.note else "")
            + f"), AI share {s.value:.0%} [{s.confidence}], PUE {p.value:g} "
            f"[{p.confidence}]",
            soft_wrap=True,
        )
        t = Table(title_justify="left")
        for col in (
            "year",
            "hardware",
            "AI GW (cum.)",
            "tokens/day",
            *[f"{d.id} demand" for d in rep.demand],
            *[f"GW for {d.id}" for d in rep.demand],
        ):
            t.add_column(col, justify="left" if col in ("year", "hardware") else "right")
        for i, y in enumerate(rep.years):
            t.add_row(
                str(y),
                n.hardware[i],
                f"{n.ai_gw[i]:,.1f}",
                count(n.tokens_per_day[i]),
                *[count(d.tokens_per_day[i]) for d in rep.demand],
                *[f"{n.gw_needed[d.id][i]:,.1f}" for d in rep.demand],
            )
        console.print(t)
        for d in rep.demand:
            y = n.binding_year[d.id]
            console.print(
                f"  {d.name}: power binds " + (f"in [bold]{y}[/]" if y else f"not by {rep.years[-1]}")
            )
    for d in rep.demand:
        pts = "; ".join(
            f"{count(p.value)}/day on {p.as_of} [{p.confidence}] ({p.source}, {p.url})" for p in d.points
        )
        console.print(f"[dim]{d.name}: {pts}; beyond: +{d.growth_per_year:.0%} a year[/]", soft_wrap=True)
    if rep.reverse:
        r = rep.reverse
        console.print(
            f"[bold]{money(r.capex_usd)}[/] at {money(r.usd_per_gw)}/GW ({r.usd_per_gw_source}) → "
            f"[bold]{r.gw:,.1f} GW[/] of {r.hardware}: {count(r.gpus)} GPUs, {count(r.tokens_per_day)} tokens/day "
            f"({count(r.output_tokens_per_day)} output), {money(r.revenue_usd_per_year)} a year at Free/Medium/High (a third each); "
            f"hardware alone is {money(r.hardware_capex_usd_per_gw)}/GW ({r.capex_source})",
            soft_wrap=True,
        )
    console.print("[bold]assumptions[/]")
    for a in rep.assumptions:
        console.print(f"  • {a}")
    if plot:
        console.print(f"plot → [bold]{plot}[/]")
