"""The load generator: a concurrency sweep (each level its own run) or a Poisson request rate, against any
OpenAI-compatible endpoint. Every finished request is handed to ``on_result`` at once (the store writes it),
so an interrupted run keeps what it measured."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import aiohttp
import numpy as np

from tokenomy.measure.client import Api, Prompt, RequestResult, endpoint, payload, preflight, send
from tokenomy.measure.metrics import Slo, summarize
from tokenomy.measure.power import NvmlSampler


@dataclass
class BenchConfig:
    url: str
    model: str
    api: Api = "chat"
    timeout_s: float = 60.0
    warmup: int = 0
    ignore_eos: bool = True
    slo: Slo = field(default_factory=Slo)
    gpus: int | None = None
    allin_kw_per_gpu: float | None = None
    usd_per_gpu_hour: float | None = None
    power: bool = False
    extra_body: dict | None = None


@dataclass
class LevelResult:
    concurrency: int | None
    rate: float | None
    results: list[RequestResult]
    summary: dict
    interrupted: bool = False


async def _run_one(
    session, cfg: BenchConfig, url: str, prompt: Prompt, index: int, warm: bool
) -> RequestResult:
    r = await send(
        session,
        url,
        payload(cfg.model, prompt, cfg.api, cfg.ignore_eos, cfg.extra_body),
        cfg.api,
        index,
        cfg.timeout_s,
    )
    r.warmup = warm
    if r.prompt_tokens is None and prompt.prompt_tokens_hint:
        r.prompt_tokens, r.prompt_tokens_estimated = prompt.prompt_tokens_hint, True
    return r


async def run_level(
    cfg: BenchConfig,
    prompts: Sequence[Prompt],
    concurrency: int | None = None,
    rate: float | None = None,
    burstiness: float = 1.0,
    max_concurrency: int | None = None,
    on_result: Callable[[RequestResult], None] | None = None,
    seed: int = 0,
) -> LevelResult:
    """One measurement: a fixed concurrency (closed loop), or requests arriving at ``rate``/s (gamma
    inter-arrival times of shape ``burstiness``; 1 = Poisson) with at most ``max_concurrency`` in flight."""
    if (concurrency is None) == (rate is None):
        raise ValueError("give either a concurrency or a rate")
    url = endpoint(cfg.url, cfg.api)
    results: list[RequestResult] = []
    conn = aiohttp.TCPConnector(limit=0, force_close=False)
    sampler = NvmlSampler() if cfg.power else None

    def done(r: RequestResult) -> None:
        results.append(r)
        if on_result:
            on_result(r)

    interrupted = False
    async with aiohttp.ClientSession(connector=conn) as session:
        for i in range(cfg.warmup):
            done(await _run_one(session, cfg, url, prompts[i % len(prompts)], -1 - i, True))
        t_start = time.time()
        if sampler:
            sampler.__enter__()
        try:
            if concurrency is not None:
                queue: asyncio.Queue[tuple[int, Prompt]] = asyncio.Queue()
                for i, p in enumerate(prompts):
                    queue.put_nowait((i, p))

                async def worker() -> None:
                    while True:
                        try:
                            i, p = queue.get_nowait()
                        except asyncio.QueueEmpty:
                            return
                        done(await _run_one(session, cfg, url, p, i, False))

                await asyncio.gather(*(worker() for _ in range(min(concurrency, len(prompts)))))
            else:
                rng = np.random.default_rng(seed)
                shape = max(burstiness, 1e-3)
                gaps = rng.gamma(shape, 1.0 / (rate * shape), size=len(prompts))
                limit = asyncio.Semaphore(max_concurrency or len(prompts))

                async def one(i: int, p: Prompt) -> None:
                    async with limit:
                        done(await _run_one(session, cfg, url, p, i, False))

                tasks = []
                for i, p in enumerate(prompts):
                    tasks.append(asyncio.create_task(one(i, p)))
                    await asyncio.sleep(gaps[i])
                await asyncio.gather(*tasks)
        except asyncio.CancelledError:
            interrupted = True
        finally:
            t_end = time.time()
            if sampler:
                sampler.__exit__(None, None, None)
    summary = summarize(
        results, t_end - t_start, cfg.slo, cfg.gpus, cfg.allin_kw_per_gpu, cfg.usd_per_gpu_hour
    )
    summary["power"] = (
        _power(sampler, t_start, t_end, summary)
        if cfg.power
        else {"measured": False, "reason": "not requested"}
    )
    return LevelResult(concurrency, rate, results, summary, interrupted)


def _power(sampler: NvmlSampler | None, t0: float, t1: float, summary: dict) -> dict:
    if sampler is None or not sampler.available:
        return {"measured": False, "reason": sampler.reason if sampler else "not requested"}
    joules = sampler.joules(t0, t1)
    tokens = summary["input_tokens"] + summary["output_tokens"]
    return {
        "measured": True,
        "samples": len(sampler.times),
        "joules": joules,
        "mean_watts": joules / max(t1 - t0, 1e-9),
        "joules_per_token": joules / tokens if tokens else None,
        "joules_per_output_token": joules / summary["output_tokens"] if summary["output_tokens"] else None,
    }


async def check_endpoint(cfg: BenchConfig) -> list[str]:
    async with aiohttp.ClientSession() as session:
        return await preflight(session, cfg.url, cfg.model)
