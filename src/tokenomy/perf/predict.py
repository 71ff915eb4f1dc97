"""Predict measured-style points (rows of a serving-points CSV) with the serving model and a calibration.

Rows that share model, hardware, precisions, backend, serving mode and speculative decoding are evaluated in one
vectorized call: aggregated rows with :func:`predict_serving`, disaggregated rows with
:func:`predict_disaggregated`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from tokenomy.catalog import Catalog, UnknownIdError, catalog
from tokenomy.catalog.architecture import Architecture
from tokenomy.catalog.schema import MissingFigureError
from tokenomy.perf.calibration import DEFAULT_MTP_ACCEPTANCE, Calibration, load_calibration
from tokenomy.perf.hardware import HardwareSpec, default_kv_precision, hardware_spec
from tokenomy.perf.ops import Parallel, Precision, serving_precision
from tokenomy.perf.serving import (
    Efficiency,
    ServingOptions,
    ServingResult,
    Workload,
    dequantized_ops,
    predict_disaggregated,
    predict_serving,
)
from tokenomy.points import Point

GroupKey = tuple[str, str, str, str, str, str, str]  # model, system, gemm, moe, backend, mode, spec_method
EfficiencyFor = Callable[[str, str], Efficiency]
AcceptanceFor = Callable[[str, str], float]


@dataclass(frozen=True)
class EngineLimits:
    """What an engine's configuration bounds: its running batch per attention rank and MTP draft length."""

    max_running_per_rank: float = np.inf
    mtp_draft_tokens: int = 3


def engine_limits(backend: str, cat: Catalog | None = None) -> EngineLimits:
    """The catalog's limits of ``backend``; an engine the catalog does not know is unbounded."""
    cat = cat or catalog()
    try:
        eng = cat.engine(backend)
    except UnknownIdError:
        return EngineLimits()
    return EngineLimits(
        max_running_per_rank=eng.value("max_running_per_rank") or np.inf,
        mtp_draft_tokens=int(eng.value("mtp_draft_tokens") or 3),
    )


def _parallel(rows: Sequence, attr: str | None = None) -> Parallel:
    """Stack the engines of ``rows`` (points, or their ``prefill`` / ``decode`` pools) into arrays."""
    engines = [getattr(r, attr).engine if attr else r.engine for r in rows]
    return Parallel(
        *(np.array([getattr(e, k) for e in engines]) for k in ("tp", "pp", "dp", "moe_tp", "moe_ep"))
    )


def _repair_moe(arch: Architecture, par: Parallel) -> Parallel:
    """aiconfigurator's convention tp × dp = moe_tp × moe_ep: repair rows that leave MoE-TP implicit."""
    if not arch.is_moe:
        return par
    bad = par.tp * par.dp != par.moe_tp * par.moe_ep
    moe_tp = np.where(bad, np.maximum(par.tp * par.dp // np.maximum(par.moe_ep, 1), 1), par.moe_tp)
    return Parallel(par.tp, par.pp, par.dp, moe_tp, par.moe_ep)


@dataclass
class PointGroup:
    """Points that share model, hardware, precision, backend, mode and MTP: evaluated in one vectorized call."""

    key: GroupKey
    indices: np.ndarray
    arch: Architecture | None
    hw: HardwareSpec | None
    prec: Precision | None
    par: Parallel | None  # the engine (aggregated) or the decode engine (disaggregated)
    work: Workload | None
    error: str | None = None
    prefill_par: Parallel | None = None
    prefill_workers: np.ndarray | None = None
    decode_workers: np.ndarray | None = None
    limits: EngineLimits = EngineLimits()
    run_share: np.ndarray | float = 1.0  # share of steady throughput each row's finite benchmark run measured
    cache: dict = field(default_factory=dict)  # what does not depend on the efficiencies, kept across a fit

    @property
    def backend(self) -> str:
        return self.key[4]

    @property
    def mode(self) -> str:
        return self.key[5]

    @property
    def mtp(self) -> bool:
        return self.key[6] == "mtp"

    @property
    def precision(self) -> str:
        """The experts' precision (the one MTP acceptance is fitted per)."""
        return self.key[3] or self.key[2]

    @property
    def family(self) -> str:
        return self.hw.family if self.hw else ""

    @property
    def dequantizes(self) -> bool:
        """Whether some weights are stored in a format this hardware has no tensor cores for."""
        return bool(self.hw and self.prec and dequantized_ops(self.hw, self.prec))

    def predict(self, eff: Efficiency, acceptance: float = 0.0) -> ServingResult:
        """The serving model on this group's rows."""
        opts = ServingOptions(
            mtp_draft_tokens=self.limits.mtp_draft_tokens if self.mtp else 0,
            mtp_acceptance=acceptance if self.mtp else 0.0,
            max_running_per_rank=self.limits.max_running_per_rank,
        )
        if self.mode == "disagg":
            return predict_disaggregated(
                self.arch,
                self.hw,
                self.prec,
                self.prefill_par,
                self.prefill_workers,
                self.par,
                self.decode_workers,
                self.work,
                eff,
                options=opts,
                cache=self.cache,
            )
        return predict_serving(
            self.arch, self.hw, self.prec, self.par, self.work, eff, options=opts, cache=self.cache
        )


def group_points(points: Sequence[Point], cat: Catalog | None = None) -> list[PointGroup]:
    """Resolve each distinct group once; a failure becomes the group's note, a bad row its own note."""
    cat = cat or catalog()
    buckets: dict[GroupKey, list[int]] = defaultdict(list)
    groups = []
    for i, p in enumerate(points):
        if p.error:
            key = ("", "", "", "", "", "error", p.error)
            groups.append(PointGroup(key, np.array([i]), None, None, None, None, None, error=p.error))
            continue
        key = (p.model_path, p.system, p.gemm_precision, p.moe_precision, p.backend, p.mode, p.spec_method)
        buckets[key].append(i)
    for key, idx in buckets.items():
        model_path, system, gemm, moe, backend, mode, _spec = key
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
        work = Workload(
            isl=np.array([p.mean_isl for p in sel], dtype=float),
            osl=np.array([p.mean_osl for p in sel], dtype=float),
            concurrency=np.array([p.concurrency for p in sel], dtype=float),
            waves=np.array([0.0 if p.lengths_vary else 1.0 for p in sel]),
        )
        group = PointGroup(
            key,
            np.array(idx),
            arch,
            hw,
            prec,
            _repair_moe(arch, _parallel(sel)),
            work,
            limits=engine_limits(backend, cat),
            run_share=np.array([p.run_share for p in sel]),
        )
        if mode == "disagg":
            group.par = _repair_moe(arch, _parallel(sel, "decode"))
            group.prefill_par = _repair_moe(arch, _parallel(sel, "prefill"))
            group.prefill_workers = np.array([p.prefill.workers for p in sel], dtype=float)
            group.decode_workers = np.array([p.decode.workers for p in sel], dtype=float)
        groups.append(group)
    return groups


@dataclass
class Predictions:
    ttft_ms: np.ndarray
    tpot_ms: np.ndarray
    tok_s_per_gpu: np.ndarray
    output_tok_s_per_gpu: np.ndarray
    notes: list[str]

    @property
    def covered(self) -> np.ndarray:
        return np.array([n == "" for n in self.notes])


def predict_groups(
    groups: Sequence[PointGroup],
    n: int,
    efficiency_for: EfficiencyFor,
    fill_notes: bool = True,
    acceptance_for: AcceptanceFor | None = None,
) -> Predictions:
    """Evaluate every group with ``efficiency_for(backend, family)`` and MTP ``acceptance_for(backend, precision)``."""
    out = {k: np.full(n, np.nan) for k in ("ttft", "tpot", "tput", "otput")}
    notes = [""] * n
    accept = acceptance_for or (lambda _b, _p: DEFAULT_MTP_ACCEPTANCE)
    for g in groups:
        if g.error:
            for i in g.indices:
                notes[i] = g.error
            continue
        res = g.predict(efficiency_for(g.backend, g.family), accept(g.backend, g.precision))
        out["ttft"][g.indices] = res.ttft_ms
        out["tpot"][g.indices] = res.tpot_ms
        out["tput"][g.indices] = res.tok_s_per_gpu * g.run_share
        out["otput"][g.indices] = res.output_tok_s_per_gpu * g.run_share
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
    """Predicted TTFT, TPOT and tok_s_per_gpu for each point, with a note where a point cannot be predicted."""
    calibration = calibration or load_calibration()
    groups = group_points(points, cat)
    return predict_groups(
        groups, len(points), calibration.efficiency, acceptance_for=calibration.mtp_acceptance
    )
