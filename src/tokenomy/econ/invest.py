"""The factory over time: build schedules → cash flow per year, NPV, IRR and payback, per generation and total.

The unit economics per MW of each generation come from :func:`tokenomy.econ.factory.plan` (one call, every
generation, no demand caps); this module only moves them through time. Per quarter: MW in service × ramp ×
(revenue per MW-year × price multiplier, capped by demand) − power × power-price multiplier − opex, and
capex when a phase is bought. Years are windows of four quarters from the start quarter.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from tokenomy.catalog import Catalog, catalog, normalize
from tokenomy.catalog.markets import Markets, markets
from tokenomy.econ.factory import parent_tier, plan, resolve_tier
from tokenomy.econ.scenario import (
    EXAMPLE_YAML,
    Generation,
    HardwareShare,
    Scenario,
    ScenarioError,
    _line_index,
    parse_scenario,
)
from tokenomy.econ.tco import HOURS_PER_YEAR, capital_recovery_factor, gpu_hour_cost
from tokenomy.safe_yaml import load_yaml

Q_PER_YEAR = 4
DAYS_PER_YEAR = 365.0  # plan's demand caps count 365 days


# ---- the `invest` block ------------------------------------------------------------------------------------
def parse_quarter(text: str | dt.date) -> int:
    """'2026Q3', '2026-Q3' or a date → absolute quarter index (year × 4 + quarter − 1)."""
    if isinstance(text, dt.date):
        return text.year * 4 + (text.month - 1) // 3
    m = re.fullmatch(r"\s*(\d{4})\s*-?\s*[Qq]([1-4])\s*", str(text))
    if m:
        return int(m.group(1)) * 4 + int(m.group(2)) - 1
    try:
        return parse_quarter(dt.date.fromisoformat(str(text).strip()))
    except ValueError:
        raise ValueError(f"'{text}' is not a quarter: write 2026Q3 or a date like 2026-07-01") from None


def quarter_label(q: int) -> str:
    return f"{q // 4}Q{q % 4 + 1}"


def _date_of(years_from_q: float, q0: int) -> str:
    """A decimal number of years after the start of quarter ``q0`` → 'YYYY-MM'."""
    months = int(round((q0 % 4) * 3 + years_from_q * 12))
    return f"{q0 // 4 + months // 12}-{months % 12 + 1:02d}"


class Phase(BaseModel):
    model_config = ConfigDict(extra="forbid")
    start: str = Field(description="quarter the phase is energised, e.g. 2026Q3")
    mw: float = Field(gt=0, le=1_000_000, description="MW at the meter energised in this phase")
    generation: str = Field(
        description="roadmap id (hopper, blackwell, blackwell_ultra, rubin) or a scenario generation"
    )
    ramp_quarters: int | None = Field(None, ge=0, le=16, description="override of the block's ramp_quarters")

    @field_validator("start", mode="before")
    @classmethod
    def _quarter(cls, v: Any) -> str:
        return quarter_label(parse_quarter(v))


class Schedule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    phases: list[Phase] = Field(min_length=1, max_length=400)


class Refresh(BaseModel):
    model_config = ConfigDict(extra="forbid")
    after_years: float | None = Field(None, gt=0, le=30, description="replace hardware after this many years")
    when_newer_earns_more: bool = Field(
        False,
        description="replace when a newer generation's yearly operating cash per MW beats the current one's by "
        "more than its capex per MW as an annuity (discount rate, ownership life)",
    )
    candidates: list[str] = Field(
        default_factory=list, description="generations a refresh may buy (default: those in the schedules)"
    )


class InvestSpec(BaseModel):
    """Build schedules and how prices, demand and power change over the years."""

    model_config = ConfigDict(extra="forbid")
    start: str = "2026Q1"
    years: int = Field(10, ge=1, le=40)
    discount_rate: float = Field(0.10, gt=-0.5, le=1.0)
    ramp_quarters: int = Field(2, ge=0, le=16, description="quarters from energised to full sales, linear")
    capex_lead_quarters: int = Field(
        0, ge=0, le=8, description="capex paid this many quarters before energising"
    )
    price_decline_per_year: float | dict[str, float] = Field(0.0, description="token price fall per year")
    price_paths: dict[str, list[float]] = Field(default_factory=dict, description="$/M per year, per tier")
    demand_tokens_per_day: dict[str, float] = Field(
        default_factory=dict, description="starting demand cap (output tokens/day) per tier"
    )
    demand_growth_per_year: float | dict[str, float] = 0.0
    demand_paths: dict[str, list[float]] = Field(
        default_factory=dict, description="tokens/day per year, per tier"
    )
    power_price_change_per_year: float = Field(0.0, gt=-1, le=10)
    power_price_path: list[float] | None = Field(None, description="$/kWh per year")
    refresh: Refresh = Field(default_factory=Refresh)
    tax_rate: float = Field(0.0, ge=0, lt=1, description="on operating cash minus depreciation, yearly")
    schedules: list[Schedule] = Field(min_length=1, max_length=8)

    @field_validator("start", mode="before")
    @classmethod
    def _quarter(cls, v: Any) -> str:
        return quarter_label(parse_quarter(v))

    @field_validator("price_paths", "demand_paths")
    @classmethod
    def _paths(cls, v: dict[str, list[float]]) -> dict[str, list[float]]:
        for tier, values in v.items():
            if not values or min(values) < 0:
                raise ValueError(f"{tier}: a path needs at least one value, none negative")
        return v

    @field_validator("power_price_path")
    @classmethod
    def _power_path(cls, v: list[float] | None) -> list[float] | None:
        if v is not None and (not v or min(v) <= 0):
            raise ValueError("a power price path needs at least one price, all positive ($/kWh)")
        return v

    @field_validator("demand_tokens_per_day")
    @classmethod
    def _demand(cls, v: dict[str, float]) -> dict[str, float]:
        if any(x < 0 for x in v.values()):
            raise ValueError("demand must not be negative")
        return v

    @field_validator("price_decline_per_year", "demand_growth_per_year")
    @classmethod
    def _rates(cls, v: float | dict[str, float]) -> float | dict[str, float]:
        for r in v.values() if isinstance(v, dict) else [v]:
            if not -1 < r < 10:
                raise ValueError(f"a yearly rate of {r:g} is outside (-1, 10)")
        return v


INVEST_BLOCK = """\
invest:                   # `tokenomy invest this.yaml` (plan ignores this block). Years run from `start`.
  start: 2026Q1           # first quarter of the horizon
  years: 10
  discount_rate: 0.10     # NPV = sum of yearly cash flows / 1.10^k, k = 0 for the first year (numpy-financial npv)
  ramp_quarters: 2        # sales reach 1/2 of steady state in a phase's first quarter, all of it from the second:
                          # year-1 revenue of a phase energised at the start = 0.875 x plan's yearly revenue
  capex_lead_quarters: 0  # capex is paid when a phase is energised (this many quarters earlier if > 0)
  price_decline_per_year: 0.20      # every tier's $/M falls 20% a year (or per tier: {medium: 0.3, high: 0.2})
  # price_paths: {high: [6, 5, 4, 3]}            # or $/M per year (last value held)
  # demand_tokens_per_day: {high: 2.0e12}        # demand caps on output tokens sold (default: the tier's cap)
  demand_growth_per_year: 0.5       # capped demand grows 50% a year (no effect on uncapped tiers)
  power_price_change_per_year: 0.02 # electricity +2% a year from the region's price (or power_price_path: [$/kWh...])
  refresh: {after_years: 5}         # replace a phase's hardware after 5 years with the newest available
                                    # (or when_newer_earns_more: true)
  tax_rate: 0.0           # on operating cash minus straight-line depreciation (ownership.lifetime_years)
  schedules:              # compared side by side; generations: `tokenomy catalog`'s roadmap (tokenomy invest --roadmap)
    - name: all Blackwell Ultra now
      phases:
        - {start: 2026Q1, mw: 1000, generation: blackwell_ultra}
    - name: half now, half Rubin in 2027
      phases:
        - {start: 2026Q1, mw: 500, generation: blackwell_ultra}
        - {start: 2027Q1, mw: 500, generation: rubin}   # Vera Rubin ships from H2 2026 [O]
"""
INVEST_EXAMPLE_YAML = EXAMPLE_YAML + INVEST_BLOCK


def parse_invest(text: str, where: str = "scenario") -> tuple[Scenario, InvestSpec]:
    """A scenario YAML with an ``invest`` block → (scenario, spec); errors name the field and the line."""
    sc = parse_scenario(text, where)
    if sc.invest is None:
        raise ScenarioError(f"{where}: no `invest:` block (see `tokenomy invest --example`)")
    try:
        spec = InvestSpec.model_validate(sc.invest)
    except ValidationError as exc:
        lines = _line_index(load_yaml(text, where)[1])
        problems = []
        for err in exc.errors():
            loc = ("invest", *err["loc"])
            line = next((lines[loc[:c]] for c in range(len(loc), -1, -1) if loc[:c] in lines), None)
            problems.append(f"{where}: line {line}: {'.'.join(str(p) for p in loc)}: {err['msg']}")
        raise ScenarioError("\n".join(problems)) from None
    return sc, spec


def default_invest() -> tuple[Scenario, InvestSpec]:
    return parse_invest(INVEST_EXAMPLE_YAML, "built-in example")


def spec_from_dict(data: dict[str, Any], where: str = "invest") -> InvestSpec:
    """Validate an ``invest`` block given as data (API); errors name the field."""
    try:
        return InvestSpec.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(
            "\n".join(f"{where}.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        ) from None


# ---- unit economics per MW, from plan ----------------------------------------------------------------------
@dataclass
class Units:
    """Per generation (rows) and tier (columns): yearly money and tokens per MW at the meter, full sales."""

    names: list[str]
    systems: list[str]
    available_q: np.ndarray  # absolute quarter a generation can be bought from (−1: unknown)
    available_note: list[str]
    tiers: list[str]
    base_price: np.ndarray  # [T] $/M output tokens
    base_demand: np.ndarray  # [T] output tokens/day cap, inf = none
    revenue: np.ndarray  # [G, T] $ per MW-year
    tokens: np.ndarray  # [G, T] output tokens per MW-year
    power: np.ndarray  # [G] $ per MW-year (electricity)
    opex: np.ndarray  # [G] $ per MW-year (opex, or the preset $/GPU-hour on a rented basis)
    capex: np.ndarray  # [G] $ per MW bought
    gpus: np.ndarray  # [G] GPUs per MW
    capex_note: list[str]
    lifetime_years: float
    electricity_usd_per_kwh: float
    notes: list[str] = field(default_factory=list)
    lookup: dict[str, int] = field(default_factory=dict)  # normalized name or query → row

    def index(self, name: str) -> int:
        key = normalize(name)
        if key in self.lookup:
            return self.lookup[key]
        for i, n in enumerate(self.names):
            if normalize(n) == key:
                return i
        raise KeyError(name)


def _resolve_generation(name: str, sc: Scenario, mk: Markets, cat: Catalog) -> tuple[str, Generation, Any]:
    """A phase's generation: a scenario generation by name, else a roadmap entry. → (key, Generation, roadmap)."""
    for g in sc.generations:
        if normalize(g.name) == normalize(name):
            road = None
            if len(g.hardware) == 1:
                road = mk.generation_for_system(cat.system(g.hardware[0].system).id)
            return g.name, g, road
    try:
        road = mk.generation(name)
    except LookupError:
        known = list(mk.roadmap) + [g.name for g in sc.generations]
        raise ScenarioError(f"unknown generation '{name}'; the roadmap has: {', '.join(known)}") from None
    return road.name, Generation(name=road.name, hardware=[HardwareShare(system=road.system)]), road


def unit_economics(sc: Scenario, names: list[str], cat: Catalog | None = None) -> Units:
    """One ``plan`` call over the generations ``names`` at 1 GW without demand caps → per-MW figures."""
    cat = cat or catalog()
    mk = markets(cat)
    resolved: dict[str, tuple[Generation, Any]] = {}
    lookup: dict[str, int] = {}
    for n in names:
        key, gen, road = _resolve_generation(n, sc, mk, cat)
        resolved.setdefault(key, (gen, road))
        lookup[normalize(n)] = list(resolved).index(key)
    power_mw = 1000.0
    tiers_uncapped = [t.model_copy(update={"demand_tokens_per_day": None}) for t in sc.tiers]
    sc_units = sc.model_copy(
        update={
            "power_mw": power_mw,
            "generations": [g for g, _ in resolved.values()],
            "tiers": tiers_uncapped,
            "invest": None,
        }
    )
    result = plan(sc_units, cat)
    tiers = [resolve_tier(t, cat) for t in sc.tiers]
    tier_ids = [t.id for t in tiers]
    n_g, n_t = len(resolved), len(tiers)
    revenue, tokens = np.zeros((n_g, n_t)), np.zeros((n_g, n_t))
    power, opex, capex, gpus = np.zeros(n_g), np.zeros(n_g), np.zeros(n_g), np.zeros(n_g)
    capex_note, avail_q, avail_note, systems = [], np.full(n_g, -1), [], []
    notes: list[str] = []
    for gi, (gp, (gen, road)) in enumerate(zip(result.generations, resolved.values(), strict=True)):
        gpus_by_hw: dict[str, float] = {}
        for t in gp.tiers:
            ti = tier_ids.index(parent_tier(t.tier))  # a routed tier's models add up to it
            revenue[gi, ti] += t.revenue_usd / power_mw
            tokens[gi, ti] += t.sold_output_tokens_per_year / power_mw
            gpus_by_hw[t.hardware] = gpus_by_hw.get(t.hardware, 0.0) + t.gpus
        how = []
        for hw, n in gpus_by_hw.items():
            cost = gpu_hour_cost(hw, sc.cost_basis, sc.region, sc.pue, sc.ownership, cat)
            power[gi] += n * cost.power * HOURS_PER_YEAR / power_mw
            opex[gi] += n * (cost.opex + cost.preset) * HOURS_PER_YEAR / power_mw
            capex[gi] += n * (cost.capex_per_gpu_usd or 0.0) / power_mw
            gpus[gi] += n / power_mw
            how.append(cost.notes[0] if cost.notes else cost.basis)
        capex_note.append("; ".join(how))
        systems.append("+".join(h.system for h in gen.hardware))
        if road is not None:
            fig = road.figures["available_year"]
            year = fig.value
            avail_q[gi] = int(math.floor(year)) * 4 + int(round((year % 1) * 4))
            avail_note.append(
                f"{road.name}: from {quarter_label(int(avail_q[gi]))} ({fig.note or ''}; {fig.source}, "
                f"{fig.url}, {fig.as_of}) [{fig.confidence}]"
            )
        else:
            avail_note.append(f"{gen.name}: availability unknown (not on the roadmap)")
        notes += [f"{gen.name}: {n}" for n in gp.notes]
    if sc.cost_basis != "owned":
        notes.append(f"cost basis {sc.cost_basis}: no capex, the preset $/GPU-hour is counted as opex")
    return Units(
        names=list(resolved),
        systems=systems,
        available_q=avail_q,
        available_note=avail_note,
        tiers=tier_ids,
        base_price=np.array([t.price_usd_per_mtok for t in tiers]),
        base_demand=np.array([t.demand_tokens_per_day or np.inf for t in tiers]),
        revenue=revenue,
        tokens=tokens,
        power=power,
        opex=opex,
        capex=capex,
        gpus=gpus,
        capex_note=capex_note,
        lifetime_years=sc.ownership.lifetime_years,
        electricity_usd_per_kwh=cat.region(sc.region).electricity_usd_per_kwh,
        notes=notes,
        lookup=lookup,
    )


# ---- money over time (pure, NumPy) -------------------------------------------------------------------------
def npv(rate: float, cash: np.ndarray | list[float]) -> float:
    """Σ cash_k / (1 + rate)^k, k = 0 for the first period (numpy-financial's convention)."""
    c = np.asarray(cash, dtype=float)
    return float(np.sum(c / (1.0 + rate) ** np.arange(len(c))))


def irr(cash: np.ndarray | list[float]) -> float | None:
    """The rate where the NPV is zero; None unless the flows change sign exactly once (otherwise the rate is
    not unique, e.g. when a refresh buys hardware again)."""
    c = np.trim_zeros(np.asarray(cash, dtype=float), "b")
    signs = np.sign(c[c != 0])
    if len(c) < 2 or np.count_nonzero(np.diff(signs)) != 1:
        return None
    roots = np.roots(c[::-1])  # polynomial in x = 1 / (1 + r), highest power first
    real = roots[(np.abs(roots.imag) < 1e-9) & (roots.real > 0)].real
    if real.size == 0:
        return None
    rates = 1.0 / real - 1.0
    r = float(rates[np.argmin(np.abs(rates))])
    for _ in range(20):  # polish with Newton on the NPV
        k = np.arange(len(c))
        f = np.sum(c / (1 + r) ** k)
        df = np.sum(-k * c / (1 + r) ** (k + 1))
        if df == 0:
            break
        step = f / df
        r -= step
        if abs(step) < 1e-14:
            break
    return r


def payback_years(cum_by_quarter: np.ndarray) -> float | None:
    """Years from the start until cumulative cash, once negative, is back to ≥ 0 (linear within a quarter)."""
    c = np.concatenate([[0.0], np.asarray(cum_by_quarter, dtype=float)])
    neg = np.flatnonzero(c < 0)
    if neg.size == 0:
        return 0.0
    after = np.flatnonzero((c >= 0) & (np.arange(len(c)) > neg[0]))
    if after.size == 0:
        return None
    k = int(after[0])  # c[k-1] < 0 <= c[k]
    frac = -c[k - 1] / (c[k] - c[k - 1])
    return (k - 1 + frac) / Q_PER_YEAR


def _per_tier(value: float | dict[str, float], tiers: list[str], default: float = 0.0) -> np.ndarray:
    if isinstance(value, dict):
        unknown = set(value) - set(tiers)
        if unknown:
            raise ScenarioError(
                f"unknown tier(s) {sorted(unknown)}; the scenario's tiers: {', '.join(tiers)}"
            )
        return np.array([value.get(t, default) for t in tiers], dtype=float)
    return np.full(len(tiers), float(value))


def _path(values: list[float], years: int) -> np.ndarray:
    v = np.asarray(values, dtype=float)
    return np.concatenate([v, np.full(max(0, years - len(v)), v[-1])])[:years]


@dataclass
class GenerationCash:
    name: str
    revenue_usd: list[float]
    power_usd: list[float]
    opex_usd: list[float]
    capex_usd: list[float]
    cash_flow_usd: list[float]
    npv_usd: float
    irr: float | None
    irr_quarterly: float | None
    payback_years: float | None


@dataclass
class InvestResult:
    """One schedule's cash flow per year (lists are per year), its NPV, IRR and payback; per generation too."""

    schedule: str
    years: list[str]
    mw_in_service: list[float]
    gpus: list[float]
    tokens_sold: list[float]
    revenue_usd: list[float]
    power_usd: list[float]
    opex_usd: list[float]
    operating_cash_usd: list[float]
    capex_usd: list[float]
    depreciation_usd: list[float]
    tax_usd: list[float]
    cash_flow_usd: list[float]
    cumulative_cash_usd: list[float]
    cumulative_by_quarter_usd: list[float]
    discount_rate: float
    npv_usd: float
    irr: float | None  # on the yearly cash flows (None unless they change sign exactly once)
    irr_quarterly: float | None  # on the quarterly cash flows, annualized: (1 + r_q)^4 − 1
    payback_years: float | None
    payback_date: str | None
    peak_funding_usd: float
    by_generation: list[GenerationCash]
    events: list[str]


def evaluate(
    spec: InvestSpec, schedule: Schedule, u: Units, price_decline: float | None = None
) -> InvestResult:
    """Cash flow of one build schedule. ``price_decline`` overrides every tier's yearly price fall."""
    q0, n_y = parse_quarter(spec.start), spec.years
    n_q, n_t, n_g = n_y * Q_PER_YEAR, len(u.tiers), len(u.names)
    year_of_q = np.arange(n_q) // Q_PER_YEAR
    yrs = np.arange(n_y)

    # prices, demand, power price: [T, Y] and [Y] multipliers
    decline = (
        np.full(n_t, price_decline)
        if price_decline is not None
        else _per_tier(spec.price_decline_per_year, u.tiers)
    )
    price_mult = (1.0 - decline[:, None]) ** yrs[None, :]
    for tier, values in spec.price_paths.items():
        ti = _tier_index(tier, u.tiers)
        if u.base_price[ti] == 0:
            raise ScenarioError(f"price_paths.{tier}: the tier's price is 0; set its price_usd_per_mtok")
        price_mult[ti] = _path(values, n_y) / u.base_price[ti]
    start_demand = u.base_demand.copy()
    for tier, v in spec.demand_tokens_per_day.items():
        start_demand[_tier_index(tier, u.tiers)] = v
    growth = _per_tier(spec.demand_growth_per_year, u.tiers)
    demand = start_demand[:, None] * (1.0 + growth[:, None]) ** yrs[None, :]
    for tier, values in spec.demand_paths.items():
        demand[_tier_index(tier, u.tiers)] = _path(values, n_y)
    if spec.power_price_path:
        power_mult = _path(spec.power_price_path, n_y) / u.electricity_usd_per_kwh
    else:
        power_mult = (1.0 + spec.power_price_change_per_year) ** yrs
    # [G, Y] operating cash per MW-year at full, uncapped sales (for refresh decisions)
    margin_year = (
        np.einsum("gt,ty->gy", u.revenue, price_mult)
        - u.power[:, None] * power_mult[None, :]
        - u.opex[:, None]
    )

    # installs per phase: (quarter energised, generation), with refreshes
    life_q = u.lifetime_years * Q_PER_YEAR
    candidates = [_gen_index(c, u) for c in (spec.refresh.candidates or [])] or list(range(n_g))
    crf = capital_recovery_factor(max(spec.discount_rate, 0.0), u.lifetime_years)
    n_p = len(schedule.phases)
    gen_idx = np.full((n_p, n_q), -1)
    age = np.zeros((n_p, n_q))
    ramp_q = np.zeros(n_p)
    mw = np.array([p.mw for p in schedule.phases])
    installs: list[tuple[int, int, int]] = []  # (phase, quarter energised, generation)
    events: list[str] = []
    for pi, ph in enumerate(schedule.phases):
        g = _gen_index(ph.generation, u)
        k = parse_quarter(ph.start) - q0
        where = f"schedule '{schedule.name}', phase {pi + 1}"
        if k < 0 or k >= n_q:
            raise ScenarioError(
                f"{where}: starts {ph.start}, outside the horizon {quarter_label(q0)}–{quarter_label(q0 + n_q - 1)}"
            )
        if u.available_q[g] >= 0 and q0 + k < u.available_q[g]:
            raise ScenarioError(f"{where}: {ph.start} is before {u.available_note[g]}")
        ramp_q[pi] = spec.ramp_quarters if ph.ramp_quarters is None else ph.ramp_quarters
        installs.append((pi, k, g))
        while True:
            nxt = _next_refresh(spec, u, k, g, n_q, q0, candidates, margin_year, crf)
            end = n_q if nxt is None else nxt[0]
            gen_idx[pi, k:end] = g
            age[pi, k:end] = np.arange(end - k)
            if nxt is None:
                break
            k, g = nxt
            installs.append((pi, k, g))
            events.append(
                f"{quarter_label(q0 + k)}: phase {pi + 1} ({mw[pi]:,.0f} MW) refreshed to {u.names[g]}"
            )

    active = gen_idx >= 0
    gi = np.where(active, gen_idx, 0)
    rq = ramp_q[:, None]
    ramp = np.where(rq > 0, np.minimum(1.0, (age + 1.0) / np.maximum(rq, 1.0)), 1.0) * active
    mw_on = mw[:, None] * active  # [P, Q]
    sell = (mw_on * ramp)[:, :, None] / Q_PER_YEAR  # MW-years sold per quarter, [P, Q, 1]
    produced = sell * u.tokens[gi]  # [P, Q, T]
    total = produced.sum(axis=0)  # [Q, T]
    cap = (demand.T[year_of_q] / Q_PER_YEAR) * DAYS_PER_YEAR  # [Q, T] tokens per quarter
    factor = np.where(total > cap, cap / np.where(total > 0, total, 1.0), 1.0)
    revenue_pqt = sell * u.revenue[gi] * price_mult.T[year_of_q][None] * factor[None]
    revenue_pq = revenue_pqt.sum(axis=2)
    power_pq = mw_on * u.power[gi] * power_mult[year_of_q][None] / Q_PER_YEAR
    opex_pq = mw_on * u.opex[gi] / Q_PER_YEAR
    capex_pq = np.zeros((n_p, n_q))
    depr_pq = np.zeros((n_p, n_q))
    capex_g = np.zeros((n_g, n_q))
    for j, (pi, k, g) in enumerate(installs):
        amount = mw[pi] * u.capex[g]
        kp = max(0, k - spec.capex_lead_quarters)
        capex_pq[pi, kp] += amount
        capex_g[g, kp] += amount
        end = next((kk for (pp, kk, _) in installs[j + 1 :] if pp == pi), n_q)
        n_dep = min(end - k, int(math.ceil(life_q)))
        per_q = amount / life_q
        depr_pq[pi, k : k + n_dep] += np.minimum(per_q, amount - per_q * np.arange(n_dep))  # last one partial
        if end < n_q and (end - k) < life_q:  # the book value left is written off at the refresh
            depr_pq[pi, end] += amount - per_q * (end - k)

    def by_year(a: np.ndarray) -> np.ndarray:
        return a.reshape(*a.shape[:-1], n_y, Q_PER_YEAR).sum(axis=-1)

    rev_q, pow_q, opex_q = revenue_pq.sum(0), power_pq.sum(0), opex_pq.sum(0)
    cap_q, dep_q = capex_pq.sum(0), depr_pq.sum(0)
    op_y = by_year(rev_q - pow_q - opex_q)
    dep_y = by_year(dep_q)
    tax_y = spec.tax_rate * np.maximum(0.0, op_y - dep_y)
    cf_y = op_y - by_year(cap_q) - tax_y
    tax_q = np.repeat(tax_y / Q_PER_YEAR, Q_PER_YEAR)
    cum_q = np.cumsum(rev_q - pow_q - opex_q - cap_q - tax_q)
    pb = payback_years(cum_q)

    onehot = (gi[:, :, None] == np.arange(n_g)[None, None, :]) & active[:, :, None]  # [P, Q, G]
    gens = []
    for g in range(n_g):
        if not onehot[:, :, g].any() and not capex_g[g].any():
            continue
        m = onehot[:, :, g]
        r = by_year((revenue_pq * m).sum(0))
        pw = by_year((power_pq * m).sum(0))
        ox = by_year((opex_pq * m).sum(0))
        cx = by_year(capex_g[g])
        cf = r - pw - ox - cx
        cq = np.cumsum(((revenue_pq - power_pq - opex_pq) * m).sum(0) - capex_g[g])
        gens.append(
            GenerationCash(
                u.names[g],
                r.tolist(),
                pw.tolist(),
                ox.tolist(),
                cx.tolist(),
                cf.tolist(),
                npv(spec.discount_rate, cf),
                irr(cf),
                _annualized(irr(np.diff(np.concatenate([[0.0], cq])))),
                payback_years(cq),
            )
        )
    end_q = np.arange(n_y) * Q_PER_YEAR + Q_PER_YEAR - 1
    labels = [str((q0 + y * 4) // 4) + ("" if q0 % 4 == 0 else f"Q{q0 % 4 + 1}+") for y in range(n_y)]
    return InvestResult(
        schedule=schedule.name,
        years=labels,
        mw_in_service=mw_on.sum(0)[end_q].tolist(),
        gpus=(mw_on * u.gpus[gi]).sum(0)[end_q].tolist(),
        tokens_sold=by_year((produced * factor[None]).sum(axis=(0, 2))).tolist(),
        revenue_usd=by_year(rev_q).tolist(),
        power_usd=by_year(pow_q).tolist(),
        opex_usd=by_year(opex_q).tolist(),
        operating_cash_usd=op_y.tolist(),
        capex_usd=by_year(cap_q).tolist(),
        depreciation_usd=dep_y.tolist(),
        tax_usd=tax_y.tolist(),
        cash_flow_usd=cf_y.tolist(),
        cumulative_cash_usd=np.cumsum(cf_y).tolist(),
        cumulative_by_quarter_usd=cum_q.tolist(),
        discount_rate=spec.discount_rate,
        npv_usd=npv(spec.discount_rate, cf_y),
        irr=irr(cf_y),
        irr_quarterly=_annualized(irr(np.diff(np.concatenate([[0.0], cum_q])))),
        payback_years=pb,
        payback_date=None if pb is None else _date_of(pb, q0),
        peak_funding_usd=float(-min(0.0, cum_q.min())),
        by_generation=gens,
        events=events,
    )


def _annualized(r_q: float | None) -> float | None:
    return None if r_q is None else (1.0 + r_q) ** Q_PER_YEAR - 1.0


def _tier_index(tier: str, tiers: list[str]) -> int:
    try:
        return tiers.index(tier)
    except ValueError:
        raise ScenarioError(f"unknown tier '{tier}'; the scenario's tiers: {', '.join(tiers)}") from None


def _gen_index(name: str, u: Units) -> int:
    try:
        return u.index(name)
    except KeyError:
        raise ScenarioError(f"generation '{name}' is not among {', '.join(u.names)}") from None


def _next_refresh(
    spec: InvestSpec,
    u: Units,
    k: int,
    g: int,
    n_q: int,
    q0: int,
    candidates: list[int],
    margin_year: np.ndarray,
    crf: float,
) -> tuple[int, int] | None:
    """The next (quarter, generation) a phase installed at quarter ``k`` with ``g`` is refreshed, or None."""
    rf = spec.refresh
    if rf.after_years is None and not rf.when_newer_earns_more:
        return None

    def newest(at: int) -> int | None:
        ok = [c for c in candidates if u.available_q[c] < 0 or u.available_q[c] <= q0 + at]
        return (
            max(ok, key=lambda c: (u.available_q[c], margin_year[c, min(at // 4, margin_year.shape[1] - 1)]))
            if ok
            else None
        )

    step = Q_PER_YEAR
    horizon = n_q
    if rf.after_years is not None:
        horizon = min(n_q, k + int(round(rf.after_years * Q_PER_YEAR)))
    if rf.when_newer_earns_more:
        for at in range(k + step, horizon, step):
            y = at // Q_PER_YEAR
            best = max(
                candidates,
                key=lambda c: (
                    margin_year[c, y] if (u.available_q[c] < 0 or u.available_q[c] <= q0 + at) else -np.inf
                ),
            )
            if best != g and margin_year[best, y] - margin_year[g, y] > u.capex[best] * crf:
                return at, best
    if rf.after_years is not None and horizon < n_q:
        new = newest(horizon)
        return (horizon, new if new is not None else g)
    return None


# ---- several schedules: side by side and the break-even price decline --------------------------------------
@dataclass
class Comparison:
    a: str
    b: str
    npv_a_usd: float
    npv_b_usd: float
    breakeven_price_decline: float | None
    note: str


def breakeven_decline(spec: InvestSpec, a: Schedule, b: Schedule, u: Units) -> float | None:
    """The yearly token-price decline (all tiers) at which schedules ``a`` and ``b`` have the same NPV."""
    from scipy.optimize import brentq

    def diff(d: float) -> float:
        return evaluate(spec, a, u, d).npv_usd - evaluate(spec, b, u, d).npv_usd

    grid = np.linspace(-0.3, 0.95, 26)
    values = np.array([diff(d) for d in grid])
    sign = np.flatnonzero(np.sign(values[:-1]) * np.sign(values[1:]) < 0)
    if sign.size == 0:
        return None
    i = int(sign[0])
    return float(brentq(diff, grid[i], grid[i + 1], xtol=1e-9))


@dataclass
class GenerationUnits:
    name: str
    system: str
    available: str
    capex_usd_per_mw: float
    capex_source: str
    revenue_usd_per_mw_year: float
    power_usd_per_mw_year: float
    opex_usd_per_mw_year: float
    gpus_per_mw: float


@dataclass
class InvestReport:
    scenario: str
    spec: dict
    units: list[GenerationUnits]
    results: list[InvestResult]
    comparisons: list[Comparison]
    assumptions: list[str]

    def as_dict(self) -> dict:
        return asdict(self)


def invest(
    sc: Scenario, spec: InvestSpec, cat: Catalog | None = None, units: Units | None = None
) -> InvestReport:
    """Evaluate every schedule of ``spec``; compare the first with each other one."""
    names = [p.generation for s in spec.schedules for p in s.phases] + list(spec.refresh.candidates)
    u = units or unit_economics(sc, list(dict.fromkeys(names)), cat)
    results = [evaluate(spec, s, u) for s in spec.schedules]
    comparisons = []
    for s, r in zip(spec.schedules[1:], results[1:], strict=True):
        d = breakeven_decline(spec, spec.schedules[0], s, u)
        better = spec.schedules[0].name if results[0].npv_usd >= r.npv_usd else s.name
        note = f"at the scenario's prices '{better}' has the higher NPV"
        if d is not None:
            note += f"; the NPVs are equal at a {d:.1%} yearly token-price decline"
        comparisons.append(Comparison(spec.schedules[0].name, s.name, results[0].npv_usd, r.npv_usd, d, note))
    units_out = [
        GenerationUnits(
            u.names[g],
            u.systems[g],
            u.available_note[g],
            float(u.capex[g]),
            u.capex_note[g],
            float(u.revenue[g].sum()),
            float(u.power[g]),
            float(u.opex[g]),
            float(u.gpus[g]),
        )
        for g in range(len(u.names))
    ]
    assumptions = [
        "per-MW revenue, power and opex come from `tokenomy plan` on the scenario (fixed tier shares, no caps), "
        "then move through time here; demand caps apply to the sum of all phases, pro rata",
        f"ramp-up: sales rise linearly to full over {spec.ramp_quarters} quarters after a phase is energised; "
        "power and opex are paid in full from energisation [U]",
        f"capex when a phase is energised{f' (paid {spec.capex_lead_quarters} quarters early)' if spec.capex_lead_quarters else ''}; "
        f"straight-line depreciation over {u.lifetime_years:g} years, written off at a refresh; no salvage value [U]",
        f"NPV at {spec.discount_rate:.0%} on yearly cash flows, the first year undiscounted; payback is when "
        "cumulative cash, once negative, is back to zero (linear within a quarter)",
        "per-generation figures are before tax",
        *u.notes,
    ]
    return InvestReport(sc.name, spec.model_dump(), units_out, results, comparisons, assumptions)
