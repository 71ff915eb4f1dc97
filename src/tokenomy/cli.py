"""The `tokenomy` command line: thin wrappers that call the library and render with rich.

Every command takes `--json` to print the same data as machine-readable JSON on stdout (and nothing else).
"""

from __future__ import annotations

import json
import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from tokenomy.catalog import UnknownIdError
from tokenomy.catalog.schema import MissingFigureError
from tokenomy.catalog.views import list_entries, show_entry
from tokenomy.units import count, money

app = typer.Typer(
    help="tokenomy: the economics of AI tokens, from watts and silicon to tokens, dollars and carbon.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)
catalog_app = typer.Typer(
    help="Browse the sourced catalog (hardware, systems, models, tiers, regions, claims)."
)
app.add_typer(catalog_app, name="catalog")


def _console(stderr: bool = False) -> Console:
    """A rich console; when output is not a terminal (pipes, CI logs) tables get 120 columns, not 80."""
    c = Console(stderr=stderr)
    if not c.is_terminal and not os.environ.get("COLUMNS"):
        c = Console(stderr=stderr, width=120)
    return c


console = _console()
err_console = _console(stderr=True)


class Kind(StrEnum):
    accelerators = "accelerators"
    systems = "systems"
    models = "models"
    tiers = "tiers"
    regions = "regions"
    claims = "claims"


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def fail(message: str, code: int = 2) -> None:
    err_console.print(f"[bold red]error:[/] {message}", soft_wrap=True)
    raise typer.Exit(code)


def fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        if value == 0:
            return "0"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        return f"{value:.{digits}g}"
    return str(value)


_LIST_COLUMNS: dict[str, list[tuple[str, str]]] = {
    "accelerators": [
        ("id", "id"),
        ("name", "name"),
        ("bf16_dense_tflops", "BF16 TF"),
        ("fp8_dense_tflops", "FP8 TF"),
        ("fp4_dense_tflops", "FP4 TF"),
        ("memory_gb", "mem GB"),
        ("memory_bw_tbps", "TB/s"),
        ("allin_kw", "all-in kW"),
        ("usd_per_gpu_hour_neocloud", "$/GPU-h (neocloud)"),
    ],
    "systems": [
        ("id", "id"),
        ("name", "name"),
        ("accelerator", "accelerator"),
        ("gpus", "GPUs"),
        ("allin_kw", "all-in kW"),
        ("price_usd", "price $"),
    ],
    "models": [
        ("id", "id"),
        ("name", "name"),
        ("total_params_b", "total B"),
        ("active_params_b", "active B"),
        ("attention", "attention"),
        ("layers", "layers"),
        ("experts", "experts"),
        ("default_precision", "precision"),
    ],
    "tiers": [
        ("id", "id"),
        ("name", "name"),
        ("price_usd_per_mtok", "$/M tok"),
        ("min_tok_s_per_user", "floor tok/s/user"),
        ("serves", "serves"),
    ],
    "regions": [
        ("id", "id"),
        ("name", "name"),
        ("electricity_usd_per_kwh", "$/kWh"),
        ("grid_gco2_per_kwh", "gCO2e/kWh"),
        ("pue", "PUE"),
    ],
    "claims": [
        ("id", "id"),
        ("statement", "statement"),
        ("value", "value"),
        ("unit", "unit"),
        ("confidence", "conf"),
    ],
}


@catalog_app.command("list")
def catalog_list(
    kind: Kind = typer.Argument(Kind.accelerators, help="Which part of the catalog to list."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON on stdout and nothing else."),
) -> None:
    """List catalog entries. Values marked [U] are unverified or derived defaults."""
    rows = list_entries(kind.value)
    if json_out:
        print_json(rows)
        return
    table = Table(title=f"tokenomy catalog: {kind.value}", show_lines=False)
    cols = _LIST_COLUMNS[kind.value]
    for _, header in cols:
        table.add_column(header, overflow="fold")
    for row in rows:
        cells = []
        for key, _ in cols:
            text = fmt(row.get(key))
            if key in row.get("unverified", []):
                text += " [U]"
            cells.append(text)
        table.add_row(*cells)
    console.print(table)
    console.print("[dim]tokenomy catalog show ID  → every figure with its source, date and confidence.[/]")


@catalog_app.command("show")
def catalog_show(
    entry_id: str = typer.Argument(
        ..., metavar="ID", help="Any id or alias, e.g. gb200, 'H200', deepseek-r1."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print JSON on stdout and nothing else."),
) -> None:
    """Show one entry with every figure's source, date and confidence (O/S/W/U)."""
    try:
        data = show_entry(entry_id)
    except UnknownIdError as exc:
        fail(str(exc))
    if json_out:
        print_json(data)
        return
    console.print(f"[bold]{data['name']}[/]  ([cyan]{data['kind']}[/] {data['id']})")
    _figure_table("figures", data["figures"])
    if "per_gpu" in data:
        _figure_table(f"per GPU: {data['per_gpu']['name']}", data["per_gpu"]["figures"])
    if "architecture" in data:
        arch = {k: v for k, v in data["architecture"].items() if v not in (0, False)}
        console.print(f"architecture ({data['architecture_source']}): {arch}")
        console.print(f"computed: {data['total_params_b']} B total, {data['active_params_b']} B active")


def _figure_table(title: str, figures: dict[str, Any]) -> None:
    table = Table(title=title, title_justify="left")
    for col in ("figure", "value", "conf", "as of", "source", "note"):
        table.add_column(col, overflow="fold")
    for name, fig in figures.items():
        table.add_row(
            name, fmt(fig["value"]), fig["confidence"], fig["as_of"], fig["source_id"], fig.get("note", "")
        )
    console.print(table)
    console.print("[dim]sources: see `tokenomy catalog show ID --json` for titles and URLs.[/]")


# ---- production model: predict / validate / calibrate -------------------------------------------------------
POINTS_HELP = "CSV with the columns of calibration.csv (model_path, system, backend, isl, osl, concurrency, tp_size, …)."
POINTS_DEFAULT_HELP = POINTS_HELP + " Default: the 2,364 measured points shipped with tokenomy."


def _packaged_points() -> Path:
    from importlib import resources

    return Path(str(resources.files("tokenomy.perf") / "data" / "calibration_points.csv"))


CALIBRATION_HELP = "Calibration JSON written by `tokenomy calibrate` (default: the packaged fit)."


def _load_points(path: Path):
    from tokenomy.points import PointsError, read_points

    try:
        return read_points(path)
    except PointsError as exc:
        fail(str(exc))


def _load_calibration(path: Path | None):
    from tokenomy.perf.calibration import load_calibration

    try:
        return load_calibration(path)
    except FileNotFoundError:
        fail(f"{path}: no such calibration file")
    except (ValueError, KeyError) as exc:
        fail(f"{path}: not a tokenomy calibration ({exc})")


@app.command()
def predict(
    points: Path = typer.Option(..., "--points", help=POINTS_HELP),
    out: Path = typer.Option(
        ...,
        "--out",
        help="Output CSV: the input columns + predicted_ttft_ms, "
        "predicted_tpot_ms, predicted_tput_per_gpu, note.",
    ),
    calibration: Path | None = typer.Option(None, "--calibration", help=CALIBRATION_HELP),
    json_out: bool = typer.Option(False, "--json", help="Print a JSON summary on stdout and nothing else."),
) -> None:
    """Predict TTFT, TPOT and throughput per GPU for every row of a points CSV.

    A row the model cannot predict (unknown model or hardware, deployment that does not fit in memory) keeps
    empty predictions and says why in `note`.
    """
    from tokenomy.perf.predict import predict_points
    from tokenomy.points import write_points

    rows, header = _load_points(points)
    pred = predict_points(rows, _load_calibration(calibration))

    def cell(x: float) -> str:
        return "" if not np.isfinite(x) else f"{x:.4g}"

    out_rows = []
    for i, p in enumerate(rows):
        row = dict(p.raw)
        row.update(
            predicted_ttft_ms=cell(pred.ttft_ms[i]),
            predicted_tpot_ms=cell(pred.tpot_ms[i]),
            predicted_tput_per_gpu=cell(pred.tput_per_gpu[i]),
            note=pred.notes[i],
        )
        out_rows.append(row)
    extra = ["predicted_ttft_ms", "predicted_tpot_ms", "predicted_tput_per_gpu", "note"]
    write_points(out, [h for h in header if h not in extra] + extra, out_rows)
    predicted = int(pred.covered.sum())
    summary = {
        "rows": len(rows),
        "predicted": predicted,
        "not_predicted": len(rows) - predicted,
        "out": str(out),
    }
    if json_out:
        print_json(summary)
    else:
        console.print(f"predicted {predicted} of {len(rows)} rows → [bold]{out}[/]")
        if predicted < len(rows):
            console.print(f"[yellow]{len(rows) - predicted} rows not predicted; see the `note` column[/]")


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f}%"


def _render_validation(rep, top: int = 12) -> None:
    console.print(
        f"[bold]{rep.mode}[/]: {rep.n_points} points, coverage {_pct(rep.coverage)}"
        + (
            f"  (calibration fitted {rep.calibration.get('fitted_at')})"
            if rep.calibration.get("fitted_at")
            else ""
        )
    )
    table = Table(title="error vs measured (APE = |predicted / measured − 1|)")
    table.add_column("group")
    for m in ("TTFT", "TPOT", "tput/GPU"):
        table.add_column(f"{m} MdAPE", justify="right")
        table.add_column(f"{m} p90", justify="right")
    table.add_column("n", justify="right")

    def add(name: str, stats: dict) -> None:
        cells = []
        for m in ("ttft", "tpot", "tput_per_gpu"):
            s = stats[m]
            cells += [_pct(s.mdape), _pct(s.p90_ape)]
        table.add_row(name, *cells, str(stats["tpot"].n))

    add("[bold]overall[/]", rep.overall)
    for dim, groups in rep.by.items():
        table.add_section()
        items = sorted(groups.items(), key=lambda kv: -kv[1]["tpot"].n)[:top]
        for grp, stats in items:
            add(f"{dim}: {grp}", stats)
    console.print(table)
    if rep.uncovered_reasons:
        console.print(f"not predicted: {rep.uncovered_reasons}")


@app.command()
def validate(
    points: Path | None = typer.Option(None, "--points", help=POINTS_DEFAULT_HELP),
    cv: str | None = typer.Option(
        None, "--cv", help="Leave one group out and refit: system, model or backend."
    ),
    calibration: Path | None = typer.Option(None, "--calibration", help=CALIBRATION_HELP),
    json_out: bool = typer.Option(False, "--json", help="Print JSON on stdout and nothing else."),
) -> None:
    """Error of the model on measured points: MdAPE and p90 of TTFT, TPOT and tput_per_gpu.

    Throughput is derived from the measured medians by Little's law. `--cv system` refits without each
    system in turn and reports the error on the system left out (how well new hardware is predicted).
    """
    from tokenomy import validation

    rows, _ = _load_points(points or _packaged_points())
    if cv is not None and cv not in validation.CV_KEYS:
        fail(f"--cv must be one of {', '.join(validation.CV_KEYS)}, not '{cv}'")
    if cv:
        with console.status(f"leave-one-{cv}-out: refitting…") as status:
            rep = validation.cross_validate(
                rows, cv, progress=lambda g: status.update(f"refitting without {g}")
            )
    else:
        rep = validation.validate(rows, _load_calibration(calibration))
    if json_out:
        print_json(rep.as_dict())
    else:
        _render_validation(rep)


@app.command()
def calibrate(
    points: Path | None = typer.Option(
        None, "--points", help=POINTS_DEFAULT_HELP + " Needs measured_ttft_ms / measured_tpot_ms."
    ),
    out: Path = typer.Option(
        Path("calibration.json"), "--out", help="Where to write the fitted calibration."
    ),
    from_db: str | None = typer.Option(
        None, "--from-db", help="Fit to a stored bench run or sweep (run id)."
    ),
    db: Path | None = typer.Option(None, "--db", help="DuckDB file for --from-db."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON on stdout and nothing else."),
) -> None:
    """Refit the model's efficiencies (per backend, refined per hardware family) to measured points.

    Use the result with `--calibration FILE` on predict, validate and frontier.
    """
    from tokenomy import validation
    from tokenomy.points import file_sha256

    if from_db:
        from tokenomy.measure.to_points import points_from_db

        try:
            rows, data_hash = points_from_db(from_db, db)
        except (KeyError, ValueError) as exc:
            fail(str(exc.args[0]))
        points = Path(f"db:{from_db}")
    else:
        points = points or _packaged_points()
        rows, _ = _load_points(points)
        data_hash = file_sha256(points)
    with console.status("fitting…") as status:
        try:
            cal = validation.calibrate(
                rows, data_sha256=data_hash, progress=lambda b: status.update(f"fitting {b}…")
            )
        except ValueError as exc:
            fail(str(exc))
    rep = validation.validate(rows, cal)
    cal.notes["in_sample"] = {m: s.as_dict() for m, s in rep.overall.items()}
    cal.notes["coverage"] = rep.coverage
    cal.notes["data"] = points.name
    cal.save(out)
    if json_out:
        print_json({"out": str(out), **cal.to_json()})
    else:
        console.print(f"fitted {len(cal.params)} parameter sets on {cal.n_points} points → [bold]{out}[/]")
        _render_validation(rep, top=0)


# ---- frontier -------------------------------------------------------------------------------------------------
@app.command("frontier")
def frontier_cmd(
    model: str = typer.Option(
        ..., "--model", "-m", help="Model id or alias (see `tokenomy catalog list models`)."
    ),
    hardware: list[str] = typer.Option(
        ..., "--hardware", "-H", help="Accelerator or system id; repeat to compare."
    ),
    precision: str | None = typer.Option(
        None, "--precision", help="bf16, fp8, fp4 or int4 (default: the model's)."
    ),
    isl: int = typer.Option(1024, "--isl", min=1, help="Input tokens per request."),
    osl: int = typer.Option(1024, "--osl", min=1, help="Output tokens per request."),
    backend: str | None = typer.Option(
        None,
        "--backend",
        help="trtllm, vllm, sglang or llama.cpp (default: trtllm on NVIDIA, vllm elsewhere).",
    ),
    cost_basis: str = typer.Option(
        "neocloud", "--cost-basis", help="$/GPU-hour preset: hyperscaler, neocloud, rental."
    ),
    max_concurrency: int | None = typer.Option(
        None, "--max-concurrency", min=1, help="Cap the concurrency sweep."
    ),
    max_gpus: int | None = typer.Option(
        None, "--max-gpus", min=1, help="Largest engine (default: the scale-up domain)."
    ),
    mtp_draft: int = typer.Option(
        0, "--mtp-draft", min=0, max=8, help="Speculative (MTP) tokens drafted per step."
    ),
    mtp_acceptance: float = typer.Option(
        0.0, "--mtp-acceptance", min=0.0, max=1.0, help="Acceptance rate per draft."
    ),
    disagg: bool = typer.Option(
        False, "--disagg", help="Disaggregated prefill/decode (prefill GPUs counted)."
    ),
    calibration: Path | None = typer.Option(None, "--calibration", help=CALIBRATION_HELP),
    plot: Path | None = typer.Option(None, "--plot", help="Write a PNG of the frontier(s) here."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON on stdout and nothing else."),
) -> None:
    """The Pareto frontier of throughput vs interactivity: per GPU, per MW of all-in power and per $.

    Every feasible deployment (TP/PP, attention-DP, EP up to the scale-up domain) × 64 concurrencies is
    evaluated; deployments whose weights + KV for C × (ISL + OSL) do not fit in memory are excluded.
    """
    from dataclasses import asdict

    from tokenomy.perf.frontier import CONCURRENCIES, frontier
    from tokenomy.perf.serving import ServingOptions

    options = ServingOptions(mtp_draft_tokens=mtp_draft, mtp_acceptance=mtp_acceptance, disaggregated=disagg)
    cal = _load_calibration(calibration)
    conc = CONCURRENCIES[max_concurrency >= CONCURRENCIES] if max_concurrency else None
    results = []
    for hw in hardware:
        try:
            results.append(
                frontier(
                    model,
                    hw,
                    precision,
                    isl,
                    osl,
                    backend,
                    cost_basis,
                    max_gpus=max_gpus,
                    calibration=cal,
                    concurrencies=conc,
                    options=options,
                )
            )
        except (UnknownIdError, MissingFigureError, ValueError) as exc:
            fail(str(exc))
    if plot:
        from tokenomy.report.plots import plot_frontiers

        plot_frontiers(results, plot)
    if json_out:
        print_json([asdict(f) | {"plot": str(plot) if plot else None} for f in results])
        return
    for f in results:
        _render_frontier(f)
        if not f.points:
            console.print(
                f"[red]no deployment of {f.model} fits on {f.hardware} within the GPU limit; "
                "try --max-gpus or a lower precision[/]"
            )
    if plot:
        console.print(f"plot → [bold]{plot}[/]")


def _render_frontier(f, rows: int = 14) -> None:
    table = Table(
        title=f"{f.model} on {f.hardware} ({f.precision}, KV {f.kv_precision}, {f.backend}), ISL {f.isl} / OSL {f.osl}",
        caption=f"{f.evaluated} points evaluated, {f.feasible} fit in memory, {len(f.points)} on the frontier; "
        f"efficiencies {f.calibration_source}; cost basis {f.cost_basis}",
    )
    for col in (
        "tok/s/user",
        "tok/s/GPU",
        "tok/s/MW",
        "$/M tok",
        "TTFT ms",
        "TPOT ms",
        "deployment",
        "GPUs",
        "conc",
    ):
        table.add_column(col, justify="right")
    step = max(1, len(f.points) // rows)
    shown = f.points[::step]
    if f.points and shown[-1] is not f.points[-1]:
        shown.append(f.points[-1])
    for p in shown:
        table.add_row(
            f"{p.tok_s_per_user:.1f}",
            f"{p.tput_per_gpu:,.0f}",
            "—" if p.tok_s_per_mw is None else f"{p.tok_s_per_mw / 1e6:.2f}M",
            "—" if p.usd_per_mtok is None else f"{p.usd_per_mtok:.3f}",
            f"{p.ttft_ms:,.0f}",
            f"{p.tpot_ms:.1f}",
            p.deployment + (" *" if p.extrapolated else ""),
            str(p.gpus),
            str(p.concurrency),
        )
    console.print(table)
    for a in f.assumptions:
        console.print(f"[yellow]note:[/] {a}")


# ---- economics: plan / cost / capacity / claims -----------------------------------------------------------------
def _money(x: float | None) -> str:
    return money(x)


def _count(x: float | None) -> str:
    return count(x)


@app.command()
def plan(
    scenario: Path | None = typer.Argument(
        None, help="Scenario YAML (default: the built-in 1 GW GTC 2026 factory)."
    ),
    example: bool = typer.Option(False, "--example", help="Print a commented scenario file and exit."),
    allocation: str | None = typer.Option(
        None, "--allocation", help="Override: fixed or optimize (LP, HiGHS)."
    ),
    report: Path | None = typer.Option(
        None, "--report", help="Also write a self-contained HTML report here."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print JSON on stdout and nothing else."),
) -> None:
    """Plan an AI factory: power → GPUs → tokens → revenue, cost and margin per price tier and generation.

    Each tier's interactivity floor picks the most productive frontier point that meets it. Power goes to
    tiers by fixed shares or by a linear program under demand caps (`--allocation optimize`).
    """
    from tokenomy.econ.factory import plan as make_plan
    from tokenomy.econ.scenario import EXAMPLE_YAML, ScenarioError, load_scenario

    if example:
        sys.stdout.write(EXAMPLE_YAML)
        return
    try:
        sc = load_scenario(scenario)
        if allocation:
            sc = sc.model_copy(update={"allocation": allocation})
            if allocation not in ("fixed", "optimize"):
                fail("--allocation must be fixed or optimize")
        result = make_plan(sc)
    except ScenarioError as exc:
        fail(str(exc))
    except (UnknownIdError, MissingFigureError, ValueError) as exc:
        fail(str(exc))
    if report:
        from tokenomy.report.html import write_report

        with console.status("writing the report…"):
            write_report(report, sc, result)
    if json_out:
        print_json(result.as_dict() | {"report": str(report) if report else None})
        return
    _render_plan(result)
    if report:
        console.print(f"report → [bold]{report}[/]")


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
                f"{t.tput_per_gpu:,.0f}{' *' if t.extrapolated else ''}",
                f"{t.power_mw:,.0f}",
                _count(t.gpus),
                _count(t.sold_output_tokens_per_year),
                _money(t.revenue_usd),
                _money(t.cost_usd),
                _money(t.margin_usd),
                "—" if t.cost_usd_per_mtok is None else f"{t.cost_usd_per_mtok:.3f}",
            )
        table.add_section()
        table.add_row(
            "[bold]total[/]",
            "",
            "",
            "",
            f"{g.power_mw - g.unused_mw:,.0f}",
            _count(g.gpus),
            _count(g.output_tokens_per_year),
            _money(g.revenue_usd),
            _money(g.cost_usd),
            _money(g.margin_usd),
            "—" if g.cost_usd_per_mtok is None else f"{g.cost_usd_per_mtok:.3f}",
        )
        console.print(table)
        extra = [f"{g.racks:,.0f} racks/nodes"]
        if g.shadow_price_usd_per_mw_year is not None:
            extra.append(f"shadow price of power {_money(g.shadow_price_usd_per_mw_year)} per MW-year")
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
    console.print("[dim]* operating point outside the calibration envelope (an extrapolation)[/]")


@app.command()
def cost(
    model: str = typer.Option(..., "--model", "-m", help="Model id or alias."),
    hardware: list[str] = typer.Option(
        ..., "--hardware", "-H", help="Accelerator or system id; repeat to compare."
    ),
    tok_s_per_user: float = typer.Option(
        50.0, "--tok-s-per-user", "-u", min=0.1, help="Target interactivity."
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
        ["owned", "neocloud"], "--basis", "-b", help="owned, hyperscaler, neocloud or rental; repeat."
    ),
    precision: str | None = typer.Option(None, "--precision"),
    pue: float | None = typer.Option(None, "--pue", min=1.0, max=3.0, help="Override the region's PUE."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON on stdout and nothing else."),
) -> None:
    """Cost per million tokens, energy and carbon per token and per query, by region and cost basis.

    Example: US (9.1 c/kWh) vs Gansu (0.4 CNY/kWh), CloudMatrix 384 vs GB200 NVL72:
    `tokenomy cost -m deepseek-r1 -H cloudmatrix_384 -H gb200_nvl72 -r us-ft -r china-west`
    """
    from tokenomy.econ.cost import cost_report

    try:
        rep = cost_report(model, hardware, tok_s_per_user, isl, osl, region, basis, precision, pue)
    except (UnknownIdError, MissingFigureError, ValueError) as exc:
        fail(str(exc))
    if json_out:
        print_json(rep.as_dict())
        return
    for p in rep.points:
        console.print(
            f"{p.hardware}: {rep.model} {p.precision} at {p.tok_s_per_user:.0f} tok/s/user → "
            f"{p.tput_per_gpu:,.0f} tok/s/GPU ({p.deployment}{', extrapolated' if p.extrapolated else ''})"
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


@app.command()
def capacity(
    tokens_per_day: float = typer.Option(
        ...,
        "--tokens-per-day",
        "-t",
        min=1.0,
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
    json_out: bool = typer.Option(False, "--json", help="Print JSON on stdout and nothing else."),
) -> None:
    """How much power, how many GPUs and how much capex a token demand needs, per hardware generation."""
    from tokenomy.econ.capacity import capacity as size
    from tokenomy.econ.capacity import parse_mix

    try:
        rep = size(tokens_per_day, parse_mix(tier_mix), hardware)
    except (UnknownIdError, MissingFigureError, ValueError) as exc:
        fail(str(exc))
    if json_out:
        print_json(rep.as_dict())
        return
    mix = ", ".join(f"{k} {v:.0%}" for k, v in rep.tier_mix.items())
    table = Table(title=f"{_count(rep.tokens_per_day)} output tokens/day ({mix})")
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
            _count(r.gpus),
            _count(r.racks),
            _money(r.capex_usd),
            tiers,
        )
    console.print(table)
    for a in rep.assumptions:
        console.print(f"  • {a}")


@app.command()
def claims(
    json_out: bool = typer.Option(False, "--json", help="Print JSON on stdout and nothing else."),
) -> None:
    """Audit every vendor/analyst claim in the catalog: the claim, our number, the ratio and a verdict.

    Verdicts: within 1.5x, within 3x, not supported, or cannot check. Conditions a claim leaves out are
    filled with stated defaults, listed under each claim.
    """
    from tokenomy.econ.claims import audit_claims, checks_as_dicts

    checks = audit_claims()
    if json_out:
        print_json(checks_as_dicts(checks))
        return
    table = Table(title="claims audit (ours / claimed)", show_lines=True)
    for col in ("claim", "claimed", "ours", "ratio", "verdict", "assumptions"):
        table.add_column(col, overflow="fold")
    colours = {"within 1.5x": "green", "within 3x": "yellow", "not supported": "red", "cannot check": "dim"}
    for c in checks:
        table.add_row(
            f"{c.statement} [dim][{c.confidence}][/]",
            f"{_count(c.claimed)} {c.unit}",
            "—" if c.ours is None else _count(c.ours),
            "—" if c.ratio is None else f"{c.ratio:.2f}",
            f"[{colours[c.verdict]}]{c.verdict}[/]",
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

        from tokenomy.web.app import app as web_app
    except ImportError:
        fail("the web planner needs the web extra: pip install 'tokenomy[web]'")
    console.print(f"tokenomy planner on http://{host}:{port}/  (API docs: /docs)")
    uvicorn.run(web_app, host=host, port=port, log_level="warning")


# ---- measurement: bench / results -------------------------------------------------------------------------------
def _levels(text: str) -> list[int]:
    try:
        levels = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        fail(f"--concurrency must be a comma-separated list of whole numbers, not '{text}'")
    if not levels or min(levels) < 1:
        fail("--concurrency levels must be ≥ 1")
    return levels


@app.command()
def bench(
    url: str = typer.Option(
        ..., "--url", help="Base URL of an OpenAI-compatible server, e.g. http://127.0.0.1:8000"
    ),
    model: str = typer.Option(..., "--model", help="Model name the server serves (see its /v1/models)."),
    api: str = typer.Option(
        "chat", "--api", help="chat (/v1/chat/completions) or completions (/v1/completions)."
    ),
    concurrency: str | None = typer.Option(
        None, "--concurrency", "-c", help="Sweep, e.g. 1,2,4,8: each a run."
    ),
    rate: float | None = typer.Option(
        None, "--rate", min=0.001, help="Poisson request rate (req/s) instead."
    ),
    burstiness: float = typer.Option(
        1.0, "--burstiness", min=0.01, help="Gamma shape of arrivals (1 = Poisson)."
    ),
    max_concurrency: int | None = typer.Option(
        None, "--max-concurrency", min=1, help="Cap in-flight (rate mode)."
    ),
    isl: int = typer.Option(1024, "--isl", min=1, help="Nominal input length (random words, [0.8, 1] x)."),
    osl: int = typer.Option(1024, "--osl", min=1, help="Nominal output length (max_tokens, [0.8, 1] x)."),
    dataset: Path | None = typer.Option(None, "--dataset", help="JSONL prompts instead of random ones."),
    num_prompts: int | None = typer.Option(None, "--num-prompts", min=1, help="Default: 10 x concurrency."),
    warmup: int = typer.Option(1, "--warmup", min=0, help="Requests sent first and not measured."),
    timeout: float = typer.Option(
        60.0, "--timeout", min=0.1, help="Seconds without data before a request fails."
    ),
    gpus: int | None = typer.Option(
        None, "--gpus", min=1, help="GPUs serving: report per GPU, per MW, per $."
    ),
    hardware: str | None = typer.Option(
        None, "--hardware", help="Catalog id of those GPUs (power, $/GPU-hour)."
    ),
    backend: str | None = typer.Option(
        None, "--backend", help="Engine (vllm, sglang, trtllm, llama.cpp): for calibrate --from-db."
    ),
    precision: str | None = typer.Option(
        None, "--precision", help="Weights precision served (bf16, fp8, fp4), for calibrate --from-db."
    ),
    slo: str | None = typer.Option(None, "--slo", help="Goodput objectives, e.g. ttft_ms=500,tpot_ms=50."),
    power: str | None = typer.Option(None, "--power", help="nvml: sample GPU board power (≥ 10 Hz)."),
    no_ignore_eos: bool = typer.Option(False, "--no-ignore-eos", help="Let the model stop at EOS."),
    db: Path | None = typer.Option(None, "--db", help="DuckDB file (default: the user data dir)."),
    export: Path | None = typer.Option(None, "--export", help="Also write results in the InferenceX format."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON on stdout and nothing else."),
) -> None:
    """Measure an OpenAI-compatible server: TTFT, TPOT, ITL, E2E, throughput, goodput (and J/token with NVML).

    Every finished request is stored in DuckDB as it completes; an interrupted run keeps what it measured.
    Exit code 3 when some requests failed (the summary says why), 2 on bad input or an unreachable endpoint.
    """
    import asyncio

    from tokenomy.catalog import catalog
    from tokenomy.measure.bench import BenchConfig, LevelResult, check_endpoint, run_level
    from tokenomy.measure.client import PreflightError
    from tokenomy.measure.metrics import Slo
    from tokenomy.measure.workload import DatasetError, load_dataset, random_prompts
    from tokenomy.store import Store

    if api not in ("chat", "completions"):
        fail("--api must be chat or completions")
    if (concurrency is None) == (rate is None):
        fail("give --concurrency 1,2,4,… or --rate R (not both)")
    if power not in (None, "nvml"):
        fail("--power accepts only nvml")
    try:
        slo_obj = Slo.parse(slo)
    except ValueError as exc:
        fail(str(exc))
    allin = price = None
    if hardware:
        try:
            acc = catalog().accelerator(hardware)
        except UnknownIdError as exc:
            fail(str(exc))
        hardware = acc.id
        allin, price = acc.value("allin_kw"), acc.value("usd_per_gpu_hour_neocloud")
    cfg = BenchConfig(
        url=url,
        model=model,
        api=api,
        timeout_s=timeout,
        warmup=warmup,
        ignore_eos=not no_ignore_eos,
        slo=slo_obj,
        gpus=gpus,
        allin_kw_per_gpu=allin,
        usd_per_gpu_hour=price,
        power=power == "nvml",
    )
    try:
        asyncio.run(check_endpoint(cfg))
    except PreflightError as exc:
        fail(str(exc))
    levels = _levels(concurrency) if concurrency else [None]
    out: list[LevelResult] = []
    sweep_id = None
    with Store(db) as store:
        db_path = store.path
        for level in levels:
            n = num_prompts or 10 * (level or max(1, int(rate or 1)))
            try:
                prompts = (
                    load_dataset(dataset, n, osl) if dataset else random_prompts(n, isl, osl, seed=len(out))
                )
            except (DatasetError, ValueError) as exc:
                fail(str(exc))
            run_id = store.start_run(
                sweep_id,
                url=url,
                model=model,
                api=api,
                mode="concurrency" if level else "rate",
                concurrency=level,
                rate=rate,
                isl=isl,
                osl=osl,
                num_prompts=n,
                hardware=hardware,
                gpus=gpus,
                backend=backend,
                config={
                    "burstiness": burstiness,
                    "max_concurrency": max_concurrency,
                    "dataset": str(dataset or ""),
                    "slo": slo,
                    "timeout_s": timeout,
                    "warmup": warmup,
                    "precision": precision or "",
                },
            )
            sweep_id = sweep_id or run_id
            progress_ctx = _progress(json_out, f"c={level}" if level else f"{rate:g} req/s", n + warmup)
            with progress_ctx as (progress, task):

                def stored(r, run_id=run_id, progress=progress, task=task) -> None:
                    store.add_request(run_id, r)
                    if progress is not None:
                        progress.advance(task)

                try:
                    res = asyncio.run(
                        run_level(
                            cfg,
                            prompts,
                            level,
                            rate if not level else None,
                            burstiness,
                            max_concurrency,
                            stored,
                        )
                    )
                except KeyboardInterrupt:
                    store.finish_run(
                        run_id, "interrupted", {"note": "interrupted; requests so far are stored"}
                    )
                    err_console.print(
                        f"[yellow]interrupted: the finished requests of run {run_id} are stored[/]"
                    )
                    raise typer.Exit(130) from None
            res.summary["run_id"] = run_id
            store.finish_run(run_id, "interrupted" if res.interrupted else "complete", res.summary)
            out.append(res)
            if res.interrupted:
                err_console.print(
                    f"[yellow]interrupted: {len(res.results)} finished requests of run {run_id} are "
                    "stored; later levels were not run[/]"
                )
                break
    summaries = [r.summary | {"concurrency": r.concurrency, "rate": r.rate} for r in out]
    if export:
        _export_inferencex(export, summaries, model, hardware, backend, isl, osl)
    failed = sum(s["failed"] for s in summaries)
    if json_out:
        print_json({"sweep_id": sweep_id, "db": str(Store.__init__ and (db or "")), "levels": summaries})
    else:
        _render_bench(summaries, sweep_id, db_path)
    if out and out[-1].interrupted:
        raise typer.Exit(130)
    if failed:
        raise typer.Exit(3)


class _NoProgress:
    def __enter__(self):
        return None, None

    def __exit__(self, *exc):
        return False


def _progress(quiet: bool, label: str, total: int):
    if quiet:
        return _NoProgress()
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    class _Ctx:
        def __enter__(self):
            self.p = Progress(
                "[progress.description]{task.description}",
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=err_console,
                transient=True,
            )
            self.p.__enter__()
            return self.p, self.p.add_task(f"bench {label}", total=total)

        def __exit__(self, *exc):
            return self.p.__exit__(*exc)

    return _Ctx()


def _render_bench(summaries: list[dict], sweep_id: str | None, db: Path | None) -> None:
    table = Table(title=f"bench {sweep_id}")
    for col in (
        "level",
        "ok/sent",
        "TTFT p50",
        "TTFT p90",
        "TPOT p50",
        "ITL p50",
        "E2E p50",
        "out tok/s",
        "tok/s/user",
        "req/s",
        "goodput req/s",
        "tok/s/GPU",
    ):
        table.add_column(col, justify="right")

    def ms(d: dict, k: str) -> str:
        v = d.get(k)
        return "—" if v is None else f"{v:,.1f}"

    for s in summaries:
        level = f"c={s['concurrency']}" if s["concurrency"] else f"{s['rate']:g}/s"
        table.add_row(
            level,
            f"{s['completed']}/{s['requests']}",
            ms(s["ttft_ms"], "p50"),
            ms(s["ttft_ms"], "p90"),
            ms(s["tpot_ms"], "p50"),
            ms(s["itl_ms"], "p50"),
            ms(s["e2e_ms"], "p50"),
            f"{s['output_tok_s']:,.1f}",
            "—" if not s["tok_s_per_user"] else f"{s['tok_s_per_user']:.1f}",
            f"{s['request_throughput']:.2f}",
            f"{s['goodput_req_s']:.2f}",
            f"{s['tput_per_gpu']:,.0f}" if s.get("tput_per_gpu") else "—",
        )
    console.print(table)
    for s in summaries:
        level = f"c={s['concurrency']}" if s["concurrency"] else f"{s['rate']:g}/s"
        console.print(f"[bold]{level}[/]:", end=" ")
        if s["usage_counted_from_stream"]:
            console.print(
                f"[yellow]note:[/] the server sent no usage for {s['usage_counted_from_stream']} requests; "
                "output tokens were counted from the stream"
            )
        if s["failed"]:
            console.print(f"[red]{s['failed']} of {s['requests']} requests failed[/]: {s['failure_reasons']}")
        p = s.get("power", {})
        provisioned = s.get("joules_per_token_provisioned")
        if provisioned:
            console.print(f"provisioned: {provisioned:.3f} J/token (all-in kW / tok/s per GPU)")
        console.print(
            f"power: {p.get('joules_per_token', 0):.3f} J/token measured"
            if p.get("measured")
            else f"[dim]power: not measured ({p.get('reason')})[/]"
        )
    console.print(
        f"[dim]stored in {db or 'the default results database'}; `tokenomy results show {sweep_id}`[/]"
    )


def _export_inferencex(path: Path, summaries: list[dict], model, hardware, backend, isl, osl) -> None:
    """Rows in the InferenceX result format (one per concurrency level)."""
    rows = []
    for s in summaries:
        rows.append(
            {
                "hw": hardware,
                "model": model,
                "framework": backend,
                "isl": isl,
                "osl": osl,
                "conc": s["concurrency"],
                "tput_per_gpu": s.get("tput_per_gpu"),
                "output_tput_per_gpu": s.get("output_tput_per_gpu"),
                "median_ttft": s["ttft_ms"]["p50"],
                "median_tpot": s["tpot_ms"]["p50"],
                "median_itl": s["itl_ms"]["p50"],
                "median_e2el": s["e2e_ms"]["p50"],
                "median_intvty": s["tok_s_per_user"],
                "p99_ttft": s["ttft_ms"]["p99"],
                "p99_tpot": s["tpot_ms"]["p99"],
                "completed": s["completed"],
                "failed": s["failed"],
                "run_id": s["run_id"],
            }
        )
    path.write_text(json.dumps(rows, indent=1, default=str), encoding="utf-8")


results_app = typer.Typer(help="Benchmark results stored in DuckDB: list, show, export.")
app.add_typer(results_app, name="results")


@results_app.command("list")
def results_list(
    db: Path | None = typer.Option(None, "--db", help="DuckDB file (default: the user data dir)."),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Every run with its status (complete, or interrupted with what it kept)."""
    from tokenomy.store import Store

    with Store(db) as store:
        runs = store.list_runs()
    if json_out:
        print_json(runs)
        return
    table = Table(title=f"runs in {db or 'the default database'}")
    for col in ("run", "sweep", "when", "model", "mode", "level", "isl/osl", "status", "ok/requests"):
        table.add_column(col)
    for r in runs:
        level = str(r["concurrency"]) if r["concurrency"] else f"{r['rate']}/s"
        table.add_row(
            r["run_id"],
            r["sweep_id"],
            str(r["created_at"])[:19],
            r["model"],
            r["mode"],
            level,
            f"{r['isl']}/{r['osl']}",
            r["status"],
            f"{r['ok']}/{r['requests']}",
        )
    console.print(table)


@results_app.command("show")
def results_show(
    run_id: str = typer.Argument(..., help="A run id or a sweep id."),
    db: Path | None = typer.Option(None, "--db"),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """A run's (or sweep's) configuration and summary."""
    from tokenomy.store import Store

    with Store(db) as store:
        try:
            data = store.run(run_id)
        except KeyError as exc:
            fail(str(exc.args[0]))
    if json_out:
        print_json(data)
        return
    summaries = [
        r["summary"] | {"concurrency": r["concurrency"], "rate": r["rate"]}
        for r in data["runs"]
        if r["summary"] and "ttft_ms" in r["summary"]
    ]
    for r in data["runs"]:
        console.print(
            f"run {r['run_id']}: {r['model']} at {r['url']}, {r['mode']} "
            f"{r['concurrency'] or r['rate']}, status {r['status']}"
        )
    if summaries:
        _render_bench(summaries, run_id, db)


@results_app.command("export")
def results_export(
    run_id: str = typer.Argument(..., help="A run id or a sweep id."),
    out: Path = typer.Option(..., "--out", "-o"),
    fmt: str = typer.Option("csv", "--format", help="csv, parquet or json"),
    db: Path | None = typer.Option(None, "--db"),
    json_out: bool = typer.Option(False, "--json", help="Print JSON on stdout and nothing else."),
) -> None:
    """Every request of a run (or sweep) to a file."""
    from tokenomy.store import Store

    with Store(db) as store:
        try:
            path = store.export(run_id, out, fmt)
        except KeyError as exc:
            fail(str(exc.args[0]))
        except ValueError as exc:
            fail(str(exc))
    if json_out:
        print_json({"out": str(path), "format": fmt})
        return
    console.print(f"exported → {path}")


# ---- consumption --------------------------------------------------------------------------------------------------
consume_app = typer.Typer(help="Tokens per task, token efficiency, success and cost per solved task.")
app.add_typer(consume_app, name="consume")


@consume_app.command("report")
def consume_report_cmd(
    prices: str = typer.Option(
        "dataset",
        "--prices",
        help="dataset (OpenRouter, Jul 2025), genai-prices, or "
        "tier:NAME (every model at a catalog tier's price).",
    ),
    versus: str = typer.Option(
        "claude-4-sonnet-0522-thinking", "--versus", help="Closed model for the crossover."
    ),
    db: Path | None = typer.Option(None, "--db", help="Also include answers measured by `consume run` here."),
    plot: Path | None = typer.Option(
        None, "--plot", help="Write tokens_per_task.png and cost_per_solved_task.png."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print JSON on stdout and nothing else."),
) -> None:
    """Per model and task type: mean completion tokens, reasoning share, success, token-efficiency ratio
    (vs claude-4-sonnet-thinking, o4-mini-high, gemini-2.5-flash), cost per task and per solved task, and how much
    cheaper per token each open model must be to stay cheaper per solved task."""
    from tokenomy.consume.report import (
        consume_report,
        dataset_prices,
        dataset_rows,
        genai_prices,
        tier_prices,
    )

    extra = []
    if db is not None or os.environ.get("TOKENOMY_DB"):
        from tokenomy.consume.run import ConsumeStore
        from tokenomy.store import Store

        with Store(db) as store:
            extra = ConsumeStore(store).rows()
    models = sorted({r.model for r in dataset_rows()} | {r.model for r in extra})
    try:
        if prices == "dataset":
            table = dataset_prices()
        elif prices == "genai-prices":
            table = genai_prices(models)
        elif prices.startswith("tier:"):
            from tokenomy.catalog import catalog

            table = tier_prices(catalog().tier(prices[5:]).require("price_usd_per_mtok"), models)
        else:
            fail("--prices must be dataset, genai-prices or tier:NAME")
    except (UnknownIdError, ValueError) as exc:
        fail(str(exc))
    rep = consume_report(extra, table, prices, versus)
    paths = plot_paths = []
    if plot:
        from tokenomy.consume.report import plot_report

        plot_paths = plot_report(rep, plot)
        paths = [str(p) for p in plot_paths]
    if json_out:
        print_json(rep.as_dict() | {"plots": paths})
        return
    table_out = Table(title=f"tokens and cost per task ({prices} prices)")
    for col in (
        "model",
        "type",
        "answers",
        "tokens/task",
        "reasoning",
        "success",
        "efficiency x",
        "$/task",
        "$/solved",
    ):
        table_out.add_column(col, justify="left" if col in ("model", "type") else "right")
    for s in sorted(rep.stats, key=lambda s: (s.type, s.mean_completion_tokens)):
        table_out.add_row(
            s.model + (" [measured]" if s.source == "measured" else ""),
            s.type,
            str(s.tasks),
            f"{s.mean_completion_tokens:,.0f}",
            f"{s.reasoning_share:.0%}",
            f"{s.success_rate:.0%}",
            "—" if s.efficiency_ratio is None else f"{s.efficiency_ratio:.2f}",
            "—" if s.usd_per_task is None else f"{s.usd_per_task:.4f}",
            "—" if s.usd_per_solved_task is None else f"{s.usd_per_solved_task:.4f}",
        )
    console.print(table_out)
    cross = Table(
        title=f"crossover vs {versus}: an open model stays cheaper per solved task while its price per "
        "token is below this share of the closed model's"
    )
    for col in (
        "open model",
        "type",
        "tokens/solved",
        f"{versus} tokens/solved",
        "required price ratio",
        "actual (dataset)",
    ):
        cross.add_column(col, justify="left" if col in ("open model", "type") else "right")
    for c in rep.crossovers:
        cross.add_row(
            c.open_model,
            c.type,
            f"{c.tokens_per_solved_open:,.0f}",
            f"{c.tokens_per_solved_closed:,.0f}",
            f"{c.required_price_ratio:.2f}x",
            "—" if c.actual_price_ratio is None else f"{c.actual_price_ratio:.2f}x",
        )
    console.print(cross)
    for n in rep.notes:
        console.print(f"[dim]note: {n}[/]")
    for p in plot_paths:
        console.print(f"plot → {p}")


@consume_app.command("run")
def consume_run_cmd(
    url: str = typer.Option(..., "--url", help="Base URL of an OpenAI-compatible server."),
    model: str = typer.Option(..., "--model", help="Model name the server serves."),
    suite: str = typer.Option("token-economy-v1", "--suite", help="token-economy-v1 or a suite JSON file."),
    runs: int = typer.Option(1, "--runs", min=1, help="Answers per prompt."),
    max_tokens: int = typer.Option(4096, "--max-tokens", min=1),
    grader: str = typer.Option("rules", "--grader", help="rules (tokenomy's checks) or judge (an LLM)."),
    judge_url: str | None = typer.Option(
        None, "--judge-url", help="OpenAI-compatible judge for --grader judge."
    ),
    judge_model: str | None = typer.Option(None, "--judge-model", help="Judge model (default: --model)."),
    concurrency: int = typer.Option(1, "--concurrency", min=1),
    timeout: float = typer.Option(600.0, "--timeout", min=1.0),
    db: Path | None = typer.Option(None, "--db", help="DuckDB file (default: the user data dir)."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON on stdout and nothing else."),
) -> None:
    """Run a task suite against an endpoint; tokens, answers, grades and latency go to the results database,
    and the model then appears in `tokenomy consume report --db …` beside the dataset's models."""
    import asyncio

    from tokenomy.consume.run import ConsumeStore, new_run_id, run_suite
    from tokenomy.consume.suite import SuiteError, load_suite
    from tokenomy.measure.bench import BenchConfig, check_endpoint
    from tokenomy.measure.client import PreflightError
    from tokenomy.store import Store

    if grader not in ("rules", "judge"):
        fail("--grader must be rules or judge")
    if grader == "judge" and not judge_url:
        fail("--grader judge needs --judge-url")
    try:
        tasks = load_suite(suite)
    except SuiteError as exc:
        fail(str(exc))
    try:
        asyncio.run(check_endpoint(BenchConfig(url=url, model=model)))
    except PreflightError as exc:
        fail(str(exc))
    run_id = new_run_id()
    with Store(db) as store:
        cs = ConsumeStore(store)
        total = len(tasks) * runs
        with _progress(json_out, f"{model} on {suite}", total) as (progress, task_id):

            def stored(r) -> None:
                cs.add(run_id, url, model, grader, r)
                if progress is not None:
                    progress.advance(task_id)

            results = asyncio.run(
                run_suite(
                    url,
                    model,
                    tasks,
                    runs,
                    max_tokens,
                    grader,
                    judge_url,
                    judge_model,
                    concurrency,
                    timeout,
                    stored,
                )
            )
        db_path = store.path
    ok = [r for r in results if r.ok]
    summary = {
        "run_id": run_id,
        "db": str(db_path),
        "model": model,
        "tasks": len(results),
        "answered": len(ok),
        "failed": len(results) - len(ok),
        "solved": sum(r.score >= 1.0 for r in ok),
        "completion_tokens": sum(r.completion_tokens for r in ok),
        "errors": [r.error for r in results if not r.ok][:5],
    }
    if json_out:
        print_json(summary)
    else:
        console.print(
            f"{model}: {summary['answered']}/{summary['tasks']} answered, {summary['solved']} solved, "
            f"{summary['completion_tokens']:,} completion tokens → run {run_id} in {db_path}"
        )
        if summary["failed"]:
            console.print(f"[red]{summary['failed']} failed[/]: {summary['errors']}")
    if summary["failed"]:
        raise typer.Exit(3)


def main() -> None:  # pragma: no cover - console entry point
    try:
        app()
    except (MissingFigureError, UnknownIdError) as exc:
        fail(str(exc))


if __name__ == "__main__":  # pragma: no cover
    main()
