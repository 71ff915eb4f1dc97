"""The load generator spread over Ray actors (extra ``ray``): each worker runs the asyncio client on its share
of the concurrency or of the arrival rate and sends finished requests back in batches; the driver merges them,
stores them (it is the only DuckDB writer) and summarizes the merged per-request rows.

Clock offsets between the driver and each worker are measured at start (the ping with the smallest round trip)
and applied to request start times; durations (TTFT, TPOT, E2E) are measured on one worker's clock and need none.
A worker that dies loses the requests it had in flight or not yet sent (at most ``BATCH_S`` of finished ones);
the level is then partial, with the reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from tokenomy.measure.bench import BenchConfig, LevelResult, finish_level, generate
from tokenomy.measure.client import Prompt, RequestResult

BATCH_S = 0.2  # a worker sends what finished at least this often
BATCH_ROWS = 256  # … or as soon as this many are waiting


class RayMissingError(RuntimeError):
    """Ray is not installed: the message names the extra."""


def import_ray():
    """The ray module, or a clear error naming the extra that installs it."""
    try:
        import ray
    except ImportError:
        raise RayMissingError(
            "load generation on Ray workers needs Ray, which is not installed: pip install 'tokenomy[ray]'"
        ) from None
    return ray


class LoadWorker:
    """One Ray actor: the asyncio client on one share of the load; finished records leave in batches."""

    def __init__(self, cfg: BenchConfig):
        self.cfg = cfg
        self.buf: list[RequestResult] = []
        self.level = -1  # the level being (or last) generated
        self.finished = False
        self.task: asyncio.Task | None = None
        self.wake = asyncio.Event()
        self.warm = asyncio.Event()  # set when this share's warm-up requests are done
        self.start: asyncio.Future | None = None  # the driver's common start time, on this worker's clock

    def now(self) -> float:
        return time.time()

    def where(self) -> dict:
        return {"host": socket.gethostname(), "pid": os.getpid()}

    async def run(
        self,
        prompts: list[Prompt],
        indices: list[int],
        concurrency: int | None,
        rate: float | None,
        burstiness: float,
        max_concurrency: int | None,
        seed: int,
        warmup_index: int,
        level: int,
    ) -> tuple[float, float, bool]:
        """Warm up, then wait for the common start (``go``) and generate this share; (t_start, t_end,
        interrupted) on this worker's clock."""
        self.buf, self.finished, self.level = [], False, level
        self.wake.clear()
        self.warm.clear()
        self.start = asyncio.get_running_loop().create_future()

        async def start_at() -> float:
            self.warm.set()
            return await self.start

        def on_result(r: RequestResult) -> None:
            self.buf.append(r)
            if len(self.buf) >= BATCH_ROWS:
                self.wake.set()

        self.task = asyncio.ensure_future(
            generate(
                self.cfg,
                prompts,
                concurrency,
                rate,
                burstiness,
                max_concurrency,
                on_result,
                seed,
                indices,
                start_at,
                warmup_index,
            )
        )
        try:
            _, t0, t1, interrupted = await self.task
        except asyncio.CancelledError:
            t0 = t1 = time.time()
            interrupted = True
        self.finished = True
        self.wake.set()
        return t0, t1, interrupted

    async def warmed(self) -> None:
        """Returns once this share's warm-up is done."""
        await self.warm.wait()

    def go(self, start_at: float) -> None:
        """Start the measured load at ``start_at`` (epoch s, this worker's clock)."""
        if self.start is not None and not self.start.done():
            self.start.set_result(start_at)

    async def next_batch(self, level: int) -> tuple[list[RequestResult], bool]:
        """What finished since the last call (waits up to BATCH_S for some); True once all of ``level``
        is sent."""
        current = self.level == level
        if not current or (not self.buf and not self.finished):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), BATCH_S)
            if self.level == level and not self.finished:
                self.wake.clear()
        if self.level != level:
            return [], False  # its run() has not started yet
        out, self.buf = self.buf, []
        return out, self.finished

    def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()


@dataclass
class Cluster:
    """Started workers and what the driver knows of them."""

    ray: object
    workers: list
    offsets_s: list[float]  # worker clock − driver clock
    rtts_s: list[float]
    where: list[dict]
    started_ray: bool

    @property
    def max_offset_ms(self) -> float:
        return max(abs(o) for o in self.offsets_s) * 1e3

    def info(self) -> dict:
        return {
            "workers": len(self.workers),
            "hosts": sorted({w["host"] for w in self.where}),
            "clock_offsets_ms": [round(o * 1e3, 3) for o in self.offsets_s],
            "max_clock_offset_ms": round(self.max_offset_ms, 3),
            "offset_uncertainty_ms": round(max(self.rtts_s) * 1e3 / 2, 3),
        }

    def shutdown(self) -> None:
        for w in self.workers:
            with contextlib.suppress(Exception):  # already dead
                self.ray.kill(w)
        if self.started_ray:
            self.ray.shutdown()


def start_workers(
    cfg: BenchConfig, n: int, address: str | None = None, start_timeout_s: float = 120.0
) -> Cluster:
    """``n`` LoadWorker actors (one CPU each, spread over the nodes); Ray starts locally without ``address``."""
    ray = import_ray()
    started = False
    if not ray.is_initialized():
        kw: dict = {"include_dashboard": False, "log_to_driver": False, "logging_level": "ERROR"}
        if address:
            ray.init(address=address, **kw)
        else:
            ray.init(num_cpus=max(os.cpu_count() or 1, n), **kw)
        started = True
    actor = ray.remote(LoadWorker)
    tag = uuid.uuid4().hex[:8]
    opts = {"num_cpus": 1, "scheduling_strategy": "SPREAD", "max_restarts": 0}
    workers = [actor.options(name=f"tokenomy-bench-{tag}-w{k}", **opts).remote(cfg) for k in range(n)]
    ready, _ = ray.wait([w.where.remote() for w in workers], num_returns=n, timeout=start_timeout_s)
    if len(ready) < n:
        cpus = ray.available_resources().get("CPU", 0)
        for w in workers:
            ray.kill(w)
        if started:
            ray.shutdown()
        raise RuntimeError(
            f"only {len(ready)} of {n} workers started within {start_timeout_s:g} s "
            f"(the cluster has {cpus:g} free CPUs; each worker takes one)"
        )
    where = ray.get([w.where.remote() for w in workers])
    offsets, rtts = [], []
    for w in workers:
        best = None
        for _ in range(7):
            t1 = time.time()
            remote = ray.get(w.now.remote())
            t2 = time.time()
            if best is None or t2 - t1 < best[0]:
                best = (t2 - t1, remote - (t1 + t2) / 2)
        rtts.append(best[0])
        offsets.append(best[1])
    return Cluster(ray, workers, offsets, rtts, where, started)


def split(total: int, n: int) -> list[int]:
    """``total`` in ``n`` whole shares that differ by at most one."""
    return [total // n + (1 if k < total % n else 0) for k in range(n)]


def run_distributed(
    cfg: BenchConfig,
    cluster: Cluster,
    prompts: Sequence[Prompt],
    concurrency: int | None = None,
    rate: float | None = None,
    burstiness: float = 1.0,
    max_concurrency: int | None = None,
    on_result: Callable[[RequestResult], None] | None = None,
    level: int = 0,
    sampler=None,
) -> LevelResult:
    """One level over the cluster's workers: prompt k goes to worker k mod n; concurrency split in whole
    shares; a rate split in equal independent Poisson streams (their sum is the requested Poisson process).
    ``level`` numbers the levels of a bench (each must differ from the previous one)."""
    ray = cluster.ray
    n = len(cluster.workers)
    if concurrency is not None and concurrency < n:
        raise ValueError(f"concurrency {concurrency} is below the {n} workers: each needs at least one")
    conc = split(concurrency, n) if concurrency is not None else [None] * n
    caps = split(max_concurrency, n) if max_concurrency else [None] * n
    runs = []
    for k, w in enumerate(cluster.workers):
        runs.append(
            w.run.remote(
                list(prompts[k::n]),
                list(range(k, len(prompts), n)),
                conc[k],
                rate / n if rate is not None else None,
                burstiness,
                caps[k] or None,
                level * 1000 + k,  # the level number seeds each worker's own arrivals
                k * cfg.warmup,
                level,
            )
        )
    dead: dict[int, str] = {}
    interrupted = False
    stop_sent_at = None
    # All warm up first (on a serial server their warm-ups queue behind each other), then start together.
    try:
        _await_warm(ray, cluster, dead, cfg.timeout_s * (cfg.warmup + 1) + 30)
    except KeyboardInterrupt:
        interrupted, stop_sent_at = True, time.time()
        for w in cluster.workers:
            w.stop.remote()
    start_at = time.time() + 0.2 + max(cluster.rtts_s)
    for k, w in enumerate(cluster.workers):
        if k not in dead:
            w.go.remote(start_at + cluster.offsets_s[k])
    polls = {w.next_batch.remote(level): k for k, w in enumerate(cluster.workers) if k not in dead}
    results: list[RequestResult] = []

    def take(ref, k) -> None:
        try:
            batch, finished = ray.get(ref)
        except ray.exceptions.RayActorError as exc:
            dead[k] = f"worker {k} died: {type(exc).__name__}"
            return
        for r in batch:
            r.start_s -= cluster.offsets_s[k]
            if r.due_s is not None:
                r.due_s -= cluster.offsets_s[k]
            results.append(r)
            if on_result:
                on_result(r)
        if not finished:
            polls[cluster.workers[k].next_batch.remote(level)] = k

    while polls:
        try:
            ready, _ = ray.wait(list(polls), num_returns=1, timeout=1.0)
            for ref in ready:
                take(ref, polls.pop(ref))
            if stop_sent_at and time.time() - stop_sent_at > 30:
                break
        except KeyboardInterrupt:
            if interrupted:
                raise
            interrupted, stop_sent_at = True, time.time()
            for w in cluster.workers:
                w.stop.remote()  # cancels in-flight requests; what finished still comes back
    starts, ends = [], []
    for k, ref in enumerate(runs):
        if k in dead:
            continue
        try:
            t0, t1, stopped = ray.get(ref, timeout=30)
        except Exception as exc:
            dead[k] = f"worker {k} died: {type(exc).__name__}"
            continue
        interrupted = interrupted or stopped
        starts.append(t0 - cluster.offsets_s[k])
        ends.append(t1 - cluster.offsets_s[k])
    measured = [r.start_s for r in results if not r.warmup]
    t_start = min(starts) if starts else (min(measured) if measured else start_at)
    t_end = max(ends) if ends else time.time()
    reason = "; ".join(dead[k] for k in sorted(dead)) if dead else None
    return finish_level(
        cfg, concurrency, rate, results, t_start, t_end, interrupted, sampler, partial_reason=reason
    )


def _await_warm(ray, cluster: Cluster, dead: dict[int, str], timeout_s: float) -> None:
    """Wait until every live worker has finished its warm-up; one that dies meanwhile is noted in ``dead``."""
    refs = {w.warmed.remote(): k for k, w in enumerate(cluster.workers)}
    ready, _ = ray.wait(list(refs), num_returns=len(refs), timeout=timeout_s)
    for ref in ready:
        try:
            ray.get(ref)
        except ray.exceptions.RayActorError as exc:
            dead[refs[ref]] = f"worker {refs[ref]} died: {type(exc).__name__}"
