"""Ranges: seeded bands, zero ranges give zero-width bands at the point result, widening never narrows."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from tokenomy.catalog import catalog
from tokenomy.cli import app
from tokenomy.econ import ranges as R
from tokenomy.econ.capacity import capacity
from tokenomy.econ.cost import cost_report
from tokenomy.econ.factory import plan
from tokenomy.econ.ranges_econ import capacity_ranges, cost_ranges, plan_ranges
from tokenomy.econ.scenario import EXAMPLE_YAML, ScenarioError, parse_scenario

runner = CliRunner()
ZERO = {"O": 0.0, "S": 0.0, "W": 0.0, "U": 0.0, "model_error": 0.0}
# two generations keep the tests fast; the default plan has four
SMALL = EXAMPLE_YAML.replace(
    """  - name: Blackwell Ultra
    hardware: [{system: gb300_nvl72}]
  - name: Vera Rubin
    hardware: [{system: vr_nvl72}]
""",
    "",
)


def _scenario(uncertainty: dict | None = None):
    sc = parse_scenario(SMALL)
    return sc.model_copy(update={"uncertainty": uncertainty}) if uncertainty is not None else sc


@pytest.fixture(scope="module")
def small():
    sc = _scenario()
    return sc, plan(sc)


def test_same_seed_same_bands_other_seed_other_bands(small):
    sc, result = small
    a = plan_ranges(sc, result, draws=1000, seed=7)
    b = plan_ranges(sc, result, draws=1000, seed=7)
    c = plan_ranges(sc, result, draws=1000, seed=8)
    assert a.as_dict() == b.as_dict()
    key = "Blackwell.margin_usd"
    assert a.bands[key].p10 != c.bands[key].p10
    for band in a.bands.values():
        assert band.p10 <= band.p50 <= band.p90


def test_zero_ranges_and_zero_model_error_give_zero_width_bands_at_the_point():
    sc = _scenario(ZERO)
    result = plan(sc)
    rg = plan_ranges(sc, result, draws=1000, seed=1)
    assert len(rg.bands) > 20
    for key, band in rg.bands.items():
        assert band.p90 - band.p10 == pytest.approx(0.0, abs=1e-9 * max(abs(band.p50), 1.0)), key
        if band.point is not None:  # the vectorized arithmetic is the point plan's
            assert band.p50 == pytest.approx(band.point, rel=1e-9, abs=1e-9), key


@pytest.mark.slow
def test_zero_ranges_in_cost_and_capacity_reproduce_the_point_figures():
    rep = cost_report("deepseek-r1", ["gb200_nvl72"], 50, regions=["us"], bases=["owned", "neocloud"])
    rg = cost_ranges(rep, draws=1000, overrides=ZERO)
    for key, band in rg.bands.items():
        assert band.p10 == pytest.approx(band.p90, rel=1e-12), key
        assert band.p50 == pytest.approx(band.point, rel=1e-9), key
    cap = capacity(1e12, hardware=["gb200_nvl72"])
    rg = capacity_ranges(cap, scenario=_scenario(ZERO), draws=1000)
    assert rg.bands["gb200_nvl72.power_mw"].p50 == pytest.approx(cap.rows[0].power_mw, rel=1e-9)
    assert rg.bands["gb200_nvl72.capex_usd"].p90 == pytest.approx(cap.rows[0].capex_usd, rel=1e-9)


@pytest.mark.parametrize("key", ["scenario.utilization", "gb200.allin_kw", "medium.price_usd_per_mtok"])
def test_widening_one_input_never_narrows_any_band(small, key):
    """Common random numbers: the same seed draws the same z for every input; only one range changes. Every other
    range is zero, so each output is a monotone function of that one input and its P10-P90 band can only widen
    (with other inputs random too, a wider input can fill the gap of a two-humped output and narrow its band)."""
    sc, result = small
    narrow = plan_ranges(
        sc.model_copy(update={"uncertainty": ZERO | {key: 0.05}}), result, draws=2000, seed=3
    )
    wide = plan_ranges(sc.model_copy(update={"uncertainty": ZERO | {key: 0.40}}), result, draws=2000, seed=3)
    widened = 0
    for k, b in narrow.bands.items():
        w = wide.bands[k]
        tol = 1e-9 * max(abs(b.p50), 1.0)
        assert w.p90 - w.p10 >= b.p90 - b.p10 - tol, k
        widened += (w.p90 - w.p10) > (b.p90 - b.p10) + tol
    assert widened > 0  # the input matters to some output


def test_factor_columns_depend_only_on_their_own_range():
    inputs = R.Inputs()
    inputs.add("a", "a", 0.1, "catalog")
    inputs.add("b", "b", 0.2, "catalog")
    f1 = R.draw_factors(inputs, 1000, 5)
    inputs.items[1].rel = 0.5
    f2 = R.draw_factors(inputs, 1000, 5)
    assert np.array_equal(f1[:, 0], f2[:, 0])
    assert not np.array_equal(f1[:, 1], f2[:, 1])
    # a ±10% range is the P10–P90 of its factor
    p10, p90 = np.percentile(R.draw_factors(inputs, 200_000, 1)[:, 0], [10, 90])
    assert p10 == pytest.approx(0.9, abs=0.003) and p90 == pytest.approx(1.1, abs=0.003)


def test_default_uncertainty_by_tag_and_per_figure_override():
    fig = catalog().system("gb300_nvl72").figures["price_usd"]
    assert R.figure_uncertainty(fig) == R.TAG_UNCERTAINTY[fig.confidence]
    assert R.figure_uncertainty(fig.model_copy(update={"uncertainty": 0.02})) == 0.02


def test_model_error_comes_from_measured_validation_by_backend_and_family():
    table = R.model_error_table()
    assert "trtllm/blackwell" in table and "sglang/hopper" in table
    assert all(0 < v < 1 for v in table.values())
    mdape, how = R.model_error("trtllm", "blackwell")
    assert mdape == table["trtllm/blackwell"] and "trtllm/blackwell" in how
    assert R.model_error("trtllm", "rubin")[1].endswith("no rubin data")


def test_tornado_ranks_inputs_by_swing(small):
    sc, result = small
    rg = plan_ranges(sc, result, draws=1000, seed=0)
    t = next(t for t in rg.tornado if t.output == "Blackwell.margin_usd")
    swings = [r["swing"] for r in t.rows]
    assert swings == sorted(swings, reverse=True) and swings[0] > 0
    assert t.base == pytest.approx(result.generations[1].margin_usd, rel=1e-9)


def test_scenario_uncertainty_block_is_validated_with_its_field():
    with pytest.raises(ScenarioError, match="uncertainty"):
        parse_scenario(SMALL + "uncertainty: {scenario.pue: -0.1}\n")
    sc = parse_scenario(SMALL + "uncertainty: {U: 0.2, gb200.allin_kw: 0.01}\n")
    assert sc.uncertainty == {"U": 0.2, "gb200.allin_kw": 0.01}


def test_cli_plan_ranges_json_and_draws_floor(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(SMALL)
    out = runner.invoke(app, ["plan", str(path), "--ranges", "--draws", "1000", "--seed", "2", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    bands = data["ranges"]["bands"]
    assert bands["Hopper.revenue_usd"]["point"] == pytest.approx(data["generations"][0]["revenue_usd"])
    assert data["ranges"]["draws"] == 1000 and data["ranges"]["tornado"]
    bad = runner.invoke(app, ["plan", str(path), "--ranges", "--draws", "10"])
    assert bad.exit_code == 2 and "--draws" in bad.output


def test_zero_ranges_reproduce_invest_point_figures():
    from tokenomy.econ.invest import default_invest
    from tokenomy.econ.ranges_econ import invest_ranges

    sc, spec = default_invest()
    rg = invest_ranges(sc.model_copy(update={"uncertainty": ZERO}), spec, draws=3)
    npv = [k for k in rg.bands if k.endswith(".npv_usd")]
    assert len(npv) == len(spec.schedules)
    for k in npv:
        b = rg.bands[k]
        assert b.p10 == pytest.approx(b.point, rel=1e-9) and b.p90 == pytest.approx(b.point, rel=1e-9)
