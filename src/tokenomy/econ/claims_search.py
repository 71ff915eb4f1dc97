"""Claims, inverted: where on our frontier (and in InferenceX measurements) does a claim hold?

For each condition a claim leaves out (interactivity, ISL/OSL, precision, cost basis; for plan-level claims the
price tier) the search walks it and records where the claimed value lies inside our P10–P90 band. The band
comes from the model's measured error for the backend and hardware family (and the catalog figures' ranges,
econ/ranges.py). Verdicts: consistent (holds at every searched condition, or at the stated ones), consistent
only at the conditions found, or not supported anywhere on our frontier.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import numpy as np

from tokenomy.catalog.schema import Claim
from tokenomy.econ import ranges as R
from tokenomy.econ.factory import native_precision
from tokenomy.perf.ops import answer_flops
from tokenomy.units import tok_s_per_mw, usd_per_mtok

ISL_OSL = ((1024, 1024), (8192, 1024), (1024, 8192))
BASES = ("owned", "hyperscaler", "neocloud", "rental")
FRONTIER_METRICS = ("tok_s_per_mw", "tok_s_per_gpu", "tok_s_per_gw", "usd_per_mtok")
GRID_POINTS = 48
MEASURED_SYSTEMS = ("h100_sxm", "h200_sxm", "b200_sxm", "gb200", "mi300x", "mi355x")


@dataclass
class Holding:
    """One combination of searched conditions and where (in tok/s/user) the claim holds there."""

    conditions: dict[str, str | int | float]
    holds_at: list[float] | None  # [low, high] tok/s/user, or None where it holds nowhere
    ours_low: float | None  # our P50 across the searched interactivities (min, max)
    ours_high: float | None
    text: str
    full: bool = False  # holds at every searched interactivity of this combination


@dataclass
class Search:
    unstated: list[str]
    searched: list[str]
    holdings: list[Holding]
    finding: str  # consistent / consistent only at … / not supported anywhere on our frontier / cannot check
    conditions: str  # where it holds, in words
    band: list[float] | None  # P10, P90 of ours at the stated-or-default conditions
    band_note: str
    measured: dict | None = None
    notes: list[str] = field(default_factory=list)


def _short(n: int) -> str:
    return f"{n // 1024}k" if n % 1024 == 0 else str(n)


def _interval_text(lo: float, hi: float, grid_lo: float, grid_hi: float) -> str:
    if lo <= grid_lo * 1.0001 and hi >= grid_hi * 0.9999:
        return f"at every interactivity we reach ({grid_lo:.0f}–{grid_hi:.0f} tok/s/user)"
    if lo <= grid_lo * 1.0001:
        return f"at ≤ {hi:.0f} tok/s/user"
    if hi >= grid_hi * 0.9999:
        return f"at ≥ {lo:.0f} tok/s/user (up to our fastest, {grid_hi:.0f})"
    return f"at {lo:.0f}–{hi:.0f} tok/s/user"


def _holds_interval(xs: np.ndarray, vals: np.ndarray, claimed: float, lo_f: float, hi_f: float):
    """The [low, high] interactivity where claimed ∈ [lo_f·v, hi_f·v] (the widest run), else None."""
    ok = np.isfinite(vals) & (vals * lo_f <= claimed) & (claimed <= vals * hi_f)
    if not ok.any():
        return None
    idx = np.flatnonzero(ok)
    runs = np.split(idx, np.flatnonzero(np.diff(idx) > 1) + 1)
    best = max(runs, key=len)
    return [float(xs[best[0]]), float(xs[best[-1]])]


def _sigma(backend: str, family: str) -> float:
    mdape, _ = R.model_error(backend or "trtllm", family)
    return mdape / R.MAD_TO_SIGMA


def _rel_sigma(rel: float) -> float:
    """A ±rel P10–P90 range as a log-σ (for combining ranges in quadrature)."""
    return math.log1p(rel) / R.Z90


class _Curve:
    """A frontier metric as a function of interactivity, with its log-σ."""

    def __init__(
        self,
        ctx,
        claim_metric: str,
        model: str,
        hw: str,
        prec: str | None,
        isl: int,
        osl: int,
        basis: str | None = None,
        sweep: str | None = None,
        disagg: bool = False,
    ):
        self.f = ctx.frontier(model, hw, prec, isl, osl, disagg=disagg, sweep=sweep)
        cat = ctx.cat
        acc = cat.accelerator(hw)
        self.family = acc.family
        backends = [p.backend for p in self.f.points if p.backend]
        self.backend = max(set(backends), key=backends.count) if backends else "trtllm"
        self.sigma = _sigma(self.backend, self.family)
        self.attr = {
            "tok_s_per_mw": "tok_s_per_mw",
            "tok_s_per_gw": "tok_s_per_mw",
            "tok_s_per_gpu": "tok_s_per_gpu",
            "usd_per_mtok": "tok_s_per_gpu",
        }[claim_metric]
        self.usd_h = None
        if claim_metric == "usd_per_mtok":
            from tokenomy.econ.tco import gpu_hour_cost

            c = gpu_hour_cost(hw, basis or "owned", "us", None, None, cat)
            self.usd_h = c.usd_per_gpu_hour
            fig_name = f"usd_per_gpu_hour_{basis}" if basis in BASES[1:] else "price_usd"
            fig = acc.figures.get(fig_name)
            if fig is not None:
                self.sigma = math.hypot(self.sigma, _rel_sigma(R.figure_uncertainty(fig)))
        xs = [p.tok_s_per_user for p in self.f.points]
        self.lo, self.hi = (min(xs), max(xs)) if xs else (None, None)

    def at(self, x: float) -> float | None:
        if self.lo is None or x < self.lo * 0.9999 or x > self.hi * 1.0001:
            return None
        v = self.f.interpolate(min(max(x, self.lo), self.hi), self.attr)
        if v is None:
            return None
        return usd_per_mtok(self.usd_h, v) if self.usd_h is not None else v


def _grid(lo: float, hi: float, stated: float | None) -> np.ndarray:
    if stated is not None:
        return np.array([stated])
    if lo is None or hi is None or hi <= 0 or lo <= 0:
        return np.array([])
    return np.geomspace(lo, hi, GRID_POINTS) if hi > lo else np.array([lo])


def search(claim: Claim, check, ctx) -> Search:
    """Search the claim's unstated conditions; keep its ratio at the stated-or-default conditions beside."""
    m = claim.metric
    if m in FRONTIER_METRICS:
        return _search_frontier(claim, check, ctx)
    if m == "tok_s_per_user":
        return _search_fastest(claim, ctx)
    if m in ("revenue_per_mw", "revenue_usd_per_gw_year"):
        return _search_plan(claim, check, ctx)
    return _search_arithmetic(claim, check, ctx)


def _finding(holdings: list[Holding], stated_all: bool, searched: list[str]) -> tuple[str, str]:
    held = [h for h in holdings if h.holds_at is not None]
    if not holdings:
        return "cannot check", "nothing to search: no frontier for these conditions"
    if not held:
        return "not supported anywhere", "holds nowhere on our frontier (" + (
            ", ".join(searched) or "stated conditions"
        ) + " searched)"
    where = "; ".join(h.text for h in held)
    nowhere = [h for h in holdings if h.holds_at is None]
    if nowhere:
        where += "; not " + "; ".join(_cond_text(h.conditions) for h in nowhere)
    everywhere = len(held) == len(holdings) and all(h.full for h in held)
    if stated_all or everywhere:
        return "consistent", where
    return "consistent only at conditions found", where


def _cond_text(c: dict) -> str:
    parts = []
    if "isl" in c:
        parts.append(f"ISL/OSL {_short(int(c['isl']))}/{_short(int(c['osl']))}")
    if "precision" in c:
        parts.append(str(c["precision"]))
    if "basis" in c:
        parts.append(f"{c['basis']} $/GPU-h")
    if "tier" in c:
        parts.append(f"tier {c['tier']}")
    if "model" in c:
        parts.append(str(c["model"]))
    return " ".join(parts) or "stated conditions"


def _search_frontier(claim: Claim, check, ctx) -> Search:
    c = claim.conditions
    cat = ctx.cat
    model = c.model if c.model and c.model in cat.models else None
    notes = []
    if model is None:
        model = (
            "deepseek-r1" if not c.model else max(cat.models.values(), key=lambda mm: mm.total_params_b).id
        )
        if c.model:
            notes.append(f"model '{c.model}' not in the catalog: {model} stands in")
    hw = (c.hardware or "").split("+")[0]
    unstated, searched = [], []
    if not c.model:
        unstated.append("model (deepseek-r1 assumed, not searched)")
    if c.tok_s_per_user is None:
        unstated.append("interactivity")
        searched.append("interactivity")
    if c.isl is None:
        unstated.append("ISL/OSL")
        searched.append("ISL/OSL 1k/1k, 8k/1k, 1k/8k")
    if c.precision is None:
        unstated.append("precision")
        searched.append("precision")
    if claim.metric == "usd_per_mtok":
        unstated.append("cost basis")
        searched.append("cost basis owned (US power), hyperscaler, neocloud, rental")
    workloads = [(c.isl, c.osl or 1024)] if c.isl else list(ISL_OSL)
    native = native_precision(hw, cat.model(model).default_precision, cat)
    precs = (
        [c.precision]
        if c.precision
        else list(
            dict.fromkeys([native] + (["fp8"] if cat.accelerator(hw).value("fp8_dense_tflops") else []))
        )
    )
    bases = list(BASES) if claim.metric == "usd_per_mtok" else [None]
    holdings = []
    for isl, osl in workloads:
        for prec in precs:
            for basis in bases:
                cond: dict = {}
                if c.isl is None:
                    cond |= {"isl": isl, "osl": osl}
                if c.precision is None:
                    cond["precision"] = prec
                if basis:
                    cond["basis"] = basis
                try:
                    h = _holding(claim, ctx, model, hw, prec, isl, osl, basis, cond)
                except (LookupError, ValueError) as exc:
                    notes.append(f"{_cond_text(cond)}: {exc}")
                    continue
                if h is not None:
                    holdings.append(h)
    finding, where = _finding(
        holdings, not unstated or unstated == ["model (deepseek-r1 assumed, not searched)"], searched
    )
    band, band_note = _band_at_default(claim, check, ctx, model, hw)
    return Search(
        unstated,
        searched,
        holdings,
        finding,
        where,
        band,
        band_note,
        measured=measured_check(claim, ctx, model),
        notes=notes,
    )


def _ratio_sigma(a: _Curve, b: _Curve) -> float:
    if (a.backend, a.family) == (b.backend, b.family):
        return a.sigma  # same engine and family: the errors partly cancel; one σ is kept
    return math.hypot(a.sigma, b.sigma)


def _holding(claim, ctx, model, hw, prec, isl, osl, basis, cond) -> Holding | None:
    c = claim.conditions
    metric = claim.metric
    if claim.kind == "ratio":
        if c.baseline:
            top = _Curve(ctx, metric, model, hw, prec, isl, osl, basis, c.sweep)
            base = _Curve(ctx, metric, model, c.baseline, c.baseline_precision, isl, osl, basis, c.sweep)
        else:  # disaggregated vs aggregated on the same hardware
            top = _Curve(ctx, metric, model, hw, prec, isl, osl, basis, disagg=True)
            base = _Curve(ctx, metric, model, hw, prec, isl, osl, basis, sweep="agg-only")
        if top.lo is None or base.lo is None:
            return None
        lo, hi = max(top.lo, base.lo), min(top.hi, base.hi)
        xs = _grid(lo, hi, c.tok_s_per_user) if hi >= lo else np.array([])
        vals = np.array([(top.at(x) or np.nan) / (base.at(x) or np.nan) for x in xs], dtype=float)
        sigma = _ratio_sigma(top, base)
    else:
        cur = _Curve(ctx, metric, model, hw, prec, isl, osl, basis, c.sweep)
        if cur.lo is None:
            return None
        lo, hi = cur.lo, cur.hi
        xs = _grid(lo, hi, c.tok_s_per_user)
        vals = np.array([cur.at(x) or np.nan for x in xs], dtype=float)
        sigma = cur.sigma
        if metric == "tok_s_per_gw":
            vals = vals * 1000
    if xs.size == 0 or not np.isfinite(vals).any():
        what = _cond_text(cond)
        return Holding(
            cond,
            None,
            None,
            None,
            f"{what}: no common interactivity on our frontier" if claim.kind == "ratio" else what,
        )
    f_lo, f_hi = math.exp(-R.Z90 * sigma), math.exp(R.Z90 * sigma)
    at = _holds_interval(xs, vals, claim.value.value, f_lo, f_hi)
    fin = vals[np.isfinite(vals)]
    label = _cond_text(cond)
    if at is None:
        text = f"{label}: ours {fin.min():.3g}–{fin.max():.3g}, never within ±{f_hi - 1:.0%} of the claim"
    elif c.tok_s_per_user is not None:
        text = f"{label + ' ' if cond else ''}at the stated {c.tok_s_per_user:g} tok/s/user".strip()
    else:
        text = f"{label + ' ' if cond else ''}{_interval_text(at[0], at[1], float(xs[0]), float(xs[-1]))}".strip()
    full = at is not None and (
        c.tok_s_per_user is not None or (at[0] <= xs[0] * 1.0001 and at[1] >= xs[-1] * 0.9999)
    )
    return Holding(cond, at, float(fin.min()), float(fin.max()), "holds " + text if at else text, full)


def _band_at_default(claim, check, ctx, model, hw) -> tuple[list[float] | None, str]:
    """P10/P90 of our figure at the stated-or-default conditions (the audit's ratio), from the model error."""
    if check.ours is None:
        return None, "no figure at the stated-or-default conditions"
    c = claim.conditions
    acc = ctx.cat.accelerator(hw)
    sig = _sigma("trtllm" if acc.vendor.lower() == "nvidia" else "vllm", acc.family)
    if claim.kind == "ratio" and c.baseline:
        b = ctx.cat.accelerator(c.baseline)
        if b.family != acc.family:
            sig = math.hypot(sig, _sigma("trtllm" if b.vendor.lower() == "nvidia" else "vllm", b.family))
    lo, hi = math.exp(-R.Z90 * sig), math.exp(R.Z90 * sig)
    return [check.ours * lo, check.ours * hi], f"model error ±{hi - 1:.0%} (P10–P90, {acc.family})"


def _search_fastest(claim: Claim, ctx) -> Search:
    """'Up to X tok/s/user': our fastest frontier point, over ISL/OSL and precision."""
    c = claim.conditions
    cat = ctx.cat
    hw = c.hardware
    model = "deepseek-r1"
    acc = cat.accelerator(hw)
    native = native_precision(hw, cat.model(model).default_precision, cat)
    holdings = []
    for isl, osl in ISL_OSL:
        for prec in dict.fromkeys([c.precision or native, "fp8"]):
            f = ctx.frontier(model, hw, prec, isl, osl)
            fastest = max((p.tok_s_per_user for p in f.points), default=None)
            cond = {"isl": isl, "osl": osl, "precision": prec}
            if fastest is None:
                continue
            sig = _sigma("trtllm", acc.family)
            lo, hi = math.exp(-R.Z90 * sig), math.exp(R.Z90 * sig)
            ok = claim.value.value <= fastest * hi
            text = (
                f"holds for {_cond_text(cond)} (our fastest {fastest:.0f} tok/s/user)"
                if ok
                else f"{_cond_text(cond)}: our fastest {fastest:.0f} tok/s/user"
            )
            holdings.append(
                Holding(cond, [fastest * lo, fastest * hi] if ok else None, fastest, fastest, text, ok)
            )
    finding, where = _finding(holdings, False, ["model (deepseek-r1)", "ISL/OSL", "precision"])
    return Search(
        ["model", "ISL/OSL", "precision"],
        ["ISL/OSL 1k/1k, 8k/1k, 1k/8k", "precision"],
        holdings,
        finding,
        where,
        None,
        "an 'up to' figure: holds where our fastest point reaches it within the model error",
        measured=None,
    )


def _plan_draws(ctx):
    """The claims audit's default 4-generation plan on the audit's catalog and calibration, drawn (per tier and
    generation arrays); computed once per audit."""
    if "_plan_draws" not in ctx.__dict__:
        ctx.__dict__["_plan_draws"] = _draw_plan(ctx.cat, ctx.cal)
    return ctx.__dict__["_plan_draws"]


def _draw_plan(cat, calibration):
    from tokenomy.econ.ranges_econ import plan_arrays, plan_model
    from tokenomy.econ.scenario import Generation, HardwareShare, default_scenario

    sc = default_scenario()
    gens = [
        Generation(name=s, hardware=[HardwareShare(system=s)])
        for s in ("hgx_h200", "gb200_nvl72", "gb300_nvl72", "vr_nvl72")
    ]
    sc = sc.model_copy(update={"generations": gens})
    from tokenomy.econ.factory import plan

    p = plan(sc, cat, calibration)
    m = plan_model(sc, p, cat, calibration)
    return p, plan_arrays(m, R.draw_factors(m.inputs, R.DEFAULT_DRAWS, R.DEFAULT_SEED))


def _search_plan(claim: Claim, check, ctx) -> Search:
    """Revenue claims: the default 1 GW plan drawn; the condition searched is the price tier (its floor)."""
    c = claim.conditions
    p, arr = _plan_draws(ctx)
    hw = (c.hardware or "").split("+")[0]
    gens = {g.name: g for g in p.generations}
    holdings = []
    if claim.metric == "revenue_per_mw":
        tot = arr[f"{hw}.revenue_usd"] / arr[f"{c.baseline}.revenue_usd"]
        tiers = [t.tier for t in gens[hw].tiers]
        for t in tiers:
            a, b = arr.get(f"{hw}/{t}.revenue_usd"), arr.get(f"{c.baseline}/{t}.revenue_usd")
            cond = {"tier": t}
            if a is None or b is None:
                holdings.append(Holding(cond, None, None, None, f"tier {t}: not served by both"))
                continue
            with np.errstate(divide="ignore", invalid="ignore"):
                r = a / b
            if not np.isfinite(r).any():  # a tier with no revenue on either (Free): no ratio
                holdings.append(Holding(cond, None, None, None, f"tier {t}: no revenue on either, no ratio"))
                continue
            p10, p50, p90 = np.percentile(r, [10, 50, 90])
            ok = p10 <= claim.value.value <= p90
            holdings.append(
                Holding(
                    cond,
                    [float(p10), float(p90)] if ok else None,
                    float(p10),
                    float(p90),
                    f"{'holds in' if ok else 'not in'} tier {t} (ours {p10:.1f}–{p90:.1f}x)",
                )
            )
    else:
        tot = arr[f"{hw}.revenue_usd"] * 1000.0 / p.scenario["power_mw"]
        for t in gens[hw].tiers:
            rev, mw = arr.get(f"{hw}/{t.tier}.revenue_usd"), t.power_mw
            cond = {"tier": t.tier}
            if rev is None or not mw:
                continue
            per_gw = rev * 1000.0 / mw
            p10, p90 = np.percentile(per_gw, [10, 90])
            ok = p10 <= claim.value.value <= p90
            holdings.append(
                Holding(
                    cond,
                    [float(p10), float(p90)] if ok else None,
                    float(p10),
                    float(p90),
                    f"{'holds' if ok else 'not'} with the whole GW in tier {t.tier} "
                    f"(ours ${p10 / 1e9:.0f}–{p90 / 1e9:.0f}B)",
                )
            )
    p10, p90 = np.percentile(tot, [10, 90])
    mix_ok = p10 <= claim.value.value <= p90
    finding, where = _finding(holdings, False, ["price tier"])
    if mix_ok:
        finding, where = "consistent", "holds for the default tier mix (25% each); " + where
    return Search(
        ["price tiers and their mix", "interactivity (the tiers' floors)"],
        ["price tier"],
        holdings,
        finding,
        where,
        [float(p10), float(p90)],
        "Monte Carlo of the plan (econ/ranges.py), 2,000 draws",
    )


def _search_arithmetic(claim: Claim, check, ctx) -> Search:
    """Claims that are arithmetic on catalog figures: the range from the figures' uncertainties."""
    cat = ctx.cat
    c = claim.conditions
    sig, note, unstated = 0.0, "", []
    if claim.metric == "capex_usd_per_gw":
        s = cat.system("gb300_nvl72")
        sig = math.hypot(
            _rel_sigma(R.figure_uncertainty(s.figures["price_usd"])),
            _rel_sigma(R.figure_uncertainty(s.figures["allin_kw"])),
            _rel_sigma(0.15),
        )
        note = "GB300 NVL72 price and all-in kW ranges, PUE ±15%"
        unstated = ["what the capex covers (we count racks only)"]
    elif claim.metric == "tflops_per_kw":
        figs = []
        for sid in (c.hardware, c.baseline):
            s = cat.system(sid)
            figs += [s.figures["allin_kw"], cat.accelerators[s.accelerator].figures["bf16_dense_tflops"]]
        sig = math.sqrt(sum(_rel_sigma(R.figure_uncertainty(f)) ** 2 for f in figs))
        note = "the four figures' ranges (BF16 dense TFLOPS, all-in kW; the claim states BF16)"
    elif claim.metric == "compute":
        unstated = ["model", "prompt length"]
        holdings = []
        for mid, mdl in cat.models.items():
            for isl in (1000, 8000):
                r = answer_flops(mdl.architecture, isl, 8000) / answer_flops(mdl.architecture, isl, 400)
                ok = abs(math.log(r / claim.value.value)) <= math.log1p(R.TAG_UNCERTAINTY["O"])
                holdings.append(
                    Holding(
                        {"model": mid, "isl": isl, "osl": 8000},
                        [r, r] if ok else None,
                        r,
                        r,
                        f"{mid} after {isl:,} prompt tokens: {r:.0f}x",
                    )
                )
        finding, where = _finding(holdings, False, ["model", "prompt length"])
        return Search(
            unstated,
            ["every catalog model", "prompt 1,000 / 8,000 tokens"],
            holdings,
            finding,
            where,
            None,
            "arithmetic on published architectures",
        )
    else:
        note = "arithmetic of the stated token counts (no range)"
    if check.ours is None:
        return Search(unstated, [], [], "cannot check", "no figure", None, note)
    lo, hi = math.exp(-R.Z90 * sig), math.exp(R.Z90 * sig)
    band = [check.ours * lo, check.ours * hi]
    ok = band[0] * 0.999999 <= claim.value.value <= band[1] * 1.000001
    finding = "consistent" if ok else "not supported anywhere"
    where = (
        f"holds within the range of the figures ({band[0]:.3g}–{band[1]:.3g})"
        if ok
        else f"outside the range of the figures ({band[0]:.3g}–{band[1]:.3g}); no condition to search"
    )
    searched = []
    if claim.metric == "capex_usd_per_gw" and not ok and claim.value.value > band[1]:
        extra_lo, extra_hi = claim.value.value / band[1] - 1, claim.value.value / band[0] - 1
        finding = "consistent only at conditions found"
        searched = ["what the capex covers beyond the racks"]
        where = (
            f"holds if building, power plant and network add {extra_lo:.0%}–{extra_hi:.0%} to the racks' "
            f"cost (racks alone: ${band[0] / 1e9:.0f}–{band[1] / 1e9:.0f}B per GW)"
        )
    return Search(unstated, searched, [], finding, where, band, note)


# ---- InferenceX measurements ---------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def _measured_points():
    from importlib import resources

    from tokenomy.points import read_points

    path = resources.files("tokenomy.perf") / "data" / "inferencex_dsr1.csv"
    with resources.as_file(path) as p:
        points, _ = read_points(p)
    return points


def _user_rate(p) -> float | None:
    raw = (p.raw.get("measured_tok_s_per_user") or "").strip()
    if raw:
        return float(raw)
    return 1000.0 / p.measured_tpot_ms if p.measured_tpot_ms else None


def _measured_best(system: str, precision: str | None, isl: int, osl: int, at: float | None):
    """The best measured tok/s/GPU reaching ``at`` tok/s/user (max over points), and the curve."""
    pts = [
        p
        for p in _measured_points()
        if p.system == system
        and p.isl == isl
        and p.osl == osl
        and (precision is None or p.precision == precision)
        and p.measured_tput_per_gpu
    ]
    rows = [(_user_rate(p), p.measured_tput_per_gpu, p.raw.get("run_date", "")) for p in pts]
    rows = [r for r in rows if r[0]]
    if not rows:
        return None, rows
    if at is None:
        return max(r[1] for r in rows), rows
    ok = [r[1] for r in rows if r[0] >= at]
    return (max(ok) if ok else None), rows


def measured_check(claim: Claim, ctx, model: str) -> dict | None:
    """Check a DeepSeek-R1 claim on a measured system against the packaged InferenceX points."""
    c = claim.conditions
    if model != "deepseek-r1" or claim.metric not in FRONTIER_METRICS:
        return None
    cat = ctx.cat
    hw = (c.hardware or "").split("+")[0]
    acc = cat.accelerator(hw)
    if acc.id not in MEASURED_SYSTEMS:
        return {"available": False, "text": f"no InferenceX measurement of {acc.name} in the packaged data"}
    isl, osl = c.isl or 1024, c.osl or 1024
    at = c.tok_s_per_user

    def conv(sys_id: str) -> float:
        """tok/s per GPU → the claim's metric (per MW of all-in power); 1 for per GPU."""
        if claim.metric in ("tok_s_per_mw", "tok_s_per_gw"):
            return tok_s_per_mw(1.0, cat.accelerator(sys_id).require("allin_kw"))
        return 1.0

    def value(sys_id: str, prec: str | None) -> tuple[float | None, list]:
        v, rows = _measured_best(sys_id, prec, isl, osl, at)
        if v is not None and claim.metric == "usd_per_mtok":
            return usd_per_mtok(cat.accelerator(sys_id).require("usd_per_gpu_hour_neocloud"), v), rows
        return (None if v is None else v * conv(sys_id)), rows

    where = f"ISL/OSL {_short(isl)}/{_short(osl)}" + (
        f", ≥ {at:g} tok/s/user" if at else ", any interactivity (best)"
    )
    top, rows = value(acc.id, c.precision)
    if claim.kind == "ratio":
        if not c.baseline:
            return {
                "available": False,
                "text": "ratio against a different serving mode: not measured like-for-like",
            }
        b = cat.accelerator(c.baseline)
        if b.id not in MEASURED_SYSTEMS:
            return {"available": False, "text": f"no InferenceX measurement of the baseline {b.name}"}
        base, brow = value(b.id, c.baseline_precision)
        if top is None or base is None:
            return {"available": False, "text": f"InferenceX has no measured point of both at {where}"}
        ours = top / base
        n = len(rows) + len(brow)
    else:
        if top is None:
            return {"available": False, "text": f"InferenceX has no measured {acc.name} point at {where}"}
        ours, n = top, len(rows)
    dates = sorted({r[2] for r in rows if r[2]})
    ratio = ours / claim.value.value
    holds = 1 / 1.15 <= ratio <= 1.15
    text = (
        f"InferenceX measured {ours:.3g} at {where} ({n} points, runs {dates[0] if dates else '?'}–"
        f"{dates[-1] if dates else '?'}): {ratio:.2f}x the claim, "
        + ("consistent within ±15%" if holds else "not consistent")
    )
    if claim.metric == "usd_per_mtok":
        text += " (neocloud $/GPU-h preset)"
    if at is None and claim.kind == "absolute" and claim.metric != "usd_per_mtok":
        reach = [r[0] for r in rows if r[1] * conv(acc.id) >= claim.value.value]
        text += (
            f"; the measured points reach the claimed value up to {max(reach):.0f} tok/s/user"
            if reach
            else "; no measured point reaches the claimed value"
        )
    return {"available": True, "value": ours, "ratio": ratio, "holds": holds, "n_points": n, "text": text}
