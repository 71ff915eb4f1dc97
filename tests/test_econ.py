"""Economics: TCO by hand, the InferenceX cost formula, energy, the factory's bookkeeping, the LP, scenarios."""

from __future__ import annotations

import dataclasses
import json

import pytest
from typer.testing import CliRunner

from tokenomy.catalog import catalog
from tokenomy.cli import app
from tokenomy.econ.capacity import capacity
from tokenomy.econ.claims import audit_claims
from tokenomy.econ.cost import priced_frontier
from tokenomy.econ.energy import energy_per_token
from tokenomy.econ.factory import plan
from tokenomy.econ.scenario import EXAMPLE_YAML, ScenarioError, default_scenario, parse_scenario
from tokenomy.econ.tco import capital_recovery_factor, gpu_hour_cost
from tokenomy.perf.frontier import frontier
from tokenomy.units import usd_per_mtok

runner = CliRunner()


def test_capital_recovery_factor_by_hand():
    assert capital_recovery_factor(0.10, 5) == pytest.approx(0.263797, rel=1e-5)
    assert capital_recovery_factor(0.0, 4) == 0.25


def test_owned_gpu_hour_by_hand():
    """HGX H100: $500k / 8 GPUs; 5 years at 10%; 5% opex; 1.73 kW x PUE 1.2 x $0.0806/kWh (EIA US)."""
    c = gpu_hour_cost("hgx_h100", "owned", "us", pue=1.2)
    capex = 500_000 / 8
    assert c.capex_per_gpu_usd == pytest.approx(capex)
    assert c.capex == pytest.approx(capex * 0.2637975 / 8760, rel=1e-5)
    assert c.opex == pytest.approx(capex * 0.05 / 8760)
    assert c.power == pytest.approx(1.73 * 1.2 * 0.0806)
    assert c.usd_per_gpu_hour == pytest.approx(c.capex + c.opex + c.power)


def test_region_changes_only_the_power_share():
    us = gpu_hour_cost("gb200_nvl72", "owned", "us-ft", pue=1.2)
    gansu = gpu_hour_cost("gb200_nvl72", "owned", "china-west", pue=1.2)
    assert us.capex == gansu.capex
    assert us.power / gansu.power == pytest.approx(0.091 / (0.4 * 0.14))


def test_presets_are_the_inferencex_constants():
    assert gpu_hour_cost("h200", "neocloud").usd_per_gpu_hour == 1.74
    assert gpu_hour_cost("gb300", "rental").usd_per_gpu_hour == 3.96
    with pytest.raises(LookupError, match="'owned' cost basis") as err:
        gpu_hour_cost("rubin", "neocloud")
    assert "--" not in str(err.value)  # a library names fields, not CLI flags


def test_cost_per_mtok_is_the_inferencex_formula():
    assert usd_per_mtok(2.0, 1000.0) == pytest.approx(2.0 / (1000.0 * 3600 / 1e6))
    priced = priced_frontier(frontier("llama-3.1-70b", "h100", "fp8", 1024, 1024), "hyperscaler")
    assert priced.usd_per_gpu_hour == 1.30 and priced.frontier.points
    rows = priced.as_dict()["points"]
    for p, row in zip(priced.frontier.points, rows, strict=True):
        assert priced.usd_per_mtok(p) == pytest.approx(1.30 / (p.tok_s_per_gpu * 3600 / 1e6))
        assert row["usd_per_mtok"] == priced.usd_per_mtok(p)


def test_perf_carries_no_money():
    """Prices are econ's: a frontier and a hardware spec hold tokens, seconds and watts only."""
    from dataclasses import fields

    from tokenomy.perf.frontier import Frontier, FrontierPoint
    from tokenomy.perf.hardware import HardwareSpec

    for cls in (Frontier, FrontierPoint, HardwareSpec):
        names = [f.name for f in fields(cls)]
        assert not [n for n in names if "usd" in n or "cost" in n or "price" in n], cls


def test_energy_by_hand():
    e = energy_per_token(1.73, 1000.0, 1.2, 367.0, 1000, 1000)
    assert e.joules_per_token_it == pytest.approx(1.73)
    assert e.joules_per_token_facility == pytest.approx(2.076)
    assert e.wh_per_query == pytest.approx(2.076 * 2000 / 3600)
    assert e.gco2_per_mtok == pytest.approx(2.076 * 1e6 / 3.6e6 * 367)


@pytest.fixture(scope="module")
def default_plan():
    return plan(default_scenario())


def test_default_plan_covers_the_four_generations(default_plan):
    names = [g.name for g in default_plan.generations]
    assert names == ["Hopper", "Blackwell", "Blackwell Ultra", "Vera Rubin"]
    assert [r["generation"] for r in default_plan.ratios] == names[1:]
    assert any("[U]" in a for a in default_plan.assumptions)


def test_revenue_is_tokens_times_price(default_plan):
    for g in default_plan.generations:
        for t in g.tiers:
            assert t.revenue_usd == pytest.approx(t.sold_output_tokens_per_year / 1e6 * t.price_usd_per_mtok)
            assert t.margin_usd == pytest.approx(t.revenue_usd - t.cost_usd)
        assert g.revenue_usd == pytest.approx(sum(t.revenue_usd for t in g.tiers))


def test_tier_power_sums_to_the_budget(default_plan):
    for g in default_plan.generations:
        assert sum(t.power_mw for t in g.tiers) == pytest.approx(1000.0)
        for t in g.tiers:
            if t.reachable and t.power_mw:
                assert t.gpus * catalog().accelerator(t.hardware).require("allin_kw") * 1.2 == pytest.approx(
                    t.power_mw * 1000
                )


def _capped(allocation: str):
    text = EXAMPLE_YAML.replace("allocation: fixed ", f"allocation: {allocation} ")
    sc = parse_scenario(text)
    tiers = [
        t.model_copy(update={"demand_tokens_per_day": 2e12}) if t.tier == "medium" else t for t in sc.tiers
    ]
    gens = [g for g in sc.generations if g.name in ("Hopper", "Blackwell")]
    return sc.model_copy(update={"tiers": tiers, "generations": gens})


def test_lp_never_worse_than_fixed_shares_and_respects_caps():
    fixed = plan(_capped("fixed"))
    opt = plan(_capped("optimize"))
    for gf, go in zip(fixed.generations, opt.generations, strict=True):
        assert go.margin_usd >= gf.margin_usd - 1e-6 * abs(gf.margin_usd)
        medium = next(t for t in go.tiers if t.tier == "medium")
        assert medium.sold_output_tokens_per_year <= 2e12 * 365 * (1 + 1e-9)
        assert sum(t.power_mw for t in go.tiers) + go.unused_mw == pytest.approx(1000.0)
        assert go.shadow_price_usd_per_mw_year is not None and go.shadow_price_usd_per_mw_year >= 0
        # Free tier (price 0) never earns power in the optimum.
        assert next(t for t in go.tiers if t.tier == "free").power_mw == pytest.approx(0.0, abs=1e-6)


def test_scenario_errors_name_field_and_line():
    bad = EXAMPLE_YAML.replace("pue: 1.2 ", "pue: 0.5 ")
    with pytest.raises(ScenarioError) as info:
        parse_scenario(bad, "s.yaml")
    assert "line 5" in str(info.value) and "pue" in str(info.value)
    bad = EXAMPLE_YAML.replace("  - {tier: high, share: 0.25}", "  - {tier: high, share: 0.25, colour: red}")
    with pytest.raises(ScenarioError) as info:
        parse_scenario(bad, "s.yaml")
    line = EXAMPLE_YAML.splitlines().index("  - {tier: high, share: 0.25}") + 1
    assert f"line {line}" in str(info.value) and "colour" in str(info.value)
    with pytest.raises(ScenarioError) as info:
        parse_scenario("power_mw: [1,\n", "s.yaml")
    assert "not valid YAML" in str(info.value)
    with pytest.raises(ScenarioError, match="sum to 0.75"):
        parse_scenario(EXAMPLE_YAML.replace("{tier: premium, share: 0.25}", "{tier: premium, share: 0.0}"))


def test_plan_cli_json_example_and_errors(tmp_path):
    result = runner.invoke(app, ["plan", "--example"])
    assert result.exit_code == 0 and parse_scenario(result.stdout).power_mw == 1000
    path = tmp_path / "s.yaml"
    path.write_text(EXAMPLE_YAML.replace("power_mw: 1000", "power_mw: 200"))
    result = runner.invoke(app, ["plan", str(path), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["scenario"]["power_mw"] == 200
    gen = data["generations"][1]
    assert gen["revenue_usd"] == pytest.approx(sum(t["revenue_usd"] for t in gen["tiers"]))
    path.write_text(EXAMPLE_YAML.replace("region: us ", "region: atlantis "))
    result = runner.invoke(app, ["plan", str(path)])
    assert result.exit_code == 2 and "atlantis" in result.output


def test_plan_scales_linearly_with_power():
    small = plan(parse_scenario(EXAMPLE_YAML.replace("power_mw: 1000", "power_mw: 100")))
    big = plan(default_scenario())
    assert big.generations[1].revenue_usd == pytest.approx(10 * small.generations[1].revenue_usd)


@pytest.mark.slow  # the whole claims audit (≈ 7 s)
def test_every_claim_is_checked_with_a_ratio(claim_checks):
    checks = claim_checks
    assert len(checks) == len(catalog().claims)
    for c in checks:
        assert c.ratio is not None and c.ratio > 0, c.id
        assert c.ratio_verdict in ("within 1.5x", "within 3x", "not supported")
    cm = next(c for c in checks if c.id == "cloudmatrix-2.3x-w-per-flop")
    assert cm.ratio == pytest.approx(1.0, abs=0.05)  # the claim is arithmetic on catalog figures


def test_every_catalog_claim_metric_has_one_checker():
    """claims dispatches by metric through a registry: every metric the catalog uses has a checker, and a metric
    none knows is a 'cannot check', not a crash."""
    from tokenomy.econ.claims import CHECKERS

    used = {c.metric for c in catalog().claims.values()}
    assert used <= set(CHECKERS), used - set(CHECKERS)
    assert all(callable(CHECKERS[m]) for m in used)
    claim = next(iter(catalog().claims.values()))
    odd = claim.model_copy(update={"metric": "furlongs_per_fortnight"})
    cat = dataclasses.replace(catalog(), claims={odd.id: odd})
    (check,) = audit_claims(cat)
    assert check.ours is None and check.ratio is None and check.ratio_verdict == "cannot check"


def test_capacity_is_linear_in_demand_and_cheaper_on_newer_hardware():
    one = capacity(1e12, hardware=["hgx_h200", "gb300_nvl72"])
    ten = capacity(10e12, hardware=["hgx_h200", "gb300_nvl72"])
    for a, b in zip(one.rows, ten.rows, strict=True):
        assert b.power_mw == pytest.approx(10 * a.power_mw)
    assert one.rows[1].power_mw < one.rows[0].power_mw


@pytest.mark.slow
def test_cost_cli_compares_regions_and_hardware():
    result = runner.invoke(
        app,
        [
            "cost",
            "-m",
            "deepseek-r1",
            "-H",
            "cloudmatrix_384",
            "-H",
            "gb200_nvl72",
            "-r",
            "us-ft",
            "-r",
            "china-west",
            "-u",
            "20",
            "-b",
            "owned",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    rows = {(r["hardware"], r["region"]): r for r in data["rows"]}
    assert len(rows) == 4
    cm_us, cm_cn = rows[("cloudmatrix_384", "us-ft")], rows[("cloudmatrix_384", "china-west")]
    assert cm_cn["usd_per_mtok"] < cm_us["usd_per_mtok"]  # cheaper power, same hardware
    assert cm_us["tok_s_per_mw"] == pytest.approx(cm_cn["tok_s_per_mw"])
    assert data["verdicts"] and data["public_per_query_wh"]


@pytest.mark.slow
def test_report_is_one_self_contained_file(tmp_path):
    out = tmp_path / "r.html"
    result = runner.invoke(app, ["report", "--out", str(out)])
    assert result.exit_code == 0, result.output
    html = out.read_text()
    assert html.count("<svg") >= 5  # allocation, money, frontiers, regions
    assert "<script src" not in html and "<link" not in html and "cdn" not in html.lower()
    for needle in ("Claims audit", "Model accuracy", "Assumptions and sources", "Vera Rubin", "gCO₂e"):
        assert needle in html
    assert html.count("<tr>") > 60


@pytest.mark.slow  # the whole claims audit (≈ 7 s)
def test_the_default_audit_is_computed_once_and_handed_out_as_copies(claim_checks, monkeypatch):
    from tokenomy.econ import claims

    def no_second_audit(*args):
        raise AssertionError("the default audit was computed again")

    monkeypatch.setattr(claims, "_audit", no_second_audit)
    again = audit_claims()
    assert [c.ratio for c in again] == [c.ratio for c in claim_checks]
    again[0].assumptions.append("changed by a caller")
    assert "changed by a caller" not in audit_claims()[0].assumptions
