"""KV-cache reuse: only the uncached tail is prefilled; cache tiers never lower the hit rate."""

from __future__ import annotations

import numpy as np
import pytest

from tokenomy.catalog import catalog
from tokenomy.perf.calibration import load_calibration
from tokenomy.perf.frontier import frontier
from tokenomy.perf.hardware import hardware_spec
from tokenomy.perf.ops import Parallel, Precision, cached_prefill_cost, cached_tokens, prefill_cost
from tokenomy.perf.reuse import (
    CacheTier,
    Session,
    parse_session,
    session_cache,
    session_reuse,
    system_cache_tiers,
)
from tokenomy.perf.serving import Workload, predict_serving


def single(tp=1, n=1) -> Parallel:
    return Parallel(*(np.full(n, v) for v in (tp, 1, 1, tp, 1)))


ARCH = catalog().model("llama-3.1-70b").architecture
PREC = Precision("fp8", "fp8", "fp8")


def test_full_prefix_reuse_prefills_only_the_uncached_tail():
    isl, tail = np.array([8192.0]), 256.0
    full = prefill_cost(ARCH, PREC, single(4), isl, 8)
    only_tail = prefill_cost(ARCH, PREC, single(4), np.array([tail]), 8)
    reused = cached_prefill_cost(ARCH, PREC, single(4), isl, isl - tail, 8)
    # GEMM work is the tail's alone, and the weights are read once, as for any prefill.
    assert reused.ops["gemm"][0][0] == pytest.approx(only_tail.ops["gemm"][0][0], rel=1e-12)
    assert reused.ops["gemm"][1][0] == pytest.approx(full.ops["gemm"][1][0], rel=1e-12)
    # The tail attends to the whole context: more attention than a bare tail prompt, far less than the prompt.
    att = reused.ops["attn_core"][0][0]
    assert only_tail.ops["attn_core"][0][0] < att < full.ops["attn_core"][0][0]
    total = sum(f[0] for f, _ in reused.ops.values())
    assert total < 0.1 * sum(f[0] for f, _ in full.ops.values())


def test_nothing_cached_costs_exactly_a_plain_prefill():
    isl = np.array([512.0, 4096.0])
    plain = prefill_cost(ARCH, PREC, single(2, 2), isl, 8)
    zero = cached_prefill_cost(ARCH, PREC, single(2, 2), isl, np.zeros(2), 8)
    for name in plain.ops:
        np.testing.assert_allclose(zero.ops[name][0], plain.ops[name][0], rtol=1e-12)
        np.testing.assert_allclose(zero.ops[name][1], plain.ops[name][1], rtol=1e-12)


def test_serving_with_reuse_cuts_ttft_and_keeps_the_default_path():
    hw = hardware_spec("h200_sxm")
    eff = load_calibration().efficiency("vllm", hw.family)
    c = np.array([1.0, 16.0])
    isl = np.full(2, 8192.0)
    base = predict_serving(ARCH, hw, PREC, single(4, 2), Workload(isl, np.full(2, 512.0), c), eff)
    none = predict_serving(ARCH, hw, PREC, single(4, 2), Workload(isl, np.full(2, 512.0), c, None), eff)
    np.testing.assert_array_equal(base.ttft_ms, none.ttft_ms)
    hit = predict_serving(
        ARCH, hw, PREC, single(4, 2), Workload(isl, np.full(2, 512.0), c, cached_tokens(isl, 0.9)), eff
    )
    assert np.all(hit.prefill_ms < 0.3 * base.prefill_ms)
    assert np.all(hit.ttft_ms < base.ttft_ms)
    assert np.all(hit.tok_s_per_gpu >= base.tok_s_per_gpu)


def test_frontier_throughput_never_drops_with_the_hit_rate():
    tputs = []
    for h in (0.0, 0.5, 0.9):
        f = frontier("llama-3.1-70b", "hgx_h200", isl=8192, osl=512, prefix_hit_rate=h, max_gpus=8)
        tputs.append(f.at_interactivity(30).tok_s_per_gpu)
        assert (h > 0) == any("prefix reuse" in a for a in f.assumptions)
    assert tputs[0] < tputs[1] < tputs[2]
    with pytest.raises(ValueError, match="hit rate"):
        cached_tokens(np.array([10.0]), 1.5)


def test_cached_tokens_always_leave_one_token_to_prefill():
    assert cached_tokens(np.array([100.0]), 1.0)[0] == 99.0
    assert cached_tokens(np.array([100.0]), 0.25)[0] == 25.0


def test_session_hit_rate_from_retention():
    s = Session(turns=4, system_tokens=1000, tokens_per_turn=500, output_per_turn=100, think_time_s=5)
    np.testing.assert_array_equal(s.turn_isl(), [1500, 2100, 2700, 3300])
    # Nothing retained: only the shared system prompt is reused.
    assert s.hit_rate(0.0) == pytest.approx(4 * 1000 / s.turn_isl().sum())
    # Everything retained: every turn but the first reuses its whole previous context.
    assert s.hit_rate(1.0) == pytest.approx((1000 + 1600 + 2200 + 2800) / s.turn_isl().sum())


@pytest.mark.parametrize("sessions", [1.0, 50.0, 400.0, 4000.0])
def test_a_larger_cache_tier_never_lowers_the_hit_rate(sessions):
    s = Session()
    par = single(8)
    rates = []
    for dram_gb in (0, 1, 10, 100, 1000, 10000):
        tiers = [CacheTier("host DRAM", dram_gb * 1e9, 50e9), CacheTier("local SSD", 5e9, 5e9)]
        r = session_cache(s, ARCH, PREC, par, sessions, 6.0, 20e9, tiers, recompute_s=1.0)
        rates.append(r.hit_rate)
        assert s.hit_rate(0.0) - 1e-12 <= r.hit_rate <= s.hit_rate(1.0) + 1e-12
    assert all(b >= a for a, b in zip(rates, rates[1:], strict=False))
    if sessions >= 400:
        assert rates[-1] > rates[0]  # the bigger tier actually keeps more sessions here


def test_a_reload_slower_than_recomputing_counts_as_a_miss():
    s = Session()
    slow = [CacheTier("local SSD", 1e15, 1.0)]  # 1 byte/s: recomputing wins
    r = session_cache(s, ARCH, PREC, single(8), 400.0, 6.0, 0.0, slow, recompute_s=0.5)
    assert r.reload_used["local SSD"] is False
    assert r.hit_rate == pytest.approx(s.hit_rate(0.0))
    fast = [CacheTier("local SSD", 1e15, 1e12)]
    r2 = session_cache(s, ARCH, PREC, single(8), 400.0, 6.0, 0.0, fast, recompute_s=0.5)
    assert r2.hit_rate == pytest.approx(s.hit_rate(1.0))


def test_system_cache_tiers_come_from_the_catalog_with_provenance():
    cat = catalog()
    tiers, notes = system_cache_tiers("hgx_h200", cat)
    assert [t.name for t in tiers] == ["host DRAM", "local SSD"]
    fig = cat.system("hgx_h200").figures["host_dram_gb"]
    assert fig.source and fig.as_of and fig.confidence
    assert tiers[0].bytes_per_gpu == pytest.approx(fig.value * 1e9 / 8)
    none, notes = system_cache_tiers("mi300x_x8", cat)
    assert none == [] and any("no host DRAM" in n for n in notes)
    r, _ = session_reuse("llama-3.1-70b", "hgx_h200", Session(), sessions_per_gpu=64)
    assert 0 < r.hit_rate <= Session().hit_rate(1.0) + 1e-12


def test_parse_session_names_the_bad_field():
    assert parse_session("5,800,200,3").turns == 5
    with pytest.raises(ValueError, match="think_time_s"):
        parse_session("5,800,200,soon")
    with pytest.raises(ValueError, match="TURNS"):
        parse_session("5,800")


def test_predicted_prefix_saving_grows_with_the_shared_share():
    from tokenomy.perf.reuse import predicted_prefix_saving

    savings = [
        predicted_prefix_saving("llama-3.1-8b", "h100_sxm", 4096, s).saving for s in (0, 1024, 3072, 4000)
    ]
    assert savings[0] == pytest.approx(0.0, abs=1e-12)
    assert all(b > a for a, b in zip(savings, savings[1:], strict=False))
    assert savings[-1] < 1.0  # fixed overheads and the first decode step remain
    with pytest.raises(ValueError, match="shared_tokens"):
        predicted_prefix_saving("llama-3.1-8b", "h100_sxm", 100, 100)
