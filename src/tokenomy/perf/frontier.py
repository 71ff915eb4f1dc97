"""Throughput–interactivity frontiers: every feasible deployment × concurrency in one vectorized evaluation,
then the Pareto set of (tok/s/user ↑, tput_per_gpu ↑), reported per GPU, per MW and per dollar."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from tokenomy.catalog import Catalog, catalog
from tokenomy.catalog.architecture import Architecture
from tokenomy.perf.calibration import Calibration, arch_class, load_calibration
from tokenomy.perf.hardware import HardwareSpec, default_kv_precision, hardware_spec
from tokenomy.perf.ops import Parallel, serving_precision
from tokenomy.perf.serving import ServingOptions, Workload, predict_serving

CONCURRENCIES = np.unique(np.round(np.geomspace(1, 4096, 76))).astype(int)  # 64 distinct levels, 1 to 4096
NVIDIA_FAMILIES = ("hopper", "blackwell", "rubin")


def frameworks_for(hw: HardwareSpec) -> tuple[str, ...]:
    """The calibrated frameworks that run on this hardware, default first (TensorRT-LLM is NVIDIA-only)."""
    return ("trtllm", "vllm", "sglang") if hw.family in NVIDIA_FAMILIES else ("vllm", "sglang")


def default_backend(hw: HardwareSpec) -> str:
    return frameworks_for(hw)[0]


def _powers_of_two(limit: int) -> list[int]:
    return [2**i for i in range(0, 12) if 2**i <= limit]


def deployments(arch: Architecture, max_gpus: int, space: str = "all") -> Parallel:
    """Candidate engines up to ``max_gpus``: TP (and PP for dense models); for MoE every split of the GPUs
    between attention TP and attention-DP, and between MoE-TP and EP (aiconfigurator's space).
    ``space="tp"`` keeps tensor parallelism only (as in the InferenceX sweeps of TP 1–8)."""
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
        for tp in _powers_of_two(gpus):
            dp = gpus // tp
            for ep in _powers_of_two(gpus):
                if ep > arch.experts:
                    continue
                rows.append((tp, 1, dp, gpus // ep, ep))
    a = np.array(sorted(set(rows)))
    return Parallel(tp=a[:, 0], pp=a[:, 1], dp=a[:, 2], moe_tp=a[:, 3], moe_ep=a[:, 4])


@dataclass
class FrontierPoint:
    tok_s_per_user: float
    tput_per_gpu: float
    output_tput_per_gpu: float
    tok_s_per_mw: float | None
    usd_per_mtok: float | None
    ttft_ms: float
    tpot_ms: float
    concurrency: int
    gpus: int
    tp: int
    pp: int
    dp: int
    moe_tp: int
    moe_ep: int
    memory_per_gpu_gb: float
    extrapolated: bool = False  # outside the deployments and concurrencies the calibration has seen
    backend: str = ""  # the serving framework this point was predicted for

    @property
    def deployment(self) -> str:
        text = f"TP{self.tp}"
        if self.pp > 1:
            text += f" PP{self.pp}"
        if self.dp > 1:
            text += f" DP{self.dp}"
        if self.moe_ep > 1:
            text += f" EP{self.moe_ep}"
        return text


@dataclass
class Frontier:
    model: str
    hardware: str
    precision: str
    kv_precision: str
    backend: str
    isl: int
    osl: int
    cost_basis: str
    usd_per_gpu_hour: float | None
    allin_kw_per_gpu: float | None
    points: list[FrontierPoint]
    evaluated: int
    feasible: int
    calibration_source: str
    assumptions: list[str] = field(default_factory=list)

    def at_interactivity(self, tok_s_per_user: float) -> FrontierPoint | None:
        """The highest-throughput frontier point that still reaches ``tok_s_per_user``."""
        ok = [p for p in self.points if p.tok_s_per_user >= tok_s_per_user]
        return max(ok, key=lambda p: p.tput_per_gpu) if ok else None

    def interpolate(self, tok_s_per_user: float, attr: str = "tok_s_per_mw") -> float | None:
        """Value of ``attr`` on the frontier at exactly ``tok_s_per_user`` (log-linear between points)."""
        pts = sorted(self.points, key=lambda p: p.tok_s_per_user)
        xs = np.log([p.tok_s_per_user for p in pts])
        ys = [getattr(p, attr) for p in pts]
        if not pts or any(y is None for y in ys) or not (xs[0] <= np.log(tok_s_per_user) <= xs[-1]):
            return None
        return float(np.exp(np.interp(np.log(tok_s_per_user), xs, np.log(ys))))


def pareto_mask(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """True for points not dominated in (x ↑, y ↑); NaNs are never on the front."""
    ok = np.isfinite(x) & np.isfinite(y)
    idx = np.where(ok)[0]
    order = idx[np.lexsort((-y[idx], -x[idx]))]  # x descending, then y descending
    mask = np.zeros(x.shape, dtype=bool)
    best = -np.inf
    for i in order:
        if y[i] > best:
            mask[i] = True
            best = y[i]
    return mask


def frontier(
    model: str,
    hardware: str,
    precision: str | None = None,
    isl: int = 1024,
    osl: int = 1024,
    backend: str | None = None,
    cost_basis: str = "neocloud",
    max_gpus: int | None = None,
    calibration: Calibration | None = None,
    concurrencies: np.ndarray | None = None,
    kv_precision: str | None = None,
    space: str = "all",
    options: ServingOptions | None = None,
    cat: Catalog | None = None,
) -> Frontier:
    """The Pareto frontier of a model on a hardware (accelerator or system id) at ISL/OSL."""
    cat = cat or catalog()
    m = cat.model(model)
    hw = hardware_spec(hardware, cat)
    precision = precision or m.default_precision
    backend = (backend or default_backend(hw)).lower()
    calibration = calibration or load_calibration()
    eff = calibration.efficiency(backend, hw.family)
    kv = kv_precision or default_kv_precision(precision, backend)
    prec = serving_precision(m.architecture, precision, precision, kv)
    max_gpus = max_gpus or max(hw.scaleup_domain, 8)
    dep = deployments(m.architecture, max_gpus, space)
    conc = np.asarray(CONCURRENCIES if concurrencies is None else concurrencies, dtype=float)
    n_dep, n_c = dep.tp.size, conc.size
    grid = Parallel(*(np.repeat(getattr(dep, k), n_c) for k in ("tp", "pp", "dp", "moe_tp", "moe_ep")))
    c = np.tile(conc, n_dep)
    work = Workload(isl=np.full(c.shape, float(isl)), osl=np.full(c.shape, float(osl)), concurrency=c)
    res = predict_serving(m.architecture, hw, prec, grid, work, eff, strict_memory=True, options=options)
    # A request can't be split across attention-DP ranks: keep concurrency ≥ DP.
    valid = res.fits & (c >= grid.dp)
    tput = np.where(valid, res.tput_per_gpu, np.nan)
    user = np.where(valid, res.tok_s_per_user, np.nan)
    mask = pareto_mask(user, tput)
    price = hw.usd_per_gpu_hour.get(cost_basis)
    beyond = calibration.beyond_envelope(
        backend, arch_class(m.architecture), c / grid.dp, grid.dp, grid.moe_ep, grid.gpus
    )
    points = []
    for i in np.where(mask)[0]:
        t = float(tput[i])
        points.append(
            FrontierPoint(
                tok_s_per_user=float(user[i]),
                tput_per_gpu=t,
                output_tput_per_gpu=float(res.output_tput_per_gpu[i]),
                tok_s_per_mw=t * 1000.0 / hw.allin_kw if hw.allin_kw else None,
                usd_per_mtok=price / (t * 3600 / 1e6) if price else None,
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
                extrapolated=bool(beyond[i]),
                backend=backend,
            )
        )
    points.sort(key=lambda p: p.tok_s_per_user)
    assumptions = [f"unverified input: {u}" for u in hw.unverified]
    if not hw.allin_kw:
        assumptions.append("no all-in power in the catalog: tok/s per MW not computed")
    if not price:
        assumptions.append(f"no {cost_basis} $/GPU-hour preset in the catalog: $/M tokens not computed")
    n_extra = sum(p.extrapolated for p in points)
    if n_extra:
        assumptions.append(
            f"{n_extra} of {len(points)} frontier points (marked *) use a concurrency, attention-DP or EP width "
            f"beyond the measured {backend} points the model was calibrated on: extrapolations"
        )
    if options and options.mtp_draft_tokens:
        assumptions.append(
            f"speculative decoding: {options.mtp_draft_tokens} draft token(s), acceptance {options.mtp_acceptance:.0%} "
            f"({options.accepted_tokens_per_step:.2f} tokens per step; not calibrated)"
        )
    if options and options.disaggregated:
        assumptions.append(
            f"disaggregated prefill: pool sized at {options.prefill_utilization:.0%} utilization, counted in tok/s/GPU "
            "(not calibrated)"
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
        cost_basis=cost_basis,
        usd_per_gpu_hour=price,
        allin_kw_per_gpu=hw.allin_kw,
        points=points,
        evaluated=int(c.size),
        feasible=int(valid.sum()),
        calibration_source=source,
        assumptions=assumptions,
    )


INFERENCEX_V1 = {"space": "tp", "max_gpus": 8, "concurrencies": np.array([4, 8, 16, 32, 64])}


def best_framework_frontier(model: str, hardware: str, precision: str | None = None, **kwargs) -> Frontier:
    """The upper envelope of every framework's frontier on this hardware, as InferenceX plots a GPU's best.

    Each point keeps the framework it came from; keyword arguments go to :func:`frontier`.
    """
    cat = kwargs.get("cat") or catalog()
    fronts = [
        frontier(model, hardware, precision, backend=b, **kwargs)
        for b in frameworks_for(hardware_spec(hardware, cat))
    ]
    points = [p for f in fronts for p in f.points]
    keep = pareto_mask(
        np.array([p.tok_s_per_user for p in points]), np.array([p.tput_per_gpu for p in points])
    )
    kept = sorted((p for p, k in zip(points, keep, strict=True) if k), key=lambda p: p.tok_s_per_user)
    used = ", ".join(sorted({p.backend for p in kept}))
    return replace(
        fronts[0],
        backend="best of " + "/".join(f.backend for f in fronts) + f" (frontier from {used})",
        points=kept,
        evaluated=sum(f.evaluated for f in fronts),
        feasible=sum(f.feasible for f in fronts),
        calibration_source="; ".join(f"{f.backend}: {f.calibration_source}" for f in fronts),
        assumptions=sorted({a for f in fronts for a in f.assumptions}),
    )
