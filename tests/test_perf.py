"""Physics of the production model: bounds that must hold, hand-computed examples, memory fit."""

from __future__ import annotations

import numpy as np
import pytest

from tokenomy.catalog import catalog
from tokenomy.econ.cost import priced_frontier
from tokenomy.perf.calibration import load_calibration
from tokenomy.perf.frontier import deployments, frontier, pareto_mask
from tokenomy.perf.hardware import hardware_spec
from tokenomy.perf.ops import (
    Parallel,
    Precision,
    decode_step_cost,
    expected_experts_touched,
    kv_bytes_per_token_layer,
    prefill_cost,
    weight_bytes_per_gpu,
)
from tokenomy.perf.serving import Efficiency, Workload, predict_serving

CAL = load_calibration()
ZERO_OVERHEAD = Efficiency(
    mem_decode=1.0,
    mem_experts=1.0,
    compute_decode=1.0,
    compute_prefill=1.0,
    step_overhead_ms=0.0,
    layer_overhead_us=0.0,
    request_overhead_us=0.0,
    wide_imbalance=0.0,
    comm_latency_us=0.0,
    scaleout_latency_us=0.0,
    ttft_overhead_ms=0.0,
    burst_share=0.0,
    prefill_interference=0.0,
)


def single(tp=1, pp=1, dp=1, moe_tp=None, ep=1, n=1) -> Parallel:
    moe_tp = moe_tp or tp * dp
    return Parallel(*(np.full(n, v) for v in (tp, pp, dp, moe_tp, ep)))


CASES = [
    ("llama-3.1-8b", "h100_sxm", "bf16", single(1)),
    ("llama-3.1-70b", "h200_sxm", "fp8", single(4)),
    ("llama-3.1-70b", "b200_sxm", "fp4", single(2)),
    ("deepseek-r1", "h200_sxm", "fp8", single(8)),
    ("deepseek-r1", "gb200", "fp4", single(1, dp=8, moe_tp=1, ep=8)),
    ("gpt-oss-120b", "h100_sxm", "fp4", single(1)),
    ("qwen3-235b-a22b", "h100_sxm", "fp8", single(4, ep=4, moe_tp=1)),
    ("qwen3.5-397b-a17b", "b200_sxm", "fp4", single(8)),
    ("kimi-k2.5", "b300_sxm", "int4", single(8)),
    ("glm-5", "mi355x", "fp8", single(8)),
]


@pytest.mark.parametrize(("model", "hw_id", "precision", "par"), CASES)
@pytest.mark.parametrize("backend", ["trtllm", "vllm", "sglang", "llama.cpp"])
def test_decode_never_faster_than_weights_over_bandwidth(model, hw_id, precision, par, backend):
    arch = catalog().model(model).architecture
    hw = hardware_spec(hw_id)
    prec = Precision(precision, precision, "fp8")
    eff = CAL.efficiency(backend, hw.family)
    conc = np.array([1.0, 8.0, 64.0, 256.0])
    par4 = Parallel(*(np.repeat(getattr(par, k), 4) for k in ("tp", "pp", "dp", "moe_tp", "moe_ep")))
    res = predict_serving(arch, hw, prec, par4, Workload(np.full(4, 1024.0), np.full(4, 256.0), conc), eff)
    # Dense parts are read in full every step; for MoE only the experts a batch touches, so bound by the rest.
    dense_only = weight_bytes_per_gpu(arch, prec, par4) - (
        arch.moe_layers
        * arch.experts
        * arch.expert_params()
        * prec.expert_bytes
        / (par4.moe_tp * par4.moe_ep)
    )
    floor_ms = dense_only / hw.memory_bw_bytes_s * 1e3
    assert np.all(res.decode_step_ms >= floor_ms * 0.999)


@pytest.mark.parametrize(("model", "hw_id", "precision", "par"), CASES)
def test_tpot_never_decreases_with_concurrency(model, hw_id, precision, par):
    arch = catalog().model(model).architecture
    hw = hardware_spec(hw_id)
    conc = np.unique(np.round(np.geomspace(1, 4096, 40)))
    n = conc.size
    grid = Parallel(*(np.repeat(getattr(par, k), n) for k in ("tp", "pp", "dp", "moe_tp", "moe_ep")))
    for isl, osl in [(1024, 1024), (8192, 1024), (1024, 8192)]:
        work = Workload(np.full(n, float(isl)), np.full(n, float(osl)), conc)
        res = predict_serving(
            arch, hw, Precision(precision, precision, "bf16"), grid, work, CAL.efficiency("trtllm", hw.family)
        )
        tpot = res.tpot_ms[np.isfinite(res.tpot_ms)]
        assert tpot.size > 0
        assert np.all(np.diff(tpot) >= -1e-9), (isl, osl, tpot)


def test_touched_experts_between_top_k_and_expert_count():
    tokens = np.array([1, 2, 3, 8, 64, 1000, 1e6])
    for experts, k in [(8, 2), (128, 4), (256, 8), (384, 8), (512, 10)]:
        touched = expected_experts_touched(experts, k, tokens)
        assert touched[0] == pytest.approx(k)
        assert np.all(touched >= k - 1e-9) and np.all(touched <= experts + 1e-9)
        assert np.all(np.diff(touched) >= 0)


def test_hand_computed_dense_llama_8b():
    """Llama-3.1-8B BF16, TP1, batch 1 at 1,000 tokens of context: bytes moved by hand."""
    arch = catalog().model("llama-3.1-8b").architecture
    attn = 4096 * 4096 * 2 + 2 * 4096 * 1024  # q, o + k, v projections
    ffn = 3 * 4096 * 14336
    head = 128256 * 4096
    weights = 2 * (32 * (attn + ffn) + head)  # BF16; the embedding lookup reads one row only
    kv_per_token = 32 * 2 * 8 * 128 * 2  # layers × (K and V) × KV heads × head dim × BF16
    assert kv_per_token == 131072
    cost = decode_step_cost(
        arch, Precision("bf16", "bf16", "bf16"), single(1), np.array([1.0]), np.array([1000.0]), 8
    )
    moved = sum(b for _, b in cost.ops.values())
    assert moved[0] == pytest.approx(weights + 1000 * kv_per_token, rel=1e-6)
    # With every efficiency at 1 and no overheads, a step is bandwidth-bound: bytes / 3.35 TB/s.
    hw = hardware_spec("h100_sxm")
    res = predict_serving(
        arch,
        hw,
        Precision("bf16", "bf16", "bf16"),
        single(1),
        Workload(np.array([999.0]), np.array([2.0]), np.array([1.0])),
        ZERO_OVERHEAD,
    )
    assert res.decode_step_ms[0] == pytest.approx((weights + 1000 * kv_per_token) / 3.35e12 * 1e3, rel=0.02)


def test_hand_computed_moe_gpt_oss_120b():
    """gpt-oss-120b, batch 1: exactly top-4 of 128 experts per layer are read, stored at FP4 (4.5 bits)."""
    arch = catalog().model("gpt-oss-120b").architecture
    expert = 3 * 2880 * 2880 + 2 * 2880 + 2880  # gate/up/down + biases
    assert arch.expert_params() == expert
    cost = decode_step_cost(
        arch, Precision("bf16", "fp4", "bf16"), single(1), np.array([1.0]), np.array([10.0]), 8
    )
    _, expert_bytes = cost.ops["ffn_experts"]
    assert expert_bytes[0] == pytest.approx(36 * 4 * expert * 0.5625)
    # At a large batch every expert is read once: the whole expert store.
    cost = decode_step_cost(
        arch, Precision("bf16", "fp4", "bf16"), single(1), np.array([4096.0]), np.array([10.0]), 8
    )
    assert cost.ops["ffn_experts"][1][0] == pytest.approx(36 * 128 * expert * 0.5625, rel=1e-3)


def test_moe_all_to_all_carries_every_token_of_a_prompt_and_its_remote_share_crosses_the_nic():
    """DeepSeek-R1 prefill of 8,192 tokens per attention-DP rank: each GPU dispatches and combines all of its
    prompt's tokens (BF16 activations) once to each other rank holding one of a token's 8 experts; across two
    8-GPU systems half of it goes over the NIC, while a TP all-reduce sends only 1/8 of its bytes there.
    Decode sends a token to each expert."""
    arch = catalog().model("deepseek-r1").architecture
    prec = Precision("fp8", "fp8", "fp8")
    isl = np.array([8192.0])
    for ep in (8, 16):
        cost = prefill_cost(arch, prec, single(1, dp=ep, moe_tp=1, ep=ep), isl, 8, ranks_busy=ep)
        other_ranks = (ep - 1) * (1 - (1 - 1 / ep) ** 8)  # 4.6 of 7, 6.2 of 15: fewer than the 8 experts
        a2a = arch.moe_layers * 2 * 8192 * other_ranks * arch.hidden_size * 2
        assert cost.comm_bytes[0] == pytest.approx(a2a)
        assert cost.scaleout_bytes[0] == pytest.approx(a2a / 2 if ep == 16 else 0.0)
    tp16 = decode_step_cost(arch, prec, single(16, moe_tp=16), np.array([64.0]), np.array([1000.0]), 8)
    assert tp16.scaleout_bytes[0] == pytest.approx(tp16.comm_bytes[0] / 8)
    # Decode's low-latency dispatch sends a token to each of its 8 experts held elsewhere: 7 of 8 at EP8.
    ep8 = decode_step_cost(
        arch, prec, single(1, dp=8, moe_tp=1, ep=8), np.array([64.0]), np.array([1000.0]), 8
    )
    assert ep8.comm_bytes[0] == pytest.approx(arch.moe_layers * 2 * 8 * 8 * 7 / 8 * arch.hidden_size * 2)


def test_mla_kv_is_replicated_across_tp_and_gqa_is_split():
    mla = catalog().model("deepseek-r1").architecture
    gqa = catalog().model("llama-3.1-70b").architecture
    tp = np.array([1, 8])
    assert np.all(kv_bytes_per_token_layer(mla, 1.0, tp) == 576)
    assert list(kv_bytes_per_token_layer(gqa, 2.0, tp)) == [2 * 8 * 128 * 2, 2 * 1 * 128 * 2]


def test_out_of_memory_deployments_are_excluded_from_the_frontier():
    f = frontier("llama-3.1-405b", "h100_sxm", "bf16", 1024, 1024, max_gpus=8)  # 810 GB of weights, 8 × 80 GB
    assert f.points == [] and f.feasible == 0
    wide = frontier("llama-3.1-405b", "h100_sxm", "bf16", 1024, 1024)  # by default engines span nodes
    assert wide.points and min(p.gpus for p in wide.points) > 8
    f = frontier("llama-3.1-405b", "h100_sxm", "bf16", 1024, 1024, max_gpus=16)
    assert f.points and all(p.gpus == 16 for p in f.points)
    hw = hardware_spec("h100_sxm")
    assert all(p.memory_per_gpu_gb * 1e9 <= hw.memory_bytes for p in f.points)


def test_frontier_is_a_pareto_front_with_costs():
    f = frontier("llama-3.1-70b", "h200", "fp8", 1024, 1024)
    users = [p.tok_s_per_user for p in f.points]
    tputs = [p.tok_s_per_gpu for p in f.points]
    assert users == sorted(users) and tputs == sorted(tputs, reverse=True)
    p = f.points[0]
    assert p.tok_s_per_mw == pytest.approx(p.tok_s_per_gpu * 1000 / 1.73)
    priced = priced_frontier(f, "neocloud")
    assert priced.usd_per_mtok(p) == pytest.approx(1.74 / (p.tok_s_per_gpu * 3600 / 1e6))


def test_pareto_mask_keeps_only_undominated_points():
    x = np.array([1.0, 2.0, 3.0, 2.0, np.nan])
    y = np.array([3.0, 2.0, 1.0, 1.0, 9.0])
    assert list(pareto_mask(x, y)) == [True, True, True, False, False]


def test_deployment_space_respects_moe_convention():
    arch = catalog().model("deepseek-r1").architecture
    dep = deployments(arch, 64)
    assert np.all(dep.tp * dep.dp == dep.moe_tp * dep.moe_ep)
    assert dep.gpus.max() == 64


def test_unverified_inputs_are_reported():
    f = frontier("gpt-oss-120b", "rubin", "fp4", 1024, 1024)
    assert any("allin_kw" in a for a in f.assumptions)


def _serve(options=None, conc=(1.0, 16.0, 128.0), eff=None):
    from tokenomy.perf.serving import ServingOptions

    arch = catalog().model("deepseek-r1").architecture
    hw = hardware_spec("h200_sxm")
    n = len(conc)
    par = Parallel(*(np.full(n, v) for v in (8, 1, 1, 8, 1)))
    work = Workload(np.full(n, 8192.0), np.full(n, 1024.0), np.array(conc))
    return predict_serving(
        arch,
        hw,
        Precision("fp8", "fp8", "fp8"),
        par,
        work,
        eff or CAL.efficiency("trtllm", "hopper"),
        options=options or ServingOptions(),
    )


def test_mtp_speeds_up_decode_only_when_drafts_are_accepted():
    from tokenomy.perf.serving import ServingOptions

    base = _serve()
    useless = _serve(ServingOptions(mtp_draft_tokens=1, mtp_acceptance=0.0))
    good = _serve(ServingOptions(mtp_draft_tokens=1, mtp_acceptance=0.8))
    assert np.all(useless.tpot_ms > base.tpot_ms)  # verify work with nothing accepted is pure cost
    assert np.all(good.tpot_ms < base.tpot_ms)
    assert ServingOptions(mtp_draft_tokens=3, mtp_acceptance=0.5).accepted_tokens_per_step == pytest.approx(
        1.875
    )
    with pytest.raises(ValueError):
        ServingOptions(mtp_draft_tokens=1, mtp_acceptance=1.5)


def _disagg(options=None, conc=(16.0, 128.0, 512.0), prefill_workers=1.0, eff=None):
    from tokenomy.perf.serving import ServingOptions, predict_disaggregated

    arch = catalog().model("deepseek-r1").architecture
    hw = hardware_spec("h200_sxm")
    n = len(conc)
    tp8 = Parallel(*(np.full(n, v) for v in (8, 1, 1, 8, 1)))
    work = Workload(np.full(n, 8192.0), np.full(n, 1024.0), np.array(conc))
    return predict_disaggregated(
        arch,
        hw,
        Precision("fp8", "fp8", "fp8"),
        tp8,
        np.full(n, prefill_workers),
        tp8,
        np.ones(n),
        work,
        eff or CAL.efficiency("trtllm", "hopper"),
        options=options or ServingOptions(),
    )


def test_steady_traffic_moves_other_prefills_from_the_first_token_into_decode():
    """Requests arriving in waves (fixed lengths) take other prefills before their first token; spread-out
    arrivals (varied lengths, production traffic) take them between decode steps. Time is only moved: the same
    end-to-end latency and throughput."""
    from dataclasses import replace

    arch = catalog().model("deepseek-r1").architecture
    hw, prec = hardware_spec("h200_sxm"), Precision("fp8", "fp8", "fp8")
    par = single(8, n=3)
    conc = np.array([16.0, 64.0, 256.0])
    eff = replace(CAL.efficiency("sglang", "hopper"), burst_share=0.6, prefill_interference=1.0)
    waves, steady = (
        predict_serving(
            arch, hw, prec, par, Workload(np.full(3, 1024.0), np.full(3, 1024.0), conc, waves=w), eff
        )
        for w in (1.0, 0.0)
    )
    assert np.all(steady.ttft_ms < waves.ttft_ms)
    assert np.all(steady.tpot_ms > waves.tpot_ms)
    np.testing.assert_allclose(steady.e2e_ms, waves.e2e_ms, rtol=1e-9)
    np.testing.assert_allclose(steady.tok_s_per_gpu, waves.tok_s_per_gpu, rtol=1e-9)


def test_disaggregation_never_beats_aggregation_by_more_than_the_prefill_saving():
    """Decode GPUs of a disaggregated deployment produce at most what the same engine would with free prefills,
    the prefill pool is paid for, and busy 8k-prompt engines gain from moving prefills away."""
    from dataclasses import replace

    eff = CAL.efficiency("trtllm", "hopper")
    free_prefill = replace(eff, prefill_interference=0.0, burst_share=0.0, compute_prefill=1e9)
    conc = (16.0, 128.0, 512.0)
    dis = _disagg(conc=conc, eff=eff)
    running = dis.running_per_rank  # TP8: one attention rank
    # The same engine decoding the same batch with prefills free and no time outside decode: the ceiling.
    ideal = _serve(conc=tuple(running), eff=free_prefill)
    osl, decode_gpus = 1024.0, 8.0
    ceiling = running * osl / ((osl - 1 + 1.5) * ideal.tpot_ms / 1e3) / decode_gpus
    per_decode_gpu = dis.output_tok_s_per_gpu * dis.gpus / decode_gpus
    assert np.all(per_decode_gpu <= ceiling * 1.0001)
    assert np.all(dis.tpot_ms >= ideal.tpot_ms * 0.9999)  # decode steps are the same steps, never faster
    agg = _serve(conc=conc)
    assert np.all(dis.gpus > decode_gpus)  # the prefill pool is counted
    assert dis.tpot_ms[-1] < 0.8 * agg.tpot_ms[-1]  # 8k prompts stall a busy aggregated engine


def test_a_small_prefill_pool_queues_and_a_large_one_does_not():
    """The closed loop: fewer prefill workers → longer TTFT (queueing) and fewer requests per second."""
    small = _disagg(prefill_workers=0.25)
    large = _disagg(prefill_workers=4.0)
    assert np.all(small.ttft_ms > large.ttft_ms)
    assert np.all(small.output_tok_s_per_gpu * small.gpus < large.output_tok_s_per_gpu * large.gpus + 1e-9)
    from tokenomy.perf.serving import closed_loop_utilization

    rho = closed_loop_utilization(np.array([1.0, 10.0, 1e4]), np.ones(3), np.full(3, 5.0), 1.0)
    assert np.all((rho > 0) & (rho < 1)) and rho[0] < rho[1] < rho[2]


def test_mtp_with_nothing_accepted_never_helps_disaggregated_serving_either():
    from tokenomy.perf.serving import ServingOptions

    base = _disagg()
    useless = _disagg(ServingOptions(mtp_draft_tokens=3, mtp_acceptance=0.0))
    assert np.all(useless.tpot_ms >= base.tpot_ms)
    assert np.all(useless.output_tok_s_per_gpu <= base.output_tok_s_per_gpu)


def test_native_formats_follow_the_published_peaks():
    """FP4 tensor cores exist on Blackwell and CDNA4 only; 16-bit is always native, int4 weight-only never."""
    assert not hardware_spec("h100_sxm").native("fp4") and hardware_spec("b200_sxm").native("fp4")
    assert not hardware_spec("mi300x").native("fp4") and hardware_spec("mi355x").native("fp4")
    assert hardware_spec("h100_sxm").native("fp8") and hardware_spec("h100_sxm").native("bf16")
    assert not hardware_spec("b200_sxm").native("int4")


def test_expert_only_checkpoints_keep_attention_in_bf16():
    """gpt-oss (MXFP4) and Kimi (int4) quantize only their routed experts, per their config.json."""
    from tokenomy.perf.ops import serving_precision

    cat = catalog()
    oss = serving_precision(cat.model("gpt-oss-120b").architecture, "fp4", "fp4", "fp8")
    assert (oss.weights, oss.experts) == ("bf16", "fp4")
    kimi = serving_precision(cat.model("kimi-k2.5").architecture, "int4", "int4", "bf16")
    assert (kimi.weights, kimi.experts) == ("bf16", "int4")
    r1 = serving_precision(cat.model("deepseek-r1").architecture, "fp4", "fp4", "fp8")
    assert (r1.weights, r1.experts) == ("fp4", "fp4")  # NVFP4 DeepSeek quantizes everything it can


def test_weights_without_tensor_core_support_slow_only_their_ops():
    """The same H100 with a (fictional) FP4 peak decodes MXFP4 experts faster; at batch 1 the gap is dequant_eff."""
    from dataclasses import replace

    arch = catalog().model("gpt-oss-120b").architecture
    h100 = hardware_spec("h100_sxm")
    fp4_h100 = replace(h100, peak_flop_s={**h100.peak_flop_s, "fp4": 2 * h100.peak_flop_s["fp8"]})
    prec = Precision("bf16", "fp4", "bf16")
    work = Workload(isl=np.full(3, 1024.0), osl=np.full(3, 1024.0), concurrency=np.array([1.0, 16, 64]))
    eff = replace(ZERO_OVERHEAD, dequant_eff=0.5)

    def tpot(hw, e):
        return predict_serving(arch, hw, prec, single(1, n=3), work, e).decode_step_ms

    assert np.all(tpot(h100, eff) > 1.3 * tpot(fp4_h100, eff))
    # At batch 1 decode is memory-bound: without the dequant penalty both read the same bytes at the same speed.
    assert tpot(h100, replace(eff, dequant_eff=1.0))[0] == pytest.approx(tpot(fp4_h100, eff)[0], rel=0.01)
    # A BF16 model has nothing to dequantize: dequant_eff does not touch it.
    llama = catalog().model("llama-3.1-8b").architecture
    bf16 = Precision("bf16", "bf16", "bf16")
    a = predict_serving(llama, h100, bf16, single(1, n=3), work, eff).decode_step_ms
    b = predict_serving(llama, h100, bf16, single(1, n=3), work, ZERO_OVERHEAD).decode_step_ms
    assert np.allclose(a, b)


def test_best_framework_frontier_is_the_upper_envelope():
    """InferenceX plots each GPU's best framework: no single framework's frontier lies above the envelope."""
    from tokenomy.perf.frontier import INFERENCEX_V1, best_framework_frontier

    best = best_framework_frontier("gpt-oss-120b", "b200_sxm", None, isl=1024, osl=1024, **INFERENCEX_V1)
    assert {p.backend for p in best.points} <= {"trtllm", "vllm", "sglang"}
    for backend in ("trtllm", "vllm", "sglang"):
        one = frontier("gpt-oss-120b", "b200_sxm", None, 1024, 1024, backend=backend, **INFERENCEX_V1)
        for p in one.points:
            assert any(
                q.tok_s_per_user >= p.tok_s_per_user * 0.999 and q.tok_s_per_gpu >= p.tok_s_per_gpu * 0.999
                for q in best.points
            )
    amd = best_framework_frontier("gpt-oss-120b", "mi355x", None, isl=1024, osl=1024, **INFERENCEX_V1)
    assert "trtllm" not in {p.backend for p in amd.points}  # TensorRT-LLM does not run on AMD


def test_a_wide_rank_imbalance_slows_only_the_ops_whose_ranks_differ():
    """Expert parallelism makes the experts wait for the busiest EP rank; attention DP makes every other op wait
    for the busiest DP rank; TP shards stay balanced, so a TP8-EP8 engine's attention and dense ops keep their
    time while a DP8-EP8 engine's slow down too."""
    from dataclasses import replace

    from tokenomy.perf.serving import balanced_speed, decode_step_s

    cat = catalog()
    arch = cat.model("deepseek-r1").architecture
    hw = hardware_spec("h200_sxm", cat)
    prec = Precision("fp8", "fp8", "fp8")
    running, context = np.array([64.0]), np.array([1536.0])
    even, uneven = ZERO_OVERHEAD, replace(ZERO_OVERHEAD, wide_imbalance=0.2)

    tp_ep = single(8, moe_tp=1, ep=8)
    cost = decode_step_cost(arch, prec, tp_ep, running, context, hw.scaleup_domain, 1.0)
    speed = balanced_speed(cost, tp_ep, uneven)
    assert speed["ffn_experts"][0] == pytest.approx(1 / 1.6)  # log2(8) = 3 doublings of EP ranks
    assert all(s[0] == 1.0 for name, s in speed.items() if name != "ffn_experts")
    dp_ep = single(1, dp=8, moe_tp=1, ep=8)
    cost_dp = decode_step_cost(arch, prec, dp_ep, running, context, hw.scaleup_domain, 1.0)
    assert all(s[0] == pytest.approx(1 / 1.6) for s in balanced_speed(cost_dp, dp_ep, uneven).values())

    def slowdown(par):
        return (
            decode_step_s(arch, hw, prec, par, running, context, uneven)[0]
            / (decode_step_s(arch, hw, prec, par, running, context, even)[0])
        )

    assert 1.0 < slowdown(tp_ep) < slowdown(dp_ep) <= 1.6 + 1e-9
    assert slowdown(single(8)) == pytest.approx(1.0)  # TP8 with MoE-TP: nothing uneven
