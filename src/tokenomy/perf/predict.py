"""Predict measured-style points (rows of calibration.csv) with the serving model and a calibration."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tokenomy.catalog import Catalog, UnknownIdError, catalog
from tokenomy.catalog.schema import MissingFigureError
from tokenomy.perf.calibration import Calibration, load_calibration
from tokenomy.perf.hardware import HardwareSpec, default_kv_precision, hardware_spec
from tokenomy.perf.ops import Parallel, Precision, serving_precision
from tokenomy.perf.serving import Efficiency, ServingResult, Workload, dequantized_ops, predict_serving
from tokenomy.points import Point

GroupKey = tuple[str, str, str, str, str]


@dataclass
class PointGroup:
    """Points that share model, hardware, precision and backend: evaluated in one vectorized call."""

    key: GroupKey
    indices: np.ndarray
    arch: object | None
    hw: HardwareSpec | None
    prec: Precision | None
    par: Parallel | None
    work: Workload | None
    error: str | None = None

    @property
    def backend(self) -> str:
        return self.key[4]

    @property
    def family(self) -> str:
        return self.hw.family if self.hw else ""

    @property
    def dequantizes(self) -> bool:
        """Whether some weights are stored in a format this hardware has no tensor cores for."""
        return bool(self.hw and self.prec and dequantized_ops(self.hw, self.prec))


def group_points(points: Sequence[Point], cat: Catalog | None = None) -> list[PointGroup]:
    """Resolve each distinct (model, system, precisions, backend) once; a failure becomes the group's note."""
    cat = cat or catalog()
    buckets: dict[GroupKey, list[int]] = defaultdict(list)
    for i, p in enumerate(points):
        buckets[(p.model_path, p.system, p.gemm_precision, p.moe_precision, p.backend)].append(i)
    groups = []
    for key, idx in buckets.items():
        model_path, system, gemm, moe, backend = key
        sel = [points[i] for i in idx]
        try:
            model, default_prec = cat.model_variant(model_path)
            hw = hardware_spec(system, cat)
        except (UnknownIdError, MissingFigureError) as exc:
            groups.append(PointGroup(key, np.array(idx), None, None, None, None, None, error=str(exc)))
            continue
        weights = gemm or default_prec
        experts = moe or weights
        arch = model.architecture
        prec = serving_precision(arch, weights, experts, default_kv_precision(weights, backend))
        moe_tp = np.array([p.moe_tp for p in sel])
        moe_ep = np.array([p.moe_ep for p in sel])
        tp = np.array([p.tp for p in sel])
        dp = np.array([p.dp for p in sel])
        if arch.is_moe:
            # aiconfigurator's convention: tp × dp = moe_tp × moe_ep; repair rows that leave MoE-TP implicit.
            bad = tp * dp != moe_tp * moe_ep
            moe_tp = np.where(bad, np.maximum(tp * dp // np.maximum(moe_ep, 1), 1), moe_tp)
        par = Parallel(tp=tp, pp=np.array([p.pp for p in sel]), dp=dp, moe_tp=moe_tp, moe_ep=moe_ep)
        work = Workload(
            isl=np.array([p.isl for p in sel], dtype=float),
            osl=np.array([p.osl for p in sel], dtype=float),
            concurrency=np.array([p.concurrency for p in sel], dtype=float),
        )
        groups.append(PointGroup(key, np.array(idx), arch, hw, prec, par, work))
    return groups


@dataclass
class Predictions:
    ttft_ms: np.ndarray
    tpot_ms: np.ndarray
    tput_per_gpu: np.ndarray
    output_tput_per_gpu: np.ndarray
    notes: list[str]

    @property
    def covered(self) -> np.ndarray:
        return np.array([n == "" for n in self.notes])


def predict_groups(
    groups: Sequence[PointGroup], n: int, efficiency_for, fill_notes: bool = True
) -> Predictions:
    """Evaluate every group with ``efficiency_for(backend, family) -> Efficiency``."""
    out = {k: np.full(n, np.nan) for k in ("ttft", "tpot", "tput", "otput")}
    notes = [""] * n
    for g in groups:
        if g.error:
            for i in g.indices:
                notes[i] = g.error
            continue
        eff: Efficiency = efficiency_for(g.backend, g.family)
        res: ServingResult = predict_serving(g.arch, g.hw, g.prec, g.par, g.work, eff)
        out["ttft"][g.indices] = res.ttft_ms
        out["tpot"][g.indices] = res.tpot_ms
        out["tput"][g.indices] = res.tput_per_gpu
        out["otput"][g.indices] = res.output_tput_per_gpu
        if fill_notes:
            cap = g.hw.memory_bytes / 1e9
            for j, i in enumerate(g.indices):
                if not res.fits[j]:
                    notes[i] = (
                        f"does not fit: {res.memory_per_gpu_gb[j]:.0f} GB per GPU needed "
                        f"(weights + KV), {cap:.0f} GB on {g.hw.id}"
                    )
    return Predictions(out["ttft"], out["tpot"], out["tput"], out["otput"], notes)


def predict_points(
    points: Sequence[Point], calibration: Calibration | None = None, cat: Catalog | None = None
) -> Predictions:
    """Predicted TTFT, TPOT and tput_per_gpu for each point, with a note where a point cannot be predicted."""
    calibration = calibration or load_calibration()
    groups = group_points(points, cat)
    return predict_groups(groups, len(points), calibration.efficiency)
