"""Calibration: efficiency parameters per backend, refined per (backend, hardware family), fitted to measurements.

Two levels keep the parameter count small and let new hardware be predicted from its specs alone:
a backend's base parameters (19) fitted on all its points, and, per hardware family with data, multipliers on
the four efficiencies and the step overhead (5), pulled toward 1 by a ridge penalty and centred so that the
base is the typical family. Hardware without data uses the base; a backend without data (e.g. llama.cpp
before it is measured) uses the geometric mean of the others.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import least_squares

from tokenomy.perf.serving import Efficiency

BASE_NAMES = Efficiency.names()
FAMILY_NAMES = ["mem_decode", "mem_experts", "compute_decode", "compute_prefill", "step_overhead_ms"]
BOUNDS = {
    "mem_decode": (0.05, 1.0),
    "mem_experts": (0.05, 1.0),
    "compute_decode": (0.02, 1.0),
    "compute_prefill": (0.05, 1.0),
    "step_overhead_ms": (0.01, 60.0),
    "layer_overhead_us": (0.01, 200.0),
    "request_overhead_us": (0.01, 500.0),
    # At most +50% per doubling of ranks: a step waits for the slowest rank, not for a chain of them.
    "wide_imbalance": (0.001, 0.5),
    "comm_latency_us": (0.5, 200.0),
    "scaleout_latency_us": (1.0, 2000.0),
    "ttft_overhead_ms": (0.1, 500.0),
    "burst_share": (0.01, 1.0),
    "prefill_interference": (0.01, 1.0),
    "dequant_eff": (0.2, 1.0),
    "kv_transfer_eff": (0.02, 1.0),
    "prefill_queue": (0.05, 20.0),
    "ep_latency_us": (0.1, 500.0),
    "expert_tile_tokens": (1.0, 256.0),
    "expert_overhead_us": (0.01, 20.0),
}
DISAGG_NAMES = ("kv_transfer_eff", "prefill_queue")  # pinned only by disaggregated rows
# Which measured data pins each fitted parameter (printed by `tokenomy calibrate`, kept in the fit's notes).
PINNED_BY = {
    "mem_decode, mem_experts": "low-concurrency decode (TPOT at batch 1-16): bytes read per step",
    "compute_decode, expert_tile_tokens": "high-concurrency decode (TPOT at batch 64+), MoE models for the tile",
    "compute_prefill, ttft_overhead_ms": "TTFT at low concurrency (one prompt at a time)",
    "burst_share, prefill_interference": "TTFT and TPOT as concurrency grows on aggregated engines",
    "step_overhead_ms, layer_overhead_us, request_overhead_us": "TPOT of small models and large batches",
    "wide_imbalance, ep_latency_us, expert_overhead_us": "attention-DP / EP rows (InferenceX DP8-EP8, Dynamo wide-EP decode pools)",
    "comm_latency_us, scaleout_latency_us": "TP rows, and engines spanning nodes (DeepSeek on 16-64 GPUs)",
    "dequant_eff": "weights without tensor cores (MXFP4 on Hopper/CDNA3); held at 1 where no such row exists",
    "kv_transfer_eff, prefill_queue": "disaggregated rows (TTFT, throughput); held where a backend has none",
    "mtp acceptance (backend/precision)": "MTP rows of that backend and precision (random prompts: lower than real text)",
    "family multipliers": "each hardware family's rows (hopper, blackwell, cdna3, cdna4), pulled toward 1",
}
SHAPE_KEY = 1 << 20  # radix of shape_key: each of attention TP, DP and EP stays below it


def shape_key(tp, dp, ep) -> np.ndarray:
    """An engine shape (attention TP, attention DP, EP) as one integer, for set lookups (ints or arrays)."""
    as_int = [np.asarray(x, dtype=np.int64) for x in (tp, dp, ep)]
    return (as_int[0] * SHAPE_KEY + as_int[1]) * SHAPE_KEY + as_int[2]


MTP_BOUNDS = (0.05, 0.95)  # acceptance of each drafted token
DEFAULT_MTP_ACCEPTANCE = (
    0.6  # used where no MTP row of the backend was measured (DeepSeek reports 0.85-0.9 on real text)
)
FAMILY_RIDGE = 3.0  # residual weight per unit of log-multiplier: keeps family tweaks small
TTFT_WEIGHT = 0.7  # TTFT residuals weigh 0.7 of a TPOT residual (TTFT is noisier and depends on the client)
# Measured throughput per GPU, where a file has it (InferenceX), weighs half a TPOT: it repeats the row's TTFT and
# TPOT through Little's law (to 3-6%), so at full weight those rows would count twice against aiconfigurator's.
TPUT_WEIGHT = 0.5
PARETO_WEIGHT = 3.0  # a measured Pareto point of its group (where the economics reads the frontier) counts 3×
SUPERSEDED_WEIGHT = 0.3  # a run of a configuration that a newer run of the same configuration replaced
OTHER_CLIENT_TTFT_WEIGHT = (
    0.3  # TTFT of benchmarks whose client times the first token differently (InferenceX)
)
PACKAGED = resources.files("tokenomy.perf") / "data" / "calibration.json"


@dataclass
class Calibration:
    """Efficiency parameters by key: 'backend/family', 'backend', or 'default'."""

    params: dict[str, dict[str, float]]
    fitted_at: str = ""
    data_sha256: str = ""
    n_points: int = 0
    notes: dict[str, Any] = field(default_factory=dict)

    def efficiency(self, backend: str, family: str = "") -> Efficiency:
        backend = backend.lower()
        base = self.params.get(backend) or self.params.get("default") or {}
        return combine(base, self.params.get(f"{backend}/{family}"))

    def mtp_acceptance(self, backend: str, precision: str) -> float:
        """Fitted acceptance of each MTP draft token for ``backend`` at ``precision`` (else the backend's mean,
        else a default)."""
        fitted = self.params.get("mtp", {})
        if f"{backend}/{precision}" in fitted:
            return fitted[f"{backend}/{precision}"]
        same = [v for k, v in fitted.items() if k.startswith(f"{backend}/")]
        return float(np.mean(same)) if same else DEFAULT_MTP_ACCEPTANCE

    def envelope_of(self, backend: str, hw_family: str, model_class: str) -> dict[str, float] | None:
        """The largest measured deployment of ``backend`` on ``hw_family`` for ``model_class`` (see
        :func:`envelope_key`); a hardware family without measurements takes the backend's widest."""
        env = self.notes.get("envelope", {}).get(backend.lower(), {})
        own = env.get(hw_family, {}).get(model_class)
        if own:
            return own
        seen = [fam[model_class] for fam in env.values() if isinstance(fam, dict) and model_class in fam]
        if not seen:
            return None
        widest = {k: max(e[k] for e in seen) for k in seen[0] if k != "shapes"}
        if all("shapes" in e for e in seen):
            widest["shapes"] = sorted({tuple(shape) for e in seen for shape in e["shapes"]})
        return widest

    def beyond_envelope(
        self, backend: str, hw_family: str, model_class: str, per_rank_concurrency, dp, ep, gpus, tp
    ) -> np.ndarray:
        """True where a deployment lies outside what ``backend`` was measured at: an extrapolation.

        Beyond means more running requests per attention rank, wider attention-DP, EP or engine, or an engine
        shape (attention TP × attention DP) that no measured point of that backend on that hardware family and
        model class ran: the shape sets how the engine communicates, which the fit knows only where measured.
        """
        env = self.envelope_of(backend, hw_family, model_class)
        if not env:
            return np.ones(np.shape(per_rank_concurrency), dtype=bool)
        out = (
            (np.asarray(per_rank_concurrency) > env["per_rank_concurrency"] * 1.0001)
            | (np.asarray(dp) > env["dp"])
            | (np.asarray(ep) > env["ep"])
            | (np.asarray(gpus) > env["gpus"])
        )
        if "shapes" in env:
            seen = shape_key(*np.array(env["shapes"]).T)
            out |= ~np.isin(shape_key(tp, dp, ep), seen)
        return out

    def source_of(self, backend: str, family: str) -> str:
        """Which fitted parameters a prediction rests on (for output notes)."""
        if f"{backend}/{family}" in self.params:
            return f"fitted on {backend}/{family}"
        if backend in self.params:
            return f"fitted on {backend}, no {family} data"
        return "default (no data for this backend)"

    def to_json(self) -> dict[str, Any]:
        return {
            "fitted_at": self.fitted_at,
            "data_sha256": self.data_sha256,
            "n_points": self.n_points,
            "notes": self.notes,
            "params": self.params,
        }

    def save(self, path: str | Path) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(self.to_json(), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Calibration:
        return cls(
            params=data["params"],
            fitted_at=data.get("fitted_at", ""),
            data_sha256=data.get("data_sha256", ""),
            n_points=data.get("n_points", 0),
            notes=data.get("notes", {}),
        )


def combine(base: dict[str, float], tweak: dict[str, float] | None) -> Efficiency:
    """A backend's base parameters times a hardware family's multipliers, clipped to what is physical."""
    eff = Efficiency(**{k: v for k, v in base.items() if k in BASE_NAMES})
    if tweak:
        eff = replace(eff, **{k: getattr(eff, k) * v for k, v in tweak.items()})
    return eff.physical()


@functools.cache
def _packaged_json() -> str:
    return PACKAGED.read_text(encoding="utf-8")


def load_calibration(path: str | Path | None = None) -> Calibration:
    """The packaged calibration (read once per process), or one written by `tokenomy calibrate --out FILE`."""
    text = Path(path).read_text(encoding="utf-8") if path else _packaged_json()
    return Calibration.from_json(json.loads(text))


def _to_log(eff: Efficiency) -> np.ndarray:
    return np.log([getattr(eff, k) for k in BASE_NAMES])


def _log_bounds(names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    lo = np.log([BOUNDS[k][0] for k in names])
    hi = np.log([BOUNDS[k][1] for k in names])
    return lo, hi


@dataclass
class Measured:
    """Measured medians aligned with the points (NaN where a file has none)."""

    ttft_ms: np.ndarray
    tpot_ms: np.ndarray
    tok_s_per_gpu: np.ndarray  # (input + output) tok/s per GPU, only where the file measured it (InferenceX)
    weight: np.ndarray | None = None  # per point: PARETO_WEIGHT on its group's measured Pareto points, else 1
    ttft_weight: np.ndarray | None = (
        None  # per point: how much its TTFT counts (clients measure it differently)
    )

    def masked(self, keep: np.ndarray) -> Measured:
        arrays = (self.ttft_ms, self.tpot_ms, self.tok_s_per_gpu)
        return Measured(
            *(np.where(keep, a, np.nan) for a in arrays), weight=self.weight, ttft_weight=self.ttft_weight
        )


def fit_backend(
    groups: Sequence,
    n_points: int,
    measured: Measured,
    predict: Callable,
    start: Efficiency | None = None,
    families: Sequence[str] = (),
    max_nfev: int = 60,
    held: Sequence[str] = (),
    mtp_precisions: Sequence[str] = (),
) -> dict[str, dict[str, float]]:
    """Fit one backend's base parameters, its per-family multipliers and its MTP acceptance per precision
    (least squares on log errors). Parameters named in ``held`` keep their start value: no data pins them.
    """
    start = start or Efficiency()
    fams, precs = list(families), list(mtp_precisions)
    nb, nf = len(BASE_NAMES), len(FAMILY_NAMES)
    n_fam = nf * len(fams)
    acc0 = np.log(np.full(len(precs), DEFAULT_MTP_ACCEPTANCE))
    full0 = np.concatenate([_to_log(start), np.zeros(n_fam), acc0])
    free = np.array([i >= nb or BASE_NAMES[i] not in held for i in range(full0.size)])
    lo_b, hi_b = _log_bounds(BASE_NAMES)
    lo = np.concatenate([lo_b, np.full(n_fam, np.log(0.33)), np.full(len(precs), np.log(MTP_BOUNDS[0]))])
    hi = np.concatenate([hi_b, np.full(n_fam, np.log(3.0)), np.full(len(precs), np.log(MTP_BOUNDS[1]))])
    full0 = np.where(free, np.clip(full0, lo + 1e-9, hi - 1e-9), full0)
    n_free_base = int(free[:nb].sum())
    targets = [
        (measured.tpot_ms, "tpot_ms", 1.0),
        (measured.ttft_ms, "ttft_ms", TTFT_WEIGHT),
        (measured.tok_s_per_gpu, "tok_s_per_gpu", TPUT_WEIGHT),
    ]
    weight = measured.weight if measured.weight is not None else np.ones(n_points)
    ttft_w = measured.ttft_weight if measured.ttft_weight is not None else np.ones(n_points)
    seen = [
        (has := np.isfinite(m), m, attr, w * weight[has] * (ttft_w[has] if attr == "ttft_ms" else 1.0))
        for m, attr, w in targets
    ]
    sparsity = _jacobian_sparsity(groups, n_points, seen, fams, precs, free, nb, nf)

    def unpack(x_free: np.ndarray) -> dict[str, dict[str, float]]:
        x = full0.copy()
        x[free] = x_free
        base = dict(zip(BASE_NAMES, np.exp(x[:nb]).tolist(), strict=True))
        params = {"base": base}
        for j, fam in enumerate(fams):
            params[fam] = dict(
                zip(FAMILY_NAMES, np.exp(x[nb + j * nf : nb + (j + 1) * nf]).tolist(), strict=True)
            )
        params["mtp"] = dict(zip(precs, np.exp(x[nb + n_fam :]).tolist(), strict=True))
        return params

    def residuals(x_free: np.ndarray) -> np.ndarray:
        params = unpack(x_free)
        pred = predict(
            groups,
            n_points,
            lambda _b, family: combine(params["base"], params.get(family)),
            fill_notes=False,
            acceptance_for=lambda _b, prec: params["mtp"].get(prec, DEFAULT_MTP_ACCEPTANCE),
        )
        parts = [w * np.log(getattr(pred, attr) / m)[has] for has, m, attr, w in seen]
        r = np.concatenate(parts)
        r = np.where(np.isfinite(r), r, 3.0)  # infeasible (out of memory) counts as a large error
        ridge = x_free[n_free_base : n_free_base + n_fam]  # family multipliers are pulled toward 1
        return np.concatenate([r, FAMILY_RIDGE * ridge])

    sol = least_squares(
        residuals,
        full0[free],
        bounds=(lo[free], hi[free]),
        loss="soft_l1",
        f_scale=0.05,
        max_nfev=max_nfev,
        x_scale=1.0,
        diff_step=1e-3,
        jac_sparsity=sparsity,
    )
    return unpack(sol.x)


def _jacobian_sparsity(groups, n_points, seen, fams, precs, free, nb, nf) -> np.ndarray:
    """Which residuals each parameter can move: base parameters all; a family's multipliers its own rows;
    an MTP acceptance its precision's MTP rows; each ridge term its own multiplier. Finite differences then
    perturb independent columns together (several times fewer model evaluations per step)."""
    family = np.full(n_points, "", dtype=object)
    mtp_prec = np.full(n_points, "", dtype=object)
    for g in groups:
        family[g.indices] = g.family
        if g.mtp:
            mtp_prec[g.indices] = g.precision
    fam_rows = np.concatenate([family[has] for has, *_ in seen])
    mtp_rows = np.concatenate([mtp_prec[has] for has, *_ in seen])
    n_fam = nf * len(fams)
    cols = [np.ones(fam_rows.size, dtype=bool)] * nb
    cols += [fam_rows == fams[j // nf] for j in range(n_fam)]
    cols += [mtp_rows == p for p in precs]
    data = np.column_stack(cols)[:, free]
    ridge = np.zeros((n_fam, data.shape[1]), dtype=bool)
    n_free_base = int(free[:nb].sum())
    ridge[np.arange(n_fam), n_free_base + np.arange(n_fam)] = True
    return np.vstack([data, ridge]).astype(int)


def center_families(
    base: dict[str, float], tweaks: dict[str, dict[str, float]]
) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """Move the families' geometric-mean multiplier into the base, so the base is the typical family.

    Predictions on fitted families do not change; hardware of a family without data (AMD, Ascend) is then
    predicted with the average of the measured families, not with whatever the ridge left in the base.
    """
    if not tweaks:
        return base, tweaks
    shift = {k: float(np.exp(np.mean([np.log(t[k]) for t in tweaks.values()]))) for k in FAMILY_NAMES}
    centered = {fam: {k: v / shift[k] for k, v in t.items()} for fam, t in tweaks.items()}
    return {k: v * shift.get(k, 1.0) for k, v in base.items()}, centered


def fit_calibration(
    groups: Sequence,
    n_points: int,
    measured: Measured,
    predict: Callable,
    data_sha256: str = "",
    start: Calibration | None = None,
    max_nfev: int = 60,
    progress: Callable[[str], None] | None = None,
) -> Calibration:
    """Fit every backend present in ``groups``; returns a Calibration with a default for unseen backends.

    What pins what: aggregated rows pin the step efficiencies and overheads; disaggregated rows pin the KV
    hand-off and the prefill pool's queueing (held at their defaults for a backend without such rows); MTP rows
    pin the acceptance per precision; each hardware family's rows pin its five multipliers.
    """
    params: dict[str, dict[str, float]] = {"mtp": {}}
    backends = sorted({g.backend for g in groups if not g.error})
    for backend in backends:
        if progress:
            progress(backend)
        sub = [g for g in groups if g.backend == backend and not g.error]
        idx = np.concatenate([g.indices for g in sub])
        mask = np.zeros(n_points, dtype=bool)
        mask[idx] = True
        families = sorted({g.family for g in sub})
        held = [] if any(g.dequantizes for g in sub) else ["dequant_eff"]
        if not any(g.mode == "disagg" for g in sub):
            held += list(DISAGG_NAMES)
        start_eff = start.efficiency(backend) if start else None
        fitted = fit_backend(
            sub,
            n_points,
            measured.masked(mask),
            predict,
            start=start_eff,
            families=families if len(families) > 1 else [],
            max_nfev=max_nfev,
            held=held,
            mtp_precisions=sorted({g.precision for g in sub if g.mtp}),
        )
        for prec, acc in fitted.pop("mtp").items():
            params["mtp"][f"{backend}/{prec}"] = acc
        base, tweaks = center_families(fitted.pop("base"), fitted)
        params[backend] = base
        for fam, tweak in tweaks.items():
            params[f"{backend}/{fam}"] = tweak
    if backends:
        logs = np.array([[np.log(params[b][k]) for k in BASE_NAMES] for b in backends])
        params["default"] = dict(zip(BASE_NAMES, np.exp(logs.mean(axis=0)).tolist(), strict=True))
    else:
        params["default"] = Efficiency().as_dict()
    return Calibration(
        params=params,
        fitted_at=dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        data_sha256=data_sha256,
        n_points=int(np.isfinite(measured.tpot_ms).sum()),
        notes={
            "method": f"scipy.optimize.least_squares, soft-L1 on log errors; TTFT weight {TTFT_WEIGHT}, "
            f"throughput weight {TPUT_WEIGHT}, measured Pareto points ×{PARETO_WEIGHT}; family ridge {FAMILY_RIDGE}",
            "envelope": envelope(groups, measured.tpot_ms),
            "pinned_by": PINNED_BY,
        },
    )


def arch_class(arch) -> str:
    """Coarse model family for the calibration envelope: dense, moe (GQA experts) or mla-moe."""
    if not arch.is_moe:
        return "dense"
    return "mla-moe" if arch.attention == "mla" else "moe"


def envelope_key(arch, mode: str, mtp: bool = False) -> str:
    """Envelopes are kept per model class and way of serving: 'mla-moe/agg', 'dense/disagg', 'mla-moe/agg+mtp', …"""
    return f"{arch_class(arch)}/{mode}" + ("+mtp" if mtp else "")


def envelope(
    groups: Sequence, measured_tpot: np.ndarray
) -> dict[str, dict[str, dict[str, dict[str, float]]]]:
    """What the fit has seen, per backend, hardware family, model class and way of serving: the largest running
    batch per attention rank (the client's concurrency per rank; per decode rank when disaggregated), DP, EP and
    engine, and the engine shapes (attention TP, attention DP) run.

    Frontier points beyond it are extrapolations and are marked as such.
    """
    out: dict[str, dict[str, dict[str, dict[str, float]]]] = {}
    for g in groups:
        if g.error:
            continue
        seen = np.isfinite(measured_tpot[g.indices])
        if not seen.any():
            continue
        par, work = g.par, g.work
        per_rank = work.concurrency / par.dp
        if g.mode == "disagg":
            per_rank = work.concurrency / (par.dp * g.decode_workers)
        env = (
            out.setdefault(g.backend, {})
            .setdefault(g.family, {})
            .setdefault(
                envelope_key(g.arch, g.mode, g.mtp), {"per_rank_concurrency": 0, "dp": 1, "ep": 1, "gpus": 1}
            )
        )
        env["per_rank_concurrency"] = max(env["per_rank_concurrency"], float(per_rank[seen].max()))
        env["dp"] = max(env["dp"], int(par.dp[seen].max()))
        env["ep"] = max(env["ep"], int(par.moe_ep[seen].max()))
        env["gpus"] = max(env["gpus"], int(par.gpus[seen].max()))
        shapes = {
            (int(t), int(d), int(e))
            for t, d, e in zip(par.tp[seen], par.dp[seen], par.moe_ep[seen], strict=True)
        }
        env["shapes"] = sorted({tuple(shape) for shape in env.get("shapes", [])} | shapes)
    return out
