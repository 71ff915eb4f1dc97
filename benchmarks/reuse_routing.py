"""Figures for the README: what KV-cache reuse and routing are worth, from the packaged model and data.

Run: .venv/bin/python benchmarks/reuse_routing.py
Printed: tok/s per GPU of DeepSeek-R1 (Medium tier: ISL 8192 / OSL 1024, ≥ 50 tok/s/user) at prefix hit rates
0 / 50 / 90% on H200 and GB200; the hit rate an agent session keeps on each system's cache tiers; GPUs for 30T
output tokens/day with and without caching and a router; the routing policies' Pareto set (held-out prompts);
the reuse share of a synthetic 1,000-request Mooncake trace; and how long each takes on this machine.
"""

from __future__ import annotations

import time

from tokenomy.consume.report import dataset_prices, dataset_rows
from tokenomy.consume.route import route_report
from tokenomy.econ.capacity import capacity_levers
from tokenomy.perf.frontier import best_frontier
from tokenomy.perf.reuse import Session, session_reuse
from tokenomy.workloads.mooncake import prefix_reuse, synthetic_trace


def main() -> None:
    t0 = time.perf_counter()
    print("DeepSeek-R1 FP8/FP4, ISL 8192 / OSL 1024, at >= 50 tok/s/user: tok/s per GPU by prefix hit rate")
    for hw, prec in (("h200_sxm", "fp8"), ("gb200", "fp4")):
        row = []
        for h in (0.0, 0.5, 0.9):
            f = best_frontier("deepseek-r1", hw, prec, isl=8192, osl=1024, prefix_hit_rate=h)
            p = f.at_interactivity(50, allow_extrapolation=False)
            row.append(f"{h:.0%}: {p.tok_s_per_gpu:,.0f}" if p else f"{h:.0%}: —")
        print(f"  {hw:9s} " + "   ".join(row))
    print(f"  ({time.perf_counter() - t0:.1f} s)")

    s = Session(turns=10, system_tokens=2000, tokens_per_turn=1000, output_per_turn=300, think_time_s=5)
    print(
        f"\nagent session {s}: hit rate {s.hit_rate(0):.0%} (nothing kept) to {s.hit_rate(1):.0%} (all kept)"
    )
    for model, hw in (("llama-3.1-70b", "hgx_h200"), ("llama-3.1-70b", "gb200_nvl72")):
        for n in (16, 256, 2048):
            r, _ = session_reuse(model, hw, s, sessions_per_gpu=n)
            where = ", ".join(f"{k} {v:.0%}" for k, v in r.placed.items() if v)
            print(
                f"  {model} on {hw}, {n} sessions/GPU: hit rate {r.hit_rate:.1%} (idle KV in {where or 'nowhere'})"
            )

    t1 = time.perf_counter()
    print("\n30T output tokens/day (Free/Medium/High a third each): GPUs without and with levers")
    for label, hit, mix in (
        ("caching 70%", 0.7, None),
        ("router 60% gpt-oss-120b / 40% deepseek-r1", 0.0, {"gpt-oss-120b": 0.6, "deepseek-r1": 0.4}),
    ):
        for r in capacity_levers(30e12, None, ["hgx_h200", "gb200_nvl72"], hit, mix):
            print(
                f"  {label:45s} {r.hardware:12s} {r.without_gpus:>12,.0f} -> {r.with_gpus:>12,.0f} ({r.gpu_change:+.0%})"
            )
    print(f"  ({time.perf_counter() - t1:.1f} s)")

    t2 = time.perf_counter()
    rep = route_report(dataset_rows(), dataset_prices())
    print(f"\nrouting ({rep.split}); Pareto set on held-out prompts:")
    for r in rep.pareto():
        print(f"  {r.policy:60s} success {r.success_rate:.0%}  ${r.usd_per_solved_task:.5f}/solved")
    best = max((r for r in rep.results if r.kind == "single"), key=lambda r: r.success_rate)
    print(
        f"  best single model: {best.policy} {best.success_rate:.0%} ${best.usd_per_solved_task:.5f}/solved"
    )
    for r in rep.results:
        if r.kind in ("router", "cascade"):
            print(f"  {r.policy:60s} success {r.success_rate:.0%}  ${r.usd_per_solved_task:.5f}/solved")
    print(f"  ({time.perf_counter() - t2:.2f} s)")

    t3 = time.perf_counter()
    trace = synthetic_trace(1000, seed=0)
    print(
        f"\nsynthetic Mooncake trace, 1,000 requests: reuse share {prefix_reuse(trace).share:.1%} "
        f"({time.perf_counter() - t3:.2f} s)"
    )


if __name__ == "__main__":
    main()
