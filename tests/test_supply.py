"""Nation scale: vintages never add tokens without GW, demand paths, binding year, capex → GW, provenance."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from tokenomy.catalog.markets import markets
from tokenomy.cli import app
from tokenomy.econ.supply import (
    binding_year,
    capex_to_tokens,
    demand_by_year,
    per_gw,
    supply,
    supply_scenario,
    supply_tokens_per_day,
)

runner = CliRunner()


def test_no_added_gw_never_more_tokens_than_the_year_before():
    rng = np.random.default_rng(1)
    for _ in range(200):
        n = int(rng.integers(2, 12))
        gw = rng.random(n) * 100 * (rng.random(n) < 0.6)  # some years add nothing
        share = rng.random(n)
        per_gw_day = rng.random(n) * 1e15  # newer hardware may make far more tokens per GW
        tokens = supply_tokens_per_day(gw, share, per_gw_day)
        for y in range(1, n):
            if gw[y] == 0:
                assert tokens[y] <= tokens[y - 1]
            assert tokens[y] >= tokens[y - 1]
    with pytest.raises(ValueError):
        supply_tokens_per_day([-1.0], [0.5], [1e12])


def test_supply_path_with_zero_gw_is_flat_and_hardware_keeps_its_vintage():
    rep = supply(["us"], (2026, 2029), gw_per_year=0.0)
    assert rep.nations[0].tokens_per_day == [0.0] * 4
    us = supply(["us"], (2026, 2029)).nations[0]
    sc = supply_scenario(us.pue.value, "us")
    units = per_gw(us.hardware, sc)
    added = [
        us.gw_added[i] * us.ai_share.value * units[h].tokens_per_gw_day for i, h in enumerate(us.hardware)
    ]
    assert np.allclose(us.tokens_per_day, np.cumsum(added), rtol=1e-12)
    assert us.hardware == ["gb300_nvl72", "vr_nvl72", "vr_nvl72", "vr_nvl72"]  # the catalog's map, by year


def test_demand_path_interpolates_and_extrapolates_log_linearly():
    dates = [dt.date(2025, 12, 31), dt.date(2026, 12, 31)]
    values, growth = demand_by_year(dates, [10.0, 20.0], np.array([2025, 2026, 2027, 2028]))
    assert growth == pytest.approx(1.0, rel=1e-2)  # doubling a year (365 vs 365.25 days)
    assert values == pytest.approx([10, 20, 40, 80], rel=2e-3)
    values, _ = demand_by_year(dates, [10.0, 20.0], np.array([2027]), growth=0.5)
    assert values[0] == pytest.approx(30.0, rel=2e-3)
    assert binding_year(np.array([2026, 2027, 2028]), np.array([5, 10, 15]), np.array([1, 11, 30])) == 2027
    assert binding_year(np.array([2026]), np.array([5.0]), np.array([1.0])) is None


@pytest.mark.slow
def test_demand_points_are_the_catalog_figures_per_day():
    rep = supply(["china"], (2026, 2027), demand_paths=["doubao", "google"])
    doubao, google = rep.demand
    assert [p.value for p in doubao.points] == [16.4e12, 30e12, 50e12]
    assert google.points[0].value == pytest.approx(480e12 / (365.25 / 12))
    assert all(p.url.startswith("http") for d in rep.demand for p in d.points)
    china = rep.nations[0]
    assert china.gw_added_per_year.value == 429 and china.binding_year["doubao"] in (2026, 2027, None)
    # GW needed is demand / tokens per GW-day of that year's hardware
    sc = supply_scenario(china.pue.value, "china-west")
    per = per_gw(china.hardware, sc)[china.hardware[0]].tokens_per_gw_day
    assert china.gw_needed["doubao"][0] == pytest.approx(doubao.tokens_per_day[0] / per)


def test_capex_to_gw_gpus_tokens_and_revenue():
    r = capex_to_tokens(1e12, 50e9, "gb200_nvl72")
    assert r.gw == pytest.approx(20.0)
    one = capex_to_tokens(50e9, 50e9, "gb200_nvl72")
    assert r.gpus == pytest.approx(20 * one.gpus) and r.revenue_usd_per_year == pytest.approx(
        20 * one.revenue_usd_per_year
    )
    assert one.gpus == pytest.approx(1e6 / (2.10 * 1.2), rel=1e-6)  # all-in 2.10 kW per GPU, PUE 1.2
    u = per_gw(["gb200_nvl72"], supply_scenario(1.2, "us"))["gb200_nvl72"]
    assert r.tokens_per_day == pytest.approx(20 * u.tokens_per_gw_day)
    default = capex_to_tokens(1e12)
    assert (
        default.usd_per_gw == 40e9
        and "[W]" in default.usd_per_gw_source
        and "http" in default.usd_per_gw_source
    )


def test_markets_figures_carry_provenance_and_never_cite_internal_files():
    m = markets()
    figs = m.all_figures()
    assert len(figs) >= 15
    for where, name, f in figs:
        assert f.url.startswith(("http", "README.md")), (where, name, f.url)
        assert "FACTS" not in f.url and "FACTS" not in f.source and "shared" not in f.url
        assert f.confidence in "OSWU" and f.as_of
    assert m.nation("us").figures["gw_added_per_year"].value == 51
    assert m.nation("us").figures["gw_added_per_year_target"].value == 100
    assert m.generation("rubin").available_year == 2026.5


@pytest.mark.slow
def test_supply_cli_json_plot_and_errors(tmp_path):
    res = runner.invoke(
        app,
        [
            "supply",
            "-c",
            "us",
            "--target",
            "--years",
            "2026:2028",
            "--capex",
            "1e12",
            "--json",
            "--plot",
            str(tmp_path / "s.png"),
        ],
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["nations"][0]["gw_added"] == [100.0] * 3 and data["reverse"]["gw"] == pytest.approx(25.0)
    assert (tmp_path / "s.png").stat().st_size > 10_000
    res = runner.invoke(app, ["supply", "-c", "atlantis"])
    assert res.exit_code == 2 and "unknown" in res.output and "Traceback" not in res.output
    res = runner.invoke(app, ["supply", "--ai-share", "1.5"])
    assert res.exit_code == 2 and "--ai-share" in res.output


def test_a_hardware_mix_is_the_share_weighted_tokens_per_gw():
    rep = supply(["us"], (2026, 2027), mix={"gb300_nvl72": 0.25, "vr_nvl72": 0.75})
    us = rep.nations[0]
    units = per_gw(["gb300_nvl72", "vr_nvl72"], supply_scenario(us.pue.value, "us"))
    per = 0.25 * units["gb300_nvl72"].tokens_per_gw_day + 0.75 * units["vr_nvl72"].tokens_per_gw_day
    assert us.tokens_per_day[0] == pytest.approx(us.gw_added[0] * us.ai_share.value * per)
    assert us.hardware[0] == "gb300_nvl72 25% + vr_nvl72 75%"
    with pytest.raises(ValueError, match="sum to 1"):
        supply(["us"], (2026, 2027), mix={"gb300_nvl72": 0.5})
    res = runner.invoke(app, ["supply", "-c", "us", "--mix", "vr_nvl72=x"])
    assert res.exit_code == 2 and "--mix" in res.output
