"""Throughput–interactivity frontiers: every feasible deployment × concurrency in one vectorized evaluation,
then the Pareto set of (tok/s/user ↑, tok_s_per_gpu ↑), reported per GPU and per MW of all-in power. Physics only:
the dollars of a frontier are econ's (:func:`tokenomy.econ.cost.priced_frontier`).

A frontier is drawn for one backend and one way of serving (aggregated or disaggregated, with or without MTP);
:func:`best_frontier` takes the upper envelope over backends and ways of serving, as InferenceX draws a GPU's
frontier. Every point says whether measured data backs it (inside the deployments and running batches the
calibration has seen for that engine and hardware family) or is an extrapolation.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from tokenomy.catalog import Catalog, catalog
from tokenomy.catalog.architecture import Architecture
from tokenomy.perf.calibration import Calibration, envelope_key, load_calibration
from tokenomy.perf.hardware import HardwareSpec, default_kv_precision, hardware_spec
from tokenomy.perf.ops import (
    Parallel,
    Precision,
    cached_tokens,
    serving_precision,
    weight_bytes_per_gpu,
)
from tokenomy.perf.predict import engine_limits
from tokenomy.perf.serving import (
    USABLE_MEMORY,
    ServingOptions,
    ServingResult,
    Workload,
    predict_disaggregated,
    predict_serving,
)
from tokenomy.units import tok_s_per_mw

CONCURRENCIES = np.unique(np.round(np.geomspace(1, 4096, 76))).astype(int)  # 64 distinct levels, 1 to 4096
DISAGG_CONCURRENCIES = CONCURRENCIES[::2]  # per decode engine: every other level keeps the grid small
PREFILL_RATIOS = (0.125, 0.25, 0.5, 1.0, 2.0)  # prefill GPUs per decode GPU tried by a disaggregated frontier
PREFILL_WEIGHT_SHARE = 0.8  # a prefill engine keeps ≥ 20% of its usable memory for activations and KV
NVIDIA_FAMILIES = ("hopper", "blackwell", "rubin")
MODES = ("agg", "disagg")


def frameworks_for(hw: HardwareSpec) -> tuple[str, ...]:
    """The calibrated frameworks that run on this hardware, default first (TensorRT-LLM is NVIDIA-only)."""
    return ("trtllm", "vllm", "sglang") if hw.family in NVIDIA_FAMILIES else ("sglang", "atom", "vllm")


def default_backend(hw: HardwareSpec) -> str:
    return frameworks_for(hw)[0]


def _powers_of_two(limit: int) -> list[int]:
    return [2**i for i in range(0, 12) if 2**i <= limit]


MAX_ATTENTION_TP = 8  # MoE engines split attention by TP within one 8-GPU board and add DP beyond it,
WHOLE_ENGINE_TP = (
    16  # or run TP over an engine of two boards (InferenceX's 16-GPU H100 engines); measured shapes
)
# decide which is backed


def deployments(arch: Architecture, max_gpus: int, space: str = "all") -> Parallel:
    """Candidate engines up to ``max_gpus``: TP (and PP for dense models); for MoE every split of the GPUs
    between attention TP (up to 8, or the whole engine up to 16) and attention-DP, with the experts either all split by TP
    (EP1), spread over every GPU (EP = GPUs) or over one 8-GPU board. ``space="tp"`` keeps tensor parallelism only
    (as in the InferenceX sweeps of TP 1–8)."""
    rows: list[tuple[int, int, int, int, int]] = []
    for gpus in _powers_of_two(max_gpus):
        if space == "tp":
            rows.append((gpus, 1, 1, gpus, 1))
            continue
        if not arch.is_moe:
            for pp in (1, 2, 4):
                if gpus % pp == 0 and gpus // pp <= 64:
                    tp = gpus // pp
                    rows.append((tp, pp, 1, tp, 1))
            continue
        whole = {gpus} if gpus <= WHOLE_ENGINE_TP else set()
        for tp in sorted(set(_powers_of_two(min(gpus, MAX_ATTENTION_TP))) | whole):
            dp = gpus // tp
            for ep in {1, min(gpus, 8), gpus}:
                if ep > arch.experts:
                    continue
                rows.append((tp, 1, dp, gpus // ep, ep))
    a = np.array(sorted(set(rows)))
    return Parallel(tp=a[:, 0], pp=a[:, 1], dp=a[:, 2], moe_tp=a[:, 3], moe_ep=a[:, 4])


def prefill_engine(arch: Architecture, hw: HardwareSpec, prec: Precision, max_gpus: int) -> Parallel | None:
    """The smallest engine whose weights fit for a disaggregated prefill pool: TP across its GPUs (and EP for
    MoE), as Dynamo's recipes build prefill workers. None when no engine up to ``max_gpus`` holds the weights."""
    for gpus in _powers_of_two(max_gpus):
        one = np.array([gpus])
        par = Parallel(tp=one, pp=np.ones(1, int), dp=np.ones(1, int), moe_tp=np.ones(1, int), moe_ep=one)
        if not arch.is_moe:
            par = Parallel(tp=one, pp=np.ones(1, int), dp=np.ones(1, int), moe_tp=one, moe_ep=np.ones(1, int))
        if weight_bytes_per_gpu(arch, prec, par)[0] <= hw.memory_bytes * USABLE_MEMORY * PREFILL_WEIGHT_SHARE:
            return par
    return None


MAX_ENGINE_GPUS = 64  # the widest engine tried when a model does not fit one scale-up domain


def default_max_gpus(arch: Architecture, hw: HardwareSpec, prec: Precision) -> int:
    """The scale-up domain (at least 8 GPUs), doubled across systems while the weights would fill more than
    80% of the engine's memory (DeepSeek-R1 in FP8 needs two 8-GPU H100 nodes)."""
    one = Parallel(*(np.ones(1, int) for _ in range(5)))
    weights = float(weight_bytes_per_gpu(arch, prec, one)[0])
    gpus = max(hw.scaleup_domain, 8)
    while weights > 0.8 * gpus * hw.memory_bytes * USABLE_MEMORY and gpus < MAX_ENGINE_GPUS:
        gpus *= 2
    return gpus


@dataclass
class FrontierPoint:
    tok_s_per_user: float
    tok_s_per_gpu: float  # (input + output) tok/s per GPU serving, prefill pool included
    output_tok_s_per_gpu: float  # output tok/s per GPU serving, prefill pool included
    tok_s_per_mw: float | None
    ttft_ms: float
    tpot_ms: float
    concurrency: int  # requests in flight per engine (per decode engine with its prefill share)
    gpus: int  # GPUs of the (decode) engine
    tp: int
    pp: int
    dp: int
    moe_tp: int
    moe_ep: int
    memory_per_gpu_gb: float
    extrapolated: bool = False  # outside what measured data of this engine and hardware family shows
    backend: str = ""  # the serving framework this point was predicted for
    mode: str = "agg"  # "agg" or "disagg"
    mtp: bool = False  # MTP speculative decoding on
    prefill_gpus: float = 0.0  # disaggregated: prefill GPUs per decode engine
    prefill_engine: str = ""  # disaggregated: the prefill workers' parallelism
    extrapolation: str = ""  # why the point is an extrapolation

    @property
    def deployment(self) -> str:
        text = f"TP{self.tp}"
        if self.pp > 1:
            text += f" PP{self.pp}"
        if self.dp > 1:
            text += f" DP{self.dp}"
        if self.moe_ep > 1:
            text += f" EP{self.moe_ep}"
        if self.mode == "disagg":
            text = f"disagg {self.prefill_gpus:g} prefill GPUs ({self.prefill_engine}) : {text} decode"
        if self.mtp:
            text += " +MTP"
        return text

    @property
    def gpus_serving(self) -> float:
        """Every GPU of the deployment: the engine, plus its prefill share when disaggregated."""
        return self.gpus + self.prefill_gpus


@dataclass
class Frontier:
    model: str
    hardware: str
    precision: str
    kv_precision: str
    backend: str
    isl: int
    osl: int
    allin_kw_per_gpu: float | None
    points: list[FrontierPoint]
    evaluated: int
    feasible: int
    calibration_source: str
    assumptions: list[str] = field(default_factory=list)
    # The Pareto set of the measured-backed points alone (what `plan` reads unless extrapolation is allowed):
    # a measured-backed point that an extrapolated one dominates is still the best the measurements back.
    backed_points: list[FrontierPoint] = field(default_factory=list)

    def measured_backed(self) -> list[FrontierPoint]:
        """The frontier of the points inside what measured data of their engine and hardware family shows."""
        return self.backed_points

    def at_interactivity(
        self, tok_s_per_user: float, allow_extrapolation: bool = True
    ) -> FrontierPoint | None:
        """The highest-throughput frontier point that still reaches ``tok_s_per_user`` (measured-backed points
        only unless ``allow_extrapolation``)."""
        pool = self.points if allow_extrapolation else self.measured_backed()
        ok = [p for p in pool if p.tok_s_per_user >= tok_s_per_user]
        return max(ok, key=lambda p: p.tok_s_per_gpu) if ok else None

    def interpolate(
        self, tok_s_per_user: float, attr: str = "tok_s_per_mw", allow_extrapolation: bool = True
    ) -> float | None:
        """Value of ``attr`` on the frontier at exactly ``tok_s_per_user`` (log-linear between points)."""
        pool = self.points if allow_extrapolation else self.measured_backed()
        pts = sorted(pool, key=lambda p: p.tok_s_per_user)
        if not pts:
            return None
        xs = np.log([p.tok_s_per_user for p in pts])
        ys = [getattr(p, attr) for p in pts]
        if any(y is None for y in ys) or not (xs[0] <= np.log(tok_s_per_user) <= xs[-1]):
            return None
        return float(np.exp(np.interp(np.log(tok_s_per_user), xs, np.log(ys))))


def pareto_mask(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """True for points not dominated in (x ↑, y ↑); NaNs are never on the front."""
    ok = np.isfinite(x) & np.isfinite(y)
    idx = np.where(ok)[0]
    order = idx[np.lexsort((-y[idx], -x[idx]))]  # x descending, then y descending
    ys = y[order]
    # A point is on the front when it beats every point at least as fast per user (all earlier in the order).
    before = np.maximum.accumulate(np.concatenate([[-np.inf], ys[:-1]])) if ys.size else ys
    mask = np.zeros(x.shape, dtype=bool)
    mask[order[ys > before]] = True
    return mask


def _tile(dep: Parallel, reps: int) -> Parallel:
    return Parallel(*(np.repeat(getattr(dep, k), reps) for k in ("tp", "pp", "dp", "moe_tp", "moe_ep")))


@dataclass
class _Grid:
    """One evaluation: the deployments and concurrencies tried and what the model predicts for them."""

    res: ServingResult
    par: Parallel
    conc: np.ndarray
    prefill_gpus: np.ndarray
    prefill_label: str
    mode: str


def _evaluate(
    arch: Architecture,
    hw: HardwareSpec,
    prec: Precision,
    dep: Parallel,
    conc: np.ndarray | None,
    isl: int,
    osl: int,
    eff,
    opts: ServingOptions,
    mode: str,
    max_gpus: int,
    prefix_hit_rate: float = 0.0,
) -> _Grid | None:
    """Every deployment × concurrency (× prefill ratio when disaggregated) in one call; a prefix hit rate > 0
    prefills only the uncached tail of each prompt."""

    def workload(c: np.ndarray) -> Workload:
        isl_a = np.full(c.shape, float(isl))
        cached = cached_tokens(isl_a, prefix_hit_rate) if prefix_hit_rate > 0 else None
        # Steady traffic: lengths vary, so other requests' prefills land spread over each request's decode.
        return Workload(isl_a, np.full(c.shape, float(osl)), c, cached, waves=0.0)

    if mode == "agg":
        conc = np.asarray(CONCURRENCIES if conc is None else conc, dtype=float)
        grid, c = _tile(dep, conc.size), np.tile(conc, dep.tp.size)
        work = workload(c)
        res = predict_serving(arch, hw, prec, grid, work, eff, strict_memory=True, options=opts)
        return _Grid(res, grid, c, np.zeros(c.shape), "", mode)
    pre = prefill_engine(arch, hw, prec, max_gpus)
    if pre is None:
        return None
    conc = np.asarray(DISAGG_CONCURRENCIES if conc is None else conc, dtype=float)
    ratios = np.asarray(PREFILL_RATIOS)
    n_dep, n_c, n_r = dep.tp.size, conc.size, ratios.size
    grid = _tile(dep, n_c * n_r)
    c = np.tile(np.repeat(conc, n_r), n_dep)
    r = np.tile(ratios, n_dep * n_c)
    prefill_gpus = r * grid.gpus
    pre_par = Parallel(
        *(np.full(c.shape, int(getattr(pre, k)[0])) for k in ("tp", "pp", "dp", "moe_tp", "moe_ep"))
    )
    work = workload(c)
    res = predict_disaggregated(
        arch,
        hw,
        prec,
        pre_par,
        prefill_gpus / pre_par.gpus,
        grid,
        np.ones(c.shape),
        work,
        eff,
        strict_memory=True,
        options=opts,
    )
    label = f"TP{int(pre.tp[0])}" + (f" EP{int(pre.moe_ep[0])}" if int(pre.moe_ep[0]) > 1 else "")
    return _Grid(res, grid, c, prefill_gpus, label, mode)


def frontier(
    model: str,
    hardware: str,
    precision: str | None = None,
    isl: int = 1024,
    osl: int = 1024,
    backend: str | None = None,
    max_gpus: int | None = None,
    calibration: Calibration | None = None,
    concurrencies: np.ndarray | None = None,
    kv_precision: str | None = None,
    space: str = "all",
    options: ServingOptions | None = None,
    cat: Catalog | None = None,
    mode: str = "agg",
    mtp: bool = False,
    prefix_hit_rate: float = 0.0,
) -> Frontier:
    """The Pareto frontier of a model on a hardware (accelerator or system id) at ISL/OSL, for one backend and
    one way of serving: ``mode`` "agg" or "disagg" (prefill pool sized by the best of a few ratios), with MTP
    when ``mtp`` (draft length from the engine catalog, acceptance from the calibration) or ``options``.
    ``prefix_hit_rate``: share of each prompt already in the KV cache (prefix reuse), prefilled no more."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not '{mode}'")
    cat = cat or catalog()
    m = cat.model(model)
    hw = hardware_spec(hardware, cat)
    precision = precision or m.default_precision
    backend = (backend or default_backend(hw)).lower()
    calibration = calibration or load_calibration()
    eff = calibration.efficiency(backend, hw.family)
    kv = kv_precision or default_kv_precision(precision, backend)
    prec = serving_precision(m.architecture, precision, precision, kv)
    limits = engine_limits(backend, cat)
    if options is None:
        use_mtp = mtp and m.architecture.mtp_layers > 0
        options = ServingOptions(
            mtp_draft_tokens=limits.mtp_draft_tokens if use_mtp else 0,
            mtp_acceptance=calibration.mtp_acceptance(backend, precision) if use_mtp else 0.0,
            max_running_per_rank=limits.max_running_per_rank,
        )
    max_gpus = max_gpus or default_max_gpus(m.architecture, hw, prec)
    dep = deployments(m.architecture, max_gpus, space)
    g = _evaluate(
        m.architecture, hw, prec, dep, concurrencies, isl, osl, eff, options, mode, max_gpus, prefix_hit_rate
    )
    points: list[FrontierPoint] = []
    backed_only: list[FrontierPoint] = []
    evaluated = feasible = 0
    n_extra = 0
    if g is not None:
        res, grid, c = g.res, g.par, g.conc
        valid = res.fits & (c >= grid.dp)  # a request can't be split across attention-DP ranks
        tput = np.where(valid, res.tok_s_per_gpu, np.nan)
        user = np.where(valid, res.tok_s_per_user, np.nan)
        beyond_measured = calibration.beyond_envelope(
            backend,
            hw.family,
            envelope_key(m.architecture, mode, use_mtp),
            res.running_per_rank,
            grid.dp,
            grid.moe_ep,
            grid.gpus,
            grid.tp,
        )
        max_conc = cat.engine(backend).value("max_concurrency") if backend in cat.engines else None
        beyond_engine = (
            (c * (1.0 + g.prefill_gpus / grid.gpus) > max_conc) if max_conc else np.zeros(c.shape, bool)
        )
        evaluated, feasible = int(c.size), int(valid.sum())
        backed = ~(beyond_measured | beyond_engine)
        mask = pareto_mask(user, tput)
        backed_mask = pareto_mask(np.where(backed, user, np.nan), tput)
        for i in np.where(mask | backed_mask)[0]:
            t = float(tput[i])
            why = []
            if beyond_measured[i]:
                why.append(f"beyond the measured {backend} {mode} deployments on {hw.family}")
            if beyond_engine[i]:
                why.append(f"concurrency above {backend}'s largest run ({max_conc:,.0f})")
            (points if mask[i] else backed_only).append(
                FrontierPoint(
                    tok_s_per_user=float(user[i]),
                    tok_s_per_gpu=t,
                    output_tok_s_per_gpu=float(res.output_tok_s_per_gpu[i]),
                    tok_s_per_mw=tok_s_per_mw(t, hw.allin_kw) if hw.allin_kw else None,
                    ttft_ms=float(res.ttft_ms[i]),
                    tpot_ms=float(res.tpot_ms[i]),
                    concurrency=int(c[i]),
                    gpus=int(grid.gpus[i]),
                    tp=int(grid.tp[i]),
                    pp=int(grid.pp[i]),
                    dp=int(grid.dp[i]),
                    moe_tp=int(grid.moe_tp[i]),
                    moe_ep=int(grid.moe_ep[i]),
                    memory_per_gpu_gb=float(res.memory_per_gpu_gb[i]),
                    extrapolated=bool(why),
                    backend=backend,
                    mode=mode,
                    mtp=options.mtp_draft_tokens > 0,
                    prefill_gpus=float(g.prefill_gpus[i]),
                    prefill_engine=g.prefill_label,
                    extrapolation="; ".join(why),
                )
            )
            n_extra += bool(why) and bool(mask[i])
    points.sort(key=lambda p: p.tok_s_per_user)
    backed_points = sorted(
        [p for p in points if not p.extrapolated] + backed_only, key=lambda p: p.tok_s_per_user
    )
    if backed_only:  # keep only the backed points that are on the backed Pareto set
        keep = pareto_mask(
            np.array([p.tok_s_per_user for p in backed_points]),
            np.array([p.tok_s_per_gpu for p in backed_points]),
        )
        backed_points = [p for p, k in zip(backed_points, keep, strict=True) if k]
    assumptions = [f"unverified input: {u}" for u in hw.unverified]
    if not hw.allin_kw:
        assumptions.append("no all-in power in the catalog: tok/s per MW not computed")
    if n_extra:
        assumptions.append(
            f"{n_extra} of {len(points)} frontier points (marked *) lie beyond what measured {backend} data on "
            f"{hw.family} shows (running batch per rank, DP/EP width, engine size or shape, or concurrency): extrapolations"
        )
    if options.mtp_draft_tokens:
        assumptions.append(
            f"MTP speculative decoding: {options.mtp_draft_tokens} draft token(s), acceptance {options.mtp_acceptance:.0%} "
            f"({options.accepted_tokens_per_step:.2f} tokens per step; fitted on random-prompt benchmarks, "
            "which accept less than real text)"
        )
    if prefix_hit_rate > 0:
        assumptions.append(
            f"prefix reuse: {prefix_hit_rate:.0%} of each prompt is in the KV cache and not prefilled again; "
            "throughput still counts every prompt token (the calibration was fitted without reuse)"
        )
    if mode == "disagg":
        assumptions.append(
            f"disaggregated: prefill workers {g.prefill_label if g else '—'}, prefill GPUs per decode GPU chosen "
            f"from {', '.join(f'{r:g}' for r in PREFILL_RATIOS)}; every GPU counted in tok/s/GPU"
        )
    source = calibration.source_of(backend, hw.family)
    if "no " in source:
        assumptions.append(
            f"efficiencies {source}: predicted from specs with the average of the measured families"
        )
    return Frontier(
        model=m.id,
        hardware=hw.id,
        precision=precision,
        kv_precision=kv,
        backend=backend,
        isl=isl,
        osl=osl,
        allin_kw_per_gpu=hw.allin_kw,
        points=points,
        evaluated=evaluated,
        feasible=feasible,
        calibration_source=source,
        assumptions=assumptions,
        backed_points=backed_points,
    )


INFERENCEX_V1 = {"space": "tp", "max_gpus": 8, "concurrencies": np.array([4, 8, 16, 32, 64])}


def _upper(points: list[FrontierPoint]) -> list[FrontierPoint]:
    """The Pareto set of frontier points, sorted by tok/s/user."""
    if not points:
        return []
    keep = pareto_mask(
        np.array([p.tok_s_per_user for p in points]), np.array([p.tok_s_per_gpu for p in points])
    )
    return sorted((p for p, k in zip(points, keep, strict=True) if k), key=lambda p: p.tok_s_per_user)


def envelope_of(fronts: list[Frontier], label: str) -> Frontier:
    """The upper envelope of several frontiers of the same model and hardware; points keep their origin."""
    kept = _upper([p for f in fronts for p in f.points])
    used = ", ".join(
        sorted(
            {p.backend + ("/disagg" if p.mode == "disagg" else "") + ("/MTP" if p.mtp else "") for p in kept}
        )
    )
    return replace(
        fronts[0],
        backend=f"{label} (frontier from {used})",
        points=kept,
        evaluated=sum(f.evaluated for f in fronts),
        feasible=sum(f.feasible for f in fronts),
        calibration_source="; ".join(sorted({f"{f.backend}: {f.calibration_source}" for f in fronts})),
        assumptions=_merged_assumptions(fronts, kept),
        backed_points=_upper([p for f in fronts for p in f.backed_points]),
    )


def _merged_assumptions(fronts: list[Frontier], kept: list[FrontierPoint]) -> list[str]:
    """The notes of the frontiers whose points made the envelope, and one line on its extrapolated points."""
    used = {(p.backend, p.mode, p.mtp) for p in kept}
    kept_ids = {id(p) for p in kept}
    notes: list[str] = []
    for f in fronts:
        mine = [p for p in f.points if (p.backend, p.mode, p.mtp) in used and id(p) in kept_ids]
        for a in f.assumptions:
            if "frontier points (marked *)" in a or (not mine and ("MTP" in a or "disaggregated" in a)):
                continue
            if a not in notes:
                notes.append(a)
    n_extra = sum(p.extrapolated for p in kept)
    if n_extra:
        notes.append(
            f"{n_extra} of {len(kept)} frontier points (marked *) lie beyond what measured data of their engine on "
            "this hardware family shows (running batch per rank, DP/EP width, engine size or shape, way of "
            "serving or concurrency): extrapolations, which plan/cost/claims leave out unless --allow-extrapolation"
        )
    return notes


def best_frontier(
    model: str,
    hardware: str,
    precision: str | None = None,
    backends: tuple[str, ...] | None = None,
    modes: tuple[str, ...] = MODES,
    mtp: tuple[bool, ...] = (False, True),
    **kwargs,
) -> Frontier:
    """The frontier as InferenceX draws it: the upper envelope over backends, aggregated and disaggregated
    serving, with and without MTP (where the model has MTP heads); keyword arguments go to :func:`frontier`."""
    cat = kwargs.get("cat") or catalog()
    hw = hardware_spec(hardware, cat)
    has_mtp = cat.model(model).architecture.mtp_layers > 0
    fronts = [
        frontier(model, hardware, precision, backend=b, mode=mode, mtp=use, **kwargs)
        for b in (backends or frameworks_for(hw))
        for mode in modes
        for use in mtp
        if has_mtp or not use
    ]
    return envelope_of(fronts, "best of " + "/".join(backends or frameworks_for(hw)))


def best_framework_frontier(model: str, hardware: str, precision: str | None = None, **kwargs) -> Frontier:
    """The upper envelope of every framework's aggregated frontier on this hardware (InferenceX v1's GPU best)."""
    return best_frontier(model, hardware, precision, modes=("agg",), mtp=(False,), **kwargs)
