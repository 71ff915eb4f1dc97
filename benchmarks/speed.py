"""Speed of the production model on one core: one frontier, and the whole catalog × 3 ISL/OSL.

Run: .venv/bin/python benchmarks/speed.py
Targets: one frontier (every feasible deployment × 64 concurrencies) < 0.2 s; every accelerator × every model
× 3 ISL/OSL < 30 s.
"""

from __future__ import annotations

import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"

import time  # noqa: E402

from tokenomy.catalog import catalog  # noqa: E402
from tokenomy.catalog.schema import MissingFigureError  # noqa: E402
from tokenomy.perf.calibration import load_calibration  # noqa: E402
from tokenomy.perf.frontier import frontier  # noqa: E402

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
    from tokenomy.econ.factory import plan
    from tokenomy.econ.scenario import default_scenario

    t0 = time.perf_counter()
    plan(default_scenario())
    dt = time.perf_counter() - t0
    print(
        f"default plan (1 GW, 4 generations x 5 tiers, cold caches): {dt:.2f} s  target < 10 s "
        f"{'ok' if dt < 10 else 'MISSED'}"
    )


if __name__ == "__main__":
    plan_speed()
    main()
