"""Tokens per task, token efficiency, success and cost per solved task, by model and task type.

Token-efficiency ratio (Nous Research, LRMTokenEconomy, Aug 2025, https://github.com/cpldcpu/LRMTokenEconomy): for each prompt, a model's mean completion
tokens ÷ the mean of the three reference models' means, averaged over the prompts of a type.
"""

from __future__ import annotations

import csv
import statistics as st
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tokenomy.consume.suite import DATA
from tokenomy.units import usd_for_tokens

REFERENCE_MODELS = ("claude-4-sonnet-0522-thinking", "o4-mini-high-long", "gemini-2.5-flash-high")
TYPES = ("knowledge", "Math", "logic puzzle")
CHARS_PER_TOKEN = 4.0  # prompt tokens are not in the dataset: estimated from characters [U]


@dataclass
class Row:
    """One answer: a model's completion of one prompt in one run."""

    model: str
    prompt_id: str
    type: str
    run: int
    completion_tokens: float
    reasoning_tokens: float
    score: float  # weighted share of criteria met; 1.0 = solved
    prompt_tokens: float
    open_weights: bool | None = None
    source: str = "dataset"


def dataset_rows() -> list[Row]:
    """The 2,178 measured answers of the Token Economy data (23 models, July 2025)."""
    import json

    prompts = {
        p["prompt_id"]: p for p in json.loads((DATA / "TokenEconomyDataset_V1.json").read_text())["prompts"]
    }
    rows = []
    with (DATA / "evaluation_stats.csv").open() as f:
        for r in csv.DictReader(f):
            text = prompts.get(r["prompt_id"], {}).get("prompt", "")
            rows.append(
                Row(
                    model=r["model_name"],
                    prompt_id=r["prompt_id"],
                    type=r["type"],
                    run=int(r["run_number"]),
                    completion_tokens=float(r["tokens_completion"]),
                    reasoning_tokens=float(r["tokens_reasoning"] or 0),
                    score=float(r["success_rate"]),
                    prompt_tokens=len(text) / CHARS_PER_TOKEN,
                    open_weights=r["open_weights"] == "True",
                )
            )
    return rows


def dataset_prices() -> dict[str, tuple[float, float]]:
    """OpenRouter prices of July 2025: model → (input, output) $ per M tokens (provider averages)."""
    with (DATA / "model_prices.csv").open() as f:
        return {
            r["model_name"]: (float(r["prompt_avg"]), float(r["completion_avg"])) for r in csv.DictReader(f)
        }


@dataclass
class ModelTypeStats:
    model: str
    type: str
    tasks: int  # answers
    mean_completion_tokens: float
    reasoning_share: float
    success_rate: float
    efficiency_ratio: float | None  # vs the reference models; None without reference prompts
    usd_per_task: float | None = None
    usd_per_solved_task: float | None = None
    source: str = "dataset"


@dataclass
class Crossover:
    open_model: str
    versus: str
    type: str
    tokens_per_solved_open: float
    tokens_per_solved_closed: float
    required_price_ratio: float  # open must cost at most this × the closed model's price per token
    actual_price_ratio: float | None


@dataclass
class ConsumeReport:
    stats: list[ModelTypeStats]
    crossovers: list[Crossover]
    price_table: str
    reference_models: tuple[str, ...] = REFERENCE_MODELS
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)

    def get(self, model: str, type_: str) -> ModelTypeStats | None:
        return next((s for s in self.stats if s.model == model and s.type == type_), None)


def efficiency_ratios(rows: list[Row]) -> dict[tuple[str, str], float]:
    """(model, type) → mean over prompts of (model's mean completion tokens ÷ references' mean of means)."""
    per: dict[tuple[str, str], list[float]] = defaultdict(list)
    ptype: dict[str, str] = {}
    for r in rows:
        per[(r.model, r.prompt_id)].append(r.completion_tokens)
        ptype[r.prompt_id] = r.type
    ref_mean: dict[str, float] = {}
    for prompt in ptype:
        means = [st.mean(per[(m, prompt)]) for m in REFERENCE_MODELS if (m, prompt) in per]
        if len(means) == len(REFERENCE_MODELS):
            ref_mean[prompt] = st.mean(means)
    ratios: dict[tuple[str, str], list[float]] = defaultdict(list)
    for (model, prompt), values in per.items():
        if prompt in ref_mean and ref_mean[prompt] > 0:
            ratios[(model, ptype[prompt])].append(st.mean(values) / ref_mean[prompt])
    return {k: st.mean(v) for k, v in ratios.items()}


def consume_report(
    extra_rows: list[Row] | None = None,
    prices: dict[str, tuple[float, float]] | None = None,
    price_table: str = "dataset",
    versus: str = "claude-4-sonnet-0522-thinking",
) -> ConsumeReport:
    """Statistics per model and task type over the dataset plus any measured rows (`consume run`)."""
    rows = dataset_rows() + list(extra_rows or [])
    closed = sorted({r.model for r in rows if not r.open_weights})
    if versus not in closed:
        raise ValueError(f"versus: '{versus}' is not a closed model of the data; one of: {', '.join(closed)}")
    prices = prices if prices is not None else dataset_prices()
    ratios = efficiency_ratios(rows)
    groups: dict[tuple[str, str], list[Row]] = defaultdict(list)
    for r in rows:
        groups[(r.model, r.type)].append(r)
    stats = []
    notes = []
    for (model, type_), rs in sorted(groups.items()):
        completion = st.mean(r.completion_tokens for r in rs)
        reasoning = sum(r.reasoning_tokens for r in rs) / max(sum(r.completion_tokens for r in rs), 1e-9)
        success = st.mean(r.score for r in rs)
        s = ModelTypeStats(
            model,
            type_,
            len(rs),
            completion,
            min(reasoning, 1.0),
            success,
            ratios.get((model, type_)),
            source=rs[0].source,
        )
        if model in prices:
            p_in, p_out = prices[model]
            s.usd_per_task = st.mean(
                usd_for_tokens(r.prompt_tokens, p_in) + usd_for_tokens(r.completion_tokens, p_out) for r in rs
            )
            s.usd_per_solved_task = s.usd_per_task / success if success > 0 else None
        stats.append(s)
    missing = sorted({s.model for s in stats if s.usd_per_task is None})
    if missing:
        notes.append(f"no price for {', '.join(missing)} in the {price_table} price table: cost not computed")
    notes.append(
        f"prompt tokens estimated as characters / {CHARS_PER_TOKEN:g} [U]; completion tokens measured"
    )
    open_models = sorted({r.model for r in rows if r.open_weights})
    crossovers = []
    for type_ in TYPES:
        closed = next((s for s in stats if s.model == versus and s.type == type_), None)
        if not closed or closed.success_rate <= 0:
            continue
        closed_tps = closed.mean_completion_tokens / closed.success_rate
        for model in open_models:
            o = next((s for s in stats if s.model == model and s.type == type_), None)
            if not o or o.success_rate <= 0:
                continue
            open_tps = o.mean_completion_tokens / o.success_rate
            known = model in prices and versus in prices and prices[versus][1] > 0
            actual = prices[model][1] / prices[versus][1] if known else None
            crossovers.append(
                Crossover(model, versus, type_, open_tps, closed_tps, closed_tps / open_tps, actual)
            )
    return ConsumeReport(stats, crossovers, price_table, notes=notes)


def tier_prices(tier_price_usd_per_mtok: float, models: list[str]) -> dict[str, tuple[float, float]]:
    """Every model at one catalog tier price (output and input alike)."""
    return {m: (tier_price_usd_per_mtok, tier_price_usd_per_mtok) for m in models}


def genai_prices(models: list[str]) -> dict[str, tuple[float, float]]:
    """Current prices from the `genai-prices` package, offline (no online update); models it lacks are left out."""
    try:
        from genai_prices import Usage, calc_price  # type: ignore[import-not-found]
    except ImportError as exc:
        raise ValueError("the genai-prices package is not installed: pip install genai-prices") from exc
    out = {}
    for m in models:
        try:
            price = calc_price(Usage(input_tokens=1_000_000, output_tokens=0), model_ref=m)
            price_out = calc_price(Usage(input_tokens=0, output_tokens=1_000_000), model_ref=m)
            out[m] = (float(price.total_price), float(price_out.total_price))
        except Exception:  # unknown model in its table
            continue
    return out


def plot_report(report: ConsumeReport, directory: str | Path) -> list[Path]:
    """Tokens per task type by model (bars), and cost per solved task against success (scatter)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    models = sorted(
        {s.model for s in report.stats},
        key=lambda m: -sum(s.mean_completion_tokens for s in report.stats if s.model == m),
    )
    fig, ax = plt.subplots(figsize=(13, 5))
    width = 0.27
    for k, t in enumerate(TYPES):
        vals = [(report.get(m, t).mean_completion_tokens if report.get(m, t) else 0) for m in models]
        ax.bar([i + (k - 1) * width for i in range(len(models))], vals, width, label=t)
    ax.set_xticks(range(len(models)), models, rotation=70, ha="right", fontsize=8)
    ax.set_ylabel("mean completion tokens per task")
    ax.set_yscale("log")
    ax.set_title("tokens per task, by task type")
    ax.legend()
    fig.tight_layout()
    p1 = directory / "tokens_per_task.png"
    fig.savefig(p1, dpi=110)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(9, 6))
    for k, t in enumerate(TYPES):
        pts = [s for s in report.stats if s.type == t and s.usd_per_solved_task]
        ax.scatter(
            [s.success_rate for s in pts], [s.usd_per_solved_task for s in pts], label=t, color=f"C{k}"
        )
        for s in pts:
            ax.annotate(s.model, (s.success_rate, s.usd_per_solved_task), fontsize=6, alpha=0.7)
    ax.set_xlabel("success rate")
    ax.set_ylabel("cost per solved task ($)")
    ax.set_yscale("log")
    ax.set_title(f"cost per solved task vs success ({report.price_table} prices)")
    ax.legend()
    fig.tight_layout()
    p2 = directory / "cost_per_solved_task.png"
    fig.savefig(p2, dpi=110)
    plt.close(fig)
    return [p1, p2]
