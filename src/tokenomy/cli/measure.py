"""`tokenomy bench|results`: measuring real servers."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from tokenomy.catalog import UnknownIdError
from tokenomy.cli.base import (
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


def _live(quiet: bool):
    """A live view per level (requests done, failures, running p50 TTFT/TPOT, tok/s) on stderr, or none."""
    import contextlib

    if quiet:
        return lambda stats: contextlib.nullcontext()
    from rich.live import Live

    def render(stats) -> str:
        s = stats.snapshot()
        ttft = "—" if s["ttft_p50_ms"] is None else f"{s['ttft_p50_ms']:,.1f} ms"
        tpot = "—" if s["tpot_p50_ms"] is None else f"{s['tpot_p50_ms']:,.2f} ms"
        return (
            f"[bold]bench {s['label']}[/]  {s['done']:,}/{s['total']:,} done  "
            f"[{'red' if s['failed'] else 'dim'}]{s['failed']:,} failed[/]  TTFT p50 {ttft}  "
            f"TPOT p50 {tpot}  {s['out_tok_s']:,.0f} out tok/s  {s['elapsed_s']:.0f} s"
        )

    @contextlib.contextmanager
    def view(stats):
        from rich.text import Text

        class _R:
            def __rich__(self):
                return Text.from_markup(render(stats))

        with Live(_R(), console=err_console, refresh_per_second=2, transient=True):
            yield
        err_console.print(render(stats))

    return view


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
    min_tokens: int | None = typer.Option(
        None,
        "--min-tokens",
        min=1,
        help="Ask for at least this many output tokens (min_tokens; vLLM, SGLang).",
    ),
    dataset: Path | None = typer.Option(None, "--dataset", help="JSONL prompts instead of random ones."),
    shared_prefix: int = typer.Option(
        0,
        "--shared-prefix",
        min=0,
        help="Every request starts with the same system prompt of this many tokens (words), then its own part.",
    ),
    sessions: int | None = typer.Option(
        None,
        "--sessions",
        min=1,
        help="Multi-turn: N conversations (-c of them at once; default all), each turn resending the whole "
        "conversation, answers included, plus --isl new words.",
    ),
    turns: int | None = typer.Option(None, "--turns", min=1, help="Turns per session (with --sessions)."),
    think_s: float = typer.Option(
        0.0,
        "--think-s",
        min=0.0,
        max=3600.0,
        help="Seconds a session waits after an answer before its next turn (with --sessions): an agent's tool "
        "call or a user reading.",
    ),
    trace: Path | None = typer.Option(
        None,
        "--trace",
        help="Replay a Mooncake-format JSONL trace at its timestamps (shared hash ids = identical prefix text).",
    ),
    num_prompts: int | None = typer.Option(
        None, "--num-prompts", min=1, help="Per level. Default: 10 x concurrency, or rate x --probe-seconds."
    ),
    warmup: int = typer.Option(1, "--warmup", min=0, help="Requests sent first and not measured."),
    timeout: float = typer.Option(
        60.0,
        "--timeout",
        min=0.1,
        help="Seconds to the first token, and between tokens, before a request fails.",
    ),
    workers: int = typer.Option(
        0, "--workers", min=0, help="Ray actors generating the load (extra ray); 0: this process."
    ),
    ray_address: str | None = typer.Option(
        None, "--ray-address", help="A Ray cluster (ray://… or host:port); default: Ray starts locally."
    ),
    find_max_rate: bool = typer.Option(
        False, "--find-max-rate", help="Search the highest rate meeting --slo (start: --rate or 1 req/s)."
    ),
    concurrency_search: bool = typer.Option(
        False,
        "--concurrency-search",
        help="With --find-max-rate: search the concurrency instead (start: -c).",
    ),
    max_probes: int = typer.Option(10, "--max-probes", min=1, help="Most levels the search runs."),
    probe_seconds: float = typer.Option(
        10.0, "--probe-seconds", min=0.5, help="Length of a rate level without --num-prompts."
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
    slo: str | None = typer.Option(
        None, "--slo", help="Objectives, e.g. ttft_ms=500,tpot_ms=50[,percentile=p90] (goodput; search)."
    ),
    power: str | None = typer.Option(None, "--power", help="nvml: sample GPU board power (≥ 10 Hz)."),
    no_ignore_eos: bool = typer.Option(False, "--no-ignore-eos", help="Let the model stop at EOS."),
    db: Path | None = typer.Option(None, "--db", help="DuckDB file (default: the user data dir)."),
    export: Path | None = typer.Option(None, "--export", help="Also write results in the InferenceX format."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No live view; only the final table."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON on stdout and nothing else."),
) -> None:
    """Measure an OpenAI-compatible server: TTFT, TPOT, ITL, E2E, throughput, goodput (and J/token with NVML).

    Every finished request is stored in DuckDB by a writer thread in batches (at most 0.5 s or 1,024 requests
    wait; Ctrl-C flushes them, a hard crash loses at most that batch). Exit code 3 when some requests failed
    (the summary says why), 4 when a run is partial (a worker died) or storage failed, 130 on Ctrl-C, 2 on bad
    input or an unreachable endpoint.
    """
    import asyncio

    require_extra("bench", "aiohttp", "duckdb")

    from tokenomy.catalog import catalog
    from tokenomy.measure.bench import BenchConfig, check_endpoint
    from tokenomy.measure.client import PreflightError
    from tokenomy.measure.metrics import Slo
    from tokenomy.measure.runner import BenchRunner, Workload
    from tokenomy.measure.workload import DatasetError
    from tokenomy.measure.writer import BatchWriter
    from tokenomy.store import Store

    if api not in ("chat", "completions"):
        fail("--api must be chat or completions")
    if find_max_rate:
        if not slo:
            fail("--find-max-rate needs --slo, e.g. --slo ttft_ms=500,tpot_ms=50")
        if concurrency_search and rate is not None:
            fail("--concurrency-search searches the concurrency: give -c N as the start, not --rate")
        if not concurrency_search and concurrency is not None:
            fail(
                "--find-max-rate searches the rate: give --rate R as the start (or add --concurrency-search)"
            )
    elif concurrency_search:
        fail("--concurrency-search goes with --find-max-rate")
    if trace is not None:
        if concurrency is not None or rate is not None or find_max_rate:
            fail("--trace sends at the trace's timestamps: drop --concurrency, --rate and --find-max-rate")
        if dataset is not None or sessions or shared_prefix:
            fail("--trace brings its own prompts and reuse: drop --dataset, --sessions and --shared-prefix")
        if workers:
            fail("--trace replays in this process (one clock for the schedule): drop --workers")
        if not trace.is_file():
            fail(f"--trace {trace}: no such file")
    if (turns is not None or think_s) and not sessions:
        fail("--turns and --think-s go with --sessions N")
    if sessions:
        if rate is not None or find_max_rate:
            fail("--sessions run at a concurrency (-c: sessions at once), not at a rate or a search")
        if dataset is not None or num_prompts is not None:
            fail("--sessions builds its prompts turn by turn: drop --dataset and --num-prompts")
        if workers:
            fail("--sessions runs in this process (each turn waits for the previous answer): drop --workers")
        if concurrency is None:
            concurrency = str(sessions)
    if trace is None and not find_max_rate and (concurrency is None) == (rate is None):
        fail("give --concurrency 1,2,4,… or --rate R (not both)")
    if power not in (None, "nvml"):
        fail("--power accepts only nvml")
    if ray_address and not workers:
        fail("--ray-address goes with --workers N")
    try:
        slo_obj = Slo.parse(slo)
    except ValueError as exc:
        fail(f"--{exc}")
    if find_max_rate and not slo_obj.limits:
        fail("--slo needs at least one of ttft_ms, tpot_ms, e2e_ms for --find-max-rate")
    levels = _levels(concurrency) if concurrency else None
    if workers and levels and min(levels) < workers:
        fail(f"--concurrency {min(levels)} is below --workers {workers}: each worker needs at least one")
    allin = price = None
    if hardware:
        try:
            acc = catalog().accelerator(hardware)
        except UnknownIdError as exc:
            fail(str(exc))
        hardware = acc.id
        allin, price = acc.value("allin_kw"), acc.value("usd_per_gpu_hour_neocloud")
    if dataset is not None and not dataset.is_file():
        fail(f"--dataset {dataset}: no such file")
    replay = None
    if trace is not None:
        from tokenomy.workloads.mooncake import TraceError, read_trace

        try:
            replay = read_trace(trace)
        except TraceError as exc:
            fail(str(exc))
        shown = replay[:num_prompts] if num_prompts else replay
        isl = round(sum(r.input_length for r in shown) / len(shown))
        osl = round(sum(r.output_length for r in shown) / len(shown))
    cfg = BenchConfig(
        url=url,
        model=model,
        api=api,
        timeout_s=timeout,
        warmup=warmup,
        ignore_eos=not no_ignore_eos,
        min_tokens=min_tokens,
        slo=slo_obj,
        gpus=gpus,
        allin_kw_per_gpu=allin,
        usd_per_gpu_hour=price,
        power=power == "nvml",
        think_s=think_s,
    )
    try:
        asyncio.run(check_endpoint(cfg))
    except PreflightError as exc:
        fail(str(exc))
    cluster = None
    if workers:
        from tokenomy.measure.distributed import RayMissingError, start_workers

        try:
            cluster = start_workers(cfg, workers, ray_address)
        except RayMissingError as exc:
            fail(str(exc))
        except Exception as exc:  # cluster unreachable, too few CPUs
            fail(f"cannot start {workers} Ray workers: {exc}"[:400])
        if not json_out and not quiet:
            info = cluster.info()
            err_console.print(
                f"[dim]{workers} Ray workers on {', '.join(info['hosts'])}; largest clock offset "
                f"{info['max_clock_offset_ms']:.3f} ms (± {info['offset_uncertainty_ms']:.3f})[/]"
            )
    run_fields = {
        "url": url,
        "model": model,
        "api": api,
        "isl": isl,
        "osl": osl,
        "hardware": hardware,
        "gpus": gpus,
        "backend": backend,
        "config": {
            "burstiness": burstiness,
            "max_concurrency": max_concurrency,
            "dataset": str(dataset or ""),
            "slo": slo,
            "timeout_s": timeout,
            "warmup": warmup,
            "min_tokens": min_tokens,
            "precision": precision or "",
            "workers": workers,
            "ray_address": ray_address or ("local" if workers else None),
            "shared_prefix": shared_prefix,
            "sessions": sessions,
            "turns": (turns or 1) if sessions else None,
            "think_s": think_s if sessions else None,
            "trace": str(trace) if trace else None,
        },
    }
    search_out = None
    interrupted_between = False
    try:
        with Store(db) as store:
            db_path = store.path
            writer = BatchWriter(store)
            runner = BenchRunner(
                cfg,
                Workload(
                    isl,
                    osl,
                    dataset,
                    num_prompts,
                    burstiness,
                    max_concurrency,
                    probe_seconds,
                    shared_prefix,
                    sessions,
                    turns,
                    replay,
                ),
                writer,
                run_fields,
                cluster,
                _live(quiet or json_out),
            )
            try:
                if find_max_rate:
                    start = float(levels[0]) if concurrency_search and levels else (rate or 1.0)
                    best, probes = runner.find_max(start, not concurrency_search, max_probes)
                    search_out = {
                        "by": "concurrency" if concurrency_search else "rate",
                        "slo": slo_obj.limits | {"percentile": slo_obj.percentile},
                        "best": None if best is None else vars(best),
                        "probes": [vars(p) for p in probes],
                    }
                elif replay is not None:
                    runner.level()
                else:
                    runner.sweep(levels, rate)
            except (DatasetError, ValueError) as exc:
                writer.close()
                fail(str(exc))
            except KeyboardInterrupt:
                interrupted_between = True
            finally:
                writer.close()
    finally:
        if cluster is not None:
            cluster.shutdown()
    out = runner.levels
    sweep_id = runner.sweep_id
    summaries = [r.summary | {"concurrency": r.concurrency, "rate": r.rate} for r in out]
    if export:
        _export_inferencex(export, summaries, model, hardware, backend, isl, osl)
    failed = sum(s["failed"] for s in summaries)
    storage = {"stored": writer.stored, "batches": writer.batches, "lost": writer.lost, "error": writer.error}
    if json_out:
        doc = {"sweep_id": sweep_id, "db": str(db_path), "levels": summaries, "storage": storage}
        if cluster is not None:
            doc["workers"] = cluster.info()
        if search_out is not None:
            doc["search"] = search_out
        print_json(doc)
    else:
        _render_bench(summaries, sweep_id, db_path)
        if search_out is not None:
            _render_search(search_out)
    statuses = {s["status"] for s in summaries}
    if writer.error:
        err_console.print(
            f"[red]storage failed ({writer.error}): {writer.lost} finished requests were not stored[/]"
        )
    if interrupted_between or "interrupted" in statuses:
        err_console.print(
            f"[yellow]interrupted: the {writer.stored} finished requests are stored (sweep {sweep_id}); "
            "requests in flight were dropped[/]"
        )
        raise typer.Exit(130)
    if "partial" in statuses:
        reasons = "; ".join(s["partial_reason"] for s in summaries if s.get("partial_reason"))
        err_console.print(f"[red]partial run: {reasons}; what finished is stored[/]")
        raise typer.Exit(4)
    if writer.error:
        raise typer.Exit(4)
    if failed:
        raise typer.Exit(3)


def _render_search(search: dict) -> None:
    unit = "req/s" if search["by"] == "rate" else "concurrent"
    table = Table(title=f"max-{search['by']} search, SLO {search['slo']}")
    for col in ("probe", "load", "achieved req/s", "goodput req/s", "meets SLO", "saturated", "run"):
        table.add_column(col, justify="right")
    for i, p in enumerate(search["probes"], start=1):
        table.add_row(
            str(i),
            f"{p['load']:.4g} {unit}",
            f"{p['achieved_req_s']:.2f}",
            f"{p['goodput_req_s']:.2f}",
            "yes" if p["meets_slo"] else "no",
            "yes" if p["saturated"] else "no",
            str(p["run_id"]),
        )
    console.print(table)
    best = search["best"]
    if best is None:
        console.print("[red]no probe met the SLO[/]")
    else:
        console.print(
            f"[bold]highest {search['by']} meeting the SLO: {best['load']:.4g} {unit}[/] "
            f"(goodput {best['goodput_req_s']:.2f} req/s)"
        )


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
        level = _level_label(s)
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
        level = _level_label(s)
        console.print(f"[bold]{level}[/]:", end=" ")
        _render_reuse(s)
        if s["usage_counted_from_stream"]:
            console.print(
                f"[yellow]note:[/] the server sent no usage for {s['usage_counted_from_stream']} requests; "
                "output tokens were counted from the stream"
            )
        if s["failed"]:
            console.print(f"[red]{s['failed']} of {s['requests']} requests failed[/]: {s['failure_reasons']}")
        if s.get("short_outputs"):
            console.print(
                f"[yellow]note:[/] {s['short_outputs']} answers stopped before max_tokens "
                "(the server ignores ignore_eos; try --min-tokens)"
            )
        if s.get("partial_reason"):
            console.print(f"[red]partial: {s['partial_reason']}[/]")
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


def _level_label(s: dict) -> str:
    if s.get("concurrency"):
        return f"c={s['concurrency']}"
    return f"{s['rate']:g}/s" if s.get("rate") else "trace"


def _render_reuse(s: dict) -> None:
    """Reuse workloads: the share of prompt tokens an earlier request sent; schedules: how late sends left."""
    r = s.get("reuse")
    if r:
        who = f" in {r['sessions']} sessions x {r['turns']} turns" if r.get("sessions") else ""
        console.print(
            f"reuse: {r['share']:.1%} of {r['planned_prompt_tokens']:,} planned prompt tokens are a prefix an "
            f"earlier request sent ({r['requests_reusing']:,} requests reuse one){who}"
        )
    late = s.get("send_late_ms")
    if late and late.get("p99") is not None:
        console.print(
            f"sends vs schedule: p50 {late['p50']:.2f} ms, p99 {late['p99']:.2f} ms, max {late['max']:.2f} ms late"
        )


def _export_inferencex(path: Path, summaries: list[dict], model, hardware, backend, isl, osl) -> None:
    from tokenomy.measure.inferencex import inferencex_rows

    rows = inferencex_rows(summaries, model, hardware, backend, isl, osl)
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
        table.add_column(col, overflow="fold")  # ids and names whole (wrapped), never cut with an ellipsis
    for r in runs:
        level = str(r["concurrency"]) if r["concurrency"] else f"{r['rate']}/s" if r["rate"] else r["mode"]
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
