"""Accuracy of the production model against measured points: in-sample and leave-one-group-out.

Errors are absolute percentage errors |predicted / measured − 1|; we report their median (MdAPE) and 90th
percentile, overall and by system, model, backend and ISL/OSL. A point the model cannot predict counts
against coverage and is excluded from the error statistics.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from tokenomy.perf.calibration import Calibration, Measured, fit_calibration, load_calibration
from tokenomy.perf.predict import Predictions, group_points, predict_groups
from tokenomy.points import Point

# Error metrics, named after the measured columns they check (calibration.csv, InferenceX): "tput_per_gpu" is
# (input + output) tok/s per GPU serving, the `measured_tput_per_gpu` column; the names are part of `validate --json`.
METRICS = ("ttft", "tpot", "tput_per_gpu")
CV_KEYS: dict[str, Callable[[Point], str]] = {
    "system": lambda p: p.system,
    "model": lambda p: p.model_path,
    "backend": lambda p: p.backend,
}
BREAKDOWNS: dict[str, Callable[[Point], str]] = {
    **CV_KEYS,
    "isl_osl": lambda p: f"{p.isl}/{p.osl}",
    "serving": lambda p: p.mode + (" + MTP" if p.spec_method == "mtp" else ""),
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
    predicted = {"ttft": pred.ttft_ms, "tpot": pred.tpot_ms, "tput_per_gpu": pred.tok_s_per_gpu}
    return {m: np.abs(predicted[m] / measured[m] - 1.0) for m in METRICS}


def report(points: Sequence[Point], pred: Predictions, mode: str = "in-sample") -> ValidationReport:
    ape = absolute_percentage_errors(points, pred)
    has_measure = np.array(
        [
            p.measured_tpot_ms is not None
            or p.measured_ttft_ms is not None
            or bool(p.error and (p.raw.get("measured_tpot_ms") or "").strip())
            for p in points
        ]
    )
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
        if note:  # a row that could not be read keeps its whole reason (line and column); others by kind
            reasons[note if note.startswith("line ") else note.split(":")[0]] += 1
    return ValidationReport(len(points), coverage, overall, by, mode, uncovered_reasons=dict(reasons))


def measured(points: Sequence[Point]) -> Measured:
    """The measured medians of the points as arrays (NaN where absent), the Pareto points weighted up."""
    from tokenomy.perf.calibration import OTHER_CLIENT_TTFT_WEIGHT, PARETO_WEIGHT, SUPERSEDED_WEIGHT

    weight = np.ones(len(points))
    for idx in measured_pareto(points):
        weight[idx] = PARETO_WEIGHT
    weight[superseded(points)] *= SUPERSEDED_WEIGHT
    return Measured(
        ttft_ms=np.array([p.measured_ttft_ms or np.nan for p in points], dtype=float),
        tpot_ms=np.array([p.measured_tpot_ms or np.nan for p in points], dtype=float),
        tok_s_per_gpu=np.array([p.measured_tput_column or np.nan for p in points], dtype=float),
        weight=weight,
        ttft_weight=np.array([OTHER_CLIENT_TTFT_WEIGHT if p.length_scale != 1.0 else 1.0 for p in points]),
    )


def calibrate(
    points: Sequence[Point], data_sha256: str = "", progress: Callable[[str], None] | None = None
) -> Calibration:
    """Fit the model's efficiencies to measured points (they need measured TTFT and/or TPOT)."""
    groups = group_points(points)
    m = measured(points)
    if not np.isfinite(m.tpot_ms).any():
        raise ValueError("no measured_tpot_ms in these points: nothing to calibrate against")
    return fit_calibration(groups, len(points), m, predict_groups, data_sha256=data_sha256, progress=progress)


def validate(points: Sequence[Point], calibration: Calibration | None = None) -> ValidationReport:
    """In-sample: predict with the given (default: packaged) calibration, compare with the measurements."""
    if not points:
        raise ValueError("points: none to validate")
    calibration = calibration or load_calibration()
    pred = predict_groups(
        group_points(points), len(points), calibration.efficiency, acceptance_for=calibration.mtp_acceptance
    )
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
    m = measured(points)
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
        cal = fit_calibration(train, n, m.masked(~held_mask), predict_groups)
        pred = predict_groups(test, n, cal.efficiency, acceptance_for=cal.mtp_acceptance)
        for g in test:
            for arr_out, arr_in in (
                (out.ttft_ms, pred.ttft_ms),
                (out.tpot_ms, pred.tpot_ms),
                (out.tok_s_per_gpu, pred.tok_s_per_gpu),
                (out.output_tok_s_per_gpu, pred.output_tok_s_per_gpu),
            ):
                arr_out[g.indices] = arr_in[g.indices]
            for i in g.indices:
                out.notes[i] = pred.notes[i]
    rep = report(points, out, mode=f"leave-one-{by}-out")
    return rep


# ---- the frontier against measured Pareto points ---------------------------------------------------------------
@dataclass
class ParetoCheck:
    """One measured Pareto point of a group and tokenomy's frontier at its interactivity."""

    system: str
    precision: str
    isl: int
    osl: int
    backend: str
    line: int
    deployment: str
    tok_s_per_user: float
    measured_tok_s_per_gpu: float
    ours_tok_s_per_gpu: float | None  # None: our frontier does not reach this interactivity
    ours_deployment: str
    # The model on the measured point's own deployment, its concurrency free: how much of the ratio is the model
    # and how much the deployments the benchmark chose to run (None: that deployment never reaches the point).
    same_deployment_tok_s_per_gpu: float | None = None

    @property
    def ratio(self) -> float | None:
        return (
            None if self.ours_tok_s_per_gpu is None else self.ours_tok_s_per_gpu / self.measured_tok_s_per_gpu
        )

    @property
    def same_deployment_ratio(self) -> float | None:
        if self.same_deployment_tok_s_per_gpu is None:
            return None
        return self.same_deployment_tok_s_per_gpu / self.measured_tok_s_per_gpu


@dataclass
class FrontierAccuracy:
    """Ours / measured at the measured Pareto points, per point and as medians per system."""

    checks: list[ParetoCheck]
    mode: str = "in-sample"

    def median_by_system(self) -> dict[str, dict[str, float | int | None]]:
        out: dict[str, dict[str, float | int | None]] = {}
        for system in sorted({c.system for c in self.checks}):
            ratios = [c.ratio for c in self.checks if c.system == system and c.ratio is not None]
            missed = sum(1 for c in self.checks if c.system == system and c.ratio is None)
            same = [c.same_deployment_ratio for c in self.checks if c.system == system]
            same = [r for r in same if r is not None]
            out[system] = {
                "n": len(ratios),
                "median_ratio": float(np.median(ratios)) if ratios else None,
                "p10_ratio": float(np.percentile(ratios, 10)) if ratios else None,
                "p90_ratio": float(np.percentile(ratios, 90)) if ratios else None,
                "unreached": missed,
                "median_same_deployment_ratio": float(np.median(same)) if same else None,
            }
        return out

    def as_dict(self) -> dict[str, object]:
        return {
            "mode": self.mode,
            "by_system": self.median_by_system(),
            "points": [
                asdict(c) | {"ratio": c.ratio, "same_deployment_ratio": c.same_deployment_ratio}
                for c in self.checks
            ],
        }


def superseded(points: Sequence[Point]) -> np.ndarray:
    """True for a run of a configuration (engine image aside) that a later run of the same configuration
    replaced: benchmarks re-run with newer software, and the model predicts today's."""
    dates = [(p.raw.get("run_date") or "").strip() for p in points]
    latest: dict[tuple, str] = {}
    keys = []
    for p, date in zip(points, dates, strict=True):
        key = (_group_key(p), p.mode, p.spec_method, p.concurrency, p.engine, p.prefill, p.decode)
        keys.append(key)
        if date and date > latest.get(key, ""):
            latest[key] = date
    return np.array([bool(d) and d < latest[k] for d, k in zip(dates, keys, strict=True)])


def _group_key(p: Point) -> tuple:
    """A frontier group: one model on one system at one precision, ISL/OSL and backend."""
    return (p.model_path, p.system, p.precision, p.isl, p.osl, p.backend)


def _frontier_groups(points: Sequence[Point]) -> dict[tuple, list[int]]:
    """Indices of the points with measured TPOT and throughput, by frontier group."""
    groups: dict[tuple, list[int]] = defaultdict(list)
    for i, p in enumerate(points):
        if not p.error and p.measured_tpot_ms and p.measured_tput_per_gpu:
            groups[_group_key(p)].append(i)
    return groups


# Repeated runs of one configuration on one engine image differ by a median 6.5% in TPOT (InferenceX's 149 such
# repeats), so interactivities closer than this are the same as far as a benchmark can tell.
PARETO_TOLERANCE = 0.05


def measured_pareto(points: Sequence[Point], tolerance: float = PARETO_TOLERANCE) -> list[list[int]]:
    """Indices of the measured Pareto points of each (model, system, precision, ISL/OSL, backend) group: no
    other measured point of the group is more productive per GPU and as fast per user, within ``tolerance``
    (the run-to-run spread of measured interactivity)."""
    out = []
    for idx in _frontier_groups(points).values():
        user = np.array([1000.0 / points[i].measured_tpot_ms for i in idx])
        tput = np.array([points[i].measured_tput_per_gpu for i in idx])
        beaten = (tput[None, :] > tput[:, None]) & (user[None, :] >= user[:, None] * (1.0 - tolerance))
        out.append([i for i, lost in zip(idx, beaten.any(axis=1), strict=True) if not lost])
    return out


def frontier_accuracy(
    points: Sequence[Point],
    calibration: Calibration | None = None,
    progress: Callable[[str], None] | None = None,
    mode: str = "in-sample",
    allow_extrapolation: bool = False,
) -> FrontierAccuracy:
    """tokenomy's best tok/s/GPU at each measured Pareto point's interactivity, against the measurement: the
    accuracy the economics inherits.

    Ours is the frontier of the group's backend over the ways of serving the group was measured with
    (aggregated and/or disaggregated, MTP on and/or off) and every deployment, read as `plan` reads it:
    measured-backed points only unless ``allow_extrapolation``.
    """
    from tokenomy.catalog import catalog
    from tokenomy.perf.frontier import best_frontier

    calibration = calibration or load_calibration()
    cat = catalog()
    checks = []
    groups = _frontier_groups(points)
    for idx in measured_pareto(points):
        first = points[idx[0]]
        model, _ = cat.model_variant(first.model_path)
        if progress:
            progress(f"{first.system} {first.precision} {first.isl}/{first.osl} {first.backend}")
        group = [points[i] for i in groups[_group_key(first)]]
        front = best_frontier(
            model.id,
            first.system,
            first.precision,
            backends=(first.backend,),
            modes=tuple(sorted({q.mode for q in group})),
            mtp=tuple(sorted({q.spec_method == "mtp" for q in group})),
            isl=round(first.mean_isl),
            osl=round(first.mean_osl),
            calibration=calibration,
            cat=cat,
        )
        same = same_deployment_best([points[i] for i in idx], calibration)
        for i, same_best in zip(idx, same, strict=True):
            p = points[i]
            user = 1000.0 / p.measured_tpot_ms
            ours = front.at_interactivity(user, allow_extrapolation=allow_extrapolation)
            label = p.mode + (" MTP" if p.spec_method == "mtp" else "") + f" {p.gpus} GPUs C{p.concurrency}"
            checks.append(
                ParetoCheck(
                    system=p.system,
                    precision=p.precision,
                    isl=p.isl,
                    osl=p.osl,
                    backend=p.backend,
                    line=p.line,
                    deployment=label,
                    tok_s_per_user=user,
                    measured_tok_s_per_gpu=float(p.measured_tput_per_gpu),
                    # as the measurement's finite run would have measured our steady-state frontier
                    ours_tok_s_per_gpu=ours.tok_s_per_gpu * p.run_share if ours else None,
                    ours_deployment=ours.deployment if ours else "",
                    same_deployment_tok_s_per_gpu=same_best,
                )
            )
    return FrontierAccuracy(checks, mode)


def same_deployment_best(points: Sequence[Point], calibration: Calibration) -> list[float | None]:
    """For each measured point, the model's best tok/s/GPU on that very deployment (engine or pools, serving
    mode, MTP) at any concurrency that is at least as fast per user: the frontier with the deployment fixed."""
    from tokenomy.perf.predict import predict_points

    if not points:
        return []
    grids = [
        np.unique(
            np.append(np.round(np.geomspace(1, max(4096, 4 * p.concurrency), 64)), p.concurrency)
        ).astype(int)
        for p in points
    ]
    rows = [replace(p, concurrency=int(c)) for p, grid in zip(points, grids, strict=True) for c in grid]
    pred = predict_points(rows, calibration)
    out: list[float | None] = []
    start = 0
    for p, grid in zip(points, grids, strict=True):
        tput = pred.tok_s_per_gpu[start : start + grid.size]
        user = 1000.0 / pred.tpot_ms[start : start + grid.size]
        start += grid.size
        ok = np.isfinite(tput) & (user >= 1000.0 / p.measured_tpot_ms)
        out.append(float(tput[ok].max()) if ok.any() else None)
    return out


def frontier_cross_validate(
    train: Sequence[Point],
    evaluate: Sequence[Point],
    progress: Callable[[str], None] | None = None,
) -> FrontierAccuracy:
    """Leave one system out: refit on ``train`` without it, then check the frontier at ``evaluate``'s measured
    Pareto points of that system (how well the economics would read hardware the fit has not seen)."""
    checks: list[ParetoCheck] = []
    for system in sorted({p.system for p in evaluate if not p.error}):
        if progress:
            progress(system)
        kept = [p for p in train if p.system != system]
        cal = calibrate(kept)
        rep = frontier_accuracy([p for p in evaluate if p.system == system], cal)
        checks += rep.checks
    return FrontierAccuracy(checks, mode="leave-one-system-out")


@dataclass(frozen=True)
class MeasuredPoint:
    """A measured point as a frontier reads it: how it was served, tok/s/user and (input + output) tok/s/GPU."""

    label: str
    tok_s_per_user: float
    tok_s_per_gpu: float


def measured_on_frontier(
    points: Sequence[Point], model: str, accelerator: str, precision: str, isl: int, osl: int, cat=None
) -> list[MeasuredPoint]:
    """The measured points of ``points`` that belong on a frontier of ``model`` (or a checkpoint of the same
    architecture, e.g. DeepSeek-R1-0528 for DeepSeek-R1) on ``accelerator`` at ``precision`` and nominal ISL/OSL."""
    from tokenomy.catalog import UnknownIdError, catalog

    cat = cat or catalog()
    arch = cat.model(model).architecture
    out = []
    for p in points:
        if p.error or not p.measured_tpot_ms or not p.measured_tput_per_gpu or (p.isl, p.osl) != (isl, osl):
            continue
        if p.precision and p.precision != precision:
            continue
        try:
            if (
                cat.model_variant(p.model_path)[0].architecture != arch
                or cat.accelerator(p.system).id != accelerator
            ):
                continue
        except UnknownIdError:
            continue
        label = f"{p.backend} {p.mode}" + (" MTP" if p.spec_method == "mtp" else "")
        out.append(MeasuredPoint(label, 1000.0 / p.measured_tpot_ms, float(p.measured_tput_per_gpu)))
    return out
