"""Compare decode steps measured by gpu_decode.py with tokenomy's model of the same step.

Three predictions per measured (batch, context), each an honest reading of the model:
  roofline   every op at 100% of peak FLOP/s and HBM bandwidth (the physical floor);
  kernels    the fitted kernel efficiencies of a framework on this GPU family, without an engine's
             scheduler, per-layer launch or per-request costs (a CUDA graph of plain PyTorch has none of those);
  engine     the full calibrated decode step of that framework (what `tokenomy frontier` uses).
Prints each point and the MdAPE of each prediction; measured power is shown beside the catalog's TDP.

Run: .venv/bin/python benchmarks/gpu_compare.py benchmarks/data/h100_llama8b_decode.csv [--hardware h100_sxm]
"""

from __future__ import annotations

import argparse
import csv
from dataclasses import replace

import numpy as np

from tokenomy.catalog import catalog
from tokenomy.perf.calibration import load_calibration
from tokenomy.perf.hardware import hardware_spec
from tokenomy.perf.ops import Parallel, Precision, decode_step_cost
from tokenomy.perf.serving import Efficiency, decode_step_s, step_time_s

DEVICE_TO_HARDWARE = {"H100": "h100_sxm", "H200": "h200_sxm", "B200": "b200_sxm", "MI300X": "mi300x"}


def predicted_step_ms(
    hw_id: str, batch: np.ndarray, context: np.ndarray, backend: str
) -> dict[str, np.ndarray]:
    """The three predictions (ms) of one Llama-3.1-8B BF16 decode step on one GPU."""
    cat = catalog()
    arch = cat.model("llama-3.1-8b").architecture
    hw = hardware_spec(hw_id, cat)
    prec = Precision("bf16", "bf16", "bf16")
    one = np.ones_like(batch)
    par = Parallel(tp=one, pp=one, dp=one, moe_tp=one, moe_ep=one)
    cost = decode_step_cost(arch, prec, par, batch.astype(float), context.astype(float), hw.scaleup_domain)
    fitted = load_calibration().efficiency(backend, hw.family)

    def kernels(eff: Efficiency) -> np.ndarray:
        return step_time_s(cost, hw, "bf16", eff.compute_decode, eff.mem_decode, 0.0, eff.mem_experts) * 1e3

    peak = replace(Efficiency(), mem_decode=1.0, mem_experts=1.0, compute_decode=1.0)
    # The engine's step is the serving model's own (decode_step_s): kernels plus every overhead term.
    engine = (
        decode_step_s(arch, hw, prec, par, batch.astype(float), context.astype(float), fitted, cost=cost)
        * 1e3
    )
    return {"roofline": kernels(peak), "kernels": kernels(fitted), "engine": engine}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("csv", help="output of benchmarks/gpu_decode.py")
    ap.add_argument("--hardware", help="catalog id (default: from the device name)")
    ap.add_argument("--backend", default="trtllm", help="framework whose fitted efficiencies to use")
    args = ap.parse_args()

    with open(args.csv, newline="") as f:
        rows = [r for r in csv.DictReader(f) if r.get("step_ms")]
    if not rows:
        raise SystemExit(f"{args.csv}: no measured rows")
    hw_id = args.hardware or next((v for k, v in DEVICE_TO_HARDWARE.items() if k in rows[0]["device"]), None)
    if not hw_id:
        raise SystemExit(f"cannot tell the catalog hardware from '{rows[0]['device']}': pass --hardware")
    batch = np.array([int(r["batch"]) for r in rows])
    context = np.array([int(r["context"]) for r in rows])
    measured = np.array([float(r["step_ms"]) for r in rows])
    pred = predicted_step_ms(hw_id, batch, context, args.backend)
    tdp = catalog().accelerator(hw_id).value("tdp_w")
    print(f"{rows[0]['device']} as {hw_id} (TDP {tdp} W); fitted efficiencies of {args.backend}")
    print("   B      C  measured ms  roofline  kernels   engine   power W  J/token")
    for i, r in enumerate(rows):
        watts = f"{float(r['power_w']):8.0f}" if r.get("power_w") else "       —"
        jpt = f"{float(r['joules_per_token']):8.3f}" if r.get("joules_per_token") else "       —"
        print(
            f"{batch[i]:4d} {context[i]:6d} {measured[i]:12.3f} {pred['roofline'][i]:9.3f} "
            f"{pred['kernels'][i]:8.3f} {pred['engine'][i]:8.3f} {watts} {jpt}"
        )
    for name, p in pred.items():
        ape = np.abs(p / measured - 1)
        print(f"{name:8s} MdAPE {100 * np.median(ape):5.1f}%   p90 {100 * np.quantile(ape, 0.9):5.1f}%")
    achieved = pred["roofline"] / measured
    print(f"achieved fraction of the roofline: median {np.median(achieved):.2f} (min {achieved.min():.2f})")


if __name__ == "__main__":
    main()
