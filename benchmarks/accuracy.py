"""Accuracy of the production model: in-sample, leave-one-group-out, and public anchors.

Run: .venv/bin/python benchmarks/accuracy.py   (prints the figures quoted in the README)
"""

from __future__ import annotations

import time
from importlib import resources  # noqa: E402  (kept beside its use)

from tokenomy.perf.frontier import INFERENCEX_V1, best_framework_frontier, frontier
from tokenomy.points import read_points
from tokenomy.validation import cross_validate, validate

POINTS = str(resources.files("tokenomy.perf") / "data" / "calibration_points.csv")
TARGETS = {"ttft": 0.30, "tpot": 0.12, "tput_per_gpu": 0.15}
CV_TARGET_TPOT = 0.25

# InferenceX v1 blog (SemiAnalysis, Oct 2025, https://inferencex.semianalysis.com): gpt-oss-120b, ISL 1k / OSL 8k, tok/s per all-in MW at 90 tok/s/user.
ANCHORS = {"h100_sxm": 0.90e6, "b200_sxm": 2.8e6, "mi300x": 0.75e6, "mi355x": 2.55e6}
ANCHOR_BAND = 0.35
BACKENDS = (
    "trtllm",
    "vllm",
    "sglang",
)  # InferenceX plots the best framework on each GPU (TRT-LLM: NVIDIA only)


def pct(x: float) -> str:
    return f"{100 * x:5.1f}%"


def main() -> None:
    rows, _ = read_points(POINTS)
    rep = validate(rows)
    print(f"In-sample on {rep.n_points} measured points (coverage {pct(rep.coverage)}, target ≥ 98%):")
    for metric, target in TARGETS.items():
        s = rep.overall[metric]
        ok = "ok" if s.mdape <= target else "MISSED"
        print(f"  {metric:13s} MdAPE {pct(s.mdape)}  p90 {pct(s.p90_ape)}  (target ≤ {pct(target)}) {ok}")
    for by in ("system", "model", "backend"):
        t0 = time.perf_counter()
        cv = cross_validate(rows, by)
        s = cv.overall["tpot"]
        ok = "ok" if s.mdape <= CV_TARGET_TPOT else "MISSED"
        print(
            f"Leave-one-{by}-out: TPOT MdAPE {pct(s.mdape)} (target ≤ {pct(CV_TARGET_TPOT)}) {ok}; "
            f"TTFT {pct(cv.overall['ttft'].mdape)}, tput/GPU {pct(cv.overall['tput_per_gpu'].mdape)} "
            f"[{time.perf_counter() - t0:.0f} s]"
        )
        for group, stats in cv.by[by].items():
            if stats["tpot"].n:
                print(f"    {group:40s} TPOT MdAPE {pct(stats['tpot'].mdape)}  (n={stats['tpot'].n})")

    print("\nPublic anchors: gpt-oss-120b, ISL 1024 / OSL 8192, tok/s per all-in MW at 90 tok/s/user")
    print("  like-for-like sweep (InferenceX method): TP 1-8, concurrency 4-64, best framework per GPU;")
    print("  then tokenomy's full space (attention-DP, EP, concurrency to 4096) with the default framework")
    for hw, published in ANCHORS.items():
        like = best_framework_frontier("gpt-oss-120b", hw, None, isl=1024, osl=8192, **INFERENCEX_V1)
        ours = like.interpolate(90.0) or float("nan")
        near = min(like.points, key=lambda p: abs(p.tok_s_per_user - 90.0))
        best = frontier("gpt-oss-120b", hw, None, 1024, 8192).interpolate(90.0)
        ratio = ours / published
        ok = "ok" if abs(ratio - 1) <= ANCHOR_BAND else "MISSED"
        print(
            f"  {hw:9s} published {published / 1e6:.2f}M  ours {ours / 1e6:.2f}M ratio {ratio:.2f} {ok} "
            f"({near.backend} {near.deployment} C{near.concurrency} near 90 tok/s/user; {like.calibration_source}); "
            f"full space: {best / 1e6 if best else float('nan'):.2f}M"
        )


if __name__ == "__main__":
    main()
