"""Nation scale: power added per year → AI GW → tokens per day, beside public demand paths; and capex → GW.

Each year's new AI capacity keeps the hardware it was built with (vintages), so a year that adds no GW adds no
tokens. Tokens per GW-day per hardware come from :func:`tokenomy.econ.factory.plan` (total tokens, input and
output, as the public demand figures count them).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field

import numpy as np

from tokenomy.catalog import Catalog, catalog
from tokenomy.catalog.markets import markets
from tokenomy.econ.factory import SECONDS_PER_YEAR, plan
from tokenomy.econ.scenario import Generation, HardwareShare, Scenario, TierSpec, default_scenario
from tokenomy.econ.tco import FALLBACK_CAPEX_USD_PER_GW, capex_per_gpu_usd

DAYS_PER_MONTH = 365.25 / 12
SUPPLY_TIERS = {"free": 1 / 3, "medium": 1 / 3, "high": 1 / 3}  # tiers every generation can serve


# ---- pure functions ---------------------------------------------------------------------------------------
def supply_tokens_per_day(
    gw_added: np.ndarray,
    ai_share: np.ndarray,
    tokens_per_gw_day: np.ndarray,
    base_tokens_per_day: float = 0.0,
) -> np.ndarray:
    """Tokens/day each year: every year's AI GW (added × share) at its own hardware's tokens per GW-day."""
    gw, share, per_gw = (np.asarray(a, dtype=float) for a in (gw_added, ai_share, tokens_per_gw_day))
    if np.any(gw < 0) or np.any(share < 0) or np.any(per_gw < 0):
        raise ValueError("GW added, AI share and tokens per GW-day must not be negative")
    return base_tokens_per_day + np.cumsum(gw * share * per_gw)


def demand_by_year(
    dates: list[dt.date], tokens_per_day: list[float], years: np.ndarray, growth: float | None = None
) -> tuple[np.ndarray, float]:
    """Tokens/day at the end of each year: log-linear between the points; beyond them at ``growth`` per year
    (default: the growth from the first to the last point). → (values, growth used)."""
    t = np.array([d.toordinal() / 365.25 for d in dates])
    v = np.log(np.asarray(tokens_per_day, dtype=float))
    if growth is None:
        growth = float(np.exp((v[-1] - v[0]) / (t[-1] - t[0])) - 1.0) if len(t) > 1 else 0.0
    mid = np.array([dt.date(int(y), 12, 31).toordinal() / 365.25 for y in years])
    rate = np.log1p(growth)
    inside = np.interp(mid, t, v)
    out = np.where(
        mid > t[-1], v[-1] + rate * (mid - t[-1]), np.where(mid < t[0], v[0] - rate * (t[0] - mid), inside)
    )
    return np.exp(out), growth


def binding_year(years: np.ndarray, supply: np.ndarray, demand: np.ndarray) -> int | None:
    """The first year demand exceeds what power can supply, or None within the years given."""
    hit = np.flatnonzero(np.asarray(demand) > np.asarray(supply))
    return int(years[hit[0]]) if hit.size else None


# ---- per-GW figures from plan -----------------------------------------------------------------------------
@dataclass
class PerGw:
    hardware: str
    tokens_per_gw_day: float  # input + output
    output_tokens_per_gw_day: float
    revenue_usd_per_gw_year: float
    gpus_per_gw: float
    hardware_capex_usd_per_gw: float
    capex_source: str


def per_gw(hardware: list[str], sc: Scenario, cat: Catalog | None = None) -> dict[str, PerGw]:
    """One ``plan`` call at 1 GW for each hardware, on the scenario's tiers and shares."""
    cat = cat or catalog()
    hardware = list(dict.fromkeys(hardware))
    gens = [Generation(name=h, hardware=[HardwareShare(system=h)]) for h in hardware]
    p = plan(sc.model_copy(update={"power_mw": 1000.0, "generations": gens, "invest": None}), cat)
    out = {}
    for h, g in zip(hardware, p.generations, strict=True):
        acc = cat.accelerator(h)
        try:
            system = cat.system(h)
        except LookupError:
            system = None
        capex_gpu, how = capex_per_gpu_usd(acc, system, sc.ownership, sc.pue)
        seconds = SECONDS_PER_YEAR * sc.utilization / 365.0
        out[h] = PerGw(
            hardware=h,
            tokens_per_gw_day=sum(t.tok_s for t in g.tiers) * seconds,
            output_tokens_per_gw_day=g.output_tokens_per_year / 365.0,
            revenue_usd_per_gw_year=g.revenue_usd,
            gpus_per_gw=g.gpus,
            hardware_capex_usd_per_gw=g.gpus * capex_gpu,
            capex_source=how,
        )
    return out


def parse_hardware_mix(text: str) -> dict[str, float]:
    """'gb300_nvl72=0.5,vr_nvl72=0.5' (or one system id) → {system: share}."""
    if "=" not in text:
        return {text.strip(): 1.0}
    mix = {}
    for part in text.split(","):
        name, _, value = part.partition("=")
        try:
            mix[name.strip()] = float(value)
        except ValueError:
            raise ValueError(
                f"hardware mix: '{part}' should look like system=share, e.g. vr_nvl72=0.5"
            ) from None
    return mix


def _as_mix(spec: str | dict[str, float], cat: Catalog) -> dict[str, float]:
    """'gb300_nvl72' or {system: share} → {system id: share}; shares must sum to 1."""
    mix = {spec: 1.0} if isinstance(spec, str) else dict(spec)
    if abs(sum(mix.values()) - 1.0) > 1e-6 or min(mix.values()) < 0:
        raise ValueError(f"hardware mix {mix}: shares must be ≥ 0 and sum to 1")
    return {cat.system(h).id: sh for h, sh in mix.items()}


def supply_scenario(pue: float, region: str, base: Scenario | None = None) -> Scenario:
    """The default scenario at a nation's PUE and region, a third of power each to Free, Medium and High."""
    sc = base or default_scenario()
    specs = {t.tier: t for t in sc.tiers}
    tiers = [
        (specs.get(n) or TierSpec(tier=n)).model_copy(update={"share": s, "demand_tokens_per_day": None})
        for n, s in SUPPLY_TIERS.items()
    ]
    return sc.model_copy(update={"pue": pue, "region": region, "tiers": tiers, "allocation": "fixed"})


# ---- the report -------------------------------------------------------------------------------------------
@dataclass
class Cited:
    value: float
    source: str
    url: str
    as_of: str
    confidence: str
    note: str | None = None


@dataclass
class DemandSeries:
    id: str
    name: str
    points: list[Cited]  # tokens/day (a month's figure converted)
    tokens_per_day: list[float]  # per year
    growth_per_year: float


@dataclass
class NationSupply:
    id: str
    name: str
    gw_added_per_year: Cited
    ai_share: Cited
    pue: Cited
    hardware: list[str]
    gw_added: list[float]
    ai_gw: list[float]  # cumulative AI GW from the start year
    tokens_per_day: list[float]
    gw_needed: dict[str, list[float]]  # per demand path: GW at that year's hardware
    binding_year: dict[str, int | None]


@dataclass
class CapexReverse:
    capex_usd: float
    usd_per_gw: float
    usd_per_gw_source: str
    hardware: str
    gw: float
    gpus: float
    tokens_per_day: float
    output_tokens_per_day: float
    revenue_usd_per_year: float
    hardware_capex_usd_per_gw: float
    capex_source: str


@dataclass
class SupplyReport:
    years: list[int]
    nations: list[NationSupply]
    demand: list[DemandSeries]
    reverse: CapexReverse | None
    assumptions: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def _cited(fig) -> Cited:
    return Cited(fig.value, fig.source, fig.url, str(fig.as_of), fig.confidence, fig.note)


def supply(
    nations: list[str] | None = None,
    years: tuple[int, int] = (2026, 2030),
    gw_per_year: float | None = None,
    target: bool = False,
    ai_share: float | None = None,
    demand_paths: list[str] | None = None,
    demand_growth: float | None = None,
    capex_usd: float | None = None,
    usd_per_gw: float | None = None,
    reverse_hardware: str = "vr_nvl72",
    mix: dict[str, float] | None = None,
    cat: Catalog | None = None,
) -> SupplyReport:
    """Tokens/day that each nation's new power can supply per year vs demand paths, and capex → GW → tokens."""
    cat = cat or catalog()
    mk = markets(cat)
    if years[1] < years[0] or years[1] - years[0] > 50:
        raise ValueError(f"years {years[0]}:{years[1]}: the last must follow the first, 50 years at most")
    if ai_share is not None and not 0 <= ai_share <= 1:
        raise ValueError(f"ai_share {ai_share:g}: must be between 0 and 1")
    if gw_per_year is not None and gw_per_year < 0:
        raise ValueError(f"gw_per_year {gw_per_year:g}: must not be negative")
    yrs = np.arange(years[0], years[1] + 1)
    series = []
    for pid in demand_paths or list(mk.demand):
        d = mk.demand_path(pid)
        scale = DAYS_PER_MONTH if d.per == "month" else 1.0
        pts = [
            Cited(
                p.value / scale,
                p.source,
                p.url,
                str(p.as_of),
                p.confidence,
                (p.note or "")
                + (f" ({p.value:.3g} a month / {DAYS_PER_MONTH:.2f} days)" if scale != 1 else ""),
            )
            for p in d.points
        ]
        values, growth = demand_by_year(
            [p.as_of for p in d.points], [p.value for p in pts], yrs, demand_growth
        )
        series.append(DemandSeries(d.id, d.name, pts, values.tolist(), growth))
    out = []
    for nid in nations or list(mk.nations):
        n = mk.nation(nid)
        gw_fig = n.figures[
            "gw_added_per_year_target"
            if target and "gw_added_per_year_target" in n.figures
            else "gw_added_per_year"
        ]
        gw = np.full(len(yrs), gw_per_year if gw_per_year is not None else gw_fig.value)
        share_fig = n.figures["ai_share"]
        share = np.full(len(yrs), ai_share if ai_share is not None else share_fig.value)
        keys = sorted(n.hardware)
        mixes = [
            _as_mix(mix or n.hardware[max([k for k in keys if k <= y], default=keys[0])], cat) for y in yrs
        ]
        pue_fig = n.figures["pue"]
        units = per_gw([h for m in mixes for h in m], supply_scenario(pue_fig.value, n.region), cat)
        per = np.array([sum(sh * units[h].tokens_per_gw_day for h, sh in m.items()) for m in mixes])
        hw = [" + ".join(h if len(m) == 1 else f"{h} {sh:.0%}" for h, sh in m.items()) for m in mixes]
        tokens = supply_tokens_per_day(gw, share, per)
        gw_cited = _cited(gw_fig)
        if gw_per_year is not None:
            gw_cited = Cited(gw_per_year, "user (--gw-per-year)", "", "", "U")
        share_cited = (
            _cited(share_fig) if ai_share is None else Cited(ai_share, "user (--ai-share)", "", "", "U")
        )
        out.append(
            NationSupply(
                n.id,
                n.name,
                gw_cited,
                share_cited,
                _cited(pue_fig),
                hw,
                gw.tolist(),
                np.cumsum(gw * share).tolist(),
                tokens.tolist(),
                {s.id: (np.asarray(s.tokens_per_day) / per).tolist() for s in series},
                {s.id: binding_year(yrs, tokens, np.asarray(s.tokens_per_day)) for s in series},
            )
        )
    reverse = None
    if capex_usd is not None:
        reverse = capex_to_tokens(capex_usd, usd_per_gw, reverse_hardware, cat=cat)
    assumptions = [
        f"AI capacity counted from {years[0]} (none before) [U]; each year's AI GW keeps its hardware (no refresh)",
        "hardware of each year's new AI capacity: the nation's `hardware` map in the catalog, or the mix given [U]; "
        "a third of power each to Free, Medium and High at their floors (`tokenomy plan` figures)",
        "tokens are input + output, as the public demand figures count them; utilization from the default scenario; "
        "supply and demand compared at the end of each year",
        "demand beyond the published points grows at the rate from the first to the last point"
        + (f" (here {demand_growth:.0%} a year, given)" if demand_growth is not None else ""),
    ]
    return SupplyReport(yrs.tolist(), out, series, reverse, assumptions)


def capex_to_tokens(
    capex_usd: float,
    usd_per_gw: float | None = None,
    hardware: str = "vr_nvl72",
    sc: Scenario | None = None,
    cat: Catalog | None = None,
) -> CapexReverse:
    """$X of capex at $Y per GW → GW, GPUs, tokens/day and revenue a year (default: the default scenario's
    region and PUE, a third of power each to Free, Medium and High)."""
    if capex_usd <= 0 or (usd_per_gw is not None and usd_per_gw <= 0):
        raise ValueError("capex and $ per GW must be positive")
    cat = cat or catalog()
    if sc is None:
        base = default_scenario()
        sc = supply_scenario(base.pue, base.region, base)
    hw = cat.system(hardware).id
    u = per_gw([hw], sc, cat)[hw]
    src = "given"
    if usd_per_gw is None:
        usd_per_gw = FALLBACK_CAPEX_USD_PER_GW
        g = cat.sources["gtc2026_summaries"]
        src = f"AI factory capex ~ $40B per GW: {g.title}, {g.url}, {g.as_of} [W]"
    gw = capex_usd / usd_per_gw
    return CapexReverse(
        capex_usd,
        usd_per_gw,
        src,
        hw,
        gw,
        gw * u.gpus_per_gw,
        gw * u.tokens_per_gw_day,
        gw * u.output_tokens_per_gw_day,
        gw * u.revenue_usd_per_gw_year,
        u.hardware_capex_usd_per_gw,
        u.capex_source,
    )
