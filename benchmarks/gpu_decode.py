"""Measure decode-step time and NVML power of a random-weight Llama-3.1-8B in plain PyTorch on one GPU.

What it measures: one decode step (batch B, every request at context C) of a BF16 Llama-3.1-8B with random
weights and a random KV cache: 32 × (RMSNorm, QKV, RoPE, GQA attention over C cached tokens, O, RMSNorm, SwiGLU)
+ final norm + LM head. The step is captured in a CUDA graph (so kernel-launch overhead, which a serving engine
also hides, does not dominate small batches) and replayed for at least ``--seconds`` per point while a thread
samples NVML power every 20 ms. Points whose KV cache does not fit next to the weights are skipped, and say so.

Run on a GPU machine (needs torch; tokenomy is not needed):
    python benchmarks/gpu_decode.py --out benchmarks/data/h100_llama8b_decode.csv
Smoke test on a CPU (tiny shapes, no graph, no NVML):
    python benchmarks/gpu_decode.py --tiny --out /tmp/tiny.csv
Then compare with the model: python benchmarks/gpu_compare.py benchmarks/data/h100_llama8b_decode.csv
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import platform
import statistics
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import torch

# Llama-3.1-8B shapes (meta-llama/Llama-3.1-8B config.json, also in tokenomy's catalog).
LLAMA_8B = dict(hidden=4096, layers=32, heads=32, kv_heads=8, head_dim=128, ffn=14336, vocab=128256)
TINY = dict(hidden=256, layers=2, heads=4, kv_heads=2, head_dim=64, ffn=512, vocab=1000)
BATCHES = (1, 2, 4, 8, 16, 32, 64, 128, 256)
CONTEXTS = (1024, 8192)
HEADROOM_BYTES = 4e9  # activations, CUDA graph pool, allocator slack


@dataclass
class Shapes:
    hidden: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    ffn: int
    vocab: int

    def weight_params(self) -> int:
        attn = (
            self.hidden * (self.heads + 2 * self.kv_heads) * self.head_dim
            + self.heads * self.head_dim * self.hidden
        )
        return (
            self.layers * (attn + 3 * self.hidden * self.ffn + 2 * self.hidden)
            + self.vocab * self.hidden
            + self.hidden
        )

    def kv_bytes(self, batch: int, context: int, elem: int = 2) -> int:
        return 2 * self.layers * batch * self.kv_heads * context * self.head_dim * elem


class RandomLlama:
    """Random BF16 weights and KV cache; ``step(x)`` runs one decode step for a (B, hidden) activation."""

    def __init__(self, s: Shapes, batch: int, context: int, device: torch.device, dtype: torch.dtype):
        g = torch.Generator(device=device).manual_seed(0)

        def w(*shape: int) -> torch.Tensor:
            return (torch.randn(*shape, generator=g, device=device, dtype=torch.float32) * 0.02).to(dtype)

        self.s, self.context = s, context
        self.layers = [
            dict(
                qkv=w((s.heads + 2 * s.kv_heads) * s.head_dim, s.hidden),
                o=w(s.hidden, s.heads * s.head_dim),
                gate_up=w(2 * s.ffn, s.hidden),
                down=w(s.hidden, s.ffn),
                n1=torch.ones(s.hidden, device=device, dtype=dtype),
                n2=torch.ones(s.hidden, device=device, dtype=dtype),
                k=w(batch, s.kv_heads, context, s.head_dim),
                v=w(batch, s.kv_heads, context, s.head_dim),
            )
            for _ in range(s.layers)
        ]
        self.norm = torch.ones(s.hidden, device=device, dtype=dtype)
        self.head = w(s.vocab, s.hidden)
        half = s.head_dim // 2
        freqs = 1.0 / (500000.0 ** (torch.arange(half, device=device, dtype=torch.float32) / half))
        angle = (context - 1) * freqs
        self.cos, self.sin = angle.cos().to(dtype), angle.sin().to(dtype)

    @staticmethod
    def _rms(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        xf = x.float()
        return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + 1e-5)).to(x.dtype) * weight

    def _rope(self, t: torch.Tensor) -> torch.Tensor:
        a, b = t.chunk(2, dim=-1)
        return torch.cat((a * self.cos - b * self.sin, b * self.cos + a * self.sin), dim=-1)

    def step(self, x: torch.Tensor) -> torch.Tensor:
        s, bsz = self.s, x.shape[0]
        for lyr in self.layers:
            h = self._rms(x, lyr["n1"]) @ lyr["qkv"].T
            q, k, v = h.split(
                [s.heads * s.head_dim, s.kv_heads * s.head_dim, s.kv_heads * s.head_dim], dim=-1
            )
            q = self._rope(q.view(bsz, s.heads, 1, s.head_dim))
            k = self._rope(k.view(bsz, s.kv_heads, 1, s.head_dim))
            # The new token's K/V land in the last cache slot; attention reads all `context` cached tokens.
            lyr["k"][:, :, -1:, :].copy_(k)
            lyr["v"][:, :, -1:, :].copy_(v.view(bsz, s.kv_heads, 1, s.head_dim))
            a = torch.nn.functional.scaled_dot_product_attention(q, lyr["k"], lyr["v"], enable_gqa=True)
            x = x + a.reshape(bsz, s.heads * s.head_dim) @ lyr["o"].T
            gu = self._rms(x, lyr["n2"]) @ lyr["gate_up"].T
            gate, up = gu.chunk(2, dim=-1)
            x = x + (torch.nn.functional.silu(gate) * up) @ lyr["down"].T
        return self._rms(x, self.norm) @ self.head.T


class PowerSampler:
    """Average board power (W) from NVML while the block runs; None without a GPU or NVML."""

    def __init__(self, index: int = 0, period_s: float = 0.02):
        self.samples: list[float] = []
        self.period_s = period_s
        self._stop = threading.Event()
        try:
            import pynvml

            pynvml.nvmlInit()
            self._nvml = pynvml
            self._handle = pynvml.nvmlDeviceGetHandleByIndex(index)
        except Exception:  # noqa: BLE001  (no NVML here: power is simply not measured)
            self._nvml = None

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append(self._nvml.nvmlDeviceGetPowerUsage(self._handle) / 1000.0)
            time.sleep(self.period_s)

    def __enter__(self) -> PowerSampler:
        if self._nvml:
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._nvml:
            self._stop.set()
            self._thread.join()

    @property
    def mean_w(self) -> float | None:
        # Drop the first 10% of samples: the board's power reading lags the load by ~100 ms.
        kept = self.samples[len(self.samples) // 10 :]
        return statistics.fmean(kept) if kept else None


def measure(model: RandomLlama, batch: int, device: torch.device, seconds: float, graph: bool) -> dict:
    x = torch.randn(batch, model.s.hidden, device=device, dtype=model.norm.dtype) * 0.02
    run = lambda: model.step(x)  # noqa: E731
    for _ in range(3):  # warm-up (allocator, kernels' autotuning)
        run()
    if device.type == "cuda":
        torch.cuda.synchronize()
        if graph:
            g = torch.cuda.CUDAGraph()
            with torch.cuda.graph(g):
                run()
            run = g.replay
    times_ms: list[float] = []
    with PowerSampler(device.index or 0) if device.type == "cuda" else _Null() as power:
        t_end = time.perf_counter() + seconds
        while time.perf_counter() < t_end or len(times_ms) < 5:
            if device.type == "cuda":
                start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record()
                for _ in range(10):
                    run()
                stop.record()
                stop.synchronize()
                times_ms.append(start.elapsed_time(stop) / 10)
            else:
                t0 = time.perf_counter()
                run()
                times_ms.append((time.perf_counter() - t0) * 1e3)
    step_ms = statistics.median(times_ms)
    watts = getattr(power, "mean_w", None)
    return {
        "step_ms": step_ms,
        "step_ms_p10": statistics.quantiles(times_ms, n=10)[0] if len(times_ms) >= 10 else step_ms,
        "step_ms_p90": statistics.quantiles(times_ms, n=10)[-1] if len(times_ms) >= 10 else step_ms,
        "tokens_per_s": batch / step_ms * 1e3,
        "power_w": watts,
        "joules_per_token": watts * step_ms / 1e3 / batch if watts else None,
        "samples": len(times_ms),
    }


class _Null:
    mean_w = None

    def __enter__(self) -> _Null:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="benchmarks/data/gpu_llama8b_decode.csv", help="CSV to write")
    ap.add_argument("--batches", default=",".join(map(str, BATCHES)))
    ap.add_argument("--contexts", default=",".join(map(str, CONTEXTS)))
    ap.add_argument("--seconds", type=float, default=2.0, help="replay time per point (power needs ≥ 1 s)")
    ap.add_argument("--tiny", action="store_true", help="tiny shapes on the CPU: a smoke test of this script")
    ap.add_argument("--no-graph", action="store_true", help="eager PyTorch (launch overhead included)")
    args = ap.parse_args()

    s = Shapes(**(TINY if args.tiny else LLAMA_8B))
    device = torch.device("cpu" if args.tiny or not torch.cuda.is_available() else "cuda:0")
    dtype = torch.float32 if device.type == "cpu" else torch.bfloat16
    free = torch.cuda.mem_get_info()[0] if device.type == "cuda" else 8e9
    weight_bytes = s.weight_params() * torch.tensor([], dtype=dtype).element_size()
    name = torch.cuda.get_device_name(0) if device.type == "cuda" else platform.processor() or "cpu"
    rows = []
    for context in (int(c) for c in args.contexts.split(",")):
        for batch in (int(b) for b in args.batches.split(",")):
            kv_bytes = s.kv_bytes(batch, context, torch.tensor([], dtype=dtype).element_size())
            need = weight_bytes + kv_bytes + HEADROOM_BYTES
            row = {"device": name, "batch": batch, "context": context, "weight_bytes": weight_bytes}
            row["kv_bytes"] = kv_bytes
            if need > free:
                row["note"] = f"skipped: needs {need / 1e9:.0f} GB, {free / 1e9:.0f} GB free"
                print(f"B={batch:4d} C={context:5d}  {row['note']}", flush=True)
                rows.append(row)
                continue
            model = RandomLlama(s, batch, context, device, dtype)
            row.update(measure(model, batch, device, args.seconds, graph=not args.no_graph))
            row["note"] = "cuda graph" if device.type == "cuda" and not args.no_graph else "eager"
            watts = f"{row['power_w']:.0f} W" if row["power_w"] else "no NVML"
            print(
                f"B={batch:4d} C={context:5d}  step {row['step_ms']:.3f} ms  {row['tokens_per_s']:,.0f} tok/s  {watts}",
                flush=True,
            )
            rows.append(row)
            del model
            if device.type == "cuda":
                torch.cuda.empty_cache()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    first = ["device", "batch", "context", "step_ms", "tokens_per_s", "power_w", "joules_per_token"]
    fields = first + sorted({k for r in rows for k in r} - set(first))
    with out.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    meta = {
        "measured_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "device": name,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "shapes": s.__dict__,
        "dtype": str(dtype),
        "method": __doc__.split("\n\n")[1].replace("\n", " "),
    }
    out.with_suffix(".json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out} and {out.with_suffix('.json')}")


if __name__ == "__main__":
    main()
