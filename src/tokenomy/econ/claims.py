"""Audit of vendor and analyst claims: each recomputed by tokenomy's model under its stated conditions.

Where a claim leaves a condition out (model, ISL/OSL, interactivity), the ratio is taken at a stated default
(listed among the assumptions; its verdict: within 1.5×, within 3×, or not supported), and the conditions are
searched over our frontier (econ/claims_search.py): the verdict says where the claim holds within our range.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from tokenomy.catalog import Catalog, catalog
from tokenomy.catalog.schema import Claim, MissingFigureError
from tokenomy.econ.claims_search import search
from tokenomy.econ.factory import native_precision, plan
from tokenomy.econ.scenario import Generation, HardwareShare, default_scenario
from tokenomy.econ.tco import preset_usd_per_gpu_hour
from tokenomy.perf.calibration import Calibration, load_calibration
from tokenomy.perf.frontier import INFERENCEX_V1, Frontier, best_framework_frontier, best_frontier
from tokenomy.perf.ops import answer_flops
from tokenomy.units import usd_per_mtok

DEFAULT_MODEL = "deepseek-r1"  # used where a claim names no model
DEFAULT_ISL, DEFAULT_OSL = 1024, 1024
DEFAULT_TOK_S_PER_USER = 50.0  # where a per-GPU or per-MW figure names no interactivity
CLAIM_COST_BASIS = "neocloud"  # the $/GPU-hour preset a $/M-token claim is recomputed at


@dataclass
class ClaimCheck:
    id: str
    statement: str
    metric: str
    claimed: float
    unit: str
    ours: float | None
    ratio: float | None  # ours / claimed
    verdict: str
    confidence: str
    source: str
    assumptions: list[str] = field(default_factory=list)
    ratio_verdict: str = ""  # the ratio at the stated-or-default conditions: within 1.5x / 3x / not supported
    conditions: str = ""  # where the claim holds on our frontier, in words
    unstated: list[str] = field(default_factory=list)  # conditions the claim leaves out
    searched: list[str] = field(default_factory=list)  # conditions the search walked
    holds: list[dict] = field(default_factory=list)  # each searched combination and where it holds
    band: list[float] | None = None  # P10, P90 of ours at the stated-or-default conditions
    band_note: str = ""
    measured: dict | None = None  # the InferenceX measurement check, where the data has the system


def verdict(ratio: float | None) -> str:
    if ratio is None or not np.isfinite(ratio) or ratio <= 0:
        return "cannot check"
    off = max(ratio, 1 / ratio)
    if off <= 1.5:
        return "within 1.5x"
    if off <= 3.0:
        return "within 3x"
    return "not supported"


class _Ctx:
    """Caches frontiers and plans across claims."""

    def __init__(
        self, cat: Catalog, allow_extrapolation: bool = False, calibration: Calibration | None = None
    ):
        self.cat = cat
        self.cal = calibration or load_calibration()
        self.allow_extrapolation = allow_extrapolation
        self._frontiers: dict[tuple, Frontier] = {}
        self._plan = None

    def frontier(
        self,
        model: str,
        hardware: str,
        precision: str | None,
        isl: int,
        osl: int,
        disagg: bool = False,
        sweep: str | None = None,
    ) -> Frontier:
        prec = precision or native_precision(hardware, self.cat.model(model).default_precision, self.cat)
        key = (model, hardware, prec, isl, osl, disagg, sweep)
        if key not in self._frontiers:
            if (
                sweep == "inferencex-v1"
            ):  # InferenceX v1: TP 1-8 at concurrency 4-64, each GPU's best framework
                f = best_framework_frontier(
                    model, hardware, prec, isl=isl, osl=osl, calibration=self.cal, **INFERENCEX_V1
                )
            else:
                modes = ("agg",) if sweep == "agg-only" else ("disagg",) if disagg else ("agg", "disagg")
                f = best_frontier(
                    model, hardware, prec, isl=isl, osl=osl, calibration=self.cal, cat=self.cat, modes=modes
                )
            if not self.allow_extrapolation:
                f = replace(f, points=f.measured_backed())
            self._frontiers[key] = f
        return self._frontiers[key]

    def plan(self):
        if self._plan is None:
            sc = default_scenario()
            gens = [
                Generation(name=s, hardware=[HardwareShare(system=s)])
                for s in ("hgx_h200", "gb200_nvl72", "gb300_nvl72", "vr_nvl72")
            ]
            self._plan = plan(sc.model_copy(update={"generations": gens}), self.cat, self.cal)
        return self._plan


def _metric_at(
    f: Frontier, metric: str, tok_s_per_user: float | None, assumptions: list[str], cat: Catalog
) -> float | None:
    """tok/s per MW or per GPU on a frontier: at an interactivity, or at maximum volume when none is stated;
    $/M tokens at the neocloud preset, at an interactivity (50 tok/s/user when none is stated)."""
    attr = {
        "tok_s_per_mw": "tok_s_per_mw",
        "tok_s_per_gpu": "tok_s_per_gpu",
        "tok_s_per_gw": "tok_s_per_mw",
        "usd_per_mtok": "tok_s_per_gpu",
    }[metric]
    if not f.points:
        return None
    if tok_s_per_user is None:
        if metric == "usd_per_mtok":
            tok_s_per_user = DEFAULT_TOK_S_PER_USER
            assumptions.append(f"interactivity not stated: {tok_s_per_user:g} tok/s/user assumed")
        else:
            assumptions.append("interactivity not stated: maximum-volume point of the frontier")
            values = [getattr(p, attr) for p in f.points if getattr(p, attr) is not None]
            return max(values) if values else None
    price = None
    if metric == "usd_per_mtok":
        price = preset_usd_per_gpu_hour(cat.accelerator(f.hardware), CLAIM_COST_BASIS)
        if not price:
            return None
    value = f.interpolate(tok_s_per_user, attr)
    if value is None:
        p = f.at_interactivity(tok_s_per_user)
        value = getattr(p, attr) if p else None
    if price is not None and value is not None:
        return usd_per_mtok(price, value)
    return value


Checker = Callable[[Claim, "_Ctx", str | None, list[str]], float | None]
CHECKERS: dict[str, Checker] = {}  # claim metric → the function that recomputes it


def _checker(*metrics: str) -> Callable[[Checker], Checker]:
    """Register a function as the checker of ``metrics``: (claim, ctx, model or None, assumptions) → ours."""

    def register(fn: Checker) -> Checker:
        for m in metrics:
            CHECKERS[m] = fn
        return fn

    return register


def _check(claim: Claim, ctx: _Ctx) -> ClaimCheck:
    """One claim recomputed by its metric's checker (ours None when no checker knows the metric)."""
    c = claim.conditions
    a: list[str] = []
    cat = ctx.cat
    model = c.model if c.model and c.model in cat.models else None
    if c.model and model is None:
        model = max(cat.models.values(), key=lambda m: m.total_params_b).id
        a.append(f"model '{c.model}' is not in the catalog: the largest catalog MoE, {model}, stands in")
    checker = CHECKERS.get(claim.metric)
    ours = checker(claim, ctx, model, a) if checker else None
    ratio = ours / claim.value.value if ours is not None and claim.value.value else None
    return _with_search(
        claim,
        ctx,
        ClaimCheck(
            id=claim.id,
            statement=claim.statement,
            metric=claim.metric,
            claimed=claim.value.value,
            unit=claim.unit,
            ours=ours,
            ratio=ratio,
            verdict=verdict(ratio),
            confidence=claim.value.confidence,
            source=claim.value.source,
            assumptions=a,
        ),
    )


@_checker("tok_s_per_mw", "tok_s_per_gpu", "tok_s_per_gw", "usd_per_mtok")
def _check_frontier_metric(claim: Claim, ctx: _Ctx, model: str | None, a: list[str]) -> float | None:
    """A figure read on our frontier (per MW, per GPU, $/M tokens), or its ratio to a baseline's."""
    c = claim.conditions
    cat = ctx.cat
    model = model or DEFAULT_MODEL
    if not c.model:
        a.append(f"model not stated: {model} assumed")
    isl, osl = c.isl or DEFAULT_ISL, c.osl or DEFAULT_OSL
    if not c.isl:
        a.append(f"ISL/OSL not stated: {isl}/{osl} assumed")
    hw = (c.hardware or "").split("+")[0]
    if "+" in (c.hardware or ""):
        a.append("Groq LPX part not modeled (no power figure in the catalog): Rubin alone")
    f = ctx.frontier(model, hw, c.precision, isl, osl, sweep=c.sweep)
    a.append(f"{f.hardware} {f.precision} ({f.backend})")
    if ctx.allow_extrapolation and any(p.extrapolated for p in f.points):
        a.append("extrapolation allowed: frontier points beyond measured data may set this figure")
    if c.sweep == "inferencex-v1":
        a.append("like-for-like sweep of InferenceX v1: TP 1-8, concurrency 4-64, best framework")
    metric = "tok_s_per_mw" if claim.metric == "tok_s_per_gw" else claim.metric
    ours = _metric_at(f, metric, c.tok_s_per_user, a, cat)
    if claim.kind == "ratio" and ours is not None and not c.baseline:
        # Dynamo's claims: disaggregated serving against aggregated on the same hardware.
        fd = ctx.frontier(model, hw, c.precision, isl, osl, disagg=True)
        f = ctx.frontier(model, hw, c.precision, isl, osl, sweep="agg-only")
        ours = _metric_at(f, metric, c.tok_s_per_user, [], cat)
        a.append("baseline not stated: disaggregated vs aggregated serving on the same hardware")
        dis = _metric_at(fd, metric, c.tok_s_per_user, [], cat)
        ours = dis / ours if dis else None
    elif claim.kind == "ratio" and ours is not None:
        fb = ctx.frontier(model, c.baseline, c.baseline_precision, isl, osl, sweep=c.sweep)
        a.append(f"baseline {fb.hardware} {fb.precision}")
        base = _metric_at(fb, metric, c.tok_s_per_user, [], cat)
        ours = ours / base if base else None
    if claim.kind == "ratio" and ours is None and c.baseline and c.tok_s_per_user:
        fb = ctx.frontier(model, c.baseline, c.baseline_precision, isl, osl, sweep=c.sweep)
        reach = min(
            max((p.tok_s_per_user for p in f.points), default=0),
            max((p.tok_s_per_user for p in fb.points), default=0),
        )
        if reach > 0:
            a.append(
                f"neither reaches {c.tok_s_per_user:g} tok/s/user in our model: compared at "
                f"{reach:.0f} tok/s/user, the fastest both reach"
            )
            top, base = _metric_at(f, metric, reach, [], cat), _metric_at(fb, metric, reach, [], cat)
            ours = top / base if top and base else None
    elif claim.metric == "usd_per_mtok" and ours is None:
        a.append("no $/GPU-hour preset")
    return ours


@_checker("tok_s_per_user")
def _check_fastest_user(claim: Claim, ctx: _Ctx, model: str | None, a: list[str]) -> float | None:
    """The fastest tok/s/user on our frontier of the hardware."""
    c = claim.conditions
    f = ctx.frontier(model or DEFAULT_MODEL, c.hardware, c.precision, DEFAULT_ISL, DEFAULT_OSL)
    a.append(f"model not stated: {f.model} {f.precision}, {DEFAULT_ISL}/{DEFAULT_OSL} assumed; fastest point")
    return max((p.tok_s_per_user for p in f.points), default=None)


def _default_plan_generations(claim: Claim, ctx: _Ctx, a: list[str]):
    """The default 1 GW plan's generations by name, and the claim's hardware (its Groq part dropped)."""
    p = ctx.plan()
    hw = (claim.conditions.hardware or "").split("+")[0]
    a.append("default 1 GW scenario (GTC 2026 tiers, 25% each, tokenomy floors [U])")
    if "+" in (claim.conditions.hardware or ""):
        a.append("Groq LPX part not modeled (no power figure in the catalog): Rubin alone")
    return p, {g.name: g for g in p.generations}, hw


@_checker("revenue_per_mw")
def _check_revenue_ratio(claim: Claim, ctx: _Ctx, model: str | None, a: list[str]) -> float | None:
    """Revenue of the hardware's generation over the baseline's in the default 1 GW plan."""
    _, gens, hw = _default_plan_generations(claim, ctx, a)
    base = gens[claim.conditions.baseline].revenue_usd if claim.conditions.baseline in gens else None
    return gens[hw].revenue_usd / base if base else None


@_checker("revenue_usd_per_gw_year")
def _check_revenue_per_gw(claim: Claim, ctx: _Ctx, model: str | None, a: list[str]) -> float | None:
    """Yearly revenue of the hardware's generation per GW in the default plan."""
    p, gens, hw = _default_plan_generations(claim, ctx, a)
    return gens[hw].revenue_usd * 1000.0 / p.scenario["power_mw"]


@_checker("capex_usd_per_gw")
def _check_capex(claim: Claim, ctx: _Ctx, model: str | None, a: list[str]) -> float | None:
    """GB300 NVL72 rack capex per GW of facility power."""
    sysm = ctx.cat.system("gb300_nvl72")
    capex = sysm.require("price_usd") / sysm.require("allin_kw") * 1e6 * 1.2
    a.append("GB300 NVL72 rack price / all-in kW x PUE 1.2; racks only (no building, power plant, network)")
    return capex


@_checker("tflops_per_kw")
def _check_tflops_per_kw(claim: Claim, ctx: _Ctx, model: str | None, a: list[str]) -> float | None:
    """BF16 dense TFLOPS per kW of the baseline over the claim's system."""
    c, cat = claim.conditions, ctx.cat
    cm, nvl = cat.system(c.hardware), cat.system(c.baseline)
    cm_tf = cm.require("gpus") * cat.accelerators[cm.accelerator].require("bf16_dense_tflops")
    nvl_tf = nvl.require("gpus") * cat.accelerators[nvl.accelerator].require("bf16_dense_tflops")
    a.append(
        f"BF16 dense: {cm_tf / 1e3:,.0f} PF / {cm.require('allin_kw'):g} kW vs "
        f"{nvl_tf / 1e3:,.0f} PF / {nvl.require('allin_kw'):g} kW"
    )
    return (nvl_tf / nvl.require("allin_kw")) / (cm_tf / cm.require("allin_kw"))


@_checker("tokens")
def _check_tokens(claim: Claim, ctx: _Ctx, model: str | None, a: list[str]) -> float | None:
    """The ratio of the stated token counts."""
    a.append(
        "arithmetic of the stated token counts (8,000 / 400); see `tokenomy consume` for measured ratios"
    )
    return 8000 / 400


@_checker("compute")
def _check_compute(claim: Claim, ctx: _Ctx, model: str | None, a: list[str]) -> float | None:
    """FLOPs of a long answer over a short one."""
    arch = ctx.cat.model(DEFAULT_MODEL).architecture
    a.append(
        f"{DEFAULT_MODEL}: FLOPs of 8,000 vs 400 output tokens after a 1,000-token prompt "
        "(2 x active params + attention over the growing context)"
    )
    return answer_flops(arch, 1000, 8000) / answer_flops(arch, 1000, 400)


def _with_search(claim: Claim, ctx: _Ctx, check: ClaimCheck) -> ClaimCheck:
    """The inverted audit: search the claim's unstated conditions; the ratio's verdict stays beside."""
    check.ratio_verdict = check.verdict
    try:
        s = search(claim, check, ctx)
    except (LookupError, ValueError) as exc:
        check.verdict, check.conditions = "cannot check", f"condition search failed: {exc}"
        return check
    check.verdict, check.conditions = s.finding, s.conditions
    check.unstated, check.searched = s.unstated, s.searched
    check.holds = [asdict(h) for h in s.holdings]
    check.band, check.band_note, check.measured = s.band, s.band_note, s.measured
    check.assumptions += s.notes
    if s.unstated:
        check.assumptions.append(
            "the ratio is at default conditions the claim does not state (" + ", ".join(s.unstated) + ")"
        )
    return check


def audit_claims(
    cat: Catalog | None = None, allow_extrapolation: bool = False, calibration: Calibration | None = None
) -> list[ClaimCheck]:
    """Every claim in the catalog, recomputed on measured-backed frontier points (all points with
    ``allow_extrapolation``) of ``calibration`` (default: the packaged fit); a claim that cannot be computed says
    why. The audit of the packaged catalog and fit is computed once per process (copies are returned)."""
    if cat is None and calibration is None:
        key = (id(catalog()), allow_extrapolation)  # the packaged fit is read once per process too
        if key not in _DEFAULT_AUDITS:
            _DEFAULT_AUDITS[key] = _audit(catalog(), allow_extrapolation, None)
        return copy.deepcopy(_DEFAULT_AUDITS[key])
    return _audit(cat or catalog(), allow_extrapolation, calibration)


_DEFAULT_AUDITS: dict[tuple, list[ClaimCheck]] = {}


def _audit(cat: Catalog, allow_extrapolation: bool, calibration: Calibration | None) -> list[ClaimCheck]:
    ctx = _Ctx(cat, allow_extrapolation, calibration)
    out = []
    for claim in cat.claims.values():
        try:
            out.append(_check(claim, ctx))
        except (LookupError, MissingFigureError, ValueError) as exc:
            out.append(
                ClaimCheck(
                    claim.id,
                    claim.statement,
                    claim.metric,
                    claim.value.value,
                    claim.unit,
                    None,
                    None,
                    "cannot check",
                    claim.value.confidence,
                    claim.value.source,
                    [str(exc)],
                    ratio_verdict="cannot check",
                    conditions=f"cannot check: {exc}",
                )
            )
    return out


def checks_as_dicts(checks: list[ClaimCheck]) -> list[dict]:
    return [asdict(c) for c in checks]
