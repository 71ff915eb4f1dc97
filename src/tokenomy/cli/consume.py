"""`tokenomy consume report|run`: tokens per task and cost per solved task."""

from __future__ import annotations

import os
from pathlib import Path

import typer
from rich.table import Table

from tokenomy.catalog import UnknownIdError
from tokenomy.cli.base import (
    _progress,
    app,
    console,
    fail,
    print_json,
    require_extra,
)

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

    if plot is not None and plot.exists() and not plot.is_dir():
        fail(f"{plot}: is a file; --plot names a folder for the PNG files")
    if plot is not None and not plot.parent.is_dir():
        fail(f"{plot}: folder {plot.parent} does not exist (create it first)")
    extra = []
    if db is not None or os.environ.get("TOKENOMY_DB"):
        from tokenomy.consume.run import ConsumeStore
        from tokenomy.store import Store

        with Store.reader(db) as store:
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
    try:
        rep = consume_report(extra, table, prices, versus)
    except ValueError as exc:
        fail(str(exc))
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

    require_extra("bench", "aiohttp", "duckdb")

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


def _price_table(prices: str, models: list[str]) -> dict[str, tuple[float, float]]:
    """Prices as `consume report` takes them: dataset, genai-prices or tier:NAME."""
    from tokenomy.consume.report import dataset_prices, genai_prices, tier_prices

    if prices == "dataset":
        return dataset_prices()
    if prices == "genai-prices":
        return genai_prices(models)
    if prices.startswith("tier:"):
        from tokenomy.catalog import catalog

        return tier_prices(catalog().tier(prices[5:]).require("price_usd_per_mtok"), models)
    raise ValueError("--prices must be dataset, genai-prices or tier:NAME")


@app.command("route")
def route_cmd(
    prices: str = typer.Option(
        "dataset",
        "--prices",
        help="dataset (OpenRouter, Jul 2025), genai-prices, or tier:NAME (every model at a catalog tier's price).",
    ),
    train_share: float = typer.Option(
        0.5, "--train-share", help="Share of each task type's prompts the routers learn on (the rest score)."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the train/test split."),
    cheap: str | None = typer.Option(
        None, "--cheap", help="Cascade's first model (default: the cheapest per task)."
    ),
    strong: str | None = typer.Option(
        None, "--strong", help="Cascade's fallback (default: the most successful on the training prompts)."
    ),
    detection: list[float] = typer.Option(
        [],
        "--detection",
        help="Grader's detection rate of wrong answers for the cascade; repeat (default 0, .5, .8, 1).",
    ),
    beat: str | None = typer.Option(
        None,
        "--beat",
        help="Model the constrained router must not lose to (default: the best on training prompts).",
    ),
    db: Path | None = typer.Option(None, "--db", help="Also include answers measured by `consume run` here."),
    plot: Path | None = typer.Option(None, "--plot", help="Write the cost–success Pareto chart (PNG) here."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON on stdout and nothing else."),
) -> None:
    """Routing policies on cost per solved task and success: each model alone, task-type routers learned on
    part of the prompts, a cheap → strong cascade at several grader detection rates, and the oracle."""
    from tokenomy.consume.report import dataset_rows
    from tokenomy.consume.route import CASCADE_DETECTION, route_report

    if plot is not None:
        from tokenomy.cli.base import output_path

        output_path(plot, "plot", (".png", ".svg", ".pdf"))
    if not 0 < train_share < 1:
        fail(f"--train-share must be between 0 and 1 (exclusive), not {train_share:g}")
    if any(not 0 <= d <= 1 for d in detection):
        fail("--detection must be between 0 and 1")
    extra = []
    if db is not None or os.environ.get("TOKENOMY_DB"):
        from tokenomy.consume.run import ConsumeStore
        from tokenomy.store import Store

        with Store.reader(db) as store:
            extra = ConsumeStore(store).rows()
    rows = dataset_rows() + extra
    try:
        table = _price_table(prices, sorted({r.model for r in rows}))
        rep = route_report(
            rows, table, prices, train_share, seed, cheap, strong, tuple(detection) or CASCADE_DETECTION, beat
        )
    except (UnknownIdError, ValueError) as exc:
        fail(str(exc))
    if plot:
        from tokenomy.report.reuse_figures import routing_png

        routing_png(rep, plot)
    if json_out:
        print_json(rep.as_dict() | {"plot": str(plot) if plot else None})
        return
    out = Table(
        title=f"routing policies on {len(rep.test_prompts)} held-out prompts ({prices} prices); * Pareto set"
    )
    for col in ("policy", "kind", "success", "$/task", "$/solved"):
        out.add_column(col, justify="left" if col in ("policy", "kind") else "right")
    for r in sorted(rep.results, key=lambda r: (not r.pareto, r.usd_per_solved_task or float("inf"))):
        out.add_row(
            ("* " if r.pareto else "  ") + r.policy,
            r.kind,
            f"{r.success_rate:.0%}",
            f"{r.usd_per_task:.5f}",
            "—" if r.usd_per_solved_task is None else f"{r.usd_per_solved_task:.5f}",
        )
    console.print(out)
    console.print(f"split: {rep.split}")
    for r in rep.results:
        if r.kind == "router":
            console.print(f"  {r.policy}: {r.detail}")
    console.print("on the training prompts:")
    for r in rep.train_results:
        console.print(
            f"  {r.policy}: success {r.success_rate:.0%}, "
            + ("—" if r.usd_per_solved_task is None else f"${r.usd_per_solved_task:.5f}/solved")
        )
    for n in rep.notes:
        console.print(f"[dim]note: {n}[/]")
    if plot:
        console.print(f"plot → {plot}")
