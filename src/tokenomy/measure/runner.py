"""A bench, level by level: each level is a run in the store (one sweep id), generated in this process or on
Ray workers; every finished request goes to the writer thread, and the level's summary comes from its merged
per-request rows. UI-free: the caller passes a live view."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tokenomy.measure.bench import BenchConfig, LevelResult, finish_level, run_level
from tokenomy.measure.client import Prompt, RequestResult
from tokenomy.measure.live import LiveStats
from tokenomy.measure.power import NvmlSampler
from tokenomy.measure.search import Probe, is_saturated, search
from tokenomy.measure.workload import (
    conversations,
    load_dataset,
    random_prompts,
    trace_prompts,
    with_shared_prefix,
)
from tokenomy.measure.writer import BatchWriter


def run_loop(coro):
    """``asyncio.run`` on uvloop when it is installed (extra bench; a faster event loop: less lag between bytes
    arriving and their timestamp under many streams), else on asyncio's own loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


@dataclass
class Workload:
    isl: int
    osl: int
    dataset: Path | None = None
    num_prompts: int | None = None  # default: 10 × concurrency, or rate × probe_s
    burstiness: float = 1.0
    max_concurrency: int | None = None
    probe_s: float = 10.0  # rate levels without --num-prompts last about this long
    shared_prefix: int = 0  # every prompt starts with the same system prompt of this many words
    sessions: int | None = None  # multi-turn: this many conversations of `turns` turns per level
    turns: int | None = None
    trace: list | None = (
        None  # a Mooncake trace (workloads.mooncake.TraceRequest), replayed at its timestamps
    )


@dataclass
class BenchRunner:
    cfg: BenchConfig
    work: Workload
    writer: BatchWriter
    run_fields: dict[str, Any]  # url, model, hardware, … stored with every run
    cluster: Any = None  # distributed.Cluster, or None: this process generates the load
    live: Callable[[LiveStats], contextlib.AbstractContextManager] = lambda stats: contextlib.nullcontext()
    sweep_id: str | None = None
    levels: list[LevelResult] = field(default_factory=list)

    def prompts(self, n: int) -> list[Prompt]:
        w = self.work
        if w.dataset:
            prompts = load_dataset(w.dataset, n, w.osl)
        else:
            prompts = random_prompts(n, w.isl, w.osl, seed=len(self.levels))
        if w.shared_prefix:
            prompts = with_shared_prefix(prompts, w.shared_prefix, warm=self.cfg.warmup > 0)
        return prompts

    def _warmup_prompts(self) -> list[Prompt] | None:
        """Reuse workloads warm up with prompts of their own, so that warming does not change what is reused:
        the system prompt alone is shared with the measured requests; a trace shares nothing with them."""
        w = self.work
        if not (w.shared_prefix or w.sessions or w.trace) or not self.cfg.warmup:
            return None
        warm = random_prompts(self.cfg.warmup, w.isl, w.osl, seed=10_000 + len(self.levels))
        return with_shared_prefix(warm, w.shared_prefix, True) if w.shared_prefix else warm

    def level(self, concurrency: int | None = None, rate: float | None = None) -> LevelResult:
        """Run, store and summarize one level; ``summary`` carries run_id, status and how it was stored."""
        w = self.work
        sessions = arrivals = None
        if w.trace is not None:
            prompts, arrivals = trace_prompts(w.trace, w.num_prompts)
            n = len(prompts)
        elif w.sessions:
            sessions = conversations(
                w.sessions, w.turns or 1, w.isl, w.osl, len(self.levels), w.shared_prefix
            )
            prompts, n = [], w.sessions * (w.turns or 1)
        else:
            if w.num_prompts:
                n = w.num_prompts
            elif concurrency:
                n = 10 * concurrency
            else:
                n = max(20, math.ceil(rate * w.probe_s))
            prompts = self.prompts(n)
        run_id = self.writer.call(
            self.writer.store.start_run,
            self.sweep_id,
            mode="trace" if arrivals is not None else "concurrency" if concurrency else "rate",
            concurrency=concurrency,
            rate=rate,
            num_prompts=n,
            **self.run_fields,
        )
        self.sweep_id = self.sweep_id or run_id
        label = (
            "trace" if arrivals is not None else f"c={concurrency}" if concurrency else f"{rate:.4g} req/s"
        )
        stats = LiveStats(label, n)
        put = self.writer.put
        got: list[RequestResult] = []
        keep = got.append

        def on_result(r: RequestResult) -> None:
            put(run_id, r)
            keep(r)
            stats.add(r)

        t0 = time.time()
        if arrivals is not None:  # the prompts built so far are never garbage: no collector pause scans them
            gc.collect()
            gc.freeze()
        try:
            res = self._generate(prompts, concurrency, rate, on_result, stats, arrivals, sessions)
        except KeyboardInterrupt:  # a second Ctrl-C, or one between levels: keep what finished
            res = finish_level(self.cfg, concurrency, rate, got, t0, time.time(), True)
        finally:
            gc.unfreeze()
        self.writer.flush()
        return self._finish(res, run_id)

    def _finish(self, res: LevelResult, run_id: str) -> LevelResult:
        status = "interrupted" if res.interrupted else "partial" if res.partial_reason else "complete"
        res.summary |= {"run_id": run_id, "status": status}
        if res.partial_reason:
            res.summary["partial_reason"] = res.partial_reason
        if self.cluster is not None:
            res.summary["workers"] = self.cluster.info()
        if self.writer.error:
            res.summary["storage_error"] = {
                "error": self.writer.error,
                "requests_not_stored": self.writer.lost,
            }
        self.writer.call(self.writer.store.finish_run, run_id, status, res.summary)
        self.levels.append(res)
        return res

    def _generate(
        self, prompts, concurrency, rate, on_result, stats, arrivals=None, sessions=None
    ) -> LevelResult:
        w = self.work
        with self.live(stats):
            if self.cluster is None:
                res = run_loop(
                    run_level(
                        self.cfg,
                        prompts,
                        concurrency,
                        rate,
                        w.burstiness,
                        w.max_concurrency,
                        on_result,
                        arrivals_s=arrivals,
                        sessions=sessions,
                        warmup_prompts=self._warmup_prompts(),
                    )
                )
            else:
                if arrivals is not None or sessions is not None:
                    raise ValueError("trace and session replay run in this process, not on Ray workers")
                from tokenomy.measure.distributed import run_distributed

                sampler = NvmlSampler() if self.cfg.power else None
                with sampler or contextlib.nullcontext():
                    res = run_distributed(
                        self.cfg,
                        self.cluster,
                        prompts,
                        concurrency,
                        rate,
                        w.burstiness,
                        w.max_concurrency,
                        on_result,
                        len(self.levels),
                        sampler,
                    )
        return res

    def sweep(self, concurrencies: list[int] | None, rate: float | None) -> None:
        """Each concurrency a level (or one rate level); stops after an interrupted or partial level."""
        for c in concurrencies or [None]:
            res = self.level(c, None if c else rate)
            if res.summary["status"] != "complete":
                return

    def find_max(self, start: float, by_rate: bool, max_probes: int = 10) -> tuple[Probe | None, list[Probe]]:
        """The highest rate (or concurrency) meeting ``cfg.slo``; each probe a level of the sweep."""
        history: list[Probe] = []

        class _Stop(Exception):
            pass

        def probe(load: float) -> Probe:
            res = self.level(None, load) if by_rate else self.level(int(load), None)
            s = res.summary
            if s["status"] != "complete":
                raise _Stop
            achieved = s["request_throughput"]
            if by_rate:
                # realized arrivals vs completions over the same span (the tail of the last answers removed):
                # robust to the randomness of a short Poisson probe
                starts = sorted(r.start_s for r in res.results if not r.warmup)
                sent_span = starts[-1] - starts[0] if len(starts) > 1 else 0.0
                offered = (len(starts) - 1) / sent_span if sent_span > 0 else load
                tail = (s["e2e_ms"]["p50"] or 0.0) / 1e3
                done_span = max(s["duration_s"] - tail, sent_span, 1e-9)
                saturated = is_saturated(offered, s["completed"] / done_span, history, True)
            else:
                saturated = is_saturated(load, achieved, history, False)
            p = Probe(
                load=load,
                achieved_req_s=achieved,
                goodput_req_s=s["goodput_req_s"],
                meets_slo=self.cfg.slo.level_meets(res.results),
                saturated=saturated,
                run_id=s["run_id"],
            )
            s["probe"] = {"load": load, "meets_slo": p.meets_slo, "saturated": p.saturated}
            history.append(p)
            return p

        try:
            return search(probe, start, max_probes=max_probes, integer=not by_rate)
        except _Stop:
            good = [p for p in history if p.good]
            return (max(good, key=lambda p: p.goodput_req_s) if good else None), history
