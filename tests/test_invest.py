"""The factory over time: year 1 by hand, plan's operating cash, NPV/IRR/payback, discounting, errors, CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from tokenomy.catalog import catalog
from tokenomy.cli import app
from tokenomy.econ.factory import plan
from tokenomy.econ.invest import (
    INVEST_EXAMPLE_YAML,
    InvestSpec,
    default_invest,
    evaluate,
    invest,
    irr,
    npv,
    parse_invest,
    payback_years,
    unit_economics,
)
from tokenomy.econ.scenario import ScenarioError, default_scenario
from tokenomy.econ.tco import HOURS_PER_YEAR, gpu_hour_cost

runner = CliRunner()


def _plan_money(sc, gen_name: str) -> dict[str, float]:
    """Revenue, power, opex and capex of one generation of ``plan``, from plan's own tier results."""
    g = next(g for g in plan(sc).generations if g.name == gen_name)
    power = opex = capex = 0.0
    for t in g.tiers:
        if t.gpus:
            c = gpu_hour_cost(t.hardware, sc.cost_basis, sc.region, sc.pue, sc.ownership, catalog())
            power += t.gpus * c.power * HOURS_PER_YEAR
            opex += t.gpus * c.opex * HOURS_PER_YEAR
            capex += t.gpus * c.capex_per_gpu_usd
    return {"revenue": g.revenue_usd, "power": power, "opex": opex, "capex": capex, "mw": sc.power_mw}


@pytest.fixture(scope="module")
def example():
    sc, spec = default_invest()
    return sc, spec, invest(sc, spec)


def test_example_year_one_by_hand(example):
    """The example's first schedule: 1,000 MW of Blackwell Ultra at the start, ramp over 2 quarters."""
    sc, spec, rep = example
    r = rep.results[0]
    phase = spec.schedules[0].phases[0]
    assert phase.start == spec.start and spec.ramp_quarters == 2
    m = _plan_money(sc, "Blackwell Ultra")  # the example's scenario plans it at power_mw
    scale = phase.mw / m["mw"]
    ramp = (0.5 + 1 + 1 + 1) / 4  # first quarter at half, then full
    revenue = m["revenue"] * scale * ramp  # prices fall from year 2 on, so year 1 is at plan's prices
    cash = revenue - (m["power"] + m["opex"] + m["capex"]) * scale
    assert r.revenue_usd[0] == pytest.approx(revenue, rel=1e-9)
    assert r.power_usd[0] == pytest.approx(m["power"] * scale, rel=1e-9)
    assert r.opex_usd[0] == pytest.approx(m["opex"] * scale, rel=1e-9)
    assert r.capex_usd[0] == pytest.approx(m["capex"] * scale, rel=1e-9)
    assert r.cash_flow_usd[0] == pytest.approx(cash, rel=1e-9)
    # year 2: price down by the decline, power price up by its change
    d = spec.price_decline_per_year
    assert r.revenue_usd[1] == pytest.approx(m["revenue"] * scale * (1 - d), rel=1e-9)
    assert r.power_usd[1] == pytest.approx(
        m["power"] * scale * (1 + spec.power_price_change_per_year), rel=1e-9
    )


def test_operating_cash_equals_plan_revenue_minus_power_and_opex():
    """Zero price decline, no demand cap, one generation bought at once: a full year is plan's year."""
    sc = default_scenario()
    for gen in ("Blackwell", "Vera Rubin"):
        spec = InvestSpec(
            years=3,
            ramp_quarters=0,
            schedules=[
                {"name": "all at once", "phases": [{"start": "2027Q1", "mw": sc.power_mw, "generation": gen}]}
            ],
            start="2027Q1",
        )
        assert all(t.demand_tokens_per_day is None for t in sc.tiers)
        r = invest(sc, spec).results[0]
        m = _plan_money(sc, gen)
        expected = m["revenue"] - m["power"] - m["opex"]
        for year in range(3):
            assert r.operating_cash_usd[year] == pytest.approx(expected, rel=1e-9), (gen, year)


def test_npv_and_irr_against_hand_computed_series():
    cash = [-100.0, 30.0, 40.0, 50.0, 20.0]
    hand = sum(c / 1.08**k for k, c in enumerate(cash))
    assert npv(0.08, cash) == pytest.approx(hand, abs=1e-9)
    assert irr([-100.0, 110.0]) == pytest.approx(0.10, abs=1e-9)
    assert irr([-100.0, 0.0, 121.0]) == pytest.approx(0.10, abs=1e-9)
    r = irr(cash)
    assert abs(npv(r, cash)) < 1e-6
    assert irr([10.0, 20.0]) is None  # never negative: no rate
    assert irr([-100.0, 230.0, -132.0]) is None  # 10% and 20% both zero the NPV: no unique rate
    try:
        import numpy_financial as npf
    except ImportError:
        return
    assert r == pytest.approx(npf.irr(cash), abs=1e-6)
    assert npv(0.08, cash) == pytest.approx(npf.npv(0.08, cash), abs=1e-6)


def test_result_npv_is_the_discounted_sum_of_its_cash_flows(example):
    _, spec, rep = example
    for r in rep.results:
        hand = sum(c / (1 + spec.discount_rate) ** k for k, c in enumerate(r.cash_flow_usd))
        assert r.npv_usd == pytest.approx(hand, rel=1e-9)
        assert np.allclose(np.cumsum(r.cash_flow_usd), r.cumulative_cash_usd)
        assert r.cumulative_cash_usd[-1] == pytest.approx(r.cumulative_by_quarter_usd[-1], rel=1e-9)


def _check_payback(cum_q: list[float], pb: float | None) -> None:
    c = np.asarray(cum_q)
    if pb is None:
        first_neg = np.flatnonzero(c < 0)
        assert first_neg.size and np.all(c[first_neg[0] :] < 0)
        return
    ends = np.arange(1, len(c) + 1) / 4  # time of each quarter end, years
    before = (ends < pb) & (ends > ends[np.flatnonzero(c < 0)[0]] - 1e-12) if np.any(c < 0) else ends < 0
    assert np.all(c[before] < 0), "payback precedes the first positive cumulative cash"
    first_pos = np.flatnonzero((c >= 0) & (ends >= pb - 1e-12))[0]
    assert ends[first_pos] - 0.25 <= pb + 1e-12 <= ends[first_pos] + 1e-12


def test_payback_by_hand_and_never_before_cumulative_cash_turns_positive():
    assert payback_years([-10.0, -5.0, 5.0, 20.0]) == pytest.approx((2 + 0.5) / 4)
    assert payback_years([5.0, 10.0]) == 0.0
    assert payback_years([-5.0, -1.0]) is None
    sc = default_scenario()
    u = unit_economics(sc, ["rubin", "hopper", "blackwell"])
    cases = [
        ("rubin", 16, 0.0),
        ("rubin", 4, 0.5),
        ("blackwell", 8, 0.6),
        ("hopper", 0, 0.0),
    ]
    seen_late = False
    for gen, ramp, decline in cases:
        spec = InvestSpec(
            start="2027Q1",
            years=8,
            ramp_quarters=ramp,
            price_decline_per_year=decline,
            capex_lead_quarters=0,
            schedules=[{"name": gen, "phases": [{"start": "2027Q1", "mw": 100, "generation": gen}]}],
        )
        r = evaluate(spec, spec.schedules[0], u)
        _check_payback(r.cumulative_by_quarter_usd, r.payback_years)
        seen_late |= r.payback_years is not None and r.payback_years > 0.5
        if gen == "hopper":  # plan: Hopper loses money at the GTC tiers, so it never pays back
            assert r.payback_years is None
    assert seen_late


def test_higher_discount_rate_never_raises_npv_of_invest_then_earn_schedule():
    sc = default_scenario()
    u = unit_economics(sc, ["rubin"])
    spec = InvestSpec(
        start="2027Q1",
        years=8,
        ramp_quarters=16,
        schedules=[{"name": "slow ramp", "phases": [{"start": "2027Q1", "mw": 100, "generation": "rubin"}]}],
    )
    cf = evaluate(spec, spec.schedules[0], u).cash_flow_usd
    signs = np.sign(cf)
    assert signs[0] < 0 and signs[-1] > 0 and np.all(np.diff(signs) >= 0), cf  # negative first, then positive
    npvs = [
        evaluate(spec.model_copy(update={"discount_rate": r}), spec.schedules[0], u).npv_usd
        for r in np.linspace(0.0, 0.6, 13)
    ]
    assert all(b <= a + 1e-6 for a, b in zip(npvs, npvs[1:], strict=False)), npvs
    rng = np.random.default_rng(0)
    for _ in range(
        100
    ):  # any negative-then-positive series: NPV × (1 + r)^(last negative year) falls with r,
        n_neg, n_pos = rng.integers(1, 4), rng.integers(1, 8)  # so NPV falls wherever it is ≥ 0, and
        series = np.concatenate([-rng.random(n_neg) * 100, rng.random(n_pos) * 100])  # everywhere with one
        values = [npv(r, series) for r in np.linspace(-0.2, 1.0, 25)]  # outlay (a later big outlay
        pairs = list(zip(values, values[1:], strict=False))  # discounted harder can raise a negative NPV)
        assert all(b <= a + 1e-9 for a, b in pairs if a >= 0 or n_neg == 1), series


def test_demand_cap_limits_sales_and_price_decline_lowers_revenue():
    sc = default_scenario()
    u = unit_economics(sc, ["blackwell"])
    base = dict(
        start="2027Q1",
        years=3,
        ramp_quarters=0,
        schedules=[{"name": "b", "phases": [{"start": "2027Q1", "mw": 1000, "generation": "blackwell"}]}],
    )
    free = evaluate(InvestSpec(**base), InvestSpec(**base).schedules[0], u)
    produced_medium = u.tokens[0, u.tiers.index("medium")] * 1000
    cap = produced_medium / 365 / 2  # half of what Medium produces, growing 50% a year
    spec = InvestSpec(**base, demand_tokens_per_day={"medium": cap}, demand_growth_per_year=0.5)
    capped = evaluate(spec, spec.schedules[0], u)
    lost = u.revenue[0, u.tiers.index("medium")] * 1000
    assert capped.revenue_usd[0] == pytest.approx(free.revenue_usd[0] - lost / 2, rel=1e-9)
    assert capped.revenue_usd[1] == pytest.approx(free.revenue_usd[1] - lost / 4, rel=1e-9)
    assert capped.revenue_usd[2] == pytest.approx(free.revenue_usd[2], rel=1e-9)  # 1.125 x: uncapped again
    cheap = evaluate(InvestSpec(**base, price_decline_per_year=0.3), InvestSpec(**base).schedules[0], u)
    assert cheap.revenue_usd[2] == pytest.approx(free.revenue_usd[2] * 0.7**2, rel=1e-9)


def test_refresh_buys_the_newest_generation_and_breakeven_decline_equalizes_npv(example):
    sc, spec, rep = example
    assert any("refreshed to Vera Rubin" in e for e in rep.results[0].events)
    c = rep.comparisons[0]
    if c.breakeven_price_decline is not None:
        u = unit_economics(sc, ["blackwell_ultra", "rubin"])
        a = evaluate(spec, spec.schedules[0], u, c.breakeven_price_decline).npv_usd
        b = evaluate(spec, spec.schedules[1], u, c.breakeven_price_decline).npv_usd
        assert a == pytest.approx(b, rel=1e-6, abs=1e3)


def test_a_phase_before_its_generation_ships_is_an_error_with_the_source():
    text = INVEST_EXAMPLE_YAML.replace(
        "{start: 2027Q1, mw: 500, generation: rubin}", "{start: 2025Q1, mw: 500, generation: rubin}"
    )
    text = text.replace("start: 2026Q1           # first quarter", "start: 2025Q1           # first quarter")
    sc, spec = parse_invest(text, "s.yaml")
    with pytest.raises(ScenarioError, match=r"phase 2: 2025Q1 is before Vera Rubin.*2026Q3.*nvidia"):
        invest(sc, spec)


def test_invest_errors_name_field_and_line():
    bad = INVEST_EXAMPLE_YAML.replace("years: 10\n", "years: 0\n")
    with pytest.raises(ScenarioError) as err:
        parse_invest(bad, "s.yaml")
    line = bad.splitlines().index("  years: 0") + 1
    assert f"s.yaml: line {line}: invest.years" in str(err.value)
    with pytest.raises(ScenarioError, match="not a quarter"):
        parse_invest(INVEST_EXAMPLE_YAML.replace("start: 2026Q1  ", "start: 2026Q7  "), "s.yaml")


@pytest.mark.slow
def test_cli_example_json_and_errors(tmp_path):
    res = runner.invoke(app, ["invest", "--example"])
    assert res.exit_code == 0 and "invest:" in res.stdout
    path = tmp_path / "s.yaml"
    path.write_text(res.stdout)
    res = runner.invoke(app, ["plan", str(path), "--json"])  # plan reads the same file, ignoring the block
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["invest", str(path), "--json", "--plot", str(tmp_path / "cash.png")])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert len(data["results"]) == 2 and data["results"][0]["years"][0] == "2026"
    assert (tmp_path / "cash.png").stat().st_size > 10_000
    path.write_text(INVEST_EXAMPLE_YAML.replace("mw: 1000,", "mw: -5,"))
    res = runner.invoke(app, ["invest", str(path)])
    assert res.exit_code == 2 and "mw" in res.output and "Traceback" not in res.output
    res = runner.invoke(app, ["invest", str(tmp_path / "missing.yaml")])
    assert res.exit_code == 2 and "no such scenario file" in res.output


def test_depreciation_adds_up_to_the_capex_bought():
    """Straight-line over the ownership life, the book value left written off at a refresh."""
    base = default_scenario()
    sc = base.model_copy(update={"ownership": base.ownership.model_copy(update={"lifetime_years": 1.6})})
    u = unit_economics(sc, ["blackwell", "rubin"])
    phases = [{"start": "2027Q1", "mw": 10, "generation": "blackwell"}]
    # refresh after 2 years: every install is written down before the next; after 1 year: 0.6 year of book
    # value written off at each refresh, and the last install (year 10) still holds 0.6 / 1.6 of its price
    for refresh, left in (({"after_years": 2}, 0.0), ({"after_years": 1}, 0.6 / 1.6), ({}, 0.0)):
        spec = InvestSpec(
            start="2027Q1", years=10, refresh=refresh, schedules=[{"name": "b", "phases": phases}]
        )
        r = evaluate(spec, spec.schedules[0], u)
        assert len(r.events) == {2: 4, 1: 9}.get(refresh.get("after_years"), 0)
        expected = sum(r.capex_usd) - left * r.capex_usd[-1]
        assert sum(r.depreciation_usd) == pytest.approx(expected, rel=1e-9), refresh
