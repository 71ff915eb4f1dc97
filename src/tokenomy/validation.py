"""Accuracy of the production model against measured points: in-sample and leave-one-group-out.

Errors are absolute percentage errors |predicted / measured − 1|; we report their median (MdAPE) and 90th
percentile, overall and by system, model, backend and ISL/OSL. A point the model cannot predict counts
against coverage and is excluded from the error statistics.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from tokenomy.perf.calibration import Calibration, fit_calibration, load_calibration
from tokenomy.perf.predict import Predictions, group_points, predict_groups
from tokenomy.points import Point

METRICS = ("ttft", "tpot", "tput_per_gpu")
CV_KEYS: dict[str, Callable[[Point], str]] = {
    "system": lambda p: p.system,
    "model": lambda p: p.model_path,
    "backend": lambda p: p.backend,
}
BREAKDOWNS: dict[str, Callable[[Point], str]] = {
    **CV_KEYS,
    "isl_osl": lambda p: f"{p.isl}/{p.osl}",
}


@dataclass
class ErrorStats:
    n: int
    mdape: float | None
    p90_ape: float | None

    def as_dict(self) -> dict[str, float | int | None]:
        return {"n": self.n, "mdape": self.mdape, "p90_ape": self.p90_ape}


@dataclass
class ValidationReport:
    """Error statistics of one set of predictions against measurements."""

    n_points: int
    coverage: float
    overall: dict[str, ErrorStats]
    by: dict[str, dict[str, dict[str, ErrorStats]]] = field(default_factory=dict)
    mode: str = "in-sample"
    calibration: dict[str, object] = field(default_factory=dict)
    uncovered_reasons: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {
            "mode": self.mode,
            "n_points": self.n_points,
            "coverage": self.coverage,
            "overall": {m: s.as_dict() for m, s in self.overall.items()},
            "by": {
                dim: {grp: {m: s.as_dict() for m, s in stats.items()} for grp, stats in groups.items()}
                for dim, groups in self.by.items()
            },
            "calibration": self.calibration,
            "uncovered_reasons": self.uncovered_reasons,
        }


def _stats(ape: np.ndarray) -> ErrorStats:
    ape = ape[np.isfinite(ape)]
    if ape.size == 0:
        return ErrorStats(0, None, None)
    return ErrorStats(int(ape.size), float(np.median(ape)), float(np.percentile(ape, 90)))


def absolute_percentage_errors(points: Sequence[Point], pred: Predictions) -> dict[str, np.ndarray]:
    measured = {
        "ttft": np.array([p.measured_ttft_ms if p.measured_ttft_ms else np.nan for p in points], dtype=float),
        "tpot": np.array([p.measured_tpot_ms if p.measured_tpot_ms else np.nan for p in points], dtype=float),
        "tput_per_gpu": np.array([p.measured_tput_per_gpu or np.nan for p in points], dtype=float),
    }
    predicted = {"ttft": pred.ttft_ms, "tpot": pred.tpot_ms, "tput_per_gpu": pred.tput_per_gpu}
    return {m: np.abs(predicted[m] / measured[m] - 1.0) for m in METRICS}


def report(points: Sequence[Point], pred: Predictions, mode: str = "in-sample") -> ValidationReport:
    ape = absolute_percentage_errors(points, pred)
    has_measure = np.array([p.measured_tpot_ms is not None or p.measured_ttft_ms is not None for p in points])
    covered = pred.covered & has_measure
    coverage = float(covered.sum() / max(has_measure.sum(), 1))
    overall = {m: _stats(ape[m][covered]) for m in METRICS}
    by: dict[str, dict[str, dict[str, ErrorStats]]] = {}
    for dim, key in BREAKDOWNS.items():
        idx: dict[str, list[int]] = defaultdict(list)
        for i, p in enumerate(points):
            idx[key(p)].append(i)
        by[dim] = {
            grp: {m: _stats(ape[m][np.array(ii)][covered[np.array(ii)]]) for m in METRICS}
            for grp, ii in sorted(idx.items())
        }
    reasons: dict[str, int] = defaultdict(int)
    for note in pred.notes:
        if note:
            reasons[note.split(":")[0]] += 1
    return ValidationReport(len(points), coverage, overall, by, mode, uncovered_reasons=dict(reasons))


def measured_arrays(points: Sequence[Point]) -> tuple[np.ndarray, np.ndarray]:
    ttft = np.array([p.measured_ttft_ms or np.nan for p in points], dtype=float)
    tpot = np.array([p.measured_tpot_ms or np.nan for p in points], dtype=float)
    return ttft, tpot


def calibrate(
    points: Sequence[Point], data_sha256: str = "", progress: Callable[[str], None] | None = None
) -> Calibration:
    """Fit the model's efficiencies to measured points (they need measured TTFT and/or TPOT)."""
    groups = group_points(points)
    ttft, tpot = measured_arrays(points)
    if not np.isfinite(tpot).any():
        raise ValueError("no measured_tpot_ms in these points: nothing to calibrate against")
    return fit_calibration(
        groups, len(points), ttft, tpot, predict_groups, data_sha256=data_sha256, progress=progress
    )


def validate(points: Sequence[Point], calibration: Calibration | None = None) -> ValidationReport:
    """In-sample: predict with the given (default: packaged) calibration, compare with the measurements."""
    if not points:
        raise ValueError("points: none to validate")
    calibration = calibration or load_calibration()
    pred = predict_groups(group_points(points), len(points), calibration.efficiency)
    rep = report(points, pred)
    rep.calibration = {
        "fitted_at": calibration.fitted_at,
        "data_sha256": calibration.data_sha256,
        "n_points": calibration.n_points,
    }
    return rep


def cross_validate(
    points: Sequence[Point], by: str, progress: Callable[[str], None] | None = None
) -> ValidationReport:
    """Leave one group out: refit without it, predict it; the report pools the left-out predictions."""
    if by not in CV_KEYS:
        raise ValueError(f"cv: must be one of {', '.join(CV_KEYS)}, not '{by}'")
    if not points:
        raise ValueError("points: none to cross-validate")
    key = CV_KEYS[by]
    groups = group_points(points)
    n = len(points)
    ttft, tpot = measured_arrays(points)
    labels = np.array([key(p) for p in points])
    out = Predictions(
        np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan), [""] * n
    )
    for held in sorted(set(labels)):
        if progress:
            progress(held)
        held_mask = labels == held
        train = [g for g in groups if not held_mask[g.indices].any()]
        test = [g for g in groups if held_mask[g.indices].all()]
        cal = fit_calibration(
            train, n, np.where(held_mask, np.nan, ttft), np.where(held_mask, np.nan, tpot), predict_groups
        )
        pred = predict_groups(test, n, cal.efficiency)
        for g in test:
            for arr_out, arr_in in (
                (out.ttft_ms, pred.ttft_ms),
                (out.tpot_ms, pred.tpot_ms),
                (out.tput_per_gpu, pred.tput_per_gpu),
                (out.output_tput_per_gpu, pred.output_tput_per_gpu),
            ):
                arr_out[g.indices] = arr_in[g.indices]
            for i in g.indices:
                out.notes[i] = pred.notes[i]
    rep = report(points, out, mode=f"leave-one-{by}-out")
    return rep
