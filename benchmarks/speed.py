"""Speed of the production model on one core: one frontier, one InferenceX-style frontier (every backend ×
aggregated/disaggregated × MTP on/off), the whole catalog × 3 ISL/OSL, and the default plan through the CLI.

Run: .venv/bin/python benchmarks/speed.py
Targets: one frontier (every feasible deployment × 64 concurrencies) < 0.2 s; one InferenceX-style frontier
< 0.5 s; every accelerator × every model × 3 ISL/OSL < 30 s; `tokenomy plan` (default scenario) < 5 s.
"""

from __future__ import annotations

import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"

import time  # noqa: E402

from tokenomy.catalog import catalog  # noqa: E402
from tokenomy.catalog.schema import MissingFigureError  # noqa: E402
from tokenomy.perf.calibration import load_calibration  # noqa: E402
from tokenomy.perf.frontier import best_frontier, frontier  # noqa: E402

WORKLOADS = [(1024, 1024), (8192, 1024), (1024, 8192)]


def main() -> None:
    cal = load_calibration()
    frontier("deepseek-r1", "gb200_nvl72", "fp4", calibration=cal)  # warm up imports and caches
    runs = []
    for _ in range(5):
        t0 = time.perf_counter()
        f = frontier("deepseek-r1", "gb200_nvl72", "fp4", 1024, 1024, calibration=cal)
        runs.append(time.perf_counter() - t0)
    best = min(runs)
    print(
        f"one frontier: DeepSeek-R1 FP4 on GB200 NVL72, {f.evaluated} points "
        f"({f.evaluated // 64} deployments × 64 concurrencies): {best * 1e3:.1f} ms "
        f"({f.evaluated / best:,.0f} points/s) target < 200 ms {'ok' if best < 0.2 else 'MISSED'}"
    )

    for model, hw, prec, isl, osl in (
        ("deepseek-r1", "gb200_nvl72", "fp4", 8192, 1024),
        ("deepseek-r1", "h200_sxm", "fp8", 1024, 1024),
    ):
        runs = []
        for _ in range(3):
            t0 = time.perf_counter()
            b = best_frontier(model, hw, prec, isl=isl, osl=osl, calibration=cal)
            runs.append(time.perf_counter() - t0)
        best = min(runs)
        print(
            f"InferenceX-style frontier: {model} {prec.upper()} {isl}/{osl} on {hw}, every backend × agg/disagg × "
            f"MTP on/off, {b.evaluated:,} points: {best * 1e3:.0f} ms target < 500 ms {'ok' if best < 0.5 else 'MISSED'}"
        )

    cat = catalog()
    t0 = time.perf_counter()
    points = frontiers = skipped = 0
    for acc in cat.accelerators:
        for model in cat.models:
            for isl, osl in WORKLOADS:
                try:
                    f = frontier(model, acc, None, isl, osl, calibration=cal)
                except MissingFigureError:
                    skipped += 1
                    continue
                points += f.evaluated
                frontiers += 1
    dt = time.perf_counter() - t0
    print(
        f"catalog sweep: {len(cat.accelerators)} accelerators × {len(cat.models)} models × {len(WORKLOADS)} "
        f"ISL/OSL = {frontiers} frontiers ({skipped} skipped for missing specs), {points:,} points in {dt:.1f} s "
        f"({points / dt:,.0f} points/s) target < 30 s {'ok' if dt < 30 else 'MISSED'}"
    )


def plan_speed() -> None:
    """`tokenomy plan --json` end to end, as a user runs it (a fresh process: imports, catalog, frontiers)."""
    import shutil
    import subprocess
    import sys

    exe = shutil.which("tokenomy") or str(__import__("pathlib").Path(sys.executable).with_name("tokenomy"))
    runs = []
    for _ in range(3):
        t0 = time.perf_counter()
        subprocess.run([exe, "plan", "--json"], check=True, capture_output=True)
        runs.append(time.perf_counter() - t0)
    dt = min(runs)
    print(
        f"`tokenomy plan` (default 1 GW scenario, 4 generations x 5 tiers, new process): {dt:.2f} s  "
        f"target < 5 s {'ok' if dt < 5 else 'MISSED'}"
    )


if __name__ == "__main__":
    plan_speed()
    main()
