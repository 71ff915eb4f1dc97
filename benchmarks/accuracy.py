"""Accuracy of the production model: point by point (in-sample, leave-one-group-out), the frontier against
InferenceX's measured Pareto points (the accuracy the economics inherits), and public anchors.

Run: .venv/bin/python benchmarks/accuracy.py [--skip-cv] [--skip-lomo]   (prints the figures quoted in the README)
Every leave-one-out fold refits from scratch on the packaged points without the group left out.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from tokenomy.perf.calibration import Calibration, load_calibration
from tokenomy.perf.frontier import INFERENCEX_V1, best_framework_frontier
from tokenomy.perf.predict import group_points, predict_groups
from tokenomy.points import Point, packaged_paths, read_many
from tokenomy.validation import (
    calibrate,
    cross_validate,
    frontier_accuracy,
    report,
    validate,
)

CALIBRATION_TARGETS = {"ttft": 0.30, "tpot": 0.12, "tput_per_gpu": 0.15}
INFERENCEX_TARGETS = {"tpot": 0.15, "tput_per_gpu": 0.15}
CV_TARGET = 0.25
FRONTIER_IN_SAMPLE = (0.85, 1.15)
FRONTIER_LOSO = (0.75, 1.33)
# InferenceX v1 blog (SemiAnalysis, Oct 2025, https://inferencex.semianalysis.com): gpt-oss-120b, ISL 1k / OSL 8k, tok/s per all-in MW at 90 tok/s/user.
ANCHORS = {"h100_sxm": 0.90e6, "b200_sxm": 2.8e6, "mi300x": 0.75e6, "mi355x": 2.55e6}
ANCHOR_BAND = 0.35


def pct(x: float | None) -> str:
    return "  —  " if x is None else f"{100 * x:5.1f}%"


def ok(flag: bool) -> str:
    return "ok" if flag else "MISSED"


def load() -> tuple[list[Point], dict[str, list[Point]]]:
    """The packaged points, one per benchmark run (as `tokenomy validate` reads them), and by file."""
    points, _ = read_many(packaged_paths())
    files = {p.name: [q for q in points if q.origin == p.name] for p in packaged_paths()}
    return points, files


def point_figures(files: dict[str, list[Point]], cal: Calibration) -> None:
    agg = files["calibration_points.csv"]
    rep = validate(agg, cal)
    print(f"calibration.csv in-sample, {rep.n_points} points (coverage {pct(rep.coverage)}):")
    for m, target in CALIBRATION_TARGETS.items():
        s = rep.overall[m]
        print(
            f"  {m:13s} MdAPE {pct(s.mdape)}  p90 {pct(s.p90_ape)}  (target ≤ {pct(target)}) {ok(s.mdape <= target)}"
        )
    ix = files["inferencex_dsr1.csv"]
    rep = validate(ix, cal)
    print(f"InferenceX in-sample, {rep.n_points} points (coverage {pct(rep.coverage)}, target 100%):")
    for m, target in INFERENCEX_TARGETS.items():
        s = rep.overall[m]
        print(
            f"  {m:13s} MdAPE {pct(s.mdape)}  p90 {pct(s.p90_ape)}  (target ≤ {pct(target)}) {ok(s.mdape <= target)}"
        )
    s = rep.overall["ttft"]
    print(f"  {'ttft':13s} MdAPE {pct(s.mdape)}  p90 {pct(s.p90_ape)}  (another client's TTFT: reported)")
    for serving, stats in rep.by["serving"].items():
        print(
            f"    {serving:14s} n={stats['tpot'].n:4d}  TPOT {pct(stats['tpot'].mdape)}  tok/s/GPU "
            f"{pct(stats['tput_per_gpu'].mdape)}  TTFT {pct(stats['ttft'].mdape)}"
        )
    for system, stats in rep.by["system"].items():
        print(
            f"    {system:14s} n={stats['tpot'].n:4d}  TPOT {pct(stats['tpot'].mdape)}  tok/s/GPU {pct(stats['tput_per_gpu'].mdape)}"
        )
    dis = validate(files["calibration_disagg.csv"], cal)
    print(
        f"calibration_disagg.csv in-sample, {dis.n_points} points (coverage {pct(dis.coverage)}): TPOT "
        f"{pct(dis.overall['tpot'].mdape)}, tok/s/GPU {pct(dis.overall['tput_per_gpu'].mdape)}, TTFT {pct(dis.overall['ttft'].mdape)}"
    )


def _r(x: float | None) -> str:
    return "—" if x is None else f"{x:.2f}"


def frontier_figures(ix: list[Point], cal: Calibration, label: str, band: tuple[float, float]) -> None:
    t0 = time.perf_counter()
    rep = frontier_accuracy(ix, cal, mode=label)
    print(
        f"Frontier at InferenceX's measured Pareto points, {label} (ours / measured tok/s/GPU; target median in {band}):"
    )
    for system, s in rep.median_by_system().items():
        med = s["median_ratio"]
        good = med is not None and band[0] <= med <= band[1]
        print(
            f"  {system:10s} n={s['n']:3d}  median {med if med is None else round(med, 2)}  p10 "
            f"{s['p10_ratio'] and round(s['p10_ratio'], 2)}  p90 {s['p90_ratio'] and round(s['p90_ratio'], 2)}  "
            f"not reached {s['unreached']}  {ok(good)}  same deployment {_r(s['median_same_deployment_ratio'])}"
        )
    print(f"  [{time.perf_counter() - t0:.0f} s]")


def loso(points: list[Point], files: dict[str, list[Point]], with_frontier: bool) -> None:
    """Leave one system out: refit on every packaged point without it; score that system's points."""
    ix = files["inferencex_dsr1.csv"]
    systems = sorted({p.system for p in ix if not p.error})
    pooled: dict[str, list] = {"ix": [], "agg": []}
    for system in systems:
        t0 = time.perf_counter()
        cal = calibrate([p for p in points if p.system != system])
        for key, rows in (("ix", ix), ("agg", files["calibration_points.csv"])):
            held = [p for p in rows if p.system == system]
            if held:
                pred = predict_groups(
                    group_points(held), len(held), cal.efficiency, acceptance_for=cal.mtp_acceptance
                )
                pooled[key].append((held, pred))
        print(f"  fold without {system}: refit in {time.perf_counter() - t0:.0f} s")
        if with_frontier:
            frontier_figures([p for p in ix if p.system == system], cal, f"without {system}", FRONTIER_LOSO)
    for key, name, targets in (
        ("ix", "InferenceX", ("tpot", "tput_per_gpu")),
        ("agg", "calibration.csv", ("tpot",)),
    ):
        rows = [p for held, _ in pooled[key] for p in held]
        from tokenomy.perf.predict import Predictions

        preds = Predictions(
            *(
                np.concatenate([getattr(pr, a) for _, pr in pooled[key]])
                for a in ("ttft_ms", "tpot_ms", "tok_s_per_gpu", "output_tok_s_per_gpu")
            ),
            [n for _, pr in pooled[key] for n in pr.notes],
        )
        rep = report(rows, preds, mode="leave-one-system-out")
        figures = ", ".join(f"{m} {pct(rep.overall[m].mdape)}" for m in ("tpot", "tput_per_gpu", "ttft"))
        good = all(rep.overall[m].mdape <= CV_TARGET for m in targets)
        print(
            f"Leave-one-system-out on {name}: {figures} (target {', '.join(targets)} ≤ {pct(CV_TARGET)}) {ok(good)}"
        )
        for system, stats in rep.by["system"].items():
            print(
                f"    {system:12s} TPOT {pct(stats['tpot'].mdape)}  tok/s/GPU {pct(stats['tput_per_gpu'].mdape)}"
            )


def anchors(cal: Calibration) -> None:
    print("Public anchors: gpt-oss-120b, ISL 1024 / OSL 8192, tok/s per all-in MW at 90 tok/s/user,")
    print("  like-for-like sweep (InferenceX v1 method): TP 1-8, concurrency 4-64, best framework per GPU")
    for hw, published in ANCHORS.items():
        like = best_framework_frontier(
            "gpt-oss-120b", hw, None, isl=1024, osl=8192, calibration=cal, **INFERENCEX_V1
        )
        ours = like.interpolate(90.0) or float("nan")
        ratio = ours / published
        print(
            f"  {hw:9s} published {published / 1e6:.2f}M  ours {ours / 1e6:.2f}M  ratio {ratio:.2f} {ok(abs(ratio - 1) <= ANCHOR_BAND)}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--skip-cv", action="store_true", help="in-sample figures only (no refits)")
    parser.add_argument(
        "--skip-lomo", action="store_true", help="skip leave-one-model-out on calibration.csv"
    )
    args = parser.parse_args()
    points, files = load()
    cal = load_calibration()
    point_figures(files, cal)
    frontier_figures(files["inferencex_dsr1.csv"], cal, "in-sample", FRONTIER_IN_SAMPLE)
    anchors(cal)
    if args.skip_cv:
        return
    loso(points, files, with_frontier=True)
    if not args.skip_lomo:
        t0 = time.perf_counter()
        cv = cross_validate(files["calibration_points.csv"], "model")
        s = cv.overall["tpot"]
        print(
            f"Leave-one-model-out on calibration.csv (refit on it alone): TPOT {pct(s.mdape)} (target ≤ {pct(CV_TARGET)}) {ok(s.mdape <= CV_TARGET)} [{time.perf_counter() - t0:.0f} s]"
        )


if __name__ == "__main__":
    main()
