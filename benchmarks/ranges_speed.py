"""Speed of `--ranges` on one core: the default plan's P10/P50/P90 bands and tornado, through the CLI path.

Run: .venv/bin/python benchmarks/ranges_speed.py
Target: the default plan with `--ranges` in < 5 s. Printed: `tokenomy plan --ranges --json` as a fresh process
(cold: frontiers and the model-error table computed; warm: the model-error table read from its cache), the same
command without `--ranges`, and in-process the Monte Carlo alone (2,000 draws, tornado included) once the
frontiers are cached. Also: `cost`, `capacity` and `invest` with `--ranges`.
"""

from __future__ import annotations

import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"

import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402


def cli(args: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "tokenomy.cli", *args], check=True, capture_output=True, env=env)
    return time.perf_counter() - t0


def main() -> None:
    cache = tempfile.mkdtemp(prefix="tokenomy-bench-")
    env = os.environ | {"XDG_CACHE_HOME": cache}
    cold = cli(["plan", "--ranges", "--json"], env)
    warm = statistics.median(cli(["plan", "--ranges", "--json"], env) for _ in range(3))
    plain = statistics.median(cli(["plan", "--json"], env) for _ in range(3))
    print(f"tokenomy plan --ranges --json (2,000 draws), fresh process, cold model-error cache: {cold:.2f} s")
    print(f"tokenomy plan --ranges --json, fresh process, warm cache (median of 3):            {warm:.2f} s")
    print(f"tokenomy plan --json (no ranges), fresh process (median of 3):                     {plain:.2f} s")
    print(f"  → --ranges adds {warm - plain:.2f} s to the default plan")

    from tokenomy.econ.factory import plan
    from tokenomy.econ.ranges_econ import plan_ranges
    from tokenomy.econ.scenario import default_scenario

    sc = default_scenario()
    result = plan(sc)
    plan_ranges(sc, result)  # model-error table into memory
    runs = []
    for seed in range(5):
        t0 = time.perf_counter()
        rg = plan_ranges(sc, result, draws=2000, seed=seed)
        runs.append(time.perf_counter() - t0)
    print(
        f"Monte Carlo alone, in process, frontiers cached: {statistics.median(runs) * 1e3:.0f} ms for 2,000 draws "
        f"x {len(rg.inputs)} inputs, {len(rg.bands)} bands, tornado of {len(rg.tornado)} outputs"
    )
    for args in (
        ["cost", "-m", "deepseek-r1", "-H", "gb200_nvl72", "-H", "hgx_h200", "--ranges", "--json"],
        ["capacity", "-t", "30e12", "--ranges", "--json"],
        ["invest", "--ranges", "--draws", "1000", "--json"],
    ):
        print(f"tokenomy {' '.join(args)}: {cli(args, env):.2f} s")


if __name__ == "__main__":
    main()
