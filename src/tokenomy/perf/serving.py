"""Serving at a fixed concurrency with continuous batching: step costs → TTFT, TPOT, throughput.

Per step, each op takes a smooth max of its compute time and memory time (a roofline whose corner is
rounded, as real kernels are), then communication and fixed overheads are added. Backends differ only in
the fitted :class:`Efficiency` numbers, never in code paths. Two ways to serve share the same engine steps
(:func:`decode_step_s`, :func:`prefill_s`): aggregated (:func:`predict_serving`: one engine prefills and
decodes) and disaggregated (:func:`predict_disaggregated`: a prefill pool hands each request's KV cache to a
decode pool).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

import numpy as np

from tokenomy.catalog.architecture import Architecture
from tokenomy.perf.hardware import HardwareSpec
from tokenomy.perf.ops import (
    Parallel,
    Precision,
    StepCost,
    cached_prefill_cost,
    decode_step_cost,
    kv_cache_bytes_per_gpu,
    prefill_cost,
    weight_bytes_per_gpu,
)

ROOFLINE_SHARPNESS = (
    3.0  # p of the smooth max (a^p + b^p)^(1/p): 3 rounds the roofline's corner like real kernels
)
USABLE_MEMORY = 0.95  # fraction of HBM an engine can give to weights + KV (the rest: activations, runtime)
FIRST_TOKEN_STEPS = (
    1.5  # decode steps before the first token is out: the prefill's own step plus half a step of waiting
)
SCALEOUT_LATENCY_FACTOR = (
    3.0  # a collective across systems costs this many in-domain latencies when not fitted
)


@dataclass(frozen=True)
class Efficiency:
    """Fitted fractions of peak and fixed costs for one (backend, hardware family)."""

    mem_decode: float = 0.70  # fraction of HBM bandwidth decode kernels reach
    mem_experts: float = 0.60  # fraction of HBM bandwidth grouped MoE GEMMs reach while streaming experts
    compute_decode: float = 0.45  # fraction of peak FLOP/s in decode GEMMs / attention
    compute_prefill: float = 0.55  # fraction of peak FLOP/s in prefill
    step_overhead_ms: float = 2.0  # scheduler, sampling, launch per engine step
    layer_overhead_us: float = 8.0  # per layer per step (kernel launches not hidden by graphs)
    wide_imbalance: float = 0.05  # per doubling of attention-DP / EP ranks: the slowest rank sets the step
    request_overhead_us: float = 5.0  # per running request per step (scheduling, sampling, detokenizing)
    comm_latency_us: float = 10.0  # per collective inside the scale-up domain
    scaleout_latency_us: float = 30.0  # per collective when a deployment spans several systems
    ttft_overhead_ms: float = 10.0  # request handling before the first step (HTTP, tokenization, scheduling)
    burst_share: float = 0.5  # share of other requests' prefills that lands before a request's first token
    prefill_interference: float = 1.0  # weight of other requests' prefills on the engine's time
    dequant_eff: float = 1.0  # GEMMs whose weight format lacks tensor cores (dequantized on load): speed
    kv_transfer_eff: float = 0.5  # disaggregated: fraction of link bandwidth a KV-cache hand-off reaches
    prefill_queue: float = 1.0  # disaggregated: weight of the prefill pool's queueing wait (1 = M/M/1-like)
    ep_latency_us: float = 5.0  # per MoE layer's dispatch or combine, per doubling of EP ranks (all-to-all)
    expert_tile_tokens: float = (
        32.0  # grouped MoE GEMMs pad each touched expert's tokens to at least this tile
    )
    expert_overhead_us: float = 0.5  # per expert (or expert shard) a GPU runs per MoE layer: tile scheduling

    def physical(self) -> Efficiency:
        """Clip fractions of peak to at most 1: no kernel beats the hardware."""
        caps = {
            k: min(getattr(self, k), 1.0)
            for k in (
                "mem_decode",
                "mem_experts",
                "compute_decode",
                "compute_prefill",
                "dequant_eff",
                "kv_transfer_eff",
                "burst_share",
            )
        }
        return replace(self, **caps)

    def as_dict(self) -> dict[str, float]:
        return asdict(self)

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]


@dataclass(frozen=True)
class ServingOptions:
    """Serving features beyond plain decoding and the engine's limits (not fitted: taken from the arguments)."""

    mtp_draft_tokens: int = 0  # speculative tokens drafted per step (DeepSeek MTP: 1-3)
    mtp_acceptance: float = 0.0  # probability each drafted token is accepted
    max_running_per_rank: float = np.inf  # the engine's largest running batch per attention rank

    def __post_init__(self) -> None:
        if self.mtp_draft_tokens < 0 or not 0.0 <= self.mtp_acceptance <= 1.0:
            raise ValueError("MTP needs draft tokens ≥ 0 and an acceptance rate in [0, 1]")
        if not self.max_running_per_rank >= 1:
            raise ValueError("max_running_per_rank must be at least 1")

    @property
    def accepted_tokens_per_step(self) -> float:
        """Expected tokens emitted per verify step: 1 + a + a² + … + a^d."""
        return 1.0 + sum(self.mtp_acceptance**i for i in range(1, self.mtp_draft_tokens + 1))


@dataclass(frozen=True)
class Workload:
    """Mean prompt and output lengths (tokens) and the client's concurrency, one entry per point; ``cached``:
    prompt tokens per request already in the KV cache (prefix reuse), None for none."""

    isl: np.ndarray
    osl: np.ndarray
    concurrency: np.ndarray
    cached: np.ndarray | None = None
    waves: np.ndarray | float = (
        1.0  # 1: requests arrive in waves (fixed lengths, started together); 0: spread out
    )


@dataclass
class ServingResult:
    """Per-point predictions (arrays). Infeasible points are NaN with ``fits`` False."""

    ttft_ms: np.ndarray
    tpot_ms: np.ndarray
    e2e_ms: np.ndarray
    tok_s_per_gpu: np.ndarray  # (input + output) tok/s per GPU serving (both pools when disaggregated)
    output_tok_s_per_gpu: np.ndarray  # output tok/s per GPU serving (both pools when disaggregated)
    tok_s_per_user: np.ndarray
    decode_step_ms: np.ndarray  # time per generated token of one request, without prefill stalls
    prefill_ms: np.ndarray
    memory_per_gpu_gb: np.ndarray
    fits: np.ndarray
    gpus: np.ndarray  # GPUs serving per engine (aggregated) or per decode engine with its prefill share
    running_per_rank: np.ndarray  # requests decoding at once on one attention rank


def _smooth_max(a: np.ndarray, b: np.ndarray, p: float = ROOFLINE_SHARPNESS) -> np.ndarray:
    """(a^p + b^p)^(1/p), scaled by the larger term so it never overflows."""
    top = np.maximum(np.maximum(a, b), 1e-30)
    x, y = a / top, b / top
    if p == 3.0:  # the default: integer powers and a cube root are several times faster than float powers
        return top * np.cbrt(x * x * x + y * y * y)
    return top * (x**p + y**p) ** (1.0 / p)


def step_time_s(
    cost: StepCost,
    hw: HardwareSpec,
    compute_precision: str,
    compute_eff: float,
    mem_eff: float,
    comm_latency_s: float,
    expert_mem_eff: float | None = None,
    scaleout_latency_s: float | None = None,
    op_speed: dict[str, float] | None = None,
) -> np.ndarray:
    """Σ over op groups of the rounded roofline, plus link time and collective latency.

    ``op_speed`` slows named ops down (both roofs), e.g. GEMMs that dequantize their weights on load.
    """
    peak = hw.flop_s(compute_precision) * compute_eff
    bw = hw.memory_bw_bytes_s * mem_eff
    total = 0.0
    for name, (flops, nbytes) in cost.ops.items():
        op_bw = hw.memory_bw_bytes_s * expert_mem_eff if (name == "ffn_experts" and expert_mem_eff) else bw
        speed = (op_speed or {}).get(name, 1.0)
        total = total + _smooth_max(flops / peak, nbytes / op_bw) / speed
    # Every byte crosses the scale-up links; across systems, some also cross each GPU's scale-out NIC.
    link_s = cost.comm_bytes / hw.scaleup_bw_bytes_s + cost.scaleout_bytes / hw.scaleout_bw_bytes_s
    latency = np.where(
        cost.crosses_domain, scaleout_latency_s or SCALEOUT_LATENCY_FACTOR * comm_latency_s, comm_latency_s
    )
    return total + link_s + cost.comm_messages * latency


WEIGHT_OPS = ("attn_linear", "ffn_dense", "gemm")  # ops whose weights are stored at Precision.weights


def dequantized_ops(hw: HardwareSpec, prec: Precision) -> tuple[str, ...]:
    """Ops whose weight format the accelerator has no tensor cores for (MXFP4 on Hopper or CDNA3, int4 anywhere)."""
    return (() if hw.native(prec.experts) else ("ffn_experts",)) + (
        () if hw.native(prec.weights) else WEIGHT_OPS
    )


def dequant_speed(hw: HardwareSpec, prec: Precision, eff: Efficiency) -> dict[str, float]:
    """Dequantize-on-load kernels run at ``eff.dequant_eff`` of the native speed."""
    return dict.fromkeys(dequantized_ops(hw, prec), eff.dequant_eff)


def balanced_speed(cost: StepCost, par: Parallel, eff: Efficiency) -> dict[str, np.ndarray]:
    """The slowest rank sets the step: attention-DP ranks hold different requests (every op but the experts waits
    for the busiest DP rank), expert-parallel ranks get different tokens (the experts wait for the busiest EP
    rank). Each doubling of ranks slows its ops by ``wide_imbalance``; TP and MoE-TP shards stay balanced."""
    dp = 1.0 / (1.0 + eff.wide_imbalance * np.log2(par.dp.astype(float)))
    ep = 1.0 / (1.0 + eff.wide_imbalance * np.log2(par.moe_ep.astype(float)))
    return {name: (ep if name == "ffn_experts" else dp) for name in cost.ops}


def fixed_step_s(arch: Architecture, eff: Efficiency) -> float:
    """An engine step's fixed cost: scheduler and sampling, plus kernel launches a graph does not hide."""
    return eff.step_overhead_ms * 1e-3 + eff.layer_overhead_us * 1e-6 * arch.layers


def padded_experts(cost: StepCost, tile_tokens: float) -> StepCost:
    """Grouped MoE GEMMs run each touched expert on a whole tile of rows: with few tokens per expert (wide
    MoEs at moderate batch) the FLOPs done exceed the useful ones by tile / tokens per expert."""
    if "ffn_experts" not in cost.ops or cost.tokens_per_expert is None:
        return cost
    flops, nbytes = cost.ops["ffn_experts"]
    pad = np.maximum(tile_tokens / np.maximum(cost.tokens_per_expert, 1e-9), 1.0)
    return replace(cost, ops={**cost.ops, "ffn_experts": (flops * pad, nbytes)})


def compute_precision(prec: Precision) -> str:
    """The precision the heavy GEMMs run at: the experts' when they differ from the dense weights."""
    return prec.weights if prec.experts == prec.weights else prec.experts


def decode_step_s(
    arch: Architecture,
    hw: HardwareSpec,
    prec: Precision,
    par: Parallel,
    running: np.ndarray,
    context: np.ndarray,
    eff: Efficiency,
    draft_tokens: int = 0,
    cost: StepCost | None = None,
) -> np.ndarray:
    """Seconds of one decode step of ``running`` requests (all attention-DP ranks) at a mean ``context``.

    Pipeline parallelism keeps PP micro-batches of running/PP requests in flight, and a token passes every
    stage. ``draft_tokens`` > 0 is an MTP verify step (and its draft layers). ``cost``: the step's FLOPs and
    bytes when already computed (they do not depend on the efficiencies, so a fit computes them once).
    """
    if cost is None:
        micro = np.asarray(running, dtype=float) / par.pp
        cost = decode_step_cost(arch, prec, par, micro, context, hw.scaleup_domain, 1.0 + draft_tokens)
    cost = padded_experts(cost, eff.expert_tile_tokens)
    balance = balanced_speed(cost, par, eff)
    dequant = dequant_speed(hw, prec, eff)
    t_stage = step_time_s(
        cost,
        hw,
        compute_precision(prec),
        eff.compute_decode,
        eff.mem_decode,
        eff.comm_latency_us * 1e-6,
        eff.mem_experts,
        eff.scaleout_latency_us * 1e-6,
        {name: speed * dequant.get(name, 1.0) for name, speed in balance.items()},
    )
    if arch.is_moe:  # dispatch + combine per MoE layer: an all-to-all's latency grows with its ranks
        t_stage = t_stage + 2 * arch.moe_layers / par.pp * eff.ep_latency_us * 1e-6 * np.log2(par.moe_ep)
        # Every touched expert (a shard of it under MoE-TP) is its own GEMM problem on each GPU that holds it.
        t_stage = t_stage + arch.moe_layers / par.pp * cost.experts_per_gpu * eff.expert_overhead_us * 1e-6
    t_stage = t_stage * (1.0 + draft_tokens / arch.layers)  # one MTP layer per drafted token
    return par.pp * t_stage + fixed_step_s(arch, eff) + eff.request_overhead_us * 1e-6 * running / par.dp


def prefill_s(
    arch: Architecture,
    hw: HardwareSpec,
    prec: Precision,
    par: Parallel,
    isl: np.ndarray,
    eff: Efficiency,
    cost: StepCost | None = None,
) -> np.ndarray:
    """Seconds to prefill one request of ``isl`` tokens on its attention rank, every rank prefilling at once.

    Attention-DP ranks run their MoE layers together, so a rank's prefill shares the experts with the other
    ranks' prompts. No dequantization penalty: a prefill GEMM amortizes dequantizing a weight tile over many
    tokens.
    """
    if cost is None:
        cost = prefill_cost(arch, prec, par, isl, hw.scaleup_domain, ranks_busy=par.dp)
    t = par.pp * step_time_s(
        cost,
        hw,
        compute_precision(prec),
        eff.compute_prefill,
        eff.mem_decode,
        eff.comm_latency_us * 1e-6,
        None,
        eff.scaleout_latency_us * 1e-6,
    )
    return t + fixed_step_s(arch, eff)


def memory_per_gpu_bytes(
    arch: Architecture, prec: Precision, par: Parallel, concurrency: np.ndarray, tokens: np.ndarray
) -> np.ndarray:
    return weight_bytes_per_gpu(arch, prec, par) + kv_cache_bytes_per_gpu(
        arch, prec, par, concurrency, tokens
    )


def kv_capacity_requests(
    arch: Architecture, hw: HardwareSpec, prec: Precision, par: Parallel, tokens: np.ndarray
) -> np.ndarray:
    """How many requests of ``tokens`` tokens the KV cache left after the weights can hold (all DP ranks)."""
    free = hw.memory_bytes * USABLE_MEMORY - weight_bytes_per_gpu(arch, prec, par)
    one = kv_cache_bytes_per_gpu(arch, prec, par, par.dp.astype(float), tokens)  # one request per rank
    return np.where(free > 0, np.floor(free / one) * par.dp, 0.0)


def _prefill_cost(
    arch: Architecture, prec: Precision, par: Parallel, work: Workload, domain: int
) -> StepCost:
    """One prompt's prefill on its rank, every rank busy: only the uncached tail when ``work.cached`` is set."""
    isl = np.asarray(work.isl, dtype=float)
    if work.cached is None:
        return prefill_cost(arch, prec, par, isl, domain, ranks_busy=par.dp)
    return cached_prefill_cost(arch, prec, par, isl, work.cached, domain, ranks_busy=par.dp)


def _running(conc: np.ndarray, capacity: np.ndarray, par: Parallel, opts: ServingOptions) -> np.ndarray:
    """Requests the engine runs at once: the client's, up to the KV cache and the engine's batch limit."""
    limit = opts.max_running_per_rank * par.dp
    return np.clip(np.minimum(np.minimum(conc, capacity), limit), 1.0, None)


def predict_serving(
    arch: Architecture,
    hw: HardwareSpec,
    prec: Precision,
    par: Parallel,
    work: Workload,
    eff: Efficiency,
    strict_memory: bool = False,
    options: ServingOptions | None = None,
    cache: dict | None = None,
) -> ServingResult:
    """TTFT, TPOT and throughput of aggregated serving at fixed concurrency (closed loop, like the benchmarks).

    During one request's life the engine also prefills the other requests on its rank. A share
    ``burst_share`` of that work lands before the request's first token (requests arrive in waves when the
    output length is fixed), the rest stalls its decode steps. When the KV cache or the engine's batch limit
    holds fewer requests than the concurrency, the rest wait in the server's queue (Little's law).
    ``strict_memory`` marks KV overflow as not fitting instead (the frontier's rule: C × (ISL + OSL) must fit).
    ``cache`` (a dict kept by the caller) keeps what does not depend on ``eff`` between calls on the same points.
    """
    opts = options or ServingOptions()
    conc = np.asarray(work.concurrency, dtype=float)
    isl = np.asarray(work.isl, dtype=float)
    osl = np.asarray(work.osl, dtype=float)
    static = cache if cache is not None else {}
    if "running" not in static:
        static["capacity"] = kv_capacity_requests(arch, hw, prec, par, isl + osl / 2)
        static["running"] = _running(conc, static["capacity"], par, opts)
        micro = static["running"] / par.pp
        draft = 1.0 + opts.mtp_draft_tokens
        static["decode"] = decode_step_cost(arch, prec, par, micro, isl + osl / 2, hw.scaleup_domain, draft)
        static["prefill"] = _prefill_cost(arch, prec, par, work, hw.scaleup_domain)
    capacity, running = static["capacity"], static["running"]
    t_step = decode_step_s(
        arch, hw, prec, par, running, isl + osl / 2, eff, opts.mtp_draft_tokens, static["decode"]
    )
    t_dec = t_step / opts.accepted_tokens_per_step  # time per generated token
    t_pre = prefill_s(arch, hw, prec, par, isl, eff, static["prefill"])

    steps = np.maximum(osl - 1, 1)
    others = np.maximum(running / par.dp - 1.0, 0.0)
    stall = eff.prefill_interference * others * t_pre
    burst = eff.burst_share * np.asarray(work.waves, dtype=float)
    tpot = t_dec + (1.0 - burst) * stall / steps
    ttft = eff.ttft_overhead_ms * 1e-3 + t_pre + burst * stall + FIRST_TOKEN_STEPS * t_dec
    e2e_running = ttft + steps * tpot
    ttft = ttft + (conc / running - 1.0) * e2e_running  # queue for a slot
    e2e = ttft + steps * tpot

    if "mem" not in static:
        tokens = isl + osl if strict_memory else isl + osl / 2
        held = np.minimum(conc, opts.max_running_per_rank * par.dp) if strict_memory else running
        static["mem"] = memory_per_gpu_bytes(arch, prec, par, held, tokens)
        static["fits"] = (capacity >= (held if strict_memory else 1.0)) & (
            static["mem"] <= hw.memory_bytes * USABLE_MEMORY * 1.0001
        )
    mem, fits = static["mem"], static["fits"]
    gpus = par.gpus.astype(float)
    nan = np.where(fits, 1.0, np.nan)
    return ServingResult(
        ttft_ms=ttft * 1e3 * nan,
        tpot_ms=tpot * 1e3 * nan,
        e2e_ms=e2e * 1e3 * nan,
        tok_s_per_gpu=conc * (isl + osl) / e2e / gpus * nan,
        output_tok_s_per_gpu=conc * osl / e2e / gpus * nan,
        tok_s_per_user=1.0 / tpot * nan,
        decode_step_ms=t_dec * 1e3,
        prefill_ms=t_pre * 1e3,
        memory_per_gpu_gb=mem / 1e9,
        fits=fits,
        gpus=gpus,
        running_per_rank=running / par.dp,
    )


def kv_transfer_s(
    arch: Architecture,
    hw: HardwareSpec,
    prec: Precision,
    prefill: Parallel,
    isl: np.ndarray,
    eff: Efficiency,
    within_domain: np.ndarray,
) -> np.ndarray:
    """Seconds to hand one request's KV cache from its prefill rank to the decode pool.

    Inside one scale-up domain (GB200 NVL72: both pools on NVLink) the scale-up links carry it, otherwise the
    prefill GPUs' scale-out NICs; each of the rank's GPUs sends its share.
    """
    one = kv_cache_bytes_per_gpu(arch, prec, prefill, prefill.dp.astype(float), isl)  # one request, per GPU
    link = np.where(within_domain, hw.scaleup_bw_bytes_s, hw.scaleout_bw_bytes_s) * eff.kv_transfer_eff
    return one / link + eff.scaleout_latency_us * 1e-6


def closed_loop_utilization(
    concurrency: np.ndarray, service_s: np.ndarray, rest_s: np.ndarray, queue: float
) -> np.ndarray:
    """Utilization ρ of a shared server in a closed loop of ``concurrency`` clients.

    Each request needs ``service_s`` of the server (its share of the pool: one prefill ÷ ranks) and spends
    ``rest_s`` elsewhere (its own prefill latency, decoding); waiting adds ``queue`` × service × ρ / (1 − ρ)
    (M/M/1-like). Solving C = ρ·a + queue·ρ²/(1 − ρ) with a = rest / service gives ρ in [0, 1) (the stable root).
    """
    a = rest_s / service_s
    c = concurrency
    return 2.0 * c / ((a + c) + np.sqrt((a - c) ** 2 + 4.0 * queue * c))


def predict_disaggregated(
    arch: Architecture,
    hw: HardwareSpec,
    prec: Precision,
    prefill: Parallel,
    prefill_workers: np.ndarray,
    decode: Parallel,
    decode_workers: np.ndarray,
    work: Workload,
    eff: Efficiency,
    strict_memory: bool = False,
    options: ServingOptions | None = None,
    iterations: int = 2,
    cache: dict | None = None,
) -> ServingResult:
    """TTFT, TPOT and throughput of disaggregated serving (Dynamo-style) at a fixed client concurrency.

    ``prefill_workers`` engines of ``prefill`` parallelism prefill prompts and send each request's KV cache to
    one of ``decode_workers`` engines of ``decode`` parallelism, which only decode. Requests queue for the
    prefill pool (a closed loop: the busier the pool, the longer the wait, the fewer requests decode), and
    decode engines never stall on prefills. Worker counts may be fractional (a pool ratio at factory scale).
    """
    opts = options or ServingOptions()
    conc = np.asarray(work.concurrency, dtype=float)
    isl = np.asarray(work.isl, dtype=float)
    osl = np.asarray(work.osl, dtype=float)
    w_p = np.asarray(prefill_workers, dtype=float)
    w_d = np.asarray(decode_workers, dtype=float)
    gpus_p = w_p * prefill.gpus
    gpus_d = w_d * decode.gpus
    steps = np.maximum(osl - 1, 1)

    static = cache if cache is not None else {}
    if "prefill" not in static:
        static["prefill"] = _prefill_cost(arch, prec, prefill, work, hw.scaleup_domain)
    t_pre = prefill_s(arch, hw, prec, prefill, isl, eff, static["prefill"])  # one prompt, every rank busy
    service = t_pre / (w_p * prefill.dp)  # the pool's time per request
    within = (gpus_p + gpus_d) <= hw.scaleup_domain
    transfer = kv_transfer_s(arch, hw, prec, prefill, isl, eff, within)
    capacity = kv_capacity_requests(arch, hw, prec, decode, isl + osl / 2)  # per decode engine
    per_engine = conc / w_d
    running = _running(per_engine, capacity, decode, opts)
    for _ in range(iterations):
        t_step = decode_step_s(arch, hw, prec, decode, running, isl + osl / 2, eff, opts.mtp_draft_tokens)
        tpot = t_step / opts.accepted_tokens_per_step
        decode_s = steps * tpot + FIRST_TOKEN_STEPS * tpot
        rest = eff.ttft_overhead_ms * 1e-3 + t_pre + transfer + decode_s
        rho = closed_loop_utilization(conc, service, rest, eff.prefill_queue)
        wait = eff.prefill_queue * service * rho / (1.0 - rho)
        # Requests per second: the closed loop through the prefill queue, unless the decode slots are full.
        rate = np.minimum(conc / (rest + wait), w_d * running / decode_s)
        demand = rate * decode_s / w_d  # requests decoding per engine (Little's law)
        running = _running(np.minimum(demand, per_engine), capacity, decode, opts)
    e2e = conc / rate  # the closed loop: every client always has one request in flight
    ttft = e2e - steps * tpot

    tokens = isl + osl if strict_memory else isl + osl / 2
    held = np.minimum(per_engine, opts.max_running_per_rank * decode.dp) if strict_memory else running
    mem = memory_per_gpu_bytes(arch, prec, decode, held, tokens)
    mem_p = memory_per_gpu_bytes(arch, prec, prefill, prefill.dp.astype(float), isl)
    fits = (
        (capacity >= (held if strict_memory else 1.0))
        & (mem <= hw.memory_bytes * USABLE_MEMORY * 1.0001)
        & (mem_p <= hw.memory_bytes * USABLE_MEMORY * 1.0001)
    )
    gpus = gpus_p + gpus_d
    nan = np.where(fits, 1.0, np.nan)
    return ServingResult(
        ttft_ms=ttft * 1e3 * nan,
        tpot_ms=tpot * 1e3 * nan,
        e2e_ms=e2e * 1e3 * nan,
        tok_s_per_gpu=rate * (isl + osl) / gpus * nan,
        output_tok_s_per_gpu=rate * osl / gpus * nan,
        tok_s_per_user=1.0 / tpot * nan,
        decode_step_ms=tpot * 1e3,
        prefill_ms=t_pre * 1e3,
        memory_per_gpu_gb=np.maximum(mem, mem_p) / 1e9,
        fits=fits,
        gpus=gpus / w_d,
        running_per_rank=running / decode.dp,
    )
