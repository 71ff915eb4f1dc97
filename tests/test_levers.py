"""Caching and routing in the factory: plan, capacity and cost take reuse and a model mix."""

from __future__ import annotations

import pytest

from tokenomy.catalog import catalog
from tokenomy.econ.capacity import capacity, capacity_levers, parse_model_mix
from tokenomy.econ.factory import lever_effect, plan, resolve_tier
from tokenomy.econ.scenario import ScenarioError, default_scenario, parse_scenario


def _one_gen(**tier_updates):
    sc = default_scenario()
    tiers = [t.model_copy(update=tier_updates.get(t.tier, {})) for t in sc.tiers]
    return sc.model_copy(update={"tiers": tiers, "generations": sc.generations[1:2]})


def test_a_plan_without_levers_is_unchanged():
    sc = _one_gen()
    a, b = plan(sc), plan(_one_gen(medium={"prefix_hit_rate": 0.0}))
    assert a.generations[0].margin_usd == b.generations[0].margin_usd


@pytest.mark.slow
def test_caching_raises_tokens_per_day_on_the_same_power():
    sc = _one_gen(medium={"prefix_hit_rate": 0.8}, high={"prefix_hit_rate": 0.8})
    main, effect = lever_effect(sc)
    rows = {r.case: r for r in effect.rows}
    assert set(rows) == {"without", "caching"}
    assert rows["caching"].gpus == pytest.approx(rows["without"].gpus)  # fixed power, fixed GPUs
    assert rows["caching"].output_tokens_per_day > rows["without"].output_tokens_per_day
    assert effect.change("Blackwell", "caching", "output_tokens_per_day") > 0


def test_cached_input_price_bills_the_cached_share():
    cat = catalog()
    spec = (
        default_scenario()
        .tiers[1]
        .model_copy(
            update={
                "prefix_hit_rate": 0.5,
                "input_price_usd_per_mtok": 2.0,
                "cached_input_price_usd_per_mtok": 0.5,
            }
        )
    )
    from tokenomy.econ.factory import _input_price

    assert _input_price(resolve_tier(spec, cat)) == pytest.approx(1.25)


def test_a_router_splits_a_tier_into_its_models_by_token_share():
    sc = _one_gen(medium={"model_mix": {"gpt-oss-120b": 0.75, "deepseek-r1": 0.25}})
    main, effect = lever_effect(sc)
    subs = [t for t in main.generations[0].tiers if t.tier.startswith("medium@")]
    assert {t.model for t in subs} == {"gpt-oss-120b", "deepseek-r1"}
    # The sub-tiers together keep the tier's power, and serve tokens in the router's shares.
    assert sum(t.power_mw for t in subs) == pytest.approx(250.0)
    tok = {t.model: t.output_tokens_per_year for t in subs}
    assert tok["gpt-oss-120b"] / tok["deepseek-r1"] == pytest.approx(3.0, rel=1e-6)
    # Routing most of a DeepSeek-R1 tier to a smaller model serves more tokens on the same power.
    assert effect.change("Blackwell", "routing", "output_tokens_per_day") > 0


@pytest.mark.slow
def test_capacity_with_caching_never_needs_more_gpus():
    for hit in (0.3, 0.9):
        for r in capacity_levers(1e12, prefix_hit_rate=hit, hardware=["hgx_h200", "gb200_nvl72"]):
            assert r.with_gpus <= r.without_gpus * (1 + 1e-9)
            assert r.gpu_change < 0
    # Without levers, the lever table's "without" is what `capacity` says.
    base = capacity(1e12, hardware=["gb200_nvl72"]).rows[0]
    row = capacity_levers(1e12, prefix_hit_rate=0.5, hardware=["gb200_nvl72"])[0]
    assert row.without_mw == pytest.approx(base.power_mw)


def test_bad_model_mix_is_named():
    with pytest.raises(ValueError, match="model_mix"):
        parse_model_mix("gpt-oss-120b=0.5")
    with pytest.raises(ScenarioError, match="model_mix"):
        parse_scenario(
            "power_mw: 10\ngenerations: [{name: B, hardware: [{system: gb200_nvl72}]}]\n"
            "tiers: [{tier: free, share: 1, model_mix: {gpt-oss-120b: 0.4}}]\n"
        )
    with pytest.raises(ScenarioError, match="prefix_hit_rate"):
        parse_scenario(
            "power_mw: 10\ngenerations: [{name: B, hardware: [{system: gb200_nvl72}]}]\n"
            "tiers: [{tier: free, share: 1, prefix_hit_rate: 1.5}]\n"
        )


@pytest.mark.slow
def test_report_shows_reuse_levers_and_routing(tmp_path):
    from tokenomy.report.html import render_report

    sc = _one_gen(medium={"prefix_hit_rate": 0.5, "model_mix": {"gpt-oss-120b": 0.5, "deepseek-r1": 0.5}})
    html = render_report(sc)
    for needle in ('id="reuse-table"', 'id="levers"', 'id="routing-figure"', "oracle", "hit 90%"):
        assert needle in html


def test_plan_itself_routes_a_tier_and_capacity_and_the_api_agree():
    """`plan` applies a tier's model mix (not only lever_effect): the CLI, /api/plan and capacity agree."""
    mix = {"gpt-oss-120b": 0.75, "deepseek-r1": 0.25}
    sc = _one_gen(medium={"model_mix": mix})
    p = plan(sc)
    subs = {t.model: t for t in p.generations[0].tiers if t.tier.startswith("medium@")}
    assert set(subs) == set(mix)
    assert not [t for t in p.generations[0].tiers if t.tier == "medium"]  # the routed tier is split
    tok = {m: t.output_tokens_per_year for m, t in subs.items()}
    assert tok["gpt-oss-120b"] / tok["deepseek-r1"] == pytest.approx(3.0, rel=1e-6)
    unrouted = plan(_one_gen())
    assert p.generations[0].output_tokens_per_year > unrouted.generations[0].output_tokens_per_year
    # the levers' main plan (the CLI's) is this plan
    main, _ = lever_effect(sc)
    assert main.generations[0].margin_usd == pytest.approx(p.generations[0].margin_usd)
    # capacity for the tokens the routed tier serves needs exactly the power the plan gives it
    per_day = sum(tok.values()) / 365.0
    power = sum(t.power_mw for t in subs.values())
    row = capacity_levers(
        per_day, {"medium": 1.0}, [p.generations[0].tiers[0].hardware], 0.0, mix, scenario=sc
    )[0]
    assert row.with_mw == pytest.approx(power, rel=1e-6)
    # /api/plan plans the same scenario the same way
    from fastapi.testclient import TestClient

    from tokenomy.web.app import app

    r = TestClient(app).post("/api/plan", json=sc.model_dump(mode="json"))
    assert r.status_code == 200, r.text
    gen = r.json()["generations"][0]
    assert {t["tier"] for t in gen["tiers"]} == {t.tier for t in p.generations[0].tiers}
    assert gen["margin_usd"] == pytest.approx(p.generations[0].margin_usd)
