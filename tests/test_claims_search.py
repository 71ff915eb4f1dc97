"""Claims, inverted: every claim gets a verdict with conditions; where a claim holds, it does hold there."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tokenomy.catalog import catalog
from tokenomy.econ import ranges as R
from tokenomy.econ.claims import _Ctx
from tokenomy.econ.claims_search import _holds_interval, _interval_text, _measured_points
from tokenomy.points import read_points

VERDICTS = ("consistent", "consistent only at conditions found", "not supported anywhere", "cannot check")


@pytest.fixture(scope="module")
def checks(claim_checks):
    return {c.id: c for c in claim_checks}


@pytest.mark.slow  # the whole claims audit (≈ 7 s)
def test_every_claim_gets_a_verdict_with_conditions(checks):
    assert set(checks) == set(catalog().claims)
    for c in checks.values():
        assert c.verdict in VERDICTS[:3], (c.id, c.verdict, c.conditions)
        assert c.conditions, c.id
        assert c.ratio_verdict in ("within 1.5x", "within 3x", "not supported"), c.id


@pytest.mark.slow  # the whole claims audit (≈ 7 s)
def test_a_claim_judged_at_an_unstated_condition_says_so(checks):
    for c in checks.values():
        claim = catalog().claims[c.id]
        if (
            claim.metric in ("tok_s_per_mw", "tok_s_per_gpu", "tok_s_per_gw")
            and not claim.conditions.tok_s_per_user
        ):
            assert "interactivity" in c.unstated, c.id
            assert any("does not state" in a for a in c.assumptions), c.id


@pytest.mark.slow  # the whole claims audit (≈ 7 s)
def test_where_a_claim_holds_our_band_contains_it(checks):
    """Re-read the frontier at the found interactivity: the claimed value lies within the model-error band."""
    c = checks["hopper-1mw-180k"]
    assert c.verdict == "consistent only at conditions found"
    held = [h for h in c.holds if h["holds_at"]]
    assert held
    ctx = _Ctx(catalog())
    for h in held:
        cond = h["conditions"]
        f = ctx.frontier("deepseek-r1", "hgx_h200", cond["precision"], cond["isl"], cond["osl"])
        x = math.sqrt(h["holds_at"][0] * h["holds_at"][1])
        ours = f.interpolate(x, "tok_s_per_mw")
        backends = {p.backend for p in f.points}
        sigma = max(R.model_error(b, "hopper")[0] / R.MAD_TO_SIGMA for b in backends)
        assert ours * math.exp(-R.Z90 * sigma) <= 180_000 <= ours * math.exp(R.Z90 * sigma), (cond, x, ours)


def test_holds_interval_and_its_words():
    xs = np.array([10.0, 20.0, 40.0, 80.0])
    vals = np.array([400.0, 200.0, 100.0, 50.0])  # a frontier: throughput falls with interactivity
    assert _holds_interval(xs, vals, 100.0, 0.8, 1.25) == [40.0, 40.0]
    assert _holds_interval(xs, vals, 1000.0, 0.8, 1.25) is None
    assert _holds_interval(xs, vals, 100.0, 0.4, 2.5) == [20.0, 80.0]
    assert _interval_text(10, 24, 10, 80) == "at ≤ 24 tok/s/user"
    assert "every interactivity" in _interval_text(10, 80, 10, 80)


@pytest.mark.slow  # the whole claims audit (≈ 7 s)
def test_inferencex_measurement_is_checked_where_it_exists(checks):
    c = checks["h200-90-tps-gpu"]
    m = c.measured
    assert m and m["available"] and "InferenceX measured" in m["text"]
    # independently: the best measured H200 FP8 1k/1k tok/s per GPU in the packaged file
    from importlib import resources

    with resources.as_file(resources.files("tokenomy.perf") / "data" / "inferencex_dsr1.csv") as p:
        points, _ = read_points(p)
    best = max(
        p.measured_tput_per_gpu
        for p in points
        if p.system == "h200_sxm"
        and p.precision == "fp8"
        and p.isl == 1024
        and p.osl == 1024
        and p.measured_tput_per_gpu
    )
    assert m["value"] == pytest.approx(best)
    assert m["ratio"] == pytest.approx(best / 90.0)
    assert len(_measured_points()) == len(points)
    no_data = checks["gb300-6000-tps-gpu"].measured
    assert no_data and not no_data["available"] and "no InferenceX measurement" in no_data["text"]


@pytest.mark.slow  # the whole claims audit (≈ 7 s)
def test_no_holding_is_nan(checks):
    """A tier with no revenue on either side (Free) has no ratio: said in words, never a NaN figure."""
    for c in checks.values():
        for h in c.holds:
            for v in (h["ours_low"], h["ours_high"]):
                assert v is None or math.isfinite(v), (c.id, h)
    rev = [c for c in checks.values() if c.metric == "revenue_per_mw"]
    assert rev and any("no revenue on either" in h["text"] for c in rev for h in c.holds)
