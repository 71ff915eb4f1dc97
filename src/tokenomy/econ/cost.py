"""Cost per million tokens of a model on hardware at a target interactivity, by region and cost basis; and the
money of a frontier (perf draws it in tokens and watts, :func:`priced_frontier` adds the dollars)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from tokenomy.catalog import Catalog, catalog
from tokenomy.catalog.schema import MissingFigureError
from tokenomy.econ.energy import PUBLIC_PER_QUERY_WH, ecologits_wh_per_output_token, energy_per_token
from tokenomy.econ.factory import native_precision
from tokenomy.econ.tco import Ownership, gpu_hour_cost, preset_usd_per_gpu_hour
from tokenomy.perf.calibration import Calibration, load_calibration
from tokenomy.perf.frontier import Frontier, FrontierPoint, best_frontier
from tokenomy.perf.reuse import Session, session_reuse
from tokenomy.units import tok_s_per_mw, usd_per_mtok

DEFAULT_REGIONS = ("us", "us-ft", "china-west", "germany", "nordics")
DEFAULT_BASES = ("owned", "neocloud")


@dataclass
class CostRow:
    hardware: str
    region: str
    basis: str
    usd_per_gpu_hour: float
    split: dict[str, float]
    usd_per_mtok: float  # InferenceX formula: all tokens (input + output)
    usd_per_output_mtok: float
    tok_s_per_mw: float  # per MW of all-in IT power (InferenceX definition)
    joules_per_token: float  # at the meter (× PUE)
    wh_per_query: float
    gco2_per_mtok: float
    gco2_per_query: float


@dataclass
class HardwarePoint:
    hardware: str
    precision: str
    tok_s_per_user: float
    tok_s_per_gpu: float
    output_tok_s_per_gpu: float
    deployment: str
    extrapolated: bool


@dataclass
class CostReport:
    model: str
    isl: int
    osl: int
    target_tok_s_per_user: float
    points: list[HardwarePoint]
    rows: list[CostRow]
    verdicts: list[str]
    public_per_query_wh: dict[str, float]
    ecologits_wh_per_query: float
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def cost_report(
    model: str,
    hardware: list[str],
    tok_s_per_user: float = 50.0,
    isl: int = 1024,
    osl: int = 1024,
    regions: tuple[str, ...] | list[str] = DEFAULT_REGIONS,
    bases: tuple[str, ...] | list[str] = DEFAULT_BASES,
    precision: str | None = None,
    pue: float | None = None,
    ownership: Ownership | None = None,
    cat: Catalog | None = None,
    allow_extrapolation: bool = False,
    prefix_hit_rate: float = 0.0,
    session: Session | None = None,
    calibration: Calibration | None = None,
) -> CostReport:
    """$/M tokens, energy and carbon per hardware × region × cost basis at the best frontier point that reaches
    ``tok_s_per_user`` (measured-backed points only unless ``allow_extrapolation``). ``prefix_hit_rate``: share
    of prompt tokens in the KV cache; ``session``: a multi-turn workload whose ISL, OSL and hit rate (from each
    system's cache tiers) replace them. ``calibration``: a fit of one's own (default: the packaged one)."""
    cat = cat or catalog()
    m = cat.model(model)
    cal = calibration or load_calibration()
    points, rows, notes = [], [], []
    for hw in hardware:
        acc = cat.accelerator(hw)
        prec = precision or native_precision(hw, m.default_precision, cat)
        hit = prefix_hit_rate
        if session is not None:
            reuse, why = session_reuse(
                m.id, hw, session, tok_s_per_user=tok_s_per_user, precision=prec, cat=cat
            )
            isl, osl, hit = round(session.mean_isl), session.output_per_turn, reuse.hit_rate
            notes += [f"{hw}: {w}" for w in why]
            notes.append(
                f"{hw}: session of {session.turns} turns keeps {reuse.retained:.0%} of idle sessions' KV "
                f"({', '.join(f'{k} {v:.0%}' for k, v in reuse.placed.items() if v)}) → prefix hit rate {hit:.0%}"
            )
        extra = {"prefix_hit_rate": hit} if hit else {}
        f = best_frontier(m.id, acc.id, prec, isl=isl, osl=osl, calibration=cal, cat=cat, **extra)
        p = f.at_interactivity(tok_s_per_user, allow_extrapolation=allow_extrapolation)
        if p is None:
            if not f.points:
                notes.append(
                    f"{hw}: {m.id} at ISL {isl} / OSL {osl} does not fit in memory on any deployment"
                )
                continue
            best = max((q.tok_s_per_user for q in f.points), default=0)
            backed = max((q.tok_s_per_user for q in f.measured_backed()), default=0)
            if best >= tok_s_per_user:
                notes.append(
                    f"{hw}: only extrapolated points reach {tok_s_per_user:g} tok/s/user (measured-backed up to "
                    f"{backed:.0f}); --allow-extrapolation to use them"
                )
            else:
                notes.append(f"{hw}: cannot reach {tok_s_per_user:g} tok/s/user (best {best:.0f})")
            continue
        if p.extrapolated:
            notes.append(f"{hw}: operating point is an extrapolation ({p.extrapolation})")
        points.append(
            HardwarePoint(
                hw,
                prec,
                p.tok_s_per_user,
                p.tok_s_per_gpu,
                p.output_tok_s_per_gpu,
                f"{p.deployment} x C{p.concurrency}",
                p.extrapolated,
            )
        )
        allin = acc.value("allin_kw")
        if allin is None:
            notes.append(f"{hw}: no all-in power in the catalog; cost and energy not computed")
            continue
        notes += [f"{hw}: {a}" for a in f.assumptions if "unverified" in a or "prefix reuse" in a]
        for region_id in regions:
            region = cat.region(region_id)
            r_pue = pue if pue is not None else region.require("pue")
            e = energy_per_token(allin, p.tok_s_per_gpu, r_pue, region.require("grid_gco2_per_kwh"), isl, osl)
            for basis in bases:
                try:
                    c = gpu_hour_cost(hw, basis, region, r_pue, ownership, cat)
                except MissingFigureError as exc:
                    notes.append(str(exc))
                    continue
                rows.append(
                    CostRow(
                        hardware=hw,
                        region=region.id,
                        basis=basis,
                        usd_per_gpu_hour=c.usd_per_gpu_hour,
                        split=c.split(),
                        usd_per_mtok=usd_per_mtok(c.usd_per_gpu_hour, p.tok_s_per_gpu),
                        usd_per_output_mtok=usd_per_mtok(c.usd_per_gpu_hour, p.output_tok_s_per_gpu),
                        tok_s_per_mw=tok_s_per_mw(p.tok_s_per_gpu, allin),
                        joules_per_token=e.joules_per_token_facility,
                        wh_per_query=e.wh_per_query,
                        gco2_per_mtok=e.gco2_per_mtok,
                        gco2_per_query=e.gco2_per_query,
                    )
                )
    verdicts = _verdicts(rows)
    eco = ecologits_wh_per_output_token(m.active_params_b, pue or 1.2) * osl
    return CostReport(m.id, isl, osl, tok_s_per_user, points, rows, verdicts, PUBLIC_PER_QUERY_WH, eco, notes)


@dataclass
class PricedFrontier:
    """A frontier with its money: the $/GPU-hour preset of one cost basis, and $/M tokens at every point."""

    frontier: Frontier
    cost_basis: str
    usd_per_gpu_hour: float | None

    def usd_per_mtok(self, p: FrontierPoint) -> float | None:
        """$ per M (input + output) tokens at a point; None without a preset."""
        return usd_per_mtok(self.usd_per_gpu_hour, p.tok_s_per_gpu) if self.usd_per_gpu_hour else None

    @property
    def assumptions(self) -> list[str]:
        missing = f"no {self.cost_basis} $/GPU-hour preset in the catalog: $/M tokens not computed"
        return self.frontier.assumptions + ([] if self.usd_per_gpu_hour else [missing])

    def as_dict(self) -> dict:
        """The frontier's fields, its cost basis and preset, and ``usd_per_mtok`` on every point."""
        out = asdict(self.frontier)
        out |= {"cost_basis": self.cost_basis, "usd_per_gpu_hour": self.usd_per_gpu_hour}
        out["assumptions"] = self.assumptions
        for key in ("points", "backed_points"):
            for row, p in zip(out[key], getattr(self.frontier, key), strict=True):
                row["usd_per_mtok"] = self.usd_per_mtok(p)
        return out


def priced_frontier(f: Frontier, cost_basis: str = "neocloud", cat: Catalog | None = None) -> PricedFrontier:
    """A frontier priced at the InferenceX ``cost_basis`` preset of its hardware (hyperscaler, neocloud, rental)."""
    acc = (cat or catalog()).accelerator(f.hardware)
    return PricedFrontier(f, cost_basis, preset_usd_per_gpu_hour(acc, cost_basis))


def _verdicts(rows: list[CostRow]) -> list[str]:
    """Who wins on cost where power is cheap, and who wins on tokens where power is scarce."""
    out = []
    owned = [r for r in rows if r.basis == "owned"] or rows
    if not owned:
        return out
    by_region: dict[str, list[CostRow]] = {}
    for r in owned:
        by_region.setdefault(r.region, []).append(r)
    for region, rs in by_region.items():
        best = min(rs, key=lambda r: r.usd_per_mtok)
        out.append(
            f"{region}: cheapest per M tokens is {best.hardware} at ${best.usd_per_mtok:.3f} ({best.basis})"
        )
    hw_best_mw = max(owned, key=lambda r: r.tok_s_per_mw)
    out.append(
        f"power-scarce (most tok/s per MW): {hw_best_mw.hardware} at {hw_best_mw.tok_s_per_mw / 1e6:.2f}M tok/s/MW"
    )
    hardware = sorted({r.hardware for r in owned})
    if len(hardware) >= 2 and len(by_region) >= 2:
        cheap = min(by_region, key=lambda k: min(r.split.get("power", 0) for r in by_region[k]))
        dear = max(by_region, key=lambda k: max(r.split.get("power", 0) for r in by_region[k]))
        for label, region in (("cheap power", cheap), ("dear power", dear)):
            rs = by_region[region]
            best = min(rs, key=lambda r: r.usd_per_mtok)
            out.append(f"with {label} ({region}) {best.hardware} wins on $/M tokens")
    return out
