"""The AI-factory planner: power → GPUs → racks → tokens → revenue, cost and margin, per price tier.

For each generation (a hardware or a mix) and tier, the tier's interactivity floor picks the frontier point
with the most throughput that still meets it. Power is split across tiers by fixed shares or by a linear
program (scipy HiGHS) that maximizes margin under per-tier demand caps; its dual is the shadow price of power.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import asdict, dataclass, field

import numpy as np
from scipy.optimize import linprog

from tokenomy import units as U
from tokenomy.catalog import Catalog, catalog
from tokenomy.econ.energy import energy_per_token
from tokenomy.econ.scenario import Generation, Scenario, TierSpec
from tokenomy.econ.tco import HOURS_PER_YEAR, gpu_hour_cost
from tokenomy.perf.calibration import Calibration, load_calibration
from tokenomy.perf.frontier import Frontier, best_frontier

SECONDS_PER_YEAR = HOURS_PER_YEAR * 3600.0


@dataclass
class ResolvedTier:
    """A scenario tier with every field filled in from the catalog."""

    id: str
    name: str
    share: float
    model: str
    price_usd_per_mtok: float
    input_price_usd_per_mtok: float
    min_tok_s_per_user: float
    isl: int
    osl: int
    demand_tokens_per_day: float | None
    unverified: list[str] = field(default_factory=list)
    prefix_hit_rate: float = 0.0  # share of prompt tokens served from the KV cache
    cached_input_price_usd_per_mtok: float | None = None  # None: cached input at the input price
    model_mix: dict[str, float] | None = None  # a router's token shares per model (see plan_with_levers)


def resolve_tier(spec: TierSpec, cat: Catalog) -> ResolvedTier:
    """Fill unset fields from the catalog tier of the same id; a new tier must set them all."""
    try:
        base = cat.tier(spec.tier)
    except LookupError:
        base = None
    missing = []

    def pick(name: str, catalog_figure: str | None = None) -> float | None:
        value = getattr(spec, name)
        if value is not None:
            return value
        if base is not None and catalog_figure and base.value(catalog_figure) is not None:
            return base.value(catalog_figure)
        missing.append(name)
        return None

    price = pick("price_usd_per_mtok", "price_usd_per_mtok")
    floor = pick("min_tok_s_per_user", "min_tok_s_per_user")
    isl = pick("isl", "isl_tokens")
    osl = pick("osl", "osl_tokens")
    model = spec.model or (base.default_model if base else None)
    if model is None:
        missing.append("model")
    if missing:
        raise ValueError(f"tier '{spec.tier}' is not in the catalog: set {', '.join(missing)}")
    unverified = []
    if base is not None:
        for fname, catalog_figure in (
            ("min_tok_s_per_user", "min_tok_s_per_user"),
            ("price_usd_per_mtok", "price_usd_per_mtok"),
            ("isl", "isl_tokens"),
            ("osl", "osl_tokens"),
        ):
            fig = base.figures.get(catalog_figure)
            if getattr(spec, fname) is None and fig is not None and fig.confidence in ("U", "W"):
                unverified.append(f"{base.name} {fname} = {fig.value:g} [{fig.confidence}]")
    return ResolvedTier(
        id=spec.tier,
        name=base.name if base else spec.tier,
        share=spec.share,
        model=cat.model(model).id,
        price_usd_per_mtok=float(price),
        input_price_usd_per_mtok=float(spec.input_price_usd_per_mtok or 0.0),
        min_tok_s_per_user=float(floor),
        isl=int(isl),
        osl=int(osl),
        demand_tokens_per_day=spec.demand_tokens_per_day,
        unverified=unverified,
        prefix_hit_rate=float(spec.prefix_hit_rate or 0.0),
        cached_input_price_usd_per_mtok=spec.cached_input_price_usd_per_mtok,
        model_mix=dict(spec.model_mix) if spec.model_mix else None,
    )


def native_precision(hardware: str, model_default: str, cat: Catalog) -> str:
    """The lowest precision the hardware computes natively (FP4 > FP8 > BF16); FP4/INT4 checkpoints stay so."""
    acc = cat.accelerator(hardware)
    if acc.value("fp4_dense_tflops"):
        return "fp4"
    if model_default in ("fp4", "int4"):
        return model_default
    return "fp8" if acc.value("fp8_dense_tflops") else "bf16"


@dataclass
class TierResult:
    """One tier on one hardware of a generation: the operating point and its money, power and carbon."""

    tier: str
    name: str
    hardware: str
    model: str
    precision: str
    isl: int
    osl: int
    min_tok_s_per_user: float
    price_usd_per_mtok: float
    reachable: bool
    reason: str
    power_mw: float = 0.0
    gpus: float = 0.0
    racks: float = 0.0
    tok_s: float = 0.0
    output_tok_s: float = 0.0
    output_tokens_per_year: float = 0.0
    sold_output_tokens_per_year: float = 0.0
    revenue_usd: float = 0.0
    cost_usd: float = 0.0
    margin_usd: float = 0.0
    cost_usd_per_mtok: float | None = None
    tok_s_per_user: float | None = None
    tok_s_per_gpu: float | None = None
    deployment: str = ""
    extrapolated: bool = False
    joules_per_token: float | None = None
    wh_per_query: float | None = None
    gco2_per_mtok: float | None = None
    # per MW of meter power, for the allocation
    margin_usd_per_mw: float = 0.0
    output_tokens_per_day_per_mw: float = 0.0


@dataclass
class GenerationPlan:
    name: str
    tiers: list[TierResult]
    power_mw: float
    unused_mw: float
    gpus: float
    racks: float
    tok_s: float
    output_tokens_per_year: float
    revenue_usd: float
    cost_usd: float
    margin_usd: float
    usd_per_gpu_hour: dict[str, float]
    shadow_price_usd_per_mw_year: float | None
    notes: list[str] = field(default_factory=list)

    @property
    def cost_usd_per_mtok(self) -> float | None:
        sold = sum(t.sold_output_tokens_per_year for t in self.tiers)
        return U.usd_per_mtok_of(self.cost_usd, sold) if sold else None


@dataclass
class Plan:
    scenario: dict
    generations: list[GenerationPlan]
    ratios: list[dict[str, float | str | None]]
    assumptions: list[str]

    def as_dict(self) -> dict:
        """The plan as plain data, each generation with its $/M output tokens sold (the formula lives in units)."""
        out = asdict(self)
        for gen, data in zip(self.generations, out["generations"], strict=True):
            data["cost_usd_per_mtok"] = gen.cost_usd_per_mtok
        return out


@functools.lru_cache(maxsize=16)
def _calibration_file(path: str) -> Calibration:
    return load_calibration(path)


def scenario_calibration(scenario: Scenario) -> Calibration | None:
    """The scenario's own fit (`calibration:` a file written by `tokenomy calibrate`), or None: the packaged one."""
    if not scenario.calibration:
        return None
    try:
        return _calibration_file(scenario.calibration)
    except FileNotFoundError:
        raise ValueError(f"calibration: {scenario.calibration}: no such calibration file") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"calibration: {scenario.calibration}: not a tokenomy calibration ({exc})") from None


_KEPT: dict[str, object] = {}  # the catalogs and calibrations that frontier cache keys name, by key


def _keep(obj: object | None, key: str | None) -> str | None:
    """A cache key for a catalog or calibration (None: the packaged one); the object is kept for the cache."""
    if obj is None or key is None:
        return None
    _KEPT[key] = obj
    return key


def _calibration_key(cal: Calibration | None) -> str | None:
    """Calibrations with the same parameters and envelope share frontiers (each load makes a new object)."""
    if cal is None:
        return None
    text = json.dumps({"params": cal.params, "envelope": cal.notes.get("envelope")}, sort_keys=True)
    return "cal:" + hashlib.sha256(text.encode()).hexdigest()


def _frontier_cached(
    model: str,
    hw: str,
    precision: str,
    isl: int,
    osl: int,
    backend: str | None,
    prefix_hit_rate: float | None = 0.0,
    calibration: Calibration | None = None,
    cat: Catalog | None = None,
) -> Frontier:
    """The frontier a tier reads: the best over backends (or the generation's backend), aggregated and
    disaggregated serving, with and without MTP (prefilling only the uncached tail under prefix reuse), on
    ``calibration`` and ``cat`` (default: the packaged fit and catalog).

    One cache entry per distinct frontier, however the caller spells the arguments."""
    cat_key = None if cat is None or cat is catalog() else f"cat:{id(cat)}"
    return _frontier_cache(
        model,
        hw,
        precision,
        int(isl),
        int(osl),
        backend,
        float(prefix_hit_rate or 0.0),
        _keep(calibration, _calibration_key(calibration)),
        _keep(cat, cat_key),
    )


@functools.lru_cache(maxsize=256)
def _frontier_cache(
    model: str,
    hw: str,
    precision: str,
    isl: int,
    osl: int,
    backend: str | None,
    prefix_hit_rate: float,
    calibration_key: str | None,
    catalog_key: str | None,
) -> Frontier:
    extra = {"prefix_hit_rate": prefix_hit_rate} if prefix_hit_rate else {}
    return best_frontier(
        model,
        hw,
        precision,
        backends=(backend,) if backend else None,
        isl=isl,
        osl=osl,
        calibration=_KEPT[calibration_key] if calibration_key else load_calibration(),
        cat=_KEPT[catalog_key] if catalog_key else None,
        **extra,
    )


@dataclass
class PerGpu:
    """One GPU at a tier's operating point, for a year."""

    gpus_per_mw: float
    tok_s_per_gpu: float  # (input + output) tok/s per GPU serving
    output_tok_s_per_gpu: float
    revenue_usd_year: float
    cost_usd_year: float
    gpus_per_system: float | None


def _unit(
    tier: ResolvedTier,
    hw_query: str,
    gen: Generation,
    scenario: Scenario,
    cat: Catalog,
    calibration: Calibration | None = None,
) -> tuple[TierResult, PerGpu | None]:
    """Per-GPU operating point and money for one tier on one hardware; power is applied later."""
    acc = cat.accelerator(hw_query)
    try:
        system = cat.system(hw_query)
    except LookupError:
        system = None
    model = cat.model(tier.model)
    precision = gen.precision or native_precision(hw_query, model.default_precision, cat)
    out = TierResult(
        tier=tier.id,
        name=tier.name,
        hardware=system.id if system else acc.id,
        model=model.id,
        precision=precision,
        isl=tier.isl,
        osl=tier.osl,
        min_tok_s_per_user=tier.min_tok_s_per_user,
        price_usd_per_mtok=tier.price_usd_per_mtok,
        reachable=False,
        reason="",
    )
    calibration = calibration or scenario_calibration(scenario)
    f = _frontier_cached(
        model.id, acc.id, precision, tier.isl, tier.osl, gen.backend, tier.prefix_hit_rate, calibration, cat
    )
    point = f.at_interactivity(tier.min_tok_s_per_user, allow_extrapolation=scenario.allow_extrapolation)
    if point is None:
        best = max((p.tok_s_per_user for p in f.points), default=0.0)
        backed = max((p.tok_s_per_user for p in f.measured_backed()), default=0.0)
        if not f.points:
            out.reason = "no deployment fits in memory"
        elif best >= tier.min_tok_s_per_user:
            out.reason = (
                f"only extrapolated points reach the floor (measured-backed up to {backed:.0f} tok/s/user); "
                "allow_extrapolation to use them"
            )
        else:
            out.reason = f"unreachable: best {best:.0f} tok/s/user < floor {tier.min_tok_s_per_user:g}"
        return out, None
    region = cat.region(scenario.region)
    cost = gpu_hour_cost(hw_query, scenario.cost_basis, region, scenario.pue, scenario.ownership, cat)
    allin_kw = acc.require("allin_kw")
    gpus_per_mw = U.gpus_per_mw(allin_kw, scenario.pue)
    out_tok_s_gpu = point.output_tok_s_per_gpu
    in_tok_s_gpu = point.tok_s_per_gpu - out_tok_s_gpu
    serving_s_year = SECONDS_PER_YEAR * scenario.utilization
    revenue_gpu_year = U.usd_for_tokens(
        out_tok_s_gpu * serving_s_year, tier.price_usd_per_mtok
    ) + U.usd_for_tokens(in_tok_s_gpu * serving_s_year, _input_price(tier))
    cost_gpu_year = cost.usd_per_gpu_hour * HOURS_PER_YEAR
    e = energy_per_token(
        allin_kw, point.tok_s_per_gpu, scenario.pue, region.require("grid_gco2_per_kwh"), tier.isl, tier.osl
    )
    out.reachable = True
    out.tok_s_per_user = point.tok_s_per_user
    out.tok_s_per_gpu = point.tok_s_per_gpu
    out.deployment = f"{point.deployment} x C{point.concurrency}"
    out.extrapolated = point.extrapolated
    out.margin_usd_per_mw = (revenue_gpu_year - cost_gpu_year) * gpus_per_mw
    out.output_tokens_per_day_per_mw = out_tok_s_gpu * 86400 * scenario.utilization * gpus_per_mw
    out.joules_per_token = e.joules_per_token_facility
    out.wh_per_query = e.wh_per_query
    out.gco2_per_mtok = e.gco2_per_mtok
    per_gpu = PerGpu(
        gpus_per_mw,
        point.tok_s_per_gpu,
        out_tok_s_gpu,
        revenue_gpu_year,
        cost_gpu_year,
        system.value("gpus") if system else None,
    )
    return out, per_gpu


def _input_price(tier: ResolvedTier) -> float:
    """$ per M input tokens: cached input at its own rate, the rest at the input price."""
    if not tier.prefix_hit_rate or tier.cached_input_price_usd_per_mtok is None:
        return tier.input_price_usd_per_mtok
    h = tier.prefix_hit_rate
    return (1.0 - h) * tier.input_price_usd_per_mtok + h * tier.cached_input_price_usd_per_mtok


def _apply_power(t: TierResult, g: PerGpu | None, mw: float, scenario: Scenario, tier: ResolvedTier) -> None:
    t.power_mw = mw
    if g is None or mw <= 0:
        return
    t.gpus = mw * g.gpus_per_mw
    t.racks = t.gpus / g.gpus_per_system if g.gpus_per_system else 0.0
    t.tok_s = t.gpus * g.tok_s_per_gpu
    t.output_tok_s = t.gpus * g.output_tok_s_per_gpu
    t.output_tokens_per_year = t.output_tok_s * SECONDS_PER_YEAR * scenario.utilization
    cap = tier.demand_tokens_per_day * 365 if tier.demand_tokens_per_day else None
    sold = min(t.output_tokens_per_year, cap) if cap else t.output_tokens_per_year
    t.sold_output_tokens_per_year = sold
    t.revenue_usd = (
        t.gpus * g.revenue_usd_year * (sold / t.output_tokens_per_year if t.output_tokens_per_year else 0)
    )
    t.cost_usd = t.gpus * g.cost_usd_year
    t.margin_usd = t.revenue_usd - t.cost_usd
    t.cost_usd_per_mtok = U.usd_per_mtok_of(t.cost_usd, sold) if sold else None


def _allocate(
    units: list[TierResult], tiers: list[ResolvedTier], hw_shares: list[float], scenario: Scenario, n_hw: int
) -> tuple[np.ndarray, np.ndarray | None]:
    """MW per (tier, hardware) pair: fixed shares, or the LP."""
    n_t = len(tiers)
    if scenario.allocation == "fixed":
        mw = np.array(
            [tiers[i // n_hw].share * hw_shares[i % n_hw] * scenario.power_mw for i in range(n_t * n_hw)]
        )
        return mw, None
    margin = np.array([u.margin_usd_per_mw for u in units])
    tokens = np.array([u.output_tokens_per_day_per_mw for u in units])
    reachable = np.array([u.reachable for u in units])
    hw_index = np.array([i % n_hw for i in range(n_t * n_hw)])
    hw_power = np.array(hw_shares) * scenario.power_mw
    a_ub = [(hw_index == h).astype(float) for h in range(n_hw)]
    b_ub = list(hw_power)
    for t, tier in enumerate(tiers):
        if tier.demand_tokens_per_day:
            row = np.zeros(n_t * n_hw)
            row[t * n_hw : (t + 1) * n_hw] = tokens[t * n_hw : (t + 1) * n_hw]
            a_ub.append(row)
            b_ub.append(tier.demand_tokens_per_day)
    bounds = [(0.0, None if reachable[i] else 0.0) for i in range(n_t * n_hw)]
    res = linprog(-margin, A_ub=np.array(a_ub), b_ub=np.array(b_ub), bounds=bounds, method="highs")
    if res.status != 0:
        raise RuntimeError(f"allocation LP failed: {res.message}")
    return res.x, -np.asarray(res.ineqlin.marginals[:n_hw])


def plan_generation(
    gen: Generation,
    tiers: list[ResolvedTier],
    scenario: Scenario,
    cat: Catalog,
    calibration: Calibration | None = None,
) -> GenerationPlan:
    n_hw = len(gen.hardware)
    pairs = [_unit(t, h.system, gen, scenario, cat, calibration) for t in tiers for h in gen.hardware]
    units = [u for u, _ in pairs]
    mw, shadow = _allocate(units, tiers, [h.share for h in gen.hardware], scenario, n_hw)
    for i, (u, per_gpu) in enumerate(pairs):
        _apply_power(u, per_gpu, float(mw[i]), scenario, tiers[i // n_hw])
    used = sum(u.power_mw for u in units if u.reachable)
    allocated = sum(u.power_mw for u in units)
    notes = []
    stranded = sum(u.power_mw for u in units if not u.reachable)
    if stranded > 0:
        notes.append(
            f"{stranded:,.0f} MW of fixed shares go to tiers this generation cannot reach (stranded)"
        )
    costs = {}
    for h in gen.hardware:
        try:
            costs[h.system] = gpu_hour_cost(
                h.system, scenario.cost_basis, scenario.region, scenario.pue, scenario.ownership, cat
            ).usd_per_gpu_hour
        except LookupError as exc:
            notes.append(str(exc))
    shadow_value = float(np.mean(shadow)) if shadow is not None else None
    return GenerationPlan(
        name=gen.name,
        tiers=units,
        power_mw=scenario.power_mw,
        unused_mw=scenario.power_mw - allocated + stranded if scenario.allocation == "optimize" else stranded,
        gpus=sum(u.gpus for u in units),
        racks=sum(u.racks for u in units),
        tok_s=sum(u.tok_s for u in units),
        output_tokens_per_year=sum(u.sold_output_tokens_per_year for u in units),
        revenue_usd=sum(u.revenue_usd for u in units),
        cost_usd=sum(u.cost_usd for u in units),
        margin_usd=sum(u.margin_usd for u in units),
        usd_per_gpu_hour=costs,
        shadow_price_usd_per_mw_year=shadow_value,
        notes=notes + _idle_note(units, used, scenario),
    )


def _idle_note(units: list[TierResult], used_mw: float, scenario: Scenario) -> list[str]:
    """Say why a generation serves nothing: no tier reachable, or (LP) none earning more than it costs."""
    if used_mw > 0:
        return []
    if not any(u.reachable for u in units):
        return ["no tier is reachable on this hardware"]
    if scenario.allocation == "optimize":
        return ["no reachable tier earns more than it costs here: the optimal plan leaves the power unused"]
    return []


def plan(scenario: Scenario, cat: Catalog | None = None, calibration: Calibration | None = None) -> Plan:
    """Plan every generation of the scenario on the full power budget, and compare them.

    Frontiers come from ``calibration`` (else the scenario's `calibration:` file, else the packaged fit) and
    ``cat``, the same catalog that prices them."""
    cat = cat or catalog()
    tiers = [resolve_tier(t, cat) for t in scenario.tiers]
    routed = any(t.model_mix for t in tiers)
    gens = []
    for g in scenario.generations:
        if routed:  # a tier's model mix: one sub-tier per model (see _routed_tiers)
            sub, notes = _routed_tiers(scenario, g, cat, calibration)
            gp = plan_generation(g, sub, scenario, cat, calibration)
            gp.notes = notes + gp.notes
        else:
            gp = plan_generation(g, tiers, scenario, cat, calibration)
        gens.append(gp)
    base = gens[0]
    ratios = []
    for g in gens[1:]:
        ratios.append(
            {
                "generation": g.name,
                "vs": base.name,
                "revenue": g.revenue_usd / base.revenue_usd if base.revenue_usd else None,
                "output_tokens": g.output_tokens_per_year / base.output_tokens_per_year
                if base.output_tokens_per_year
                else None,
                "margin": g.margin_usd / base.margin_usd if base.margin_usd > 0 else None,
            }
        )
    region = cat.region(scenario.region)
    assumptions = [
        f"region {region.name}: electricity ${region.electricity_usd_per_kwh:.4f}/kWh "
        f"[{region.figures['electricity_usd_per_kwh'].confidence}], grid "
        f"{region.value('grid_gco2_per_kwh'):g} gCO2e/kWh [{region.figures['grid_gco2_per_kwh'].confidence}]",
        f"PUE {scenario.pue:g}; utilization {scenario.utilization:.0%} of the year sold [U]",
        f"cost basis: {scenario.cost_basis}"
        + (
            f" ({scenario.ownership.lifetime_years:g}-year life, {scenario.ownership.cost_of_capital:.0%} cost of "
            f"capital, {scenario.ownership.opex_fraction:.0%} opex/yr) [U]"
            if scenario.cost_basis == "owned"
            else ""
        ),
        "price tiers charge output tokens; GPUs per MW = 1000 / (all-in kW per GPU x PUE)",
    ]
    for t in tiers:
        assumptions += [f"tier {u}" for u in t.unverified]
    if routed:
        assumptions.append(ROUTED_NOTE)
    assumptions.append(
        "Vera Rubin power and price are derived [U]: TDP-scaled all-in kW, $40B/GW capex fallback"
    )
    used = [f"{g.name} {t.name}" for g in gens for t in g.tiers if t.reachable and t.extrapolated]
    if scenario.allow_extrapolation:
        assumptions.append(
            "extrapolation allowed: "
            + (
                f"{len(used)} operating point(s) lie beyond measured data ({', '.join(used)})"
                if used
                else "none used"
            )
        )
    else:
        assumptions.append(
            "operating points are measured-backed: frontier points beyond what measured data of the engine and "
            "hardware family shows are left out (allow_extrapolation to use them)"
        )
    return Plan(scenario=scenario.model_dump(), generations=gens, ratios=ratios, assumptions=assumptions)


# --- Levers: KV-cache reuse and model routing, beside the plan without them ---------------------------------


def _without_levers(scenario: Scenario, reuse: bool = True, routing: bool = True) -> Scenario:
    """The scenario with its tiers' prefix reuse (``reuse``) and model mixes (``routing``) switched off."""
    tiers = []
    for t in scenario.tiers:
        upd: dict = {}
        if reuse:
            upd |= {"prefix_hit_rate": None, "cached_input_price_usd_per_mtok": None}
        if routing:
            upd["model_mix"] = None
        tiers.append(t.model_copy(update=upd))
    return scenario.model_copy(update={"tiers": tiers})


def has_levers(scenario: Scenario) -> bool:
    """True when a tier declares prefix reuse or a model mix."""
    return any(t.prefix_hit_rate or t.model_mix for t in scenario.tiers)


def parent_tier(tier_id: str) -> str:
    """The scenario tier a plan row belongs to: a routed sub-tier ``medium@gpt-oss-120b`` is ``medium``'s."""
    return tier_id.split("@", 1)[0]


ROUTED_NOTE = (
    "routed tiers: each model of a tier's model mix serves its share of the tier's tokens; the tier's "
    "power splits by token share ÷ tokens per MW of each model on each generation"
)


def _routed_tiers(
    scenario: Scenario, gen: Generation, cat: Catalog, calibration: Calibration | None = None
) -> tuple[list[ResolvedTier], list[str]]:
    """Each routed tier split into one sub-tier per model: its token share of the tier's demand and the power
    those tokens need on this generation (share of power ∝ token share ÷ tokens per MW)."""
    out, notes = [], []
    for spec in scenario.tiers:
        tier = resolve_tier(spec, cat)
        if not tier.model_mix:
            out.append(tier)
            continue
        mix = {cat.model(m).id: s for m, s in tier.model_mix.items() if s > 0}
        need: dict[str, float] = {}
        for m in mix:
            sub = ResolvedTier(**{**asdict(tier), "model": m, "model_mix": None})
            per_mw = []
            for h in gen.hardware:
                unit, _ = _unit(sub, h.system, gen, scenario, cat, calibration)
                per_mw.append((h.share, unit.output_tokens_per_day_per_mw if unit.reachable else 0.0))
            tpm = sum(s * v for s, v in per_mw)
            if tpm <= 0:
                notes.append(
                    f"{gen.name}: {tier.name} router's {m} cannot serve the tier; its share is dropped"
                )
                continue
            need[m] = mix[m] / tpm
        total_need, total_mix = sum(need.values()), sum(mix[m] for m in need)
        for m, n in need.items():
            out.append(
                ResolvedTier(
                    **{
                        **asdict(tier),
                        "id": f"{tier.id}@{m}",
                        "name": f"{tier.name} → {m}",
                        "model": m,
                        "share": tier.share * n / total_need,
                        "model_mix": None,
                        "demand_tokens_per_day": tier.demand_tokens_per_day * mix[m] / total_mix
                        if tier.demand_tokens_per_day
                        else None,
                    }
                )
            )
    return out, notes


def plan_levered(scenario: Scenario, cat: Catalog | None = None) -> Plan:
    """The plan with the tiers' prefix reuse and model routers applied: `plan` itself applies both."""
    return plan(scenario, cat)


@dataclass
class LeverRow:
    """One generation: the plan without levers, with caching, with routing and with both."""

    generation: str
    case: str  # "without", "caching", "routing", "both"
    gpus: float
    power_mw: float  # MW serving reachable tiers
    output_tokens_per_day: float
    margin_usd: float
    cost_usd_per_mtok: float | None


@dataclass
class LeverEffect:
    rows: list[LeverRow]
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)

    def change(self, generation: str, case: str, attr: str) -> float | None:
        """Relative change of ``attr`` in ``case`` against the plan without levers (None when it has none)."""
        rows = {r.case: r for r in self.rows if r.generation == generation}
        if case not in rows or "without" not in rows:
            return None
        a, b = getattr(rows["without"], attr), getattr(rows[case], attr)
        return None if a in (None, 0) or b is None else (b - a) / abs(a)


def lever_effect(scenario: Scenario, cat: Catalog | None = None) -> tuple[Plan, LeverEffect]:
    """The levered plan, and what caching, routing and both change in GPUs, MW, tokens/day and margin."""
    cat = cat or catalog()
    cases = {
        "without": _without_levers(scenario),
        "caching": _without_levers(scenario, reuse=False, routing=True),
        "routing": _without_levers(scenario, reuse=True, routing=False),
        "both": scenario,
    }
    if not any(t.prefix_hit_rate for t in scenario.tiers):
        cases.pop("caching")
        cases.pop("both")
        cases["routing"] = scenario
    if not any(t.model_mix for t in scenario.tiers):
        cases.pop("routing", None)
        cases.pop("both", None)
        cases["caching"] = scenario
    plans = {k: plan_levered(sc, cat) for k, sc in cases.items()}
    rows = []
    for case, p in plans.items():
        for g in p.generations:
            rows.append(
                LeverRow(
                    g.name,
                    case,
                    g.gpus,
                    sum(t.power_mw for t in g.tiers if t.reachable),
                    g.output_tokens_per_year / 365.0,
                    g.margin_usd,
                    g.cost_usd_per_mtok,
                )
            )
    order = list(plans)
    rows.sort(key=lambda r: ([g.name for g in scenario.generations].index(r.generation), order.index(r.case)))
    main = plans.get("both") or plans.get("caching") or plans.get("routing") or plans["without"]
    notes = [
        "caching: the tiers' prefix hit rates prefill only the uncached tail of each prompt (cached input "
        "billed at its own rate where a tier sets one); routing: each tier's model mix"
    ]
    return main, LeverEffect(rows, notes)
