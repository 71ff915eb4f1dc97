"""`tokenomy bench|results`: measuring real servers."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from tokenomy.catalog import UnknownIdError
from tokenomy.cli.base import (
    _progress,
    app,
    console,
    err_console,
    fail,
    print_json,
    require_extra,
)


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

    require_extra("bench", "aiohttp", "duckdb")

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

    with Store.reader(db) as store:
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

    with Store.reader(db) as store:
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

    with Store.reader(db) as store:
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
