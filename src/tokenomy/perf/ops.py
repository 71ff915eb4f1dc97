"""FLOPs and bytes moved per GPU for one engine step, vectorized over deployments and batch sizes.

Pure functions: NumPy arrays in, arrays out (all broadcast together). Each op group is returned as
(flops, bytes) so the caller can apply a roofline per op; communication as (bytes, message count).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace

import numpy as np

from tokenomy.catalog.architecture import Architecture
from tokenomy.perf.hardware import bytes_per_element

ACT_BYTES = 2.0  # activations travel in BF16
LINEAR_STATE_BYTES = 4.0  # linear-attention recurrent state kept in FP32


@dataclass(frozen=True)
class Precision:
    """Storage precision of the dense/attention weights, the routed experts and the KV cache."""

    weights: str
    experts: str
    kv: str

    @property
    def weight_bytes(self) -> float:
        return bytes_per_element(self.weights)

    @property
    def expert_bytes(self) -> float:
        return bytes_per_element(self.experts)

    @property
    def kv_bytes(self) -> float:
        return bytes_per_element(self.kv)


def serving_precision(arch: Architecture, weights: str, experts: str, kv: str) -> Precision:
    """Precisions as served: a checkpoint that quantizes only its routed experts to 4 bits keeps its
    attention and dense weights in BF16 (gpt-oss MXFP4, Kimi int4)."""
    if arch.experts_only_quantized and weights in ("fp4", "int4"):
        weights = "bf16"
    return Precision(weights=weights, experts=experts, kv=kv)


@dataclass
class Parallel:
    """Engine parallelism as arrays: attention TP, PP, attention-DP, MoE TP and MoE EP (aiconfigurator's names)."""

    tp: np.ndarray
    pp: np.ndarray
    dp: np.ndarray
    moe_tp: np.ndarray
    moe_ep: np.ndarray

    @functools.cached_property
    def gpus(self) -> np.ndarray:
        return self.tp * self.pp * self.dp


def kv_bytes_per_token_layer(arch: Architecture, kv_bytes: float, tp: np.ndarray) -> np.ndarray:
    """KV-cache bytes one token adds to one full-attention layer, on one GPU of a TP group.

    GQA splits KV heads across TP (replicating them once TP exceeds the KV heads); MLA's compressed latent is
    replicated on every TP rank, which is why MLA models use attention-DP.
    """
    if arch.attention == "mla":
        return np.broadcast_to((arch.kv_lora_rank + arch.qk_rope_head_dim) * kv_bytes, np.shape(tp)).astype(
            float
        )
    heads_per_gpu = np.maximum(arch.kv_heads / tp, 1.0)
    return 2.0 * heads_per_gpu * arch.head_dim * kv_bytes


def kv_cache_bytes_per_gpu(
    arch: Architecture, prec: Precision, par: Parallel, requests: np.ndarray, tokens: np.ndarray
) -> np.ndarray:
    """KV (and linear-attention state) held on one GPU for ``requests`` live requests of ``tokens`` each."""
    per_rank = requests / par.dp
    per_tok = kv_bytes_per_token_layer(arch, prec.kv_bytes, par.tp)
    layers_full = arch.full_attention_layers / par.pp
    layers_sliding = arch.sliding_layers / par.pp
    kv = (
        per_rank * per_tok * (layers_full * tokens + layers_sliding * np.minimum(tokens, arch.sliding_window))
    )
    if arch.linear_layers:
        state = arch.linear_value_heads * arch.linear_key_head_dim * arch.linear_value_head_dim
        kv = kv + per_rank * arch.linear_layers / par.pp * np.maximum(state / par.tp, 1) * LINEAR_STATE_BYTES
    return kv


def weight_bytes_per_gpu(arch: Architecture, prec: Precision, par: Parallel) -> np.ndarray:
    """Weights stored on one GPU: attention/dense/shared parts split by TP, experts by EP × MoE-TP, layers by PP."""
    wb, eb = prec.weight_bytes, prec.expert_bytes
    mixer = arch.mixer_params_total() * wb
    dense = arch.dense_layers * arch.dense_ffn_params() * wb if arch.is_moe else arch.ffn_params_total() * wb
    shared = arch.moe_layers * (arch.shared_expert_params() + arch.router_params()) * wb
    experts = arch.moe_layers * arch.experts * arch.expert_params() * eb
    head = (arch.embedding_params() + arch.lm_head_params()) * ACT_BYTES
    return (
        (mixer + dense + shared) / (par.tp * par.pp)
        + experts / (par.moe_tp * par.moe_ep * par.pp)
        + head / par.tp
    )


def expected_experts_touched(experts: int, top_k: int, tokens: np.ndarray) -> np.ndarray:
    """Expected number of distinct experts hit when ``tokens`` each pick ``top_k`` of ``experts`` uniformly."""
    tokens = np.asarray(tokens, dtype=float)
    return experts * -np.expm1(tokens * np.log1p(-top_k / experts))  # experts × (1 − (1 − k/E)^tokens)


@dataclass
class StepCost:
    """Per-GPU work of one step, by op group: FLOPs and bytes (arrays), plus communication."""

    ops: dict[str, tuple[np.ndarray, np.ndarray]]
    comm_bytes: np.ndarray  # bytes each GPU sends per step over its scale-up links
    comm_messages: np.ndarray  # collectives per step (each pays a latency)
    crosses_domain: np.ndarray  # True where the deployment spans more than one scale-up domain
    scaleout_bytes: np.ndarray | float = 0.0  # of those, bytes each GPU also sends over its scale-out NIC
    tokens_per_expert: np.ndarray | None = None  # MoE decode: tokens each touched expert processes per step
    experts_per_gpu: np.ndarray | None = (
        None  # MoE decode: distinct experts (or expert shards) one GPU runs per layer
    )


def scaleout_bytes(
    allreduce_bytes: np.ndarray, a2a_bytes: np.ndarray, par: Parallel, scaleup_domain: int
) -> np.ndarray:
    """Bytes each GPU sends over its scale-out NIC when an engine spans systems.

    A hierarchical all-reduce sends each GPU's share (1 / domain size) of the data across systems; an all-to-all
    sends every token bound for an expert on another system, a share 1 − domain / (GPUs of one stage) of it.
    """
    span = (par.tp * par.dp).astype(float)
    remote = np.clip(1.0 - scaleup_domain / span, 0.0, 1.0)
    crosses = par.gpus > scaleup_domain
    return np.where(crosses, allreduce_bytes / scaleup_domain + a2a_bytes * remote, 0.0)


def _attention_context(arch: Architecture, ctx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Tokens attended per query in a full layer and in a sliding layer (DSA caps full layers at index_topk)."""
    full = np.minimum(ctx, arch.index_topk) if arch.index_topk else ctx
    sliding = np.minimum(ctx, arch.sliding_window) if arch.sliding_layers else np.zeros_like(ctx)
    return full, sliding


def decode_step_cost(
    arch: Architecture,
    prec: Precision,
    par: Parallel,
    batch: np.ndarray,
    context: np.ndarray,
    scaleup_domain: int,
    tokens_per_request: float = 1.0,
) -> StepCost:
    """One decode step of ``batch`` requests (summed over attention-DP ranks) at mean ``context`` tokens.

    ``tokens_per_request`` > 1 is a speculative-decoding verify step: each request scores several tokens,
    multiplying FLOPs and activations while weights and the KV cache are still read once.
    """
    q = float(tokens_per_request)
    requests = np.asarray(batch, dtype=float)
    batch = requests * q  # tokens in the step
    tp, dp, pp = par.tp.astype(float), par.dp.astype(float), par.pp.astype(float)
    b = batch / dp  # tokens per attention rank
    r = requests / dp  # requests per attention rank (KV reads)
    wb, eb, h = prec.weight_bytes, prec.expert_bytes, arch.hidden_size
    softmax_layers = arch.layers - arch.linear_layers
    ops: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    # Attention projections (all softmax layers) and linear-attention blocks.
    p_attn = softmax_layers * arch.attention_params() + arch.linear_layers * arch.linear_attention_params()
    ops["attn_linear"] = (2 * b * p_attn / tp, p_attn * wb / tp + 0 * b)

    # Attention core: read the KV cache once per step; FLOPs grow with context.
    full_ctx, slide_ctx = _attention_context(arch, context)
    kv_tok = kv_bytes_per_token_layer(arch, prec.kv_bytes, tp)
    full_layers, slide_layers = arch.full_attention_layers, arch.sliding_layers
    kv_read = r * kv_tok * (full_layers * full_ctx + slide_layers * slide_ctx)
    if arch.attention == "mla":
        dim = 2 * arch.kv_lora_rank + arch.qk_rope_head_dim  # absorbed MLA: scores and values in latent space
        core_flops = 2 * b * (arch.heads / tp) * dim * (full_layers * full_ctx)
    else:
        dim = 2 * arch.head_dim
        core_flops = 2 * b * (arch.heads / tp) * dim * (full_layers * full_ctx + slide_layers * slide_ctx)
    if arch.index_topk:  # DSA indexer scores every cached token with a few small heads
        kv_read = kv_read + r * full_layers * context * arch.index_head_dim * 1.0
        core_flops = core_flops + 2 * b * full_layers * context * arch.index_heads * arch.index_head_dim
    if arch.linear_layers:
        state = arch.linear_value_heads * arch.linear_key_head_dim * arch.linear_value_head_dim
        kv_read = kv_read + 2 * r * arch.linear_layers * np.maximum(state / tp, 1) * LINEAR_STATE_BYTES
        core_flops = core_flops + 4 * b * arch.linear_layers * state / tp
    ops["attn_core"] = (core_flops, kv_read)

    # Feed-forward: dense layers, shared experts, routed experts.
    if arch.is_moe:
        p_dense = arch.dense_layers * arch.dense_ffn_params() + arch.moe_layers * arch.shared_expert_params()
        ops["ffn_dense"] = (2 * b * p_dense / tp, p_dense * wb / tp + 0 * b)
        ep, mtp = par.moe_ep.astype(float), par.moe_tp.astype(float)
        touched = expected_experts_touched(arch.experts, arch.experts_per_token, batch)
        touched_per_gpu = touched / ep
        tokens_per_expert = batch * arch.experts_per_token / np.maximum(touched, 1e-9)
        expert_flops = 2 * batch * arch.experts_per_token * arch.expert_params() / (ep * mtp)
        ops["ffn_experts"] = (
            arch.moe_layers * expert_flops,
            arch.moe_layers * touched_per_gpu * arch.expert_params() * eb / mtp,
        )
    else:
        p_dense = arch.ffn_params_total()
        ops["ffn_dense"] = (2 * b * p_dense / tp, p_dense * wb / tp + 0 * b)

    # Output projection (kept in BF16 by every quantized checkpoint we know).
    p_head = arch.vocab_size * h
    ops["lm_head"] = (2 * b * p_head / tp, p_head * ACT_BYTES / tp + 0 * b)
    ops = {k: (f / pp, m / pp) for k, (f, m) in ops.items()}  # each GPU holds 1/pp of the layers

    # Communication: 2 TP all-reduces per layer; MoE dispatch + combine across EP ranks.
    layers = arch.layers / pp
    tp_multi = (tp > 1).astype(float)
    ar_bytes = tp_multi * 2 * layers * 2 * (tp - 1) / tp * b * h * ACT_BYTES
    a2a_bytes = np.zeros_like(ar_bytes)
    messages = tp_multi * 2 * layers
    if arch.is_moe:
        ep = par.moe_ep.astype(float)
        ep_multi = (ep > 1).astype(float)
        a2a_bytes = _a2a_bytes(arch, par, batch / (tp * dp), once_per_rank=False)
        messages = messages + ep_multi * 2 * arch.moe_layers / pp + (dp > 1) * 2 * arch.moe_layers / pp
    messages = messages + (pp - 1)
    return StepCost(
        ops=ops,
        comm_bytes=ar_bytes + a2a_bytes,
        comm_messages=messages,
        crosses_domain=par.gpus > scaleup_domain,
        scaleout_bytes=scaleout_bytes(ar_bytes, a2a_bytes, par, scaleup_domain),
        tokens_per_expert=tokens_per_expert if arch.is_moe else None,
        experts_per_gpu=touched_per_gpu if arch.is_moe else None,
    )


def _a2a_bytes(
    arch: Architecture, par: Parallel, tokens_per_gpu: np.ndarray, once_per_rank: bool
) -> np.ndarray:
    """Bytes one GPU sends per step in MoE dispatch and combine, each token there and back.

    Decode's low-latency kernels send a token to each of its ``experts_per_token`` experts held elsewhere;
    prefill's throughput kernels send it once to each other EP rank holding one of them (uniform routing).
    """
    ep = par.moe_ep.astype(float)
    k = arch.experts_per_token
    if once_per_rank:
        copies = (ep - 1) * -np.expm1(k * np.log1p(-1.0 / np.maximum(ep, 2.0)))
    else:
        copies = k * (ep - 1) / ep
    per_layer = 2 * tokens_per_gpu * copies * arch.hidden_size * ACT_BYTES
    return (ep > 1) * arch.moe_layers / par.pp * per_layer


def prefill_cost(
    arch: Architecture,
    prec: Precision,
    par: Parallel,
    isl: np.ndarray,
    scaleup_domain: int,
    ranks_busy: np.ndarray | float = 1.0,
) -> StepCost:
    """Prefill of one request of ``isl`` tokens on its attention rank (MoE work spread over the EP group).

    ``ranks_busy`` attention-DP ranks prefill a prompt each at the same time, so the MoE group does that many
    prompts' expert work per step.
    """
    isl = np.asarray(isl, dtype=float)
    busy = np.asarray(ranks_busy, dtype=float)
    tp, pp = par.tp.astype(float), par.pp.astype(float)
    wb, eb, h = prec.weight_bytes, prec.expert_bytes, arch.hidden_size
    softmax_layers = arch.layers - arch.linear_layers
    ops: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    p_attn = softmax_layers * arch.attention_params() + arch.linear_layers * arch.linear_attention_params()
    p_dense = (
        arch.dense_layers * arch.dense_ffn_params() + arch.moe_layers * arch.shared_expert_params()
        if arch.is_moe
        else arch.ffn_params_total()
    )
    ops["gemm"] = (2 * isl * (p_attn + p_dense) / tp, (p_attn + p_dense) * wb / tp + 0 * isl)
    # Causal attention: each token attends to half the prompt on average (capped by windows / DSA top-k).
    full_ctx, slide_ctx = _attention_context(arch, isl / 2)
    # Prefill runs MLA un-absorbed (per-head q·k over qk_head_dim, then v_head_dim).
    dim = arch.qk_head_dim + arch.v_head_dim if arch.attention == "mla" else 2 * arch.head_dim
    core = (
        2
        * isl
        * (arch.heads / tp)
        * dim
        * (arch.full_attention_layers * full_ctx + arch.sliding_layers * slide_ctx)
    )
    if arch.index_topk:
        core = (
            core + 2 * isl * arch.full_attention_layers * (isl / 2) * arch.index_heads * arch.index_head_dim
        )
    ops["attn_core"] = (core, 0 * isl)
    if arch.is_moe:
        ep, mtp = par.moe_ep.astype(float), par.moe_tp.astype(float)
        touched = expected_experts_touched(arch.experts, arch.experts_per_token, isl * busy) / ep
        ops["ffn_experts"] = (
            arch.moe_layers * 2 * busy * isl * arch.experts_per_token * arch.expert_params() / (ep * mtp),
            arch.moe_layers * touched * arch.expert_params() * eb / mtp,
        )
    ops = {k: (f / pp, m / pp) for k, (f, m) in ops.items()}
    layers = arch.layers / pp
    tp_multi = (tp > 1).astype(float)
    ar_bytes = tp_multi * 2 * layers * 2 * (tp - 1) / tp * isl * h * ACT_BYTES
    a2a_bytes = np.zeros_like(ar_bytes)
    messages = tp_multi * 2 * layers + (pp - 1)
    if arch.is_moe:
        ep = par.moe_ep.astype(float)
        a2a_bytes = _a2a_bytes(arch, par, isl / tp, once_per_rank=True)  # each TP rank sends its slice
        messages = messages + (ep > 1) * 2 * arch.moe_layers / pp
    return StepCost(
        ops=ops,
        comm_bytes=ar_bytes + a2a_bytes,
        comm_messages=messages,
        crosses_domain=par.gpus > scaleup_domain,
        scaleout_bytes=scaleout_bytes(ar_bytes, a2a_bytes, par, scaleup_domain),
    )


def cached_prefill_cost(
    arch: Architecture,
    prec: Precision,
    par: Parallel,
    isl: np.ndarray,
    cached: np.ndarray,
    scaleup_domain: int,
    ranks_busy: np.ndarray | float = 1.0,
) -> StepCost:
    """Prefill of the uncached tail ``isl - cached`` of each prompt whose first ``cached`` tokens are in the cache.

    FLOPs: F(isl) − F(cached) per op (the tail's GEMMs plus its attention over the whole context). Bytes and
    communication: those of a ``tail``-token prefill (weights once, activations of the tail only).
    """
    isl = np.asarray(isl, dtype=float)
    cached = np.clip(np.asarray(cached, dtype=float), 0.0, isl)
    tail = isl - cached
    full = prefill_cost(arch, prec, par, isl, scaleup_domain, ranks_busy)
    prefix = prefill_cost(arch, prec, par, cached, scaleup_domain, ranks_busy)
    tail_cost = prefill_cost(arch, prec, par, tail, scaleup_domain, ranks_busy)
    ops = {}
    for name, (flops, _) in full.ops.items():
        if name == "ffn_experts":  # expert FLOPs are linear in tokens: the tail's own
            ops[name] = tail_cost.ops[name]
            continue
        ops[name] = (np.maximum(flops - prefix.ops[name][0], 0.0), tail_cost.ops[name][1])
    return replace(tail_cost, ops=ops)


def cached_tokens(isl: np.ndarray, hit_rate: float) -> np.ndarray:
    """Prompt tokens served from the cache at a prefix hit rate: at least one token is always prefilled."""
    if not 0.0 <= hit_rate <= 1.0:
        raise ValueError(f"prefix hit rate must be in [0, 1], not {hit_rate}")
    isl = np.asarray(isl, dtype=float)
    return np.minimum(np.floor(hit_rate * isl), np.maximum(isl - 1.0, 0.0))


def answer_flops(arch: Architecture, isl: int, osl: int) -> float:
    """FLOPs to generate ``osl`` tokens after ``isl``: linear layers plus attention over the context."""
    ctx = np.arange(isl, isl + osl, dtype=float)
    per_token = 2.0 * arch.active_params
    dim = (2 * arch.kv_lora_rank + arch.qk_rope_head_dim) if arch.attention == "mla" else 2 * arch.head_dim
    attention = 2.0 * arch.heads * dim * arch.full_attention_layers * ctx
    return float(np.sum(per_token + attention))
