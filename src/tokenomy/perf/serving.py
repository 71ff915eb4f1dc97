"""Serving at a fixed concurrency with continuous batching: step costs → TTFT, TPOT, throughput.

Per step, each op takes a smooth max of its compute time and memory time (a roofline whose corner is
rounded, as real kernels are), then communication and fixed overheads are added. Backends differ only in
the fitted :class:`Efficiency` numbers, never in code paths.
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
    decode_step_cost,
    kv_cache_bytes_per_gpu,
    prefill_cost,
    weight_bytes_per_gpu,
)

ROOFLINE_SHARPNESS = 3.0
USABLE_MEMORY = 0.95  # fraction of HBM an engine can give to weights + KV (the rest: activations, runtime)


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

    def physical(self) -> Efficiency:
        """Clip fractions of peak to at most 1: no kernel beats the hardware."""
        caps = {
            k: min(getattr(self, k), 1.0)
            for k in ("mem_decode", "mem_experts", "compute_decode", "compute_prefill", "dequant_eff")
        }
        caps["burst_share"] = min(self.burst_share, 1.0)
        return replace(self, **caps)

    def as_dict(self) -> dict[str, float]:
        return asdict(self)

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]


@dataclass(frozen=True)
class ServingOptions:
    """Serving features beyond plain aggregated decoding (not fitted: taken from the arguments)."""

    mtp_draft_tokens: int = 0  # speculative tokens drafted per step (DeepSeek MTP: 1-3)
    mtp_acceptance: float = 0.0  # probability each drafted token is accepted
    disaggregated: bool = False  # prefill on a separate GPU pool (Dynamo-style)
    prefill_utilization: float = 0.7  # how busy the disaggregated prefill pool is kept

    def __post_init__(self) -> None:
        if self.mtp_draft_tokens < 0 or not 0.0 <= self.mtp_acceptance <= 1.0:
            raise ValueError("MTP needs draft tokens ≥ 0 and an acceptance rate in [0, 1]")
        if not 0.05 <= self.prefill_utilization <= 0.95:
            raise ValueError("prefill_utilization must be in [0.05, 0.95]")

    @property
    def accepted_tokens_per_step(self) -> float:
        """Expected tokens emitted per verify step: 1 + a + a² + … + a^d."""
        return 1.0 + sum(self.mtp_acceptance**i for i in range(1, self.mtp_draft_tokens + 1))


@dataclass(frozen=True)
class Workload:
    isl: np.ndarray
    osl: np.ndarray
    concurrency: np.ndarray


@dataclass
class ServingResult:
    """Per-point predictions (arrays). Infeasible points are NaN with ``fits`` False."""

    ttft_ms: np.ndarray
    tpot_ms: np.ndarray
    e2e_ms: np.ndarray
    tput_per_gpu: np.ndarray  # (input + output) tok/s per GPU
    output_tput_per_gpu: np.ndarray
    tok_s_per_user: np.ndarray
    decode_step_ms: np.ndarray
    prefill_ms: np.ndarray
    memory_per_gpu_gb: np.ndarray
    fits: np.ndarray
    gpus: np.ndarray


def _smooth_max(a: np.ndarray, b: np.ndarray, p: float = ROOFLINE_SHARPNESS) -> np.ndarray:
    top = np.maximum(np.maximum(a, b), 1e-30)
    return top * ((a / top) ** p + (b / top) ** p) ** (1.0 / p)


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
    peak = hw.flops(compute_precision) * compute_eff
    bw = hw.memory_bw * mem_eff
    total = 0.0
    for name, (flops, nbytes) in cost.ops.items():
        op_bw = hw.memory_bw * expert_mem_eff if (name == "ffn_experts" and expert_mem_eff) else bw
        speed = (op_speed or {}).get(name, 1.0)
        total = total + _smooth_max(flops / peak, nbytes / op_bw) / speed
    # Hierarchical collectives: every byte crosses the scale-up links; across systems, each GPU also sends
    # its share (1 / domain size) of the data over its scale-out NIC.
    link_s = cost.comm_bytes / hw.scaleup_bw
    link_s = link_s + np.where(
        cost.crosses_domain, cost.comm_bytes / (hw.scaleout_bw * hw.scaleup_domain), 0.0
    )
    latency = np.where(cost.crosses_domain, scaleout_latency_s or 3 * comm_latency_s, comm_latency_s)
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


def fixed_step_s(arch: Architecture, eff: Efficiency) -> float:
    """An engine step's fixed cost: scheduler and sampling, plus kernel launches a graph does not hide."""
    return eff.step_overhead_ms * 1e-3 + eff.layer_overhead_us * 1e-6 * arch.layers


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


def predict_serving(
    arch: Architecture,
    hw: HardwareSpec,
    prec: Precision,
    par: Parallel,
    work: Workload,
    eff: Efficiency,
    strict_memory: bool = False,
    options: ServingOptions | None = None,
) -> ServingResult:
    """TTFT, TPOT and throughput of aggregated serving at fixed concurrency (closed loop, like the benchmarks).

    During one request's life the engine also prefills the other requests on its rank. A share
    ``burst_share`` of that work lands before the request's first token (requests arrive in waves when the
    output length is fixed), the rest stalls its decode steps. When the KV cache holds fewer requests than the
    concurrency, the rest wait in the server's queue (Little's law). ``strict_memory`` marks such points as not
    fitting instead (the frontier's rule: C × (ISL + OSL) must fit).

    ``options`` turns on speculative decoding (MTP) or disaggregated prefill (see :class:`ServingOptions`).
    """
    opts = options or ServingOptions()
    conc = np.asarray(work.concurrency, dtype=float)
    isl = np.asarray(work.isl, dtype=float)
    osl = np.asarray(work.osl, dtype=float)
    compute_prec = prec.weights if prec.experts == prec.weights else prec.experts
    latency_s = eff.comm_latency_us * 1e-6
    out_latency_s = eff.scaleout_latency_us * 1e-6
    fixed_s = fixed_step_s(arch, eff)

    capacity = kv_capacity_requests(arch, hw, prec, par, isl + osl / 2)
    running = np.clip(np.minimum(conc, capacity), 1.0, None)
    # Pipeline parallelism: PP micro-batches of running/PP requests are in flight; a token passes every stage.
    micro = running / par.pp
    dec = decode_step_cost(
        arch, prec, par, micro, isl + osl / 2, hw.scaleup_domain, 1.0 + opts.mtp_draft_tokens
    )
    slow = dequant_speed(hw, prec, eff)
    t_stage = step_time_s(
        dec,
        hw,
        compute_prec,
        eff.compute_decode,
        eff.mem_decode,
        latency_s,
        eff.mem_experts,
        out_latency_s,
        slow,
    )
    width = np.log2(np.maximum(par.dp, par.moe_ep).astype(float))
    t_stage = t_stage * (1.0 + eff.wide_imbalance * width)
    t_stage = t_stage * (1.0 + opts.mtp_draft_tokens / arch.layers)  # the draft (MTP) layers
    t_dec = par.pp * t_stage + fixed_s + eff.request_overhead_us * 1e-6 * running / par.dp
    t_dec = t_dec / opts.accepted_tokens_per_step  # time per generated token
    pre = prefill_cost(arch, prec, par, isl, hw.scaleup_domain)
    t_pre = par.pp * step_time_s(
        pre, hw, compute_prec, eff.compute_prefill, eff.mem_decode, latency_s, None, out_latency_s
    )  # no dequant penalty: prefill GEMMs amortize dequantizing a weight tile over many tokens
    t_pre = t_pre + fixed_s

    steps = np.maximum(osl - 1, 1)
    if opts.disaggregated:
        # Decode engines never prefill; a prefill pool of the same engine size runs at `prefill_utilization`,
        # so a request waits an M/D/1 queue, then its KV cache crosses the scale-out network.
        rho = opts.prefill_utilization
        kv_bytes = kv_cache_bytes_per_gpu(arch, prec, par, par.dp.astype(float), isl) * par.gpus / par.dp
        transfer = kv_bytes / (hw.scaleout_bw * par.gpus / par.dp)
        tpot = t_dec
        ttft = eff.ttft_overhead_ms * 1e-3 + t_pre * (1 + rho / (2 * (1 - rho))) + transfer + 0.5 * t_dec
    else:
        others = np.maximum(running / par.dp - 1.0, 0.0)
        stall = eff.prefill_interference * others * t_pre
        tpot = t_dec + (1.0 - eff.burst_share) * stall / steps
        ttft = eff.ttft_overhead_ms * 1e-3 + t_pre + eff.burst_share * stall + 1.5 * t_dec
    e2e_running = ttft + steps * tpot
    queue_wait = (conc / running - 1.0) * e2e_running
    ttft = ttft + queue_wait
    e2e = ttft + steps * tpot

    tokens = isl + osl if strict_memory else isl + osl / 2
    mem = memory_per_gpu_bytes(arch, prec, par, conc if strict_memory else running, tokens)
    fits = (capacity >= (conc if strict_memory else 1.0)) & (mem <= hw.memory_bytes * USABLE_MEMORY * 1.0001)
    gpus = par.gpus.astype(float)
    decode_gpus = gpus
    if opts.disaggregated:
        # Prefill GPUs to keep up: arrivals/s × prefill time per request (one engine of `gpus`) / utilization.
        gpus = gpus + (conc / e2e) * (t_pre / par.dp) * gpus / opts.prefill_utilization
    out_tput = conc * osl / e2e / decode_gpus
    total_tput = conc * (isl + osl) / e2e / gpus
    nan = np.where(fits, 1.0, np.nan)
    return ServingResult(
        ttft_ms=ttft * 1e3 * nan,
        tpot_ms=tpot * 1e3 * nan,
        e2e_ms=e2e * 1e3 * nan,
        tput_per_gpu=total_tput * nan,
        output_tput_per_gpu=out_tput * nan,
        tok_s_per_user=1.0 / tpot * nan,
        decode_step_ms=t_dec * 1e3,
        prefill_ms=t_pre * 1e3,
        memory_per_gpu_gb=mem / 1e9,
        fits=fits,
        gpus=gpus,
    )
