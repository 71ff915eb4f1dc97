"""`tokenomy plan|cost|capacity|claims|report|serve`: economics and what to look at."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.table import Table

from tokenomy.catalog import UnknownIdError
from tokenomy.catalog.schema import MissingFigureError
from tokenomy.cli.base import (
    app,
    choice,
    console,
    fail,
    number,
    output_path,
    print_json,
)
from tokenomy.cli.perf import _load_calibration
from tokenomy.cli.ranges_view import draws_option, ranges_option, seed_option
from tokenomy.units import count, money

HIT_RATE_HELP = "Share of prompt tokens served from the KV cache (prefix reuse): only the rest is prefilled."
SESSION_HELP = (
    "Multi-turn workload TURNS,TOKENS_PER_TURN,OUTPUT_PER_TURN,THINK_S[,SYSTEM_TOKENS]: sets ISL, OSL and the hit "
    "rate each system's cache tiers (HBM, host DRAM, SSD) allow."
)
MODEL_MIX_HELP = (
    "A router's token shares per model, e.g. gpt-oss-120b=0.7,deepseek-r1=0.3, for every tier without its own "
    "model_mix (see `tokenomy route`)."
)


def calibration_option():
    """`--calibration FILE`: a fit of one's own instead of the packaged one."""
    return typer.Option(
        None,
        "--calibration",
        help="Calibration JSON written by `tokenomy calibrate` (a fit of your own measurements; default: the packaged fit).",
    )


def allow_extrapolation_option():
    """`--allow-extrapolation`: also read frontier points beyond what measured data backs."""
    return typer.Option(
        False,
        "--allow-extrapolation",
        help="Also use frontier points beyond what measured data of the engine shows (outputs say so).",
    )


@app.command()
def plan(
    scenario: Path | None = typer.Argument(
        None, help="Scenario YAML (default: the built-in 1 GW GTC 2026 factory)."
    ),
    example: bool = typer.Option(False, "--example", help="Print a commented scenario file and exit."),
    allocation: str | None = typer.Option(
        None,
        "--allocation",
        callback=choice("fixed", "optimize"),
        help="Override: fixed or optimize (LP, HiGHS).",
    ),
    report: Path | None = typer.Option(
        None, "--report", help="Also write a self-contained HTML report here."
    ),
    allow_extrapolation: bool = allow_extrapolation_option(),
    prefix_hit_rate: float | None = typer.Option(
        None,
        "--prefix-hit-rate",
        callback=number(0.0, 1.0),
        help=HIT_RATE_HELP + " Tiers that set theirs keep it.",
    ),
    model_mix: str | None = typer.Option(None, "--model-mix", help=MODEL_MIX_HELP),
    ranges: bool = ranges_option(),
    seed: int = seed_option(),
    draws: int = draws_option(),
    calibration: Path | None = calibration_option(),
    json_out: bool = typer.Option(False, "--json", help="Print JSON on stdout and nothing else."),
) -> None:
    """Plan an AI factory: power → GPUs → tokens → revenue, cost and margin per price tier and generation.

    Each tier's interactivity floor picks the most productive frontier point that meets it. Power goes to
    tiers by fixed shares or by a linear program under demand caps (`--allocation optimize`).
    """
    from tokenomy.econ.factory import has_levers, lever_effect
    from tokenomy.econ.factory import plan as make_plan
    from tokenomy.econ.scenario import EXAMPLE_YAML, ScenarioError, load_scenario, with_allocation

    if example:
        sys.stdout.write(EXAMPLE_YAML)
        return
    output_path(report, "report", (".html", ".htm"))
    try:
        sc = load_scenario(scenario)
        if calibration is not None:
            _load_calibration(calibration)  # a clear error before any work
            sc = sc.model_copy(update={"calibration": str(calibration)})
        if allow_extrapolation:
            sc = sc.model_copy(update={"allow_extrapolation": True})
        if allocation:
            sc = with_allocation(sc, allocation)
        sc = _with_levers(sc, prefix_hit_rate, model_mix)
        effect = None
        if has_levers(sc):
            result, effect = lever_effect(sc)
        else:
            result = make_plan(sc)
        rg = None
        if ranges:
            from tokenomy.econ.ranges_econ import plan_ranges

            rg = plan_ranges(sc, result, draws, seed)
    except ScenarioError as exc:
        fail(str(exc))
    except (UnknownIdError, MissingFigureError, ValueError) as exc:
        fail(str(exc))
    if report:
        from tokenomy.report.html import write_report

        with console.status("writing the report…"):
            # A routed plan splits tiers per model; the report draws the plan by tier and its levers apart.
            write_report(
                report, sc, None if effect and any(t.model_mix for t in sc.tiers) else result, ranges=rg
            )
    if json_out:
        print_json(
            result.as_dict()
            | {"report": str(report) if report else None}
            | ({"levers": effect.as_dict()} if effect else {})
            | ({"ranges": rg.as_dict()} if rg else {})
        )
        return
    _render_plan(result)
    if effect:
        _render_levers(effect)
    if rg:
        _render_plan_ranges(result, rg)
    if report:
        console.print(f"report → [bold]{report}[/]")


def _with_levers(sc, prefix_hit_rate: float | None, model_mix: str | None):
    """The scenario with ``--prefix-hit-rate`` and ``--model-mix`` given to the tiers that set neither."""
    from tokenomy.econ.capacity import parse_model_mix

    mix = parse_model_mix(model_mix) if model_mix else None
    if prefix_hit_rate is None and mix is None:
        return sc
    tiers = []
    for t in sc.tiers:
        upd = {}
        if prefix_hit_rate is not None and t.prefix_hit_rate is None:
            upd["prefix_hit_rate"] = prefix_hit_rate
        if mix and t.model_mix is None:
            upd["model_mix"] = mix
        tiers.append(t.model_copy(update=upd))
    return sc.model_copy(update={"tiers": tiers})


def _render_levers(effect) -> None:
    """What caching and routing change beside the plan without them."""
    table = Table(title="levers: what KV-cache reuse and model routing change (vs the plan without them)")
    for col in (
        "generation",
        "case",
        "GPUs",
        "MW serving",
        "output tok/day",
        "margin/yr",
        "$/M out",
        "Δ tok/day",
        "Δ margin",
    ):
        table.add_column(col, justify="left" if col in ("generation", "case") else "right")
    for r in effect.rows:
        dt = effect.change(r.generation, r.case, "output_tokens_per_day")
        dm = effect.change(r.generation, r.case, "margin_usd")
        table.add_row(
            r.generation,
            r.case,
            count(r.gpus),
            f"{r.power_mw:,.0f}",
            count(r.output_tokens_per_day),
            money(r.margin_usd),
            "—" if r.cost_usd_per_mtok is None else f"{r.cost_usd_per_mtok:.3f}",
            "" if r.case == "without" or dt is None else f"{dt:+.0%}",
            "" if r.case == "without" or dm is None else f"{dm:+.0%}",
        )
    console.print(table)
    for n in effect.notes:
        console.print(f"  • {n}")


def _render_plan_ranges(result, rg) -> None:
    from tokenomy.cli.ranges_view import render_bands, render_tornado

    keys = [
        f"{g.name}.{k}"
        for g in result.generations
        for k in (
            "revenue_usd",
            "cost_usd",
            "margin_usd",
            "output_tokens_per_year",
            "cost_usd_per_mtok",
            "gpus",
        )
    ]
    keys += [k for k in rg.bands if k.startswith("ratio.")]
    render_bands(rg, keys, "ranges by generation (every tier's band: --json)")
    render_tornado(rg)


def result_grid(result) -> float:
    """Grid carbon intensity (gCO2e/kWh) of the plan's region."""
    from tokenomy.catalog import catalog

    return catalog().region(result.scenario["region"]).require("grid_gco2_per_kwh")


def _render_plan(result) -> None:
    sc = result.scenario
    console.print(
        f"[bold]{sc['name']}[/]: {sc['power_mw']:,.0f} MW at the meter, PUE {sc['pue']}, region {sc['region']}, "
        f"{sc['allocation']} allocation, cost basis {sc['cost_basis']}"
    )
    for g in result.generations:
        table = Table(
            title=f"{g.name} ({', '.join(g.usd_per_gpu_hour)}: "
            + ", ".join(f"${v:.2f}/GPU-h" for v in g.usd_per_gpu_hour.values())
            + ")",
            title_justify="left",
        )
        for col in (
            "tier ≥ floor",
            "model",
            "tok/s/user",
            "tok/s/GPU",
            "MW",
            "GPUs",
            "tokens/yr",
            "revenue/yr",
            "cost/yr",
            "margin/yr",
            "$/M cost",
        ):
            table.add_column(col, justify="left" if col in ("tier ≥ floor", "model") else "right")
        for t in g.tiers:
            tier = f"{t.name} ≥{t.min_tok_s_per_user:g} (${t.price_usd_per_mtok:g}/M)"
            if not t.reachable:
                best = t.reason.split("best ")[-1].split(" ")[0] if "best" in t.reason else "—"
                table.add_row(tier, t.model, f"[dim]max {best}[/]", "—", f"{t.power_mw:,.0f}", *["—"] * 6)
                continue
            table.add_row(
                tier,
                f"{t.model} {t.precision}",
                f"{t.tok_s_per_user:.0f}",
                f"{t.tok_s_per_gpu:,.0f}{' *' if t.extrapolated else ''}",
                f"{t.power_mw:,.0f}",
                count(t.gpus),
                count(t.sold_output_tokens_per_year),
                money(t.revenue_usd),
                money(t.cost_usd),
                money(t.margin_usd),
                "—" if t.cost_usd_per_mtok is None else f"{t.cost_usd_per_mtok:.3f}",
            )
        table.add_section()
        table.add_row(
            "[bold]total[/]",
            "",
            "",
            "",
            f"{g.power_mw - g.unused_mw:,.0f}",
            count(g.gpus),
            count(g.output_tokens_per_year),
            money(g.revenue_usd),
            money(g.cost_usd),
            money(g.margin_usd),
            "—" if g.cost_usd_per_mtok is None else f"{g.cost_usd_per_mtok:.3f}",
        )
        console.print(table)
        extra = [f"{g.racks:,.0f} racks/nodes"]
        if g.shadow_price_usd_per_mw_year is not None:
            extra.append(f"shadow price of power {money(g.shadow_price_usd_per_mw_year)} per MW-year")
        console.print("[dim]" + "; ".join(extra + g.notes) + "[/]")
        energy = [
            f"{t.name} {t.joules_per_token:.2f} J/token, {t.wh_per_query:.2f} Wh/query, "
            f"{t.gco2_per_mtok:,.0f} gCO2e/M tok, {t.wh_per_query * result_grid(result) / 1000:.2f} gCO2e/query"
            for t in g.tiers
            if t.reachable
        ]
        if energy:
            console.print("[dim]energy at the meter: " + "; ".join(energy) + "[/]")
    if result.ratios:
        table = Table(title="generation ratios", title_justify="left")
        for col in ("generation", "vs", "revenue", "output tokens", "margin"):
            table.add_column(col)
        for r in result.ratios:
            table.add_row(
                r["generation"],
                r["vs"],
                *("—" if r[k] is None else f"{r[k]:.1f}x" for k in ("revenue", "output_tokens", "margin")),
            )
        console.print(table)
    from tokenomy.econ.energy import PUBLIC_PER_QUERY_WH

    console.print(
        "public per-query energy for comparison: "
        + "; ".join(f"{k} {v:g} Wh" for k, v in PUBLIC_PER_QUERY_WH.items())
    )
    console.print("[bold]assumptions[/]")
    for a in result.assumptions:
        console.print(f"  • {a}")
    console.print(
        "[dim]* operating point beyond what measured data of its engine shows (an extrapolation; "
        "used only with --allow-extrapolation)[/]"
    )


@app.command()
def cost(
    model: str = typer.Option(..., "--model", "-m", help="Model id or alias."),
    hardware: list[str] = typer.Option(
        ..., "--hardware", "-H", help="Accelerator or system id; repeat to compare."
    ),
    tok_s_per_user: float = typer.Option(
        50.0,
        "--tok-s-per-user",
        "-u",
        callback=number(0.0, 100_000, low_open=True),
        help="Target interactivity.",
    ),
    isl: int = typer.Option(1024, "--isl", min=1),
    osl: int = typer.Option(1024, "--osl", min=1),
    region: list[str] = typer.Option(
        ["us", "us-ft", "china-west", "germany", "nordics"],
        "--region",
        "-r",
        help="Region ids (see `tokenomy catalog list regions`); repeat.",
    ),
    basis: list[str] = typer.Option(
        ["owned", "neocloud"],
        "--basis",
        "-b",
        callback=choice("owned", "hyperscaler", "neocloud", "rental"),
        help="owned, hyperscaler, neocloud or rental; repeat.",
    ),
    precision: str | None = typer.Option(
        None, "--precision", callback=choice("bf16", "fp8", "fp4", "int4"), help="bf16, fp8, fp4 or int4."
    ),
    pue: float | None = typer.Option(
        None, "--pue", callback=number(1.0, 3.0), help="Override the region's PUE."
    ),
    allow_extrapolation: bool = allow_extrapolation_option(),
    prefix_hit_rate: float = typer.Option(
        0.0, "--prefix-hit-rate", callback=number(0.0, 1.0), help=HIT_RATE_HELP
    ),
    session: str | None = typer.Option(None, "--session", help=SESSION_HELP),
    ranges: bool = ranges_option(),
    seed: int = seed_option(),
    draws: int = draws_option(),
    calibration: Path | None = calibration_option(),
    json_out: bool = typer.Option(False, "--json", help="Print JSON on stdout and nothing else."),
) -> None:
    """Cost per million tokens, energy and carbon per token and per query, by region and cost basis.

    Example: US (9.1 c/kWh) vs Gansu (0.4 CNY/kWh), CloudMatrix 384 vs GB200 NVL72:
    `tokenomy cost -m deepseek-r1 -H cloudmatrix_384 -H gb200_nvl72 -r us-ft -r china-west`
    """
    from tokenomy.econ.cost import cost_report
    from tokenomy.perf.reuse import parse_session

    try:
        sess = parse_session(session) if session else None
    except ValueError as exc:
        fail(f"--session: {exc}")
    try:
        rep = cost_report(
            model,
            hardware,
            tok_s_per_user,
            isl,
            osl,
            region,
            basis,
            precision,
            pue,
            allow_extrapolation=allow_extrapolation,
            prefix_hit_rate=prefix_hit_rate,
            session=sess,
            calibration=_load_calibration(calibration) if calibration else None,
        )
        rg = None
        if ranges:
            from tokenomy.econ.ranges_econ import cost_ranges

            rg = cost_ranges(rep, pue=pue, draws=draws, seed=seed)
    except (UnknownIdError, MissingFigureError, ValueError) as exc:
        fail(str(exc))
    if json_out:
        print_json(rep.as_dict() | ({"ranges": rg.as_dict()} if rg else {}))
        return
    for p in rep.points:
        console.print(
            f"{p.hardware}: {rep.model} {p.precision} at {p.tok_s_per_user:.0f} tok/s/user → "
            f"{p.tok_s_per_gpu:,.0f} tok/s/GPU ({p.deployment}{', extrapolated' if p.extrapolated else ''})"
        )
    table = Table(
        title=f"{rep.model}, ISL {rep.isl} / OSL {rep.osl}, at ≥ {rep.target_tok_s_per_user:g} tok/s/user"
    )
    for col in (
        "hardware",
        "region",
        "basis",
        "$/GPU-h",
        "capex/power/opex",
        "$/M tok",
        "$/M out",
        "tok/s/MW",
        "J/tok",
        "Wh/query",
        "gCO2e/M tok",
    ):
        table.add_column(col, justify="left" if col in ("hardware", "region", "basis") else "right")
    for r in rep.rows:
        split = (
            f"{r.split['capex']:.2f}/{r.split['power']:.2f}/{r.split['opex']:.2f}"
            if r.basis == "owned"
            else "preset"
        )
        table.add_row(
            r.hardware,
            r.region,
            r.basis,
            f"{r.usd_per_gpu_hour:.2f}",
            split,
            f"{r.usd_per_mtok:.3f}",
            f"{r.usd_per_output_mtok:.3f}",
            f"{r.tok_s_per_mw / 1e6:.2f}M",
            f"{r.joules_per_token:.3f}",
            f"{r.wh_per_query:.3f}",
            f"{r.gco2_per_mtok:,.0f}",
        )
    console.print(table)
    for v in rep.verdicts:
        console.print(f"• {v}")
    console.print("[bold]per-query energy, public figures for comparison[/] (ours: Wh/query column)")
    for name, wh in rep.public_per_query_wh.items():
        console.print(f"  {name}: {wh:g} Wh")
    console.print(f"  EcoLogits v0.9.1 formula for this model and OSL: {rep.ecologits_wh_per_query:.3f} Wh")
    for n in rep.notes:
        console.print(f"[yellow]note:[/] {n}")
    if rg:
        from tokenomy.cli.ranges_view import render_bands, render_tornado

        keys = [k for k in rg.bands if k.endswith((".usd_per_mtok", ".joules_per_token", ".gco2_per_mtok"))]
        render_bands(rg, keys, "ranges (every column's band: --json)")
        render_tornado(rg, top=4)


@app.command()
def capacity(
    tokens_per_day: float = typer.Option(
        ...,
        "--tokens-per-day",
        "-t",
        callback=number(1.0, 1e18),
        help="Output tokens per day to serve, e.g. 30e12 (Doubao, Dec 2025).",
    ),
    tier_mix: str | None = typer.Option(
        None,
        "--tier-mix",
        help="e.g. free=0.5,medium=0.3,high=0.2 (default: a third each of Free, Medium and High).",
    ),
    hardware: list[str] = typer.Option(
        list(("hgx_h200", "gb200_nvl72", "gb300_nvl72", "vr_nvl72")),
        "--hardware",
        "-H",
        help="Systems to size; repeat.",
    ),
    prefix_hit_rate: float = typer.Option(
        0.0, "--prefix-hit-rate", callback=number(0.0, 1.0), help=HIT_RATE_HELP
    ),
    model_mix: str | None = typer.Option(None, "--model-mix", help=MODEL_MIX_HELP),
    ranges: bool = ranges_option(),
    seed: int = seed_option(),
    draws: int = draws_option(),
    calibration: Path | None = calibration_option(),
    json_out: bool = typer.Option(False, "--json", help="Print JSON on stdout and nothing else."),
) -> None:
    """How much power, how many GPUs and how much capex a token demand needs, per hardware generation."""
    from dataclasses import asdict

    from tokenomy.econ.capacity import capacity as size
    from tokenomy.econ.capacity import capacity_levers, parse_mix, parse_model_mix

    levers = []
    try:
        mix = parse_mix(tier_mix)
        routed = parse_model_mix(model_mix)
        sc = None
        if calibration is not None:
            from tokenomy.econ.scenario import default_scenario

            _load_calibration(calibration)
            sc = default_scenario().model_copy(update={"calibration": str(calibration)})
        rep = size(tokens_per_day, mix, hardware, scenario=sc)
        if prefix_hit_rate or routed:
            levers = capacity_levers(tokens_per_day, mix, hardware, prefix_hit_rate, routed or None)
        rg = None
        if ranges:
            from tokenomy.econ.ranges_econ import capacity_ranges

            rg = capacity_ranges(rep, mix or None, draws=draws, seed=seed)
    except (UnknownIdError, MissingFigureError, ValueError) as exc:
        fail(str(exc))
    if json_out:
        print_json(
            rep.as_dict()
            | ({"levers": [asdict(r) | {"gpu_change": r.gpu_change} for r in levers]} if levers else {})
            | ({"ranges": rg.as_dict()} if rg else {})
        )
        return
    mix = ", ".join(f"{k} {v:.0%}" for k, v in rep.tier_mix.items())
    table = Table(title=f"{count(rep.tokens_per_day)} output tokens/day ({mix})")
    for col in ("hardware", "MW", "GW", "GPUs", "racks/nodes", "capex", "MW by tier"):
        table.add_column(col, justify="left" if col in ("hardware", "MW by tier") else "right")
    for r in rep.rows:
        tiers = ", ".join(f"{k} {'—' if v is None else f'{v:,.0f}'}" for k, v in r.by_tier_mw.items())
        if r.power_mw is None:
            table.add_row(r.hardware, "cannot serve", "", "", "", "", "; ".join(r.notes))
            continue
        table.add_row(
            r.hardware,
            f"{r.power_mw:,.0f}",
            f"{r.power_mw / 1000:.2f}",
            count(r.gpus),
            count(r.racks),
            money(r.capex_usd),
            tiers,
        )
    console.print(table)
    for a in rep.assumptions:
        console.print(f"  • {a}")
    if levers:
        what = " and ".join(
            x
            for x in (
                f"prefix hit rate {prefix_hit_rate:.0%}" if prefix_hit_rate else "",
                f"router {model_mix}" if model_mix else "",
            )
            if x
        )
        lt = Table(title=f"with {what}: the same demand")
        for col in ("hardware", "MW without", "MW with", "GPUs without", "GPUs with", "Δ GPUs"):
            lt.add_column(col, justify="left" if col == "hardware" else "right")
        for r in levers:
            ch = r.gpu_change
            lt.add_row(
                r.hardware,
                "—" if r.without_mw is None else f"{r.without_mw:,.0f}",
                "—" if r.with_mw is None else f"{r.with_mw:,.0f}",
                "—" if r.without_gpus is None else count(r.without_gpus),
                "—" if r.with_gpus is None else count(r.with_gpus),
                "—" if ch is None else f"{ch:+.0%}",
            )
        console.print(lt)
        for r in levers:
            for n in r.notes:
                console.print(f"  • {r.hardware}: {n}")
    if rg:
        from tokenomy.cli.ranges_view import render_bands, render_tornado

        render_bands(rg, list(rg.bands), "ranges")
        render_tornado(rg, top=4)


@app.command()
def claims(
    allow_extrapolation: bool = allow_extrapolation_option(),
    calibration: Path | None = calibration_option(),
    json_out: bool = typer.Option(False, "--json", help="Print JSON on stdout and nothing else."),
) -> None:
    """Audit every vendor/analyst claim in the catalog: where on our frontier it holds, and our ratio.

    The verdict searches each condition a claim leaves out (interactivity, ISL/OSL, precision, cost basis) and
    says where the claim lies within our P10–P90 range: consistent, consistent only at the conditions found, or
    not supported anywhere. Beside it, the ratio ours / claimed at the stated-or-default conditions (within
    1.5x, within 3x, not supported); defaults are listed under each claim. DeepSeek-R1 claims on a system
    InferenceX measured are also checked against the measurement.
    """
    from tokenomy.econ.claims import audit_claims, checks_as_dicts

    checks = audit_claims(
        allow_extrapolation=allow_extrapolation,
        calibration=_load_calibration(calibration) if calibration else None,
    )
    if json_out:
        print_json(checks_as_dicts(checks))
        return
    table = Table(title="claims audit", show_lines=True)
    for col in (
        "claim",
        "claimed",
        "verdict: where it holds",
        "ours at stated/default (ratio)",
        "InferenceX",
        "assumptions",
    ):
        table.add_column(col, overflow="fold")
    colours = {
        "consistent": "green",
        "consistent only at conditions found": "yellow",
        "not supported anywhere": "red",
        "cannot check": "dim",
    }
    for c in checks:
        band = f" (P10–P90 {count(c.band[0])}–{count(c.band[1])})" if c.band else ""
        table.add_row(
            f"{c.statement} [dim][{c.confidence}][/]",
            f"{count(c.claimed)} {c.unit}",
            f"[{colours.get(c.verdict, 'dim')}]{c.verdict}[/]: {c.conditions}",
            ("—" if c.ours is None else count(c.ours))
            + band
            + ("" if c.ratio is None else f", ratio {c.ratio:.2f} ({c.ratio_verdict})"),
            (c.measured or {}).get("text", "—"),
            "; ".join(c.assumptions),
        )
    console.print(table)
    counts = {v: sum(c.verdict == v for c in checks) for v in colours}
    console.print(", ".join(f"{n} {v}" for v, n in counts.items()))


@app.command("report")
def report_cmd(
    scenario: Path | None = typer.Argument(None, help="Scenario YAML (default: the built-in 1 GW factory)."),
    out: Path = typer.Option(
        Path("tokenomy-report.html"), "--out", "-o", help="Where to write the HTML file."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print JSON on stdout and nothing else."),
) -> None:
    """One self-contained HTML report (works offline): plan, tier allocation, money, frontiers, cost by region,
    claims audit, model accuracy and every assumption with its source."""
    output_path(out, "report", (".html", ".htm"))
    from tokenomy.econ.scenario import ScenarioError, load_scenario
    from tokenomy.report.html import write_report

    try:
        sc = load_scenario(scenario)
        with console.status("planning and drawing…"):
            path = write_report(out, sc)
    except ScenarioError as exc:
        fail(str(exc))
    except (UnknownIdError, MissingFigureError, ValueError) as exc:
        fail(str(exc))
    if json_out:
        print_json({"out": str(path), "bytes": path.stat().st_size})
        return
    console.print(f"report → [bold]{path}[/] ({path.stat().st_size / 1e3:,.0f} kB)")


@app.command()
def serve(
    host: str = typer.Option(
        "127.0.0.1", "--host", help="Interface to bind (loopback unless told otherwise)."
    ),
    port: int = typer.Option(8000, "--port", min=1, max=65535),
) -> None:
    """Serve the web planner and the JSON API (/api/catalog, /api/frontier, /api/plan, /api/cost,
    /api/claims; OpenAPI schema at /openapi.json, docs at /docs). Needs the web extra: pip install "tokenomy\\[web]"."""
    try:
        import uvicorn

        from tokenomy.web.app import allow_only_loopback
        from tokenomy.web.app import app as web_app
    except ImportError:
        fail("the web planner needs the web extra: pip install 'tokenomy[web]'")
    allow_only_loopback(host)
    console.print(f"tokenomy planner on http://{host}:{port}/  (API docs: /docs)")
    uvicorn.run(web_app, host=host, port=port, log_level="warning")
