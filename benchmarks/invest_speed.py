"""Speed of `tokenomy invest` on one core: a 10-year, quarterly, 4-generation build schedule.

Run: .venv/bin/python benchmarks/invest_speed.py
Target: the schedule evaluates in < 1 s. Printed: the cold start (plan's frontiers for four generations, once
per process), the schedule's cash flow alone, the whole `invest` call with frontiers cached (plan + cash flow),
and a buy-now-or-wait comparison with its break-even price decline.
"""

from __future__ import annotations

import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"

import statistics  # noqa: E402
import time  # noqa: E402

from tokenomy.econ.invest import InvestSpec, evaluate, invest, parse_quarter, quarter_label, unit_economics  # noqa: E402
from tokenomy.econ.scenario import default_scenario  # noqa: E402

GENERATIONS = [("hopper", 2024.25), ("blackwell", 2025.0), ("blackwell_ultra", 2025.5), ("rubin", 2026.5)]


def schedule(start: str = "2026Q1", years: int = 10) -> list[dict]:
    """One phase every quarter, cycling through the four generations, each once it ships."""
    q0 = parse_quarter(start)
    phases = []
    for k in range(years * 4):
        q = q0 + k
        shipped = [g for g, year in GENERATIONS if q >= int(year) * 4 + round((year % 1) * 4)]
        phases.append({"start": quarter_label(q), "mw": 25.0, "generation": shipped[k % len(shipped)]})
    return phases


def timed(fn, n: int) -> tuple[float, object]:
    runs, out = [], None
    for _ in range(n):
        t0 = time.perf_counter()
        out = fn()
        runs.append(time.perf_counter() - t0)
    return statistics.median(runs), out


def main() -> None:
    sc = default_scenario()
    phases = schedule()
    spec = InvestSpec(
        start="2026Q1",
        years=10,
        price_decline_per_year=0.2,
        demand_tokens_per_day={"high": 5e12},
        demand_growth_per_year=0.4,
        power_price_change_per_year=0.02,
        refresh={"after_years": 4, "when_newer_earns_more": True},
        schedules=[
            {"name": "quarterly, 4 generations", "phases": phases},
            {
                "name": "all at the start",
                "phases": [{"start": "2026Q1", "mw": 1000, "generation": "blackwell_ultra"}],
            },
        ],
    )
    names = [g for g, _ in GENERATIONS]
    t0 = time.perf_counter()
    units = unit_economics(sc, names)
    cold = time.perf_counter() - t0
    t_eval, r = timed(lambda: evaluate(spec, spec.schedules[0], units), 50)
    t_warm, rep = timed(lambda: invest(sc, spec), 5)
    ok = t_eval < 1.0 and t_warm < 1.0
    print(
        f"schedule: {len(phases)} quarterly phases over 10 years, {len(units.names)} generations, "
        f"{len(r.events)} refreshes, {len(units.tiers)} tiers"
    )
    print(f"cold start (plan's frontiers for 4 generations, once per process): {cold:.2f} s")
    print(f"cash flow of the schedule (evaluate, median of 50): {t_eval * 1e3:.2f} ms")
    print(
        f"whole invest call, frontiers cached (plan + 2 schedules + break-even search): {t_warm * 1e3:.0f} ms"
    )
    print(
        f"target < 1 s: {'ok' if ok else 'MISSED'}; NPV {r.npv_usd / 1e9:,.1f} B$, "
        f"break-even decline {rep.comparisons[0].breakeven_price_decline}"
    )


if __name__ == "__main__":
    main()
