"""`tokenomy predict|validate|calibrate|frontier`: the production model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import typer
from rich.table import Table

from tokenomy.catalog import UnknownIdError
from tokenomy.catalog.schema import MissingFigureError
from tokenomy.cli.base import (
    app,
    choice,
    console,
    fail,
    input_file,
    number,
    output_path,
    print_json,
)

BACKENDS = ("trtllm", "vllm", "sglang", "llama.cpp")
PRECISIONS = ("bf16", "fp8", "fp4", "int4")

POINTS_HELP = "CSV with the columns of calibration.csv (model_path, system, backend, isl, osl, concurrency, tp_size, …)."
POINTS_DEFAULT_HELP = POINTS_HELP + " Default: the 2,364 measured points shipped with tokenomy."


def _packaged_points() -> Path:
    from importlib import resources

    return Path(str(resources.files("tokenomy.perf") / "data" / "calibration_points.csv"))


CALIBRATION_HELP = "Calibration JSON written by `tokenomy calibrate` (default: the packaged fit)."


def _load_points(path: Path):
    from tokenomy.points import PointsError, read_points

    input_file(path, "points CSV")
    try:
        return read_points(path)
    except PointsError as exc:
        fail(str(exc))


def _load_calibration(path: Path | None):
    from tokenomy.perf.calibration import load_calibration

    input_file(path, "calibration file")
    try:
        return load_calibration(path)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        fail(f"{path}: not a tokenomy calibration ({type(exc).__name__}: {exc})")
    except OSError as exc:
        fail(f"{path}: cannot read ({exc.strerror})")


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

    output_path(out, "predictions CSV", (".csv",))
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

    output_path(out, "calibration", (".json",))
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
        None,
        "--precision",
        callback=choice(*PRECISIONS),
        help="bf16, fp8, fp4 or int4 (default: the model's).",
    ),
    kv_precision: str | None = typer.Option(
        None,
        "--kv-precision",
        callback=choice("bf16", "fp8"),
        help="KV-cache precision: bf16 or fp8 (default: FP8 for TRT-LLM FP8/FP4, else BF16).",
    ),
    isl: int = typer.Option(1024, "--isl", min=1, help="Input tokens per request."),
    osl: int = typer.Option(1024, "--osl", min=1, help="Output tokens per request."),
    backend: str | None = typer.Option(
        None,
        "--backend",
        callback=choice(*BACKENDS),
        help="trtllm, vllm, sglang or llama.cpp (default: trtllm on NVIDIA, vllm elsewhere).",
    ),
    cost_basis: str = typer.Option(
        "neocloud",
        "--cost-basis",
        callback=choice("hyperscaler", "neocloud", "rental"),
        help="$/GPU-hour preset: hyperscaler, neocloud, rental.",
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
        0.0, "--mtp-acceptance", callback=number(0.0, 1.0), help="Acceptance rate per draft."
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

    output_path(plot, "plot", (".png", ".svg", ".pdf"))
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
                    kv_precision=kv_precision,
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
        if not f.points and not f.feasible:
            limit = f"{max_gpus} GPUs (--max-gpus)" if max_gpus else "the scale-up domain"
            console.print(
                f"[red]{f.model} does not fit in memory on {f.hardware}: no deployment up to {limit} holds the "
                f"weights and the KV cache of one request of ISL {f.isl} + OSL {f.osl}; try a shorter ISL/OSL or "
                "a lower precision[/]"
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
