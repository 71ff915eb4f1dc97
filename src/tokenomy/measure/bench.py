"""The load generator: a fixed concurrency (closed loop) or a Poisson request rate, against any
OpenAI-compatible endpoint. Every finished request is handed to ``on_result`` at once (a queue put: storage
runs on another thread), so nothing blocks the event loop while streams are open."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import aiohttp
import numpy as np

from tokenomy.measure.client import (
    Api,
    Prompt,
    RequestResult,
    endpoint,
    new_session,
    payload,
    preflight,
    send,
)
from tokenomy.measure.http1 import Http1Pool
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
    min_tokens: int | None = None
    slo: Slo = field(default_factory=Slo)
    gpus: int | None = None
    allin_kw_per_gpu: float | None = None
    usd_per_gpu_hour: float | None = None
    power: bool = False
    extra_body: dict | None = None
    http_client: str = "auto"  # auto: the lean HTTP/1.1 client for http://, aiohttp for https; or "aiohttp"


@dataclass
class LevelResult:
    concurrency: int | None
    rate: float | None
    results: list[RequestResult]
    summary: dict
    interrupted: bool = False
    t_start: float = 0.0  # wall clock (epoch s) when measured load began
    t_end: float = 0.0
    partial_reason: str | None = None  # a worker died: what it had in flight is lost


async def _run_one(sender, cfg: BenchConfig, prompt: Prompt, index: int, warm: bool) -> RequestResult:
    r = await sender(
        payload(cfg.model, prompt, cfg.api, cfg.ignore_eos, cfg.extra_body, cfg.min_tokens), index
    )
    r.warmup = warm
    r.max_tokens = prompt.max_tokens
    if r.prompt_tokens is None and prompt.prompt_tokens_hint:
        r.prompt_tokens, r.prompt_tokens_estimated = prompt.prompt_tokens_hint, True
    return r


async def generate(
    cfg: BenchConfig,
    prompts: Sequence[Prompt],
    concurrency: int | None = None,
    rate: float | None = None,
    burstiness: float = 1.0,
    max_concurrency: int | None = None,
    on_result: Callable[[RequestResult], None] | None = None,
    seed: int = 0,
    indices: Sequence[int] | None = None,
    start_at: float | Callable[[], Awaitable[float]] | None = None,
    warmup_index: int = 0,
) -> tuple[list[RequestResult], float, float, bool]:
    """Send ``prompts`` (numbered ``indices``) at a concurrency or a rate; (results, t_start, t_end,
    interrupted), wall-clock times. ``start_at`` (epoch s, or awaited after the warm-up for it) lines up
    several generators."""
    if (concurrency is None) == (rate is None):
        raise ValueError("give either a concurrency or a rate")
    url = endpoint(cfg.url, cfg.api)
    idx = list(indices) if indices is not None else list(range(len(prompts)))
    results: list[RequestResult] = []
    add = results.append

    def done(r: RequestResult) -> None:
        add(r)
        if on_result:
            on_result(r)

    interrupted = False
    t_start = t_end = time.time()
    async with contextlib.AsyncExitStack() as stack:
        if cfg.http_client == "auto" and url.startswith("http://"):
            pool = Http1Pool(url)
            stack.callback(pool.close)

            def sender(body: dict, index: int):
                return pool.send(body, cfg.api, index, cfg.timeout_s)

        else:
            session = await stack.enter_async_context(new_session())

            def sender(body: dict, index: int):
                return send(session, url, body, cfg.api, index, cfg.timeout_s)

        try:
            for i in range(cfg.warmup):
                p = prompts[i % len(prompts)]
                done(await _run_one(sender, cfg, p, -1 - i - warmup_index, True))
            if callable(start_at):
                start_at = await start_at()
            if start_at is not None:
                await asyncio.sleep(max(0.0, start_at - time.time()))
            t_start = time.time()
            if concurrency is not None:
                pending = list(zip(idx, prompts, strict=True))[::-1]

                async def worker() -> None:
                    while pending:
                        i, p = pending.pop()
                        done(await _run_one(sender, cfg, p, i, False))

                await asyncio.gather(*(worker() for _ in range(min(concurrency, len(prompts)))))
            else:
                rng = np.random.default_rng(seed)
                shape = max(burstiness, 1e-3)
                arrivals = np.cumsum(rng.gamma(shape, 1.0 / (rate * shape), size=len(prompts)))
                limit = asyncio.Semaphore(max_concurrency or len(prompts))
                loop = asyncio.get_running_loop()
                t0 = loop.time()

                async def one(i: int, p: Prompt) -> None:
                    async with limit:
                        done(await _run_one(sender, cfg, p, i, False))

                tasks = []
                for k, (i, p) in enumerate(zip(idx, prompts, strict=True)):
                    # absolute arrival times: a late wake-up does not shift the rest of the process
                    delay = t0 + arrivals[k] - loop.time()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    tasks.append(asyncio.create_task(one(i, p)))
                await asyncio.gather(*tasks)
        except asyncio.CancelledError:
            interrupted = True
        finally:
            t_end = time.time()
    return results, t_start, t_end, interrupted


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
    """One measurement in this process: a fixed concurrency, or requests arriving at ``rate``/s (gamma
    inter-arrival times of shape ``burstiness``; 1 = Poisson) with at most ``max_concurrency`` in flight."""
    sampler = NvmlSampler() if cfg.power else None
    if sampler:
        sampler.__enter__()
    cpu0 = time.process_time()
    try:
        results, t_start, t_end, interrupted = await generate(
            cfg, prompts, concurrency, rate, burstiness, max_concurrency, on_result, seed
        )
    finally:
        if sampler:
            sampler.__exit__(None, None, None)
    res = finish_level(cfg, concurrency, rate, results, t_start, t_end, interrupted, sampler)
    # CPU this process spent (all threads, storage included): the client's cost, whatever else the machine runs
    res.summary["client_cpu_s"] = time.process_time() - cpu0
    return res


def finish_level(
    cfg: BenchConfig,
    concurrency: int | None,
    rate: float | None,
    results: list[RequestResult],
    t_start: float,
    t_end: float,
    interrupted: bool,
    sampler: NvmlSampler | None = None,
    partial_reason: str | None = None,
) -> LevelResult:
    """Summarize the (merged) per-request rows of a level."""
    summary = summarize(
        results, t_end - t_start, cfg.slo, cfg.gpus, cfg.allin_kw_per_gpu, cfg.usd_per_gpu_hour
    )
    summary["power"] = (
        _power(sampler, t_start, t_end, summary)
        if cfg.power
        else {"measured": False, "reason": "not requested"}
    )
    return LevelResult(concurrency, rate, results, summary, interrupted, t_start, t_end, partial_reason)


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
