"""Calibration: efficiency parameters per backend, refined per (backend, hardware family), fitted to measurements.

Two levels keep the parameter count small and let new hardware be predicted from its specs alone:
a backend's base parameters (14) fitted on all its points, and, per hardware family with data, multipliers on
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
    "prefill_interference": (0.01, 5.0),
    "dequant_eff": (0.2, 1.0),
}
FAMILY_RIDGE = 3.0  # residual weight per unit of log-multiplier: keeps family tweaks small
TTFT_WEIGHT = 0.7  # TTFT residuals count half as much as TPOT (TTFT is noisier and depends on the client)
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

    def beyond_envelope(self, backend: str, family: str, per_rank_concurrency, dp, ep, gpus) -> np.ndarray:
        """True where a deployment lies outside what this backend was calibrated on for this model family
        (see :func:`arch_class`): an extrapolation."""
        env = self.notes.get("envelope", {}).get(backend.lower(), {}).get(family)
        if not env:
            return np.ones(np.shape(per_rank_concurrency), dtype=bool)
        return (
            (np.asarray(per_rank_concurrency) > env["per_rank_concurrency"] * 1.5)
            | (np.asarray(dp) > env["dp"])
            | (np.asarray(ep) > env["ep"])
            | (np.asarray(gpus) > env["gpus"])
        )

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


def fit_backend(
    groups: Sequence,
    n_points: int,
    measured_ttft: np.ndarray,
    measured_tpot: np.ndarray,
    predict: Callable,
    start: Efficiency | None = None,
    families: Sequence[str] = (),
    max_nfev: int = 60,
    held: Sequence[str] = (),
) -> dict[str, dict[str, float]]:
    """Fit one backend's base parameters and its per-family multipliers (least squares on log errors).

    Parameters named in ``held`` keep their start value: the data says nothing about them.
    """
    start = start or Efficiency()
    fams = list(families)
    nb, nf = len(BASE_NAMES), len(FAMILY_NAMES)
    full0 = np.concatenate([_to_log(start), np.zeros(nf * len(fams))])
    free = np.array([i >= nb or BASE_NAMES[i] not in held for i in range(full0.size)])
    lo_b, hi_b = _log_bounds(BASE_NAMES)
    lo = np.concatenate([lo_b, np.full(nf * len(fams), np.log(0.33))])
    hi = np.concatenate([hi_b, np.full(nf * len(fams), np.log(3.0))])
    full0 = np.where(free, np.clip(full0, lo + 1e-9, hi - 1e-9), full0)
    n_free_base = int(free[:nb].sum())
    has_tpot = np.isfinite(measured_tpot)
    has_ttft = np.isfinite(measured_ttft)

    def unpack(x_free: np.ndarray) -> dict[str, dict[str, float]]:
        x = full0.copy()
        x[free] = x_free
        base = dict(zip(BASE_NAMES, np.exp(x[:nb]).tolist(), strict=True))
        params = {"base": base}
        for j, fam in enumerate(fams):
            params[fam] = dict(
                zip(FAMILY_NAMES, np.exp(x[nb + j * nf : nb + (j + 1) * nf]).tolist(), strict=True)
            )
        return params

    def efficiency_for(params: dict[str, dict[str, float]]) -> Callable[[str, str], Efficiency]:
        def get(_backend: str, family: str) -> Efficiency:
            return combine(params["base"], params.get(family))

        return get

    def residuals(x_free: np.ndarray) -> np.ndarray:
        pred = predict(groups, n_points, efficiency_for(unpack(x_free)), fill_notes=False)
        r_tpot = np.log(pred.tpot_ms / measured_tpot)[has_tpot]
        r_ttft = TTFT_WEIGHT * np.log(pred.ttft_ms / measured_ttft)[has_ttft]
        r = np.concatenate([r_tpot, r_ttft])
        r = np.where(np.isfinite(r), r, 3.0)  # infeasible (out of memory) counts as a large error
        return np.concatenate([r, FAMILY_RIDGE * x_free[n_free_base:]])  # family multipliers come last

    sol = least_squares(
        residuals,
        full0[free],
        bounds=(lo[free], hi[free]),
        loss="soft_l1",
        f_scale=0.05,
        max_nfev=max_nfev,
        x_scale=1.0,
        diff_step=1e-3,
    )
    return unpack(sol.x)


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
    measured_ttft: np.ndarray,
    measured_tpot: np.ndarray,
    predict: Callable,
    data_sha256: str = "",
    start: Calibration | None = None,
    max_nfev: int = 60,
    progress: Callable[[str], None] | None = None,
) -> Calibration:
    """Fit every backend present in ``groups``; returns a Calibration with a default for unseen backends."""
    params: dict[str, dict[str, float]] = {}
    backends = sorted({g.backend for g in groups if not g.error})
    for backend in backends:
        if progress:
            progress(backend)
        sub = [g for g in groups if g.backend == backend and not g.error]
        idx = np.concatenate([g.indices for g in sub])
        mask = np.zeros(n_points, dtype=bool)
        mask[idx] = True
        families = sorted({g.family for g in sub})
        start_eff = start.efficiency(backend) if start else None
        fitted = fit_backend(
            sub,
            n_points,
            np.where(mask, measured_ttft, np.nan),
            np.where(mask, measured_tpot, np.nan),
            predict,
            start=start_eff,
            families=families if len(families) > 1 else [],
            max_nfev=max_nfev,
            held=[] if any(g.dequantizes for g in sub) else ["dequant_eff"],
        )
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
        n_points=int(np.isfinite(measured_tpot).sum()),
        notes={
            "method": f"scipy.optimize.least_squares, soft-L1 on log errors; TTFT weight {TTFT_WEIGHT}; "
            f"family ridge {FAMILY_RIDGE}",
            "envelope": envelope(groups, measured_tpot),
        },
    )


def arch_class(arch) -> str:
    """Coarse model family for the calibration envelope: dense, moe (GQA experts) or mla-moe."""
    if not arch.is_moe:
        return "dense"
    return "mla-moe" if arch.attention == "mla" else "moe"


def envelope(groups: Sequence, measured_tpot: np.ndarray) -> dict[str, dict[str, dict[str, float]]]:
    """What the fit has seen, per backend and model family: the largest concurrency per attention rank, DP, EP and engine.

    Frontier points beyond it are extrapolations and are marked as such.
    """
    out: dict[str, dict[str, dict[str, float]]] = {}
    for g in groups:
        if g.error:
            continue
        seen = np.isfinite(measured_tpot[g.indices])
        if not seen.any():
            continue
        par, work = g.par, g.work
        by_class = out.setdefault(g.backend, {})
        env = by_class.setdefault(
            arch_class(g.arch), {"per_rank_concurrency": 0, "dp": 1, "ep": 1, "gpus": 1}
        )
        env["per_rank_concurrency"] = max(
            env["per_rank_concurrency"], float((work.concurrency / par.dp)[seen].max())
        )
        env["dp"] = max(env["dp"], int(par.dp[seen].max()))
        env["ep"] = max(env["ep"], int(par.moe_ep[seen].max()))
        env["gpus"] = max(env["gpus"], int(par.gpus[seen].max()))
    return out
