"""Ranges of `plan`, `cost`, `capacity` and `invest`: the per-GPU arithmetic of each, vectorized over draws.

Each operating point comes from the point computation (one frontier read); here only its per-GPU throughput
(by the model's measured error) and the catalog and scenario inputs (by their ranges) vary. With every range
at zero the P50 equals the point result. Under `optimize` allocation the power split stays the point plan's.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from tokenomy import units as U
from tokenomy.catalog import Catalog, catalog
from tokenomy.econ import ranges as R
from tokenomy.econ.factory import (
    Plan,
    _frontier_cached,
    native_precision,
    parent_tier,
    scenario_calibration,
)
from tokenomy.econ.scenario import Scenario
from tokenomy.econ.tco import FALLBACK_CAPEX_USD_PER_GW, HOURS_PER_YEAR, PRESETS, Ownership, _system_of
from tokenomy.perf.calibration import Calibration

SCENARIO_TAGS = {
    "pue": "S",
    "utilization": "U",
    "cost_of_capital": "U",
    "lifetime_years": "U",
    "opex_fraction": "U",
}

# A generation's totals that the plan reports and the draws recompute (GenerationPlan attribute names).
GENERATION_TOTALS = (
    "gpus",
    "racks",
    "tok_s",
    "output_tokens_per_year",
    "revenue_usd",
    "cost_usd",
    "margin_usd",
)


@dataclass
class Unit:
    """One operating point (tier × hardware, or hardware in `cost`) and the inputs its arithmetic reads."""

    name: str
    tok_s_per_gpu: float  # (input + output) tok/s per GPU serving
    output_tok_s_per_gpu: float
    i_model: int
    allin: float
    i_allin: int | None
    capex: float  # per GPU, at the point
    i_capex: int | None
    capex_fallback: bool  # $/GW fallback: scales with all-in kW and PUE
    preset: float | None
    i_preset: int | None
    elec: float
    i_elec: int | None
    grid: float
    i_grid: int | None
    price: float = 0.0
    i_price: int | None = None
    in_price: float = 0.0
    mw: float = 0.0
    cap_tokens_year: float | None = None
    gpus_per_system: float | None = None
    isl: int = 1024
    osl: int = 1024


class Env:
    """Scenario-wide inputs (PUE, utilization, ownership) registered once."""

    def __init__(
        self, inputs: R.Inputs, pue: float, utilization: float, own: Ownership, pue_fixed: bool = False
    ):
        self.inputs = inputs
        self.pue, self.util, self.own = pue, utilization, own
        add = inputs.add
        self.i_pue = add(
            "scenario.pue", "PUE [S]", 0.0 if pue_fixed else R.TAG_UNCERTAINTY["S"], "scenario", "S"
        )
        self.i_util = add("scenario.utilization", "utilization [U]", R.TAG_UNCERTAINTY["U"], "scenario", "U")
        self.i_rate = add("scenario.cost_of_capital", "cost of capital [U]", 0.5, "scenario", "U")
        self.i_life = add("scenario.lifetime_years", "hardware life [U]", 0.5, "scenario", "U")
        self.i_opex = add("scenario.opex_fraction", "opex / capex [U]", 0.5, "scenario", "U")


def _col(f: np.ndarray, i: int | None) -> np.ndarray | float:
    return 1.0 if i is None else f[:, i]


def make_unit(
    name: str, hw: str, point, backend: str, env: Env, region_id: str, basis: str, cat: Catalog, **kw
) -> Unit:
    """Register a point's inputs: model error, all-in power, capex or preset, electricity and grid."""
    inputs = env.inputs
    acc = cat.accelerator(hw)
    system = _system_of(hw, acc, cat)
    region = cat.region(region_id)
    i_model = inputs.model(backend or "trtllm", acc.family)
    allin = acc.require("allin_kw")
    i_allin = inputs.figure(acc.id, "allin_kw", acc.figures.get("allin_kw"))
    capex, i_capex, fallback, preset, i_preset = 0.0, None, False, None, None
    if basis in PRESETS:
        preset = acc.require(f"usd_per_gpu_hour_{basis}")
        i_preset = inputs.figure(
            acc.id, f"usd_per_gpu_hour_{basis}", acc.figures.get(f"usd_per_gpu_hour_{basis}")
        )
    elif system is not None and system.value("price_usd") and system.value("gpus"):
        capex = system.require("price_usd") / system.require("gpus")
        i_capex = inputs.figure(system.id, "price_usd", system.figures["price_usd"])
    elif acc.value("price_usd"):
        capex = acc.require("price_usd") * (1 + env.own.networking_fraction)
        i_capex = inputs.figure(acc.id, "price_usd", acc.figures["price_usd"])
    else:
        capex = FALLBACK_CAPEX_USD_PER_GW * allin * env.pue / 1e6
        i_capex = inputs.add("fallback.capex_usd_per_gw", "$40B/GW factory capex [W]", 0.35, "catalog", "W")
        fallback = True
    return Unit(
        name=name,
        tok_s_per_gpu=point.tok_s_per_gpu,
        output_tok_s_per_gpu=point.output_tok_s_per_gpu,
        i_model=i_model,
        allin=allin,
        i_allin=i_allin,
        capex=capex,
        i_capex=i_capex,
        capex_fallback=fallback,
        preset=preset,
        i_preset=i_preset,
        elec=region.electricity_usd_per_kwh,
        i_elec=inputs.figure(
            region.id, "electricity_usd_per_kwh", region.figures.get("electricity_usd_per_kwh")
        ),
        grid=region.require("grid_gco2_per_kwh"),
        i_grid=inputs.figure(region.id, "grid_gco2_per_kwh", region.figures.get("grid_gco2_per_kwh")),
        **kw,
    )


def unit_arrays(u: Unit, env: Env, f: np.ndarray) -> dict[str, np.ndarray]:
    """Per-GPU economics of one unit over draws ``f`` (rows)."""
    n = f.shape[0]
    one = np.ones(n)
    pue = np.maximum(env.pue * _col(f, env.i_pue) * one, 1.0)
    util = np.minimum(env.util * _col(f, env.i_util) * one, 1.0)
    allin = u.allin * _col(f, u.i_allin) * one
    tput = u.tok_s_per_gpu * f[:, u.i_model]
    out_tput = u.output_tok_s_per_gpu * f[:, u.i_model]
    if u.preset is not None:
        capex = np.zeros(n)
        capex_h = opex_h = power_h = np.zeros(n)
        usd_h = u.preset * _col(f, u.i_preset) * one
    else:
        capex = u.capex * _col(f, u.i_capex) * one
        if u.capex_fallback:
            capex = capex * (allin / u.allin) * (pue / env.pue)
        rate = env.own.cost_of_capital * _col(f, env.i_rate) * one
        life = np.maximum(env.own.lifetime_years * _col(f, env.i_life) * one, 0.5)
        capex_h = capex * R.crf(rate, life) / HOURS_PER_YEAR
        opex_h = capex * env.own.opex_fraction * _col(f, env.i_opex) / HOURS_PER_YEAR
        power_h = allin * pue * u.elec * _col(f, u.i_elec)
        usd_h = capex_h + opex_h + power_h
    grid = u.grid * _col(f, u.i_grid) * one
    j_fac = U.joules_per_token(allin, tput) * pue
    return {
        "pue": pue,
        "util": util,
        "allin": allin,
        "tput": tput,
        "out_tput": out_tput,
        "capex": capex,
        "power_h": power_h,
        "opex_h": opex_h,
        "usd_h": usd_h,
        "gpus_per_mw": U.gpus_per_mw(allin, pue),
        "price": u.price * _col(f, u.i_price) * one,
        "j_per_token": j_fac,
        "wh_per_query": U.wh_of(j_fac * (u.isl + u.osl)),
        "gco2_per_mtok": U.gco2_per_mtok(j_fac, grid),
    }


# ---- plan ----------------------------------------------------------------------------------------------
@dataclass
class PlanModel:
    inputs: R.Inputs
    env: Env
    gens: list[tuple[str, list[Unit | None], list]]  # (generation, units, tier results)
    notes: list[str]


def plan_model(
    scenario: Scenario, result: Plan, cat: Catalog | None = None, calibration: Calibration | None = None
) -> PlanModel:
    """Register the inputs of a point plan's reachable operating points (read off the same frontiers: the same
    calibration, else the scenario's, else the packaged fit)."""
    cat = cat or catalog()
    calibration = calibration or scenario_calibration(scenario)
    inputs = R.Inputs(overrides=dict(scenario.uncertainty or {}))
    env = Env(inputs, scenario.pue, scenario.utilization, scenario.ownership)
    gens = []
    for gen_spec, g in zip(scenario.generations, result.generations, strict=True):
        units: list[Unit | None] = []
        for t in g.tiers:
            if not t.reachable or t.tok_s_per_gpu is None:
                units.append(None)
                continue
            acc = cat.accelerator(t.hardware)
            model = cat.model(t.model)
            prec = gen_spec.precision or native_precision(t.hardware, model.default_precision, cat)
            spec = next((s for s in scenario.tiers if s.tier == parent_tier(t.tier)), None)
            hit_rate = spec.prefix_hit_rate if spec is not None else None
            f = _frontier_cached(
                model.id, acc.id, prec, t.isl, t.osl, gen_spec.backend, hit_rate, calibration, cat
            )
            p = f.at_interactivity(t.min_tok_s_per_user, allow_extrapolation=scenario.allow_extrapolation)
            tier_cat = cat.tiers.get(parent_tier(t.tier))
            i_price = None
            if tier_cat is not None and spec is not None and spec.price_usd_per_mtok is None:
                i_price = inputs.figure(
                    tier_cat.id, "price_usd_per_mtok", tier_cat.figures.get("price_usd_per_mtok")
                )
            units.append(
                make_unit(
                    f"{g.name}/{t.tier}",
                    t.hardware,
                    p,
                    p.backend,
                    env,
                    scenario.region,
                    scenario.cost_basis,
                    cat,
                    price=t.price_usd_per_mtok,
                    i_price=i_price,
                    in_price=(spec.input_price_usd_per_mtok or 0.0) if spec else 0.0,
                    mw=t.power_mw,
                    cap_tokens_year=(
                        spec.demand_tokens_per_day * 365 if spec and spec.demand_tokens_per_day else None
                    ),
                    gpus_per_system=(t.gpus / t.racks if t.racks else None),
                    isl=t.isl,
                    osl=t.osl,
                )
            )
        gens.append((g.name, units, g.tiers))
    notes = []
    if scenario.allocation == "optimize":
        notes.append(
            "optimize allocation: each draw keeps the point plan's power split (the LP is not re-solved)"
        )
    return PlanModel(inputs, env, gens, notes)


def plan_arrays(m: PlanModel, f: np.ndarray) -> dict[str, np.ndarray]:
    """Every plan output over draws: per tier and per generation, and the generation ratios."""
    out: dict[str, np.ndarray] = {}
    n = f.shape[0]
    for gname, units, tiers in m.gens:
        tot = {k: np.zeros(n) for k in GENERATION_TOTALS}
        for u, t in zip(units, tiers, strict=True):
            if u is None or u.mw <= 0:
                continue
            a = unit_arrays(u, m.env, f)
            gpus = u.mw * a["gpus_per_mw"]
            made = gpus * a["out_tput"] * SECONDS * a["util"]
            sold = np.minimum(made, u.cap_tokens_year) if u.cap_tokens_year else made
            in_tput = a["tput"] - a["out_tput"]
            served_s = gpus * SECONDS * a["util"]  # GPU-seconds of serving a year
            rev = U.usd_for_tokens(served_s * a["out_tput"], a["price"]) + U.usd_for_tokens(
                served_s * in_tput, u.in_price
            )
            rev = rev * np.where(made > 0, sold / np.where(made > 0, made, 1.0), 0.0)
            cost = gpus * a["usd_h"] * HOURS_PER_YEAR
            key = f"{gname}/{t.tier}"
            vals = {
                "gpus": gpus,
                "racks": gpus / u.gpus_per_system if u.gpus_per_system else np.zeros(n),
                "tok_s": gpus * a["tput"],
                "output_tokens_per_year": sold,
                "revenue_usd": rev,
                "cost_usd": cost,
                "margin_usd": rev - cost,
                "cost_usd_per_mtok": U.usd_per_mtok_of(cost, sold),
                "tok_s_per_gpu": a["tput"],
                "joules_per_token": a["j_per_token"],
                "wh_per_query": a["wh_per_query"],
                "gco2_per_mtok": a["gco2_per_mtok"],
            }
            for k, v in vals.items():
                out[f"{key}.{k}"] = v
            for k in tot:
                tot[k] = tot[k] + vals[k]
        for k, v in tot.items():
            out[f"{gname}.{k}"] = v
        sold = tot["output_tokens_per_year"]
        out[f"{gname}.cost_usd_per_mtok"] = np.where(
            sold > 0, U.usd_per_mtok_of(tot["cost_usd"], np.where(sold > 0, sold, 1)), np.nan
        )
    if m.gens:
        base = m.gens[0][0]
        for gname, _, _ in m.gens[1:]:
            for k, src in (
                ("revenue", "revenue_usd"),
                ("output_tokens", "output_tokens_per_year"),
                ("margin", "margin_usd"),
            ):
                b = out[f"{base}.{src}"]
                out[f"ratio.{gname}.{k}"] = np.where(
                    b > 0, out[f"{gname}.{src}"] / np.where(b > 0, b, 1), np.nan
                )
    return out


SECONDS = HOURS_PER_YEAR * 3600.0


def _plan_points(result: Plan) -> dict[str, float | None]:
    pts: dict[str, float | None] = {}
    for g in result.generations:
        for k in GENERATION_TOTALS:
            pts[f"{g.name}.{k}"] = getattr(g, k)
        pts[f"{g.name}.cost_usd_per_mtok"] = g.cost_usd_per_mtok
        for t in g.tiers:
            for k in (
                "gpus",
                "racks",
                "tok_s",
                "revenue_usd",
                "cost_usd",
                "margin_usd",
                "cost_usd_per_mtok",
                "tok_s_per_gpu",
                "joules_per_token",
                "wh_per_query",
                "gco2_per_mtok",
            ):
                pts[f"{g.name}/{t.tier}.{k}"] = getattr(t, k)
            pts[f"{g.name}/{t.tier}.output_tokens_per_year"] = t.sold_output_tokens_per_year
    for r in result.ratios:
        for k in ("revenue", "output_tokens", "margin"):
            pts[f"ratio.{r['generation']}.{k}"] = r[k]
    return pts


def plan_ranges(
    scenario: Scenario,
    result: Plan,
    draws: int = R.DEFAULT_DRAWS,
    seed: int = R.DEFAULT_SEED,
    cat: Catalog | None = None,
) -> R.Ranges:
    """P10/P50/P90 of every plan output and the tornado of each generation's margin and $/M tokens."""
    m = plan_model(scenario, result, cat)
    outputs = [f"{g}.{k}" for g, _, _ in m.gens for k in ("margin_usd", "cost_usd_per_mtok")]
    points = _plan_points(result)
    # a ratio the point plan leaves out (its base is zero or, for margin, negative) gets no band either
    dropped = {k for k, v in points.items() if k.startswith("ratio.") and v is None}

    def evaluate(f: np.ndarray) -> dict[str, np.ndarray]:
        return {k: v for k, v in plan_arrays(m, f).items() if k not in dropped}

    return R.run(m.inputs, evaluate, points, draws, seed, outputs, m.notes + _input_note(m.inputs))


def _input_note(inputs: R.Inputs) -> list[str]:
    return [
        f"{len(inputs.items)} uncertain inputs; a range ±r is the P10–P90 of the input; catalog default by "
        "confidence O ±5%, S ±15%, W ±35%, U ±50%; model error log-normal from its in-sample MdAPE"
    ]


# ---- cost ----------------------------------------------------------------------------------------------
def cost_ranges(
    rep,
    pue: float | None = None,
    ownership: Ownership | None = None,
    draws: int = R.DEFAULT_DRAWS,
    seed: int = R.DEFAULT_SEED,
    cat: Catalog | None = None,
    overrides: dict[str, float] | None = None,
) -> R.Ranges:
    """Bands of every `cost` row ($/GPU-h, $/M tok, tok/s/MW, J/token, Wh/query, gCO2e/M tok)."""
    from tokenomy.perf.calibration import load_calibration
    from tokenomy.perf.frontier import best_frontier

    cat = cat or catalog()
    own = ownership or Ownership()
    inputs = R.Inputs(overrides=dict(overrides or {}))
    envs: dict[str, Env] = {}
    rows = []
    model = cat.model(rep.model)
    for r in rep.rows:
        region = cat.region(r.region)
        r_pue = pue if pue is not None else region.require("pue")
        if r.region not in envs:
            env = Env(inputs, r_pue, 1.0, own, pue_fixed=pue is not None)
            if pue is None:  # the region's PUE figure carries its own range
                fig = region.figures.get("pue")
                env.i_pue = inputs.figure(region.id, "pue", fig) if fig else env.i_pue
            envs[r.region] = env
        hp = next(p for p in rep.points if p.hardware == r.hardware)
        acc = cat.accelerator(r.hardware)
        prec = hp.precision or native_precision(r.hardware, model.default_precision, cat)
        f = best_frontier(
            model.id, acc.id, prec, isl=rep.isl, osl=rep.osl, calibration=load_calibration(), cat=cat
        )
        p = f.at_interactivity(rep.target_tok_s_per_user, allow_extrapolation=hp.extrapolated)
        u = make_unit(
            f"{r.hardware}/{r.region}/{r.basis}",
            r.hardware,
            p,
            p.backend,
            envs[r.region],
            r.region,
            r.basis,
            cat,
            isl=rep.isl,
            osl=rep.osl,
        )
        rows.append((u, envs[r.region], r))

    def evaluate(f: np.ndarray) -> dict[str, np.ndarray]:
        out = {}
        for u, env, _ in rows:
            a = unit_arrays(u, env, f)
            out[f"{u.name}.usd_per_gpu_hour"] = a["usd_h"]
            out[f"{u.name}.usd_per_mtok"] = U.usd_per_mtok(a["usd_h"], a["tput"])
            out[f"{u.name}.usd_per_output_mtok"] = U.usd_per_mtok(a["usd_h"], a["out_tput"])
            out[f"{u.name}.tok_s_per_mw"] = U.tok_s_per_mw(a["tput"], a["allin"])
            out[f"{u.name}.joules_per_token"] = a["j_per_token"]
            out[f"{u.name}.wh_per_query"] = a["wh_per_query"]
            out[f"{u.name}.gco2_per_mtok"] = a["gco2_per_mtok"]
        return out

    points = {}
    for u, _, r in rows:
        for k in (
            "usd_per_gpu_hour",
            "usd_per_mtok",
            "usd_per_output_mtok",
            "tok_s_per_mw",
            "joules_per_token",
            "wh_per_query",
            "gco2_per_mtok",
        ):
            points[f"{u.name}.{k}"] = getattr(r, k)
    outputs = [f"{u.name}.usd_per_mtok" for u, _, _ in rows]
    return R.run(inputs, evaluate, points, draws, seed, outputs, _input_note(inputs))


# ---- capacity ------------------------------------------------------------------------------------------
def capacity_ranges(
    rep,
    tier_mix: dict[str, float] | None = None,
    scenario: Scenario | None = None,
    draws: int = R.DEFAULT_DRAWS,
    seed: int = R.DEFAULT_SEED,
    cat: Catalog | None = None,
) -> R.Ranges:
    """Bands of MW, GPUs, racks and capex of every `capacity` row."""
    from tokenomy.econ.capacity import DEFAULT_MIX
    from tokenomy.econ.factory import resolve_tier
    from tokenomy.econ.scenario import TierSpec, default_scenario

    cat = cat or catalog()
    sc = scenario or default_scenario()
    mix = tier_mix or dict(DEFAULT_MIX)
    inputs = R.Inputs(overrides=dict(sc.uncertainty or {}))
    env = Env(inputs, sc.pue, sc.utilization, sc.ownership)
    specs = {t.tier: t for t in sc.tiers}
    tiers = [resolve_tier(specs.get(name) or TierSpec(tier=name), cat) for name in mix]
    rows = []
    for r in rep.rows:
        if r.power_mw is None:
            continue
        acc = cat.accelerator(r.hardware)
        units = []
        for tier in tiers:
            model = cat.model(tier.model)
            prec = native_precision(r.hardware, model.default_precision, cat)
            f = _frontier_cached(model.id, acc.id, prec, tier.isl, tier.osl, None)
            p = f.at_interactivity(tier.min_tok_s_per_user, allow_extrapolation=sc.allow_extrapolation)
            units.append(
                (
                    mix[tier.id],
                    make_unit(
                        f"{r.hardware}/{tier.id}", r.hardware, p, p.backend, env, sc.region, "owned", cat
                    ),
                )
            )
        rows.append((r, units))

    def evaluate(f: np.ndarray) -> dict[str, np.ndarray]:
        out = {}
        for r, units in rows:
            mw = np.zeros(f.shape[0])
            capex = np.zeros(f.shape[0])
            gpus = np.zeros(f.shape[0])
            for share, u in units:
                a = unit_arrays(u, env, f)
                mw_t = share * rep.tokens_per_day / (a["out_tput"] * 86400 * a["util"] * a["gpus_per_mw"])
                g = mw_t * a["gpus_per_mw"]
                mw, gpus, capex = mw + mw_t, gpus + g, capex + g * a["capex"]
            out[f"{r.hardware}.power_mw"] = mw
            out[f"{r.hardware}.gpus"] = gpus
            out[f"{r.hardware}.capex_usd"] = capex
            if r.racks:
                out[f"{r.hardware}.racks"] = gpus * (r.racks / r.gpus)
        return out

    points = {
        f"{r.hardware}.{k}": getattr(r, k)
        for r, _ in rows
        for k in ("power_mw", "gpus", "capex_usd", "racks")
    }
    outputs = [f"{r.hardware}.power_mw" for r, _ in rows]
    return R.run(inputs, evaluate, points, draws, seed, outputs, _input_note(inputs))


# ---- invest --------------------------------------------------------------------------------------------
def invest_ranges(
    sc: Scenario, spec, draws: int = R.DEFAULT_DRAWS, seed: int = R.DEFAULT_SEED, cat: Catalog | None = None
) -> R.Ranges:
    """Bands of each schedule's NPV, IRR, payback, peak funding and cumulative cash: the per-MW unit economics
    (revenue, tokens, power, opex, capex, GPUs) drawn as in `plan`, then moved through time per draw."""
    from tokenomy.econ.factory import plan
    from tokenomy.econ.invest import evaluate, unit_economics

    cat = cat or catalog()
    names = [p.generation for s in spec.schedules for p in s.phases] + list(spec.refresh.candidates)
    u0 = unit_economics(sc, list(dict.fromkeys(names)), cat)
    # the same 1 GW, uncapped plan that unit_economics reads, drawn
    from tokenomy.catalog.markets import markets
    from tokenomy.econ.invest import _resolve_generation

    mk = markets(cat)
    gens = []
    for n in dict.fromkeys(names):
        key, gen, _ = _resolve_generation(n, sc, mk, cat)
        if key not in [g.name for g in gens]:
            gens.append(gen)
    sc_units = sc.model_copy(
        update={
            "power_mw": 1000.0,
            "generations": gens,
            "invest": None,
            "tiers": [t.model_copy(update={"demand_tokens_per_day": None}) for t in sc.tiers],
        }
    )
    result = plan(sc_units, cat)
    m = plan_model(sc_units, result, cat)
    f_all = R.draw_factors(m.inputs, draws, seed)

    def per_mw(f: np.ndarray) -> list[dict[str, np.ndarray]]:
        """Per generation: revenue[T], tokens[T], power, opex, capex, gpus per MW, over draws."""
        out = []
        n = f.shape[0]
        for _, units, tiers in m.gens:
            rev = np.zeros((n, len(u0.tiers)))
            tok = np.zeros((n, len(u0.tiers)))
            power = np.zeros(n)
            opex = np.zeros(n)
            capex = np.zeros(n)
            gpus = np.zeros(n)
            for u, t in zip(units, tiers, strict=True):
                if u is None or u.mw <= 0:
                    continue
                a = unit_arrays(u, m.env, f)
                g = u.mw * a["gpus_per_mw"] / 1000.0
                ti = u0.tiers.index(parent_tier(t.tier))
                made = g * a["out_tput"] * SECONDS * a["util"]
                served_s = g * SECONDS * a["util"]
                rev[:, ti] += U.usd_for_tokens(served_s * a["out_tput"], a["price"]) + U.usd_for_tokens(
                    served_s * (a["tput"] - a["out_tput"]), u.in_price
                )
                tok[:, ti] += made
                power += g * a["power_h"] * HOURS_PER_YEAR
                opex += g * (a["opex_h"] + (a["usd_h"] if u.preset is not None else 0.0)) * HOURS_PER_YEAR
                capex += g * a["capex"]
                gpus += g
            out.append(
                {"revenue": rev, "tokens": tok, "power": power, "opex": opex, "capex": capex, "gpus": gpus}
            )
        return out

    def evaluate_all(f: np.ndarray) -> dict[str, np.ndarray]:
        pm = per_mw(f)
        res: dict[str, list[float]] = {}
        for d in range(f.shape[0]):
            u = replace(
                u0,
                revenue=np.stack([p["revenue"][d] for p in pm]),
                tokens=np.stack([p["tokens"][d] for p in pm]),
                power=np.array([p["power"][d] for p in pm]),
                opex=np.array([p["opex"][d] for p in pm]),
                capex=np.array([p["capex"][d] for p in pm]),
                gpus=np.array([p["gpus"][d] for p in pm]),
            )
            for s in spec.schedules:
                r = evaluate(spec, s, u)
                for k in ("npv_usd", "irr", "irr_quarterly", "payback_years", "peak_funding_usd"):
                    v = getattr(r, k)
                    res.setdefault(f"{s.name}.{k}", []).append(np.nan if v is None else v)
                for y, v in zip(r.years, r.cash_flow_usd, strict=True):
                    res.setdefault(f"{s.name}.cash_flow_usd.{y}", []).append(v)
                for y, v in zip(r.years, r.revenue_usd, strict=True):
                    res.setdefault(f"{s.name}.revenue_usd.{y}", []).append(v)
        return {k: np.array(v) for k, v in res.items()}

    base = {}
    for s in spec.schedules:
        r = evaluate(spec, s, u0)
        for k in ("npv_usd", "irr", "irr_quarterly", "payback_years", "peak_funding_usd"):
            base[f"{s.name}.{k}"] = getattr(r, k)
    res = evaluate_all(f_all)
    bands = {k: b for k, v in res.items() if (b := R.band(v, base.get(k))) is not None}
    torn = R.tornado(m.inputs, evaluate_all, [f"{s.name}.npv_usd" for s in spec.schedules])
    notes = (
        m.notes
        + _input_note(m.inputs)
        + [
            "each draw moves the drawn per-MW unit economics through the schedule; an IRR or payback that does "
            "not exist in a draw is left out of its band"
        ]
    )
    return R.Ranges(draws, seed, bands, torn, m.inputs.items, notes)
