"""Routing policies on cost per solved task and success: single models, a task-type router, a cascade, the oracle.

Per prompt and model, success is the mean score over the runs (1.0 = every criterion met) and cost the mean
of (prompt tokens × input price + completion tokens × output price). A policy picks a model (or a chain of
models) per prompt; its success is the mean over prompts and its cost per solved task is its total cost ÷
its total success. The router learns on a seeded, per-task-type half of the prompts and is scored on the
other half.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import asdict, dataclass, field

from tokenomy.consume.report import Row
from tokenomy.units import usd_for_tokens

CASCADE_DETECTION = (0.0, 0.5, 0.8, 1.0)  # detection rates shown by default


@dataclass(frozen=True)
class Cell:
    """One model on one prompt: mean success and mean $ over the runs."""

    success: float
    usd: float


@dataclass
class Table:
    """model → prompt → Cell, and each prompt's task type."""

    cells: dict[str, dict[str, Cell]]
    types: dict[str, str]

    @property
    def models(self) -> list[str]:
        return sorted(self.cells)

    def prompts(self) -> list[str]:
        return sorted(self.types)


def build_table(rows: list[Row], prices: dict[str, tuple[float, float]]) -> tuple[Table, list[str]]:
    """Cells for the models that have a price and answered every prompt the others did (common prompts only)."""
    acc: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
    types: dict[str, str] = {}
    notes = []
    unpriced = sorted({r.model for r in rows if r.model not in prices})
    if unpriced:
        notes.append(f"no price for {', '.join(unpriced)}: left out")
    for r in rows:
        if r.model not in prices:
            continue
        p_in, p_out = prices[r.model]
        usd = usd_for_tokens(r.prompt_tokens, p_in) + usd_for_tokens(r.completion_tokens, p_out)
        acc[(r.model, r.prompt_id)].append((r.score, usd))
        types[r.prompt_id] = r.type
    cells: dict[str, dict[str, Cell]] = defaultdict(dict)
    for (m, p), vals in acc.items():
        cells[m][p] = Cell(sum(v[0] for v in vals) / len(vals), sum(v[1] for v in vals) / len(vals))
    if not cells:
        raise ValueError("no priced answers to route")
    common = set.intersection(*(set(v) for v in cells.values()))
    dropped = len(types) - len(common)
    if dropped:
        notes.append(f"{dropped} prompt(s) not answered by every model: left out ({len(common)} kept)")
    if not common:
        raise ValueError("no prompt answered by every priced model")
    cells = {m: {p: c for p, c in v.items() if p in common} for m, v in cells.items()}
    return Table(dict(cells), {p: t for p, t in types.items() if p in common}), notes


@dataclass
class PolicyResult:
    policy: str
    kind: str  # single, router, cascade, oracle
    success_rate: float
    usd_per_task: float
    usd_per_solved_task: float | None
    prompts: int
    detail: str = ""
    pareto: bool = False


def _score(name: str, kind: str, per_prompt: list[tuple[float, float]], detail: str = "") -> PolicyResult:
    """(success, $) per prompt → the policy's figures."""
    n = len(per_prompt)
    s = sum(x for x, _ in per_prompt)
    c = sum(y for _, y in per_prompt)
    return PolicyResult(name, kind, s / n, c / n, c / s if s > 0 else None, n, detail)


def single(table: Table, model: str, prompts: list[str]) -> PolicyResult:
    return _score(
        model, "single", [(table.cells[model][p].success, table.cells[model][p].usd) for p in prompts]
    )


def oracle(table: Table, prompts: list[str]) -> PolicyResult:
    """Per prompt the most successful model, the cheapest among equals: no policy that picks one model per
    prompt succeeds more (the upper bound)."""
    picks = []
    for p in prompts:
        best = max(table.models, key=lambda m: (table.cells[m][p].success, -table.cells[m][p].usd))
        picks.append((table.cells[best][p].success, table.cells[best][p].usd))
    return _score("oracle", "oracle", picks, "per prompt: the most successful model, cheapest among equals")


def cascade(table: Table, chain: list[str], detection: float, prompts: list[str]) -> PolicyResult:
    """Try ``chain[0]``; when its answer fails, the grader notices with probability ``detection`` and the
    prompt goes to the next model (paying both). Correct answers are never escalated."""
    if not 0.0 <= detection <= 1.0:
        raise ValueError(f"detection rate must be in [0, 1], not {detection}")
    if len(chain) < 2:
        raise ValueError("a cascade needs at least two models")
    out = []
    for p in prompts:
        reach, success, usd = 1.0, 0.0, 0.0  # probability the prompt reaches this stage
        for i, m in enumerate(chain):
            cell = table.cells[m][p]
            usd += reach * cell.usd
            success += reach * cell.success
            if i + 1 < len(chain):
                reach *= (1.0 - cell.success) * detection
        out.append((success, usd))
    return _score(
        f"cascade {' → '.join(chain)} (detect {detection:.0%})",
        "cascade",
        out,
        f"escalate when the grader rejects a wrong answer (detection rate {detection:g})",
    )


def split_prompts(table: Table, train_share: float = 0.5, seed: int = 0) -> tuple[list[str], list[str]]:
    """Per task type, a seeded shuffle: the first ``train_share`` of its prompts (at least one) train, the
    rest (at least one where a type has two or more) test."""
    rng = random.Random(seed)
    train, test = [], []
    by_type: dict[str, list[str]] = defaultdict(list)
    for p in table.prompts():
        by_type[table.types[p]].append(p)
    for t in sorted(by_type):
        ps = sorted(by_type[t])
        rng.shuffle(ps)
        k = max(1, min(len(ps) - 1, round(train_share * len(ps)))) if len(ps) > 1 else 1
        train += ps[:k]
        test += ps[k:]
    return sorted(train), sorted(test)


@dataclass
class Router:
    """A task type → model table learned on training prompts."""

    name: str
    by_type: dict[str, str]
    beats: str | None = None  # the single model it was trained not to lose to

    def pick(self, table: Table, prompt: str, fallback: str) -> str:
        return self.by_type.get(table.types[prompt], fallback)


def _type_figures(table: Table, model: str, prompts: list[str]) -> tuple[float, float]:
    return (
        sum(table.cells[model][p].success for p in prompts),
        sum(table.cells[model][p].usd for p in prompts),
    )


def _per_solved(fig: tuple[float, float]) -> tuple[float, float]:
    """Sort key: cost per solved task, then more success first."""
    s, c = fig
    return (c / s if s > 0 else float("inf"), -s)


def learn_router(table: Table, train: list[str], beat: str | None = None) -> Router:
    """Per task type, the model with the lowest cost per solved task on the training prompts of that type.

    With ``beat``: only models that, on that type's training prompts, succeed at least as often as ``beat``
    and cost no more in total; ``beat`` itself qualifies, so on the training prompts the router's total cost
    is ≤ and its total success ≥ those of ``beat``, hence its cost per solved task is never higher."""
    by_type: dict[str, str] = {}
    types = sorted({table.types[p] for p in train})
    for t in types:
        ps = [p for p in train if table.types[p] == t]
        figs = {m: _type_figures(table, m, ps) for m in table.models}
        candidates = table.models
        if beat is not None:
            s_ref, c_ref = figs[beat]
            candidates = [m for m in table.models if figs[m][0] >= s_ref and figs[m][1] <= c_ref]

        by_type[t] = min(candidates, key=lambda m, f=figs: _per_solved(f[m]))
    name = f"type router (beats {beat})" if beat else "type router (cheapest per solved task)"
    return Router(name, by_type, beat)


def route_policy(table: Table, router: Router, prompts: list[str], fallback: str) -> PolicyResult:
    picks = [router.pick(table, p, fallback) for p in prompts]
    detail = ", ".join(f"{t} → {m}" for t, m in sorted(router.by_type.items()))
    return _score(
        router.name,
        "router",
        [(table.cells[m][p].success, table.cells[m][p].usd) for m, p in zip(picks, prompts, strict=True)],
        detail,
    )


def mark_pareto(results: list[PolicyResult]) -> list[PolicyResult]:
    """Mark the policies no other beats on both success (↑) and cost per solved task (↓)."""
    for r in results:
        r.pareto = r.usd_per_solved_task is not None and not any(
            o is not r
            and o.usd_per_solved_task is not None
            and o.success_rate >= r.success_rate
            and o.usd_per_solved_task <= r.usd_per_solved_task
            and (o.success_rate > r.success_rate or o.usd_per_solved_task < r.usd_per_solved_task)
            for o in results
        )
    return results


@dataclass
class RouteReport:
    price_table: str
    split: str
    train_prompts: list[str]
    test_prompts: list[str]
    results: list[PolicyResult]  # scored on the test prompts
    train_results: list[PolicyResult]  # the routers and their reference model on the training prompts
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)

    def pareto(self) -> list[PolicyResult]:
        return sorted((r for r in self.results if r.pareto), key=lambda r: r.usd_per_solved_task or 0.0)


def route_report(
    rows: list[Row],
    prices: dict[str, tuple[float, float]],
    price_table: str = "dataset",
    train_share: float = 0.5,
    seed: int = 0,
    cheap: str | None = None,
    strong: str | None = None,
    detection: tuple[float, ...] = CASCADE_DETECTION,
    beat: str | None = None,
) -> RouteReport:
    """Every single model, two task-type routers (cheapest per solved; not worse than ``beat``), cascades
    ``cheap`` → ``strong`` at each detection rate, and the oracle, scored on the held-out prompts."""
    if not 0.0 < train_share < 1.0:
        raise ValueError(f"train share must be in (0, 1), not {train_share}")
    table, notes = build_table(rows, prices)
    for name, model in (("cheap", cheap), ("strong", strong), ("beat", beat)):
        if model is not None and model not in table.cells:
            raise ValueError(
                f"{name}: '{model}' is not a priced model of the data; one of: {', '.join(table.models)}"
            )
    train, test = split_prompts(table, train_share, seed)
    if not test:
        raise ValueError("no prompts left to test the router on: lower the train share")
    singles_train = [single(table, m, train) for m in table.models]
    best_train = max(singles_train, key=lambda r: (r.success_rate, -r.usd_per_task)).policy
    cheapest = min(singles_train, key=lambda r: r.usd_per_task).policy
    beat = beat or best_train
    cheap = cheap or cheapest
    strong = strong or best_train
    results = [single(table, m, test) for m in table.models]
    routers = [learn_router(table, train), learn_router(table, train, beat)]
    results += [route_policy(table, r, test, beat) for r in routers]
    if cheap != strong:
        results += [cascade(table, [cheap, strong], d, test) for d in detection]
    else:
        notes.append("cascade left out: the cheap and the strong model are the same")
    results.append(oracle(table, test))
    train_results = [route_policy(table, r, train, beat) for r in routers] + [single(table, beat, train)]
    types = sorted({table.types[p] for p in table.prompts()})
    split = (
        f"seeded shuffle (seed {seed}) per task type ({', '.join(types)}): {len(train)} prompts train the routers, "
        f"{len(test)} held-out prompts score every policy"
    )
    notes.append(
        "success = mean score over runs (share of criteria met); cascade assumes correct answers pass the grader "
        "and a detected failure is re-asked of the next model"
    )
    return RouteReport(price_table, split, train, test, mark_pareto(results), train_results, notes)
