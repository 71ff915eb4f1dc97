"""`tokenomy bench` side by side with other load generators, in the same run, on this machine: req/s at c=64 of
64-token streams (instant server) and the TTFT each reports at c=64 against a server whose true TTFT is 50 ms
(then one token every 10 ms). Client on one core, the fake server (tokenomy.measure.fake_server) on the other.

Peers run only when installed (guidellm, aiperf, inference-perf on PATH; the `openai` package for a plain loop);
the others are skipped and said so. For peer CLIs, req/s is requests / wall time of the whole command (their start
counts): a bound from below, said in the output.

Run: .venv/bin/python benchmarks/peers.py [--requests 3000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_truth import CORES, Server, bench, machine, pin  # noqa: E402


def ours_cli(fast: Server, slow: Server, n: int) -> tuple[str, float, float | None]:
    doc, _ = bench(fast.url, "-c", "64", "--num-prompts", str(n), "--isl", "8", "--osl", "64")
    rps = doc["levels"][0]["request_throughput"]
    doc, _ = bench(slow.url, "-c", "64", "--num-prompts", "640", "--isl", "8", "--osl", "64")
    return "tokenomy bench (CLI, DuckDB storage)", rps, doc["levels"][0]["ttft_ms"]["p50"]


def _in_core(fn, *args):
    """Run ``fn(*args)`` in a child process on the client core; its return value."""
    import multiprocessing as mp

    ctx = mp.get_context("fork")
    q = ctx.Queue()

    def target() -> None:
        pin(0)()
        q.put(fn(*args))

    p = ctx.Process(target=target)
    p.start()
    out = q.get(timeout=900)
    p.join()
    return out


def _loop_ours(url: str, n: int) -> tuple[float, float]:
    from tokenomy.measure.bench import BenchConfig, generate
    from tokenomy.measure.workload import random_prompts

    cfg = BenchConfig(url=url, model="fake-model")
    results, t0, t1, _ = asyncio.run(generate(cfg, random_prompts(n, 8, 64), concurrency=64))
    ttft = statistics.median(r.ttft_ms for r in results if r.ok)
    return sum(r.ok for r in results) / (t1 - t0), ttft


def ours_loop(fast: Server, slow: Server, n: int) -> tuple[str, float, float | None]:
    rps, _ = _in_core(_loop_ours, fast.url, n)
    _, ttft = _in_core(_loop_ours, slow.url, 640)
    return "tokenomy's send loop, no storage", rps, ttft


def _loop_openai(url: str, n: int) -> tuple[float, float]:
    from openai import AsyncOpenAI

    async def go() -> tuple[float, float]:
        client = AsyncOpenAI(base_url=url + "/v1", api_key="none", max_retries=0)
        left = list(range(n))
        ttfts: list[float] = []

        async def worker() -> None:
            while left:
                left.pop()
                t = time.perf_counter()
                first = None
                stream = await client.chat.completions.create(
                    model="fake-model",
                    messages=[{"role": "user", "content": "hi"}],
                    max_tokens=64,
                    stream=True,
                )
                async for chunk in stream:
                    if first is None and chunk.choices and chunk.choices[0].delta.content:
                        first = time.perf_counter()
                ttfts.append((first - t) * 1e3)

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(64)))
        wall = time.perf_counter() - t0
        await client.close()
        return n / wall, statistics.median(ttfts)

    return asyncio.run(go())


def openai_loop(fast: Server, slow: Server, n: int) -> tuple[str, float, float | None]:
    rps, _ = _in_core(_loop_openai, fast.url, min(n, 1500))
    _, ttft = _in_core(_loop_openai, slow.url, 640)
    return "plain loop over the openai client", rps, ttft


def _cli_peer(name: str, cmd: list[str], n: int) -> tuple[str, float, float | None]:
    t = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=900, preexec_fn=pin(0))
    wall = time.perf_counter() - t
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-300:])
    return f"{name} (req/s incl. its start)", n / wall, None


def guidellm(fast: Server, slow: Server, n: int):
    with tempfile.TemporaryDirectory() as tmp:
        cmd = ["guidellm", "benchmark", "--target", fast.url, "--rate-type", "concurrent", "--rate", "64",
               "--max-requests", str(n), "--data", "prompt_tokens=8,output_tokens=64",
               "--output-path", f"{tmp}/g.json"]  # fmt: skip
        return _cli_peer("guidellm", cmd, n)


def aiperf(fast: Server, slow: Server, n: int):
    with tempfile.TemporaryDirectory() as tmp:
        cmd = ["aiperf", "profile", "--model", "fake-model", "--url", fast.url, "--endpoint-type", "chat",
               "--streaming", "--concurrency", "64", "--request-count", str(n),
               "--synthetic-input-tokens-mean", "8", "--output-tokens-mean", "64", "--artifact-dir", tmp]  # fmt: skip
        return _cli_peer("aiperf", cmd, n)


def inference_perf(fast: Server, slow: Server, n: int):
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp) / "config.yml"
        cfg.write_text(
            json.dumps(
                {
                    "load": {"type": "constant", "stages": [{"rate": 2000, "duration": max(1, n // 2000)}]},
                    "api": {"type": "chat", "streaming": True},
                    "server": {"type": "vllm", "model_name": "fake-model", "base_url": fast.url},
                    "data": {
                        "type": "random",
                        "input_distribution": {"mean": 8},
                        "output_distribution": {"mean": 64},
                    },
                }
            )
        )
        return _cli_peer("inference-perf", ["inference-perf", "--config_file", str(cfg)], n)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=3000)
    n = ap.parse_args().requests
    print(machine())
    print(
        f"client on core 0, server on core {CORES - 1}; {n} requests at c=64 for req/s; 640 at c=64 for TTFT"
    )
    rows = []
    with Server(ttft_ms=0, gap_ms=0, tokens=64) as fast, Server(ttft_ms=50, gap_ms=10, tokens=64) as slow:
        tools = [("tokenomy", ours_cli, None), ("tokenomy", ours_loop, None), ("openai", openai_loop, "openai"),
                 ("guidellm", guidellm, "guidellm"), ("aiperf", aiperf, "aiperf"),
                 ("inference-perf", inference_perf, "inference-perf")]  # fmt: skip
        for name, fn, need in tools:
            if need == "openai":
                try:
                    import openai  # noqa: F401
                except ImportError:
                    print(f"{name}: not installed, skipped")
                    continue
            elif need and shutil.which(need) is None:
                print(f"{name}: not installed, skipped")
                continue
            try:
                rows.append(fn(fast, slow, n))
            except Exception as exc:
                print(f"{name}: failed to run ({type(exc).__name__}: {str(exc)[:200]})")
    print(f"\n{'tool':<48} {'req/s at c=64':>14} {'TTFT p50 at c=64 (true 50 ms)':>30}")
    for label, rps, ttft in rows:
        print(f"{label:<48} {rps:>14,.0f} {'—' if ttft is None else f'{ttft:.1f} ms':>30}")
    peers = [r for r in rows[2:]]
    if rows and peers:
        best = max(p[1] for p in peers)
        print(f"\ntokenomy bench (CLI) / fastest peer = {rows[0][1] / best:.1f}x (target ≥ 2x)")


if __name__ == "__main__":
    main()
