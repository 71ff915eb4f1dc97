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
from tokenomy.measure.metrics import Slo, reuse_summary, send_lateness, summarize
from tokenomy.measure.power import NvmlSampler
from tokenomy.measure.workload import Conversation

SPIN_S = 0.002  # trace replay: how early the scheduler wakes before a send, to send on time


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
    think_s: float = 0.0  # sessions: the wait between an answer and the session's next turn
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


async def _run_one(
    sender, cfg: BenchConfig, prompt: Prompt, index: int, warm: bool, due_s: float | None = None
) -> RequestResult:
    keep = prompt.session_id is not None  # a session's next turn carries this answer
    body = payload(cfg.model, prompt, cfg.api, cfg.ignore_eos, cfg.extra_body, cfg.min_tokens)
    r = await (sender(body, index, keep) if keep else sender(body, index))
    r.warmup = warm
    r.max_tokens = prompt.max_tokens
    if r.prompt_tokens is None and prompt.prompt_tokens_hint:
        r.prompt_tokens, r.prompt_tokens_estimated = prompt.prompt_tokens_hint, True
    if prompt.reused_tokens is not None:
        r.planned_tokens, r.reused_tokens = prompt.prompt_tokens_hint, prompt.reused_tokens
        r.session_id, r.turn = prompt.session_id, prompt.turn
    r.due_s = due_s
    return r


async def _sleep_until(due: float, spin_s: float) -> None:
    """Wait until ``time.perf_counter()`` reaches ``due``. With ``spin_s`` > 0 never early: a timer wakes
    ``spin_s`` before (timers may round to the millisecond), then the wait yields to the loop until ``due``."""
    delay = due - time.perf_counter()
    if delay > spin_s:
        await asyncio.sleep(delay - spin_s)
    while spin_s and time.perf_counter() < due:
        await asyncio.sleep(0)


async def _sessions(sender, cfg: BenchConfig, convs: Sequence[Conversation], concurrency: int, done) -> None:
    """Conversations at ``concurrency`` at once, the turns of each in order: a turn is sent ``cfg.think_s`` after
    the previous answer is in. After a failed turn the session's later turns are not sent (failed, with the reason)."""
    pending = list(convs)[::-1]
    system_sent = cfg.warmup > 0

    async def worker() -> None:
        nonlocal system_sent
        while pending:
            c = pending.pop()
            for t in range(c.turns):
                p = c.request(t, system_sent)
                system_sent = True
                i = c.session_id * c.turns + t
                r = await _run_one(sender, cfg, p, i, False)
                done(r)
                if not r.ok:
                    for k in range(t + 1, c.turns):
                        skipped = RequestResult(
                            index=c.session_id * c.turns + k, ok=False, start_s=time.time()
                        )
                        skipped.error = f"skipped: turn {t + 1} of session {c.session_id} failed"
                        skipped.session_id, skipped.turn = c.session_id, k
                        done(skipped)
                    break
                c.record(
                    p, r.answer or "", None if r.prompt_tokens_estimated else r.prompt_tokens, r.output_tokens
                )
                if cfg.think_s and t + 1 < c.turns:  # the session thinks (never less); its slot stays taken
                    await _sleep_until(time.perf_counter() + cfg.think_s, SPIN_S)

    await asyncio.gather(*(worker() for _ in range(min(concurrency, len(pending)))))


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
    arrivals_s: Sequence[float] | None = None,
    sessions: Sequence[Conversation] | None = None,
    warmup_prompts: Sequence[Prompt] | None = None,
) -> tuple[list[RequestResult], float, float, bool]:
    """Send ``prompts`` (numbered ``indices``) at a concurrency, a rate or at the given ``arrivals_s`` (seconds
    from the start: a trace); or run ``sessions`` at a concurrency. (results, t_start, t_end, interrupted),
    wall-clock times. ``start_at`` (epoch s, or awaited after the warm-up for it) lines up several
    generators. Warmup requests come from
    ``warmup_prompts`` (else ``prompts``)."""
    if (concurrency is None) + (rate is None) + (arrivals_s is None) != 2:
        raise ValueError("give one of a concurrency, a rate or arrival times")
    if sessions is not None and concurrency is None:
        raise ValueError("sessions run at a concurrency")
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

            def sender(body: dict, index: int, keep_text: bool = False):
                return pool.send(body, cfg.api, index, cfg.timeout_s, keep_text)

        else:
            session = await stack.enter_async_context(new_session())

            def sender(body: dict, index: int, keep_text: bool = False):
                return send(session, url, body, cfg.api, index, cfg.timeout_s, keep_text=keep_text)

        try:
            warm = warmup_prompts or prompts
            for i in range(cfg.warmup):
                p = warm[i % len(warm)]
                done(await _run_one(sender, cfg, p, -1 - i - warmup_index, True))
            if callable(start_at):
                start_at = await start_at()
            if start_at is not None:
                await asyncio.sleep(max(0.0, start_at - time.time()))
            t_start = time.time()
            if sessions is not None:
                await _sessions(sender, cfg, sessions, concurrency, done)
            elif concurrency is not None:
                pending = list(zip(idx, prompts, strict=True))[::-1]

                async def worker() -> None:
                    while pending:
                        i, p = pending.pop()
                        done(await _run_one(sender, cfg, p, i, False))

                await asyncio.gather(*(worker() for _ in range(min(concurrency, len(prompts)))))
            else:
                if arrivals_s is not None:
                    arrivals = np.asarray(arrivals_s, dtype=float)
                else:
                    rng = np.random.default_rng(seed)
                    shape = max(burstiness, 1e-3)
                    arrivals = np.cumsum(rng.gamma(shape, 1.0 / (rate * shape), size=len(prompts)))
                limit = asyncio.Semaphore(max_concurrency or len(prompts))
                # the schedule runs on perf_counter: the loop's own clock can be millisecond-grained (uvloop)
                clock = time.perf_counter
                t0, wall0 = clock(), time.time()

                async def one(i: int, p: Prompt, due: float) -> None:
                    async with limit:
                        done(await _run_one(sender, cfg, p, i, False, due))

                tasks = []
                # a trace's schedule is kept to the tenth of a millisecond: wake SPIN_S early (timers round
                # to the millisecond), then yield to the loop until the send time
                spin = SPIN_S if arrivals_s is not None else 0.0
                for k, (i, p) in enumerate(zip(idx, prompts, strict=True)):
                    # absolute arrival times: a late wake-up does not shift the rest of the process
                    due = t0 + arrivals[k]
                    await _sleep_until(due, spin)
                    tasks.append(asyncio.create_task(one(i, p, wall0 + float(arrivals[k]))))
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
    arrivals_s: Sequence[float] | None = None,
    sessions: Sequence[Conversation] | None = None,
    warmup_prompts: Sequence[Prompt] | None = None,
) -> LevelResult:
    """One measurement in this process: a fixed concurrency, requests arriving at ``rate``/s (gamma
    inter-arrival times of shape ``burstiness``; 1 = Poisson) or at ``arrivals_s`` (a trace), with at most
    ``max_concurrency`` in flight; or ``sessions`` at a concurrency."""
    sampler = NvmlSampler() if cfg.power else None
    if sampler:
        sampler.__enter__()
    cpu0 = time.process_time()
    try:
        results, t_start, t_end, interrupted = await generate(
            cfg,
            prompts,
            concurrency,
            rate,
            burstiness,
            max_concurrency,
            on_result,
            seed,
            arrivals_s=arrivals_s,
            sessions=sessions,
            warmup_prompts=warmup_prompts,
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
    reuse, late = reuse_summary(results), send_lateness(results)
    if reuse:
        summary["reuse"] = reuse
    if late:
        summary["send_late_ms"] = late
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
