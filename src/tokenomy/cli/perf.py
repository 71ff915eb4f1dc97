"""`tokenomy predict|validate|calibrate|frontier`: the production model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import typer
from rich.markup import escape
from rich.table import Table

from tokenomy.catalog import UnknownIdError
from tokenomy.catalog.schema import MissingFigureError
from tokenomy.cli.base import (
    app,
    choice,
    console,
    err_console,
    fail,
    input_file,
    number,
    output_path,
    print_json,
)

BACKENDS = ("trtllm", "vllm", "sglang", "atom", "llama.cpp")
PRECISIONS = ("bf16", "fp8", "fp4", "int4")

POINTS_HELP = (
    "CSV with the columns of calibration.csv (model_path, system, backend, isl, osl, concurrency, tp_size, …); "
    "disaggregated rows (mode=disagg, prefill_*/decode_* pools) and MTP rows (spec_method=mtp) as InferenceX's."
)
POINTS_DEFAULT_HELP = (
    POINTS_HELP + " Repeat for several files. Default: the measured points shipped with tokenomy "
    "(aiconfigurator's aggregated and disaggregated points, InferenceX's DeepSeek-R1 points)."
)


CALIBRATION_HELP = "Calibration JSON written by `tokenomy calibrate` (default: the packaged fit)."


def _load_points(path: Path):
    from tokenomy.points import PointsError, read_points

    input_file(path, "points CSV")
    try:
        return read_points(path)
    except PointsError as exc:
        fail(str(exc))


AS_IS_HELP = (
    "Count every row as given: no merging of rows that repeat one run's measurement, no MTP label read from a "
    "row's labelled twins, no row left out for contradicting them or each other."
)


def _load_many(paths: list[Path], quiet: bool = False, as_is: bool = False):
    """Points of several files (default: the packaged ones), one per benchmark run unless ``as_is``, a digest of
    their bytes and what reconciling the runs changed (said on stderr unless ``quiet``)."""
    from tokenomy.points import PointsError, Reconciled, packaged_paths, read_many, reconcile

    try:
        rows, digest = read_many(paths or packaged_paths(), reconcile_runs=False)
    except PointsError as exc:
        fail(str(exc))
    runs = Reconciled(rows, 0, 0) if as_is else reconcile(rows)
    if runs.note and not quiet:
        err_console.print(f"[dim]note: {escape(runs.note)} (--as-is counts every row)[/]", soft_wrap=True)
    return runs.points, digest, runs


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

    A row the model cannot predict (unknown model or hardware, a value it cannot read, a deployment that does
    not fit in memory) keeps empty predictions, says why in `note`, and the file goes on; only a missing column
    or an unreadable file stops it. Rows whose pool parallelism the file leaves incomplete are read as the
    engines' recipes build them; the summary counts them and says how.
    predicted_tput_per_gpu is (input + output) tok/s over every GPU serving (both pools when disaggregated).
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
            predicted_tput_per_gpu=cell(pred.tok_s_per_gpu[i]),
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
    assumed = [f"line {p.line}: {p.assumption}" for p in rows if p.assumption]
    if json_out:
        print_json(summary)
    else:
        console.print(f"predicted {predicted} of {len(rows)} rows → [bold]{out}[/]")
        if predicted < len(rows):
            console.print(f"[yellow]{len(rows) - predicted} rows not predicted; see the `note` column[/]")
        if assumed:
            console.print(
                f"[yellow]{len(assumed)} rows with incomplete pool parallelism were read as[/] " + assumed[0]
            )


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
    points: list[Path] = typer.Option([], "--points", help=POINTS_DEFAULT_HELP),
    cv: str | None = typer.Option(
        None, "--cv", help="Leave one group out and refit: system, model or backend."
    ),
    frontier_check: bool = typer.Option(
        False,
        "--frontier",
        help="Compare the frontier with the measured Pareto points of each (system, precision, ISL/OSL, "
        "backend) group instead of point by point.",
    ),
    calibration: Path | None = typer.Option(None, "--calibration", help=CALIBRATION_HELP),
    as_is: bool = typer.Option(False, "--as-is", help=AS_IS_HELP),
    json_out: bool = typer.Option(False, "--json", help="Print JSON on stdout and nothing else."),
) -> None:
    """Error of the model on measured points: MdAPE and p90 of TTFT, TPOT and tput_per_gpu.

    Throughput is the file's measured tok/s/GPU where it has one, else Little's law on the measured medians.
    `--cv system` refits without each system in turn and reports the error on the system left out (how well
    new hardware is predicted). `--frontier` reads the frontier as the economics does: at each measured
    Pareto point's interactivity, tokenomy's best tok/s/GPU over aggregated, disaggregated and MTP serving of
    that backend, as a ratio ours / measured (median per system); with `--cv system` the fit leaves the system
    out first.
    """
    from tokenomy import validation

    rows, _, _ = _load_many(points, as_is=as_is)
    if cv is not None and cv not in validation.CV_KEYS:
        fail(f"--cv must be one of {', '.join(validation.CV_KEYS)}, not '{cv}'")
    if frontier_check:
        if cv not in (None, "system"):
            fail("--frontier takes --cv system only")
        with console.status("frontiers at the measured Pareto points…") as status:
            if cv:
                train, _, _ = _load_many([], quiet=True)
                rep = validation.frontier_cross_validate(
                    train, rows, progress=lambda g: status.update(f"leave-one-system-out: {g}")
                )
            else:
                rep = validation.frontier_accuracy(
                    rows, _load_calibration(calibration), progress=lambda g: status.update(g)
                )
        if json_out:
            print_json(rep.as_dict())
        else:
            _render_frontier_accuracy(rep)
        return
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


def _render_frontier_accuracy(rep) -> None:
    table = Table(
        title=f"frontier vs measured Pareto points ({rep.mode}): ours / measured tok/s/GPU at the same tok/s/user"
    )
    for col in ("system", "Pareto points", "median", "p10", "p90", "not reached", "same deployment"):
        table.add_column(col, justify="right")

    def ratio(x: float | None) -> str:
        return "—" if x is None else f"{x:.2f}"

    for system, s in rep.median_by_system().items():
        table.add_row(
            system,
            str(s["n"]),
            ratio(s["median_ratio"]),
            ratio(s["p10_ratio"]),
            ratio(s["p90_ratio"]),
            str(s["unreached"]),
            ratio(s["median_same_deployment_ratio"]),
        )
    console.print(table)
    console.print(
        "[dim]not reached: measured points faster per user than any point of our frontier for that backend; "
        "same deployment: the median ratio with each measured point's own deployment, its concurrency free "
        "(the model alone, without the deployments the benchmark chose not to run)[/]"
    )


@app.command()
def calibrate(
    points: list[Path] = typer.Option(
        [], "--points", help=POINTS_DEFAULT_HELP + " Needs measured_ttft_ms / measured_tpot_ms."
    ),
    out: Path = typer.Option(
        Path("calibration.json"), "--out", help="Where to write the fitted calibration."
    ),
    from_db: str | None = typer.Option(
        None, "--from-db", help="Fit to a stored bench run or sweep (run id)."
    ),
    db: Path | None = typer.Option(None, "--db", help="DuckDB file for --from-db."),
    as_is: bool = typer.Option(False, "--as-is", help=AS_IS_HELP),
    json_out: bool = typer.Option(False, "--json", help="Print JSON on stdout and nothing else."),
) -> None:
    """Refit the model's efficiencies (per backend, refined per hardware family) to measured points.

    Use the result with `--calibration FILE` on predict, validate and frontier.
    """
    from tokenomy import validation

    output_path(out, "calibration", (".json",))
    if from_db:
        from tokenomy.measure.to_points import points_from_db

        try:
            rows, data_hash = points_from_db(from_db, db)
        except (KeyError, ValueError) as exc:
            fail(str(exc.args[0]))
        data_name = f"db:{from_db}"
        runs = None  # one stored run is one set of measurements: nothing to reconcile
    else:
        rows, data_hash, runs = _load_many(points, as_is=as_is)
        data_name = ", ".join(p.name for p in points) or "packaged points"
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
    cal.notes["data"] = data_name
    if runs is not None:
        cal.notes["runs"] = runs.counts
    cal.save(out)
    if json_out:
        print_json({"out": str(out), **cal.to_json()})
    else:
        console.print(f"fitted {len(cal.params)} parameter sets on {cal.n_points} points → [bold]{out}[/]")
        _render_validation(rep, top=0)
        table = Table(title="what pins each parameter")
        table.add_column("parameters")
        table.add_column("pinned by")
        for names, data in cal.notes.get("pinned_by", {}).items():
            table.add_row(names, data)
        console.print(table)
        mtp = cal.params.get("mtp", {})
        if mtp:
            console.print(
                "MTP acceptance per draft token (fitted on random-prompt benchmarks, which accept less than real "
                "text): " + ", ".join(f"{k} {v:.2f}" for k, v in sorted(mtp.items()))
            )


# ---- frontier -------------------------------------------------------------------------------------------------
def _measured_overlay(path: Path, model: str, hardware: str, precision: str, isl: int, osl: int) -> list:
    """Measured points of a points file that match the frontier: (label, tok/s/user, tok/s/GPU)."""
    from tokenomy.validation import measured_on_frontier

    rows, _ = _load_points(path)
    return [
        (m.label, m.tok_s_per_user, m.tok_s_per_gpu)
        for m in measured_on_frontier(rows, model, hardware, precision, isl, osl)
    ]


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
    backend: list[str] = typer.Option(
        [],
        "--backend",
        callback=choice(*BACKENDS),
        help="trtllm, vllm, sglang or atom; repeat for several (default: every engine that runs on the hardware).",
    ),
    serving: str = typer.Option(
        "all",
        "--serving",
        help="agg (one engine prefills and decodes), disagg (prefill/decode pools) or all.",
    ),
    mtp: str = typer.Option(
        "auto",
        "--mtp",
        help="MTP speculative decoding: auto (with and without, where the model has MTP heads), on, off.",
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
    calibration: Path | None = typer.Option(None, "--calibration", help=CALIBRATION_HELP),
    measured: Path | None = typer.Option(
        None, "--measured", help="Points CSV (e.g. InferenceX's): overlay its matching measured points."
    ),
    plot: Path | None = typer.Option(None, "--plot", help="Write a PNG of the frontier(s) here."),
    prefix_hit_rate: float = typer.Option(
        0.0,
        "--prefix-hit-rate",
        callback=number(0.0, 1.0),
        help="Share of each prompt already in the KV cache (prefix reuse): only the rest is prefilled.",
    ),
    session: str | None = typer.Option(
        None,
        "--session",
        help="Multi-turn workload TURNS,TOKENS_PER_TURN,OUTPUT_PER_TURN,THINK_S[,SYSTEM_TOKENS]: sets ISL, OSL "
        "and the hit rate the system's cache tiers (HBM, host DRAM, SSD) allow.",
    ),
    json_out: bool = typer.Option(False, "--json", help="Print JSON on stdout and nothing else."),
) -> None:
    """The Pareto frontier of throughput vs interactivity: per GPU, per MW of all-in power and per $.

    As InferenceX draws it: the upper envelope over engines, aggregated and disaggregated serving (the
    prefill:decode ratio chosen) and MTP on/off. Every feasible deployment (TP, attention-DP, EP up to the
    scale-up domain) × 64 concurrencies is evaluated; deployments whose weights + KV for C × (ISL + OSL) do not
    fit are excluded. Points marked * lie beyond what measured data of the engine on that hardware family
    shows (running batch per rank, DP/EP width, engine size or shape, or concurrency): `plan`, `cost` and `claims` leave
    them out unless `--allow-extrapolation`.
    """
    from tokenomy.econ.cost import priced_frontier
    from tokenomy.perf.frontier import CONCURRENCIES, MODES, best_frontier

    output_path(plot, "plot", (".png", ".svg", ".pdf"))
    modes = MODES if serving == "all" else (serving,)
    if serving not in ("all", *MODES):
        fail(f"--serving must be agg, disagg or all, not '{serving}'")
    mtp_modes = {"auto": (False, True), "on": (True,), "off": (False,)}.get(mtp)
    if mtp_modes is None:
        fail(f"--mtp must be auto, on or off, not '{mtp}'")
    cal = _load_calibration(calibration)
    conc = CONCURRENCIES[max_concurrency >= CONCURRENCIES] if max_concurrency else None
    results, overlays = [], []
    sess = None
    if session:
        from tokenomy.perf.reuse import parse_session

        try:
            sess = parse_session(session)
        except ValueError as exc:
            fail(f"--session: {exc}")
    for hw in hardware:
        hit, reuse_notes = prefix_hit_rate, []
        if sess is not None:
            from tokenomy.perf.reuse import session_reuse

            try:
                reuse, reuse_notes = session_reuse(model, hw, sess, precision=precision)
            except (UnknownIdError, MissingFigureError, ValueError) as exc:
                fail(str(exc))
            isl, osl, hit = round(sess.mean_isl), sess.output_per_turn, reuse.hit_rate
            reuse_notes.append(
                f"session of {sess.turns} turns: mean ISL {isl}, OSL {osl}; {reuse.retained:.0%} of idle sessions "
                f"keep their KV ({', '.join(f'{k} {v:.0%}' for k, v in reuse.placed.items() if v)}) → prefix "
                f"hit rate {hit:.0%}"
            )
        try:
            f = best_frontier(
                model,
                hw,
                precision,
                backends=tuple(b.lower() for b in backend) or None,
                modes=modes,
                mtp=mtp_modes,
                isl=isl,
                osl=osl,
                max_gpus=max_gpus,
                calibration=cal,
                concurrencies=conc,
                kv_precision=kv_precision,
                **({"prefix_hit_rate": hit} if hit else {}),
            )
        except (UnknownIdError, MissingFigureError, ValueError) as exc:
            fail(str(exc))
        f.assumptions = reuse_notes + f.assumptions
        results.append(priced_frontier(f, cost_basis))
        overlays.append(
            _measured_overlay(measured, f.model, f.hardware, f.precision, isl, osl) if measured else []
        )
    if plot:
        from tokenomy.report.plots import plot_frontiers

        plot_frontiers(results, plot, measured=[m for o in overlays for m in o])
    if json_out:
        print_json(
            [
                f.as_dict()
                | {"plot": str(plot) if plot else None}
                | {"measured": [{"label": a, "tok_s_per_user": b, "tok_s_per_gpu": c} for a, b, c in o]}
                for f, o in zip(results, overlays, strict=True)
            ]
        )
        return
    for priced, o in zip(results, overlays, strict=True):
        f = priced.frontier
        _render_frontier(priced)
        if measured:
            _render_measured(f, o)
        if not f.points and not f.feasible:
            limit = f"{max_gpus} GPUs (--max-gpus)" if max_gpus else "the scale-up domain"
            console.print(
                f"[red]{f.model} does not fit in memory on {f.hardware}: no deployment up to {limit} holds the "
                f"weights and the KV cache of one request of ISL {f.isl} + OSL {f.osl}; try a shorter ISL/OSL or "
                "a lower precision[/]"
            )
    if plot:
        console.print(f"plot → [bold]{plot}[/]")


def _render_measured(f, measured: list) -> None:
    """Measured points beside the frontier at their interactivity."""
    if not measured:
        console.print(
            f"[dim]no measured point of {f.model} on {f.hardware} ({f.precision}) at this ISL/OSL[/]"
        )
        return
    from tokenomy.perf.frontier import pareto_mask

    keep = pareto_mask(np.array([m[1] for m in measured]), np.array([m[2] for m in measured]))
    pareto = [m for m, k in zip(measured, keep, strict=True) if k]
    table = Table(
        title=f"measured Pareto points on {f.hardware} ({len(pareto)} of {len(measured)} measured points) vs the "
        "frontier at their interactivity"
    )
    for col in (
        "measured",
        "tok/s/user",
        "tok/s/GPU",
        "frontier tok/s/GPU",
        "ours / measured",
        "with extrapolation",
    ):
        table.add_column(col, justify="right")
    for label, user, tput in sorted(pareto, key=lambda m: m[1]):
        backed = f.at_interactivity(user, allow_extrapolation=False)
        anyhow = f.at_interactivity(user)
        table.add_row(
            label,
            f"{user:.1f}",
            f"{tput:,.0f}",
            "not reached" if backed is None else f"{backed.tok_s_per_gpu:,.0f}",
            "—" if backed is None else f"{backed.tok_s_per_gpu / tput:.2f}",
            "—" if anyhow is None else f"{anyhow.tok_s_per_gpu / tput:.2f}",
        )
    console.print(table)
    console.print(
        "[dim]frontier: its measured-backed points, as the economics reads it (`tokenomy validate --frontier` also "
        "scales ours to the benchmark's finite run); with extrapolation: every point[/]"
    )


def _add_frontier_rows(table: Table, priced, points: list, rows: int) -> None:
    """About ``rows`` of ``points``, evenly spread and always the fastest per user; extrapolations marked *."""
    step = max(1, len(points) // rows)
    shown = points[::step]
    if points and shown[-1] is not points[-1]:
        shown.append(points[-1])
    for p in shown:
        table.add_row(
            f"{p.tok_s_per_user:.1f}",
            f"{p.tok_s_per_gpu:,.0f}",
            "—" if p.tok_s_per_mw is None else f"{p.tok_s_per_mw / 1e6:.2f}M",
            "—" if (usd := priced.usd_per_mtok(p)) is None else f"{usd:.3f}",
            f"{p.ttft_ms:,.0f}",
            f"{p.tpot_ms:.1f}",
            p.backend,
            p.deployment + (" *" if p.extrapolated else ""),
            f"{p.gpus_serving:g}",
            str(p.concurrency),
        )


def _render_frontier(priced, rows: int = 14) -> None:
    f = priced.frontier
    table = Table(
        title=f"{f.model} on {f.hardware} ({f.precision}, KV {f.kv_precision}, {f.backend}), ISL {f.isl} / OSL {f.osl}",
        caption=f"{f.evaluated} points evaluated, {f.feasible} fit in memory, {len(f.points)} on the frontier; "
        f"efficiencies {f.calibration_source}; cost basis {priced.cost_basis}",
    )
    for col in (
        "tok/s/user",
        "tok/s/GPU",
        "tok/s/MW",
        "$/M tok",
        "TTFT ms",
        "TPOT ms",
        "engine",
        "deployment",
        "GPUs",
        "conc",
    ):
        table.add_column(col, justify="right")
    _add_frontier_rows(table, priced, f.points, rows)
    console.print(table)
    if any(p.extrapolated for p in f.points) and f.backed_points:
        backed = Table(
            title="the measured-backed frontier (what plan, cost and claims read without --allow-extrapolation)"
        )
        for col in table.columns:
            backed.add_column(str(col.header), justify="right")
        _add_frontier_rows(backed, priced, f.backed_points, rows // 2)
        console.print(backed)
    for a in priced.assumptions:
        console.print(f"[yellow]note:[/] {a}")
