"""The factory report: one self-contained HTML file (inline SVG figures, no scripts or network)."""

from __future__ import annotations

import datetime as dt
from importlib import metadata
from pathlib import Path

import jinja2

from tokenomy.catalog import catalog
from tokenomy.econ.claims import audit_claims, checks_as_dicts
from tokenomy.econ.cost import cost_report
from tokenomy.econ.factory import Plan, _frontier_cached, native_precision, plan
from tokenomy.econ.scenario import Scenario, default_scenario
from tokenomy.report import figures
from tokenomy.report.keynote import keynote
from tokenomy.units import money

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("tokenomy.report", "templates"),
    autoescape=jinja2.select_autoescape(["html", "j2"]),
)


def _money(x: float | None) -> str:
    return money(x, minus="−")


def _ranges_context(sc: Scenario, result: Plan, rg) -> dict:
    """The plan's bands and two tornado charts (margin, $/M tokens) of its last generation."""
    from tokenomy.econ.ranges_econ import plan_ranges
    from tokenomy.report.ranges_figures import tornado_svg

    rg = rg or plan_ranges(sc, result)
    last = result.generations[-1].name
    svgs = []
    for t in rg.tornado:
        if t.output == f"{last}.margin_usd" and t.rows:
            svgs.append(tornado_svg(t, f"{last} margin/yr", 1e9, "($B)"))
        elif t.output == f"{last}.cost_usd_per_mtok" and t.rows:
            svgs.append(tornado_svg(t, f"{last} cost per M tokens", 1.0, "($)"))
    return {"ranges": rg, "tornado_svgs": svgs}


def render_report(scenario: Scenario | None = None, result: Plan | None = None, ranges=None) -> str:
    """Plan (unless given), frontiers of each generation for the scenario's busiest paid tier, costs by
    region, the claims audit and the model's accuracy, as one HTML page."""
    from tokenomy.points import packaged_paths, read_many
    from tokenomy.validation import validate

    sc = scenario or default_scenario()
    if result is None:  # drawn by tier: a routed tier's models appear in the levers table, not as sub-tiers
        from tokenomy.econ.factory import _without_levers

        routed = any(t.model_mix for t in sc.tiers)
        result = plan(_without_levers(sc, reuse=False, routing=True) if routed else sc)
    cat = catalog()
    paid = [t for t in result.generations[0].tiers if t.price_usd_per_mtok > 0] or result.generations[0].tiers
    focus = paid[0]
    systems = [g.tiers[0].hardware for g in result.generations]
    frontier_svgs = []
    for tier in {(t.model, t.isl, t.osl) for t in (focus, result.generations[0].tiers[0])}:
        model, isl, osl = tier
        fs = [
            _frontier_cached(
                model,
                cat.accelerator(hw).id,
                native_precision(hw, cat.model(model).default_precision, cat),
                isl,
                osl,
                None,
            )
            for hw in systems
        ]
        frontier_svgs.append(figures.frontier_svg(fs, f"{model}, ISL {isl} / OSL {osl}"))
    regions = ["us", "texas", "california", "china-west", "germany", "france", "nordics", "india", "japan"]
    cost = cost_report(
        focus.model, systems, focus.min_tok_s_per_user, focus.isl, focus.osl, regions, ["owned"]
    )
    cost_dict = cost.as_dict()
    points, _ = read_many(packaged_paths())
    accuracy = validate(points)
    chart = keynote(result, cat)
    try:
        version = metadata.version("tokenomy")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
        version = "dev"
    return _ENV.get_template("report.html.j2").render(
        scenario=sc,
        plan=result,
        money=_money,
        allocation_svg=figures.allocation_svg(result),
        money_svg=figures.money_svg(result),
        frontier_svgs=frontier_svgs,
        keynote_svg=figures.keynote_svg(chart),
        keynote=chart,
        region_svg=figures.region_cost_svg(cost_dict["rows"]),
        cost=cost_dict,
        claims=checks_as_dicts(audit_claims(cat)),
        accuracy=accuracy,
        sources=sorted(cat.sources.values(), key=lambda s: s.title),
        version=version,
        generated=dt.date.today().isoformat(),
        **_over_years(sc),
        **_reuse_and_routing(sc, focus, systems),
        **_ranges_context(sc, result, ranges),
    )


def _over_years(sc: Scenario) -> dict:
    """The scenario's invest block (else the built-in example's schedules) and nation-scale supply vs demand."""
    from tokenomy.catalog.markets import markets
    from tokenomy.econ.invest import default_invest, invest, spec_from_dict
    from tokenomy.econ.supply import supply
    from tokenomy.report import invest_figures

    spec = spec_from_dict(sc.invest) if sc.invest is not None else default_invest()[1]
    rep = invest(sc, spec)
    sup = supply()
    used = {f.source_id for _, _, f in markets().all_figures()}
    return {
        "invest": rep,
        "supply": sup,
        "cash_svg": invest_figures.cumulative_cash_svg(rep),
        "npv_svg": invest_figures.npv_svg(rep),
        "supply_svg": invest_figures.supply_svg(sup),
        "market_sources": sorted((markets().sources[i] for i in used), key=lambda s: s.title),
    }


def _reuse_and_routing(sc: Scenario, focus, systems: list[str]) -> dict:
    """The focus tier's throughput at a few prefix hit rates per system, the scenario's levers (when its tiers
    declare reuse or a model mix), and the routing policies of the Token Economy data."""
    from tokenomy.consume.report import dataset_prices, dataset_rows
    from tokenomy.consume.route import route_report
    from tokenomy.econ.factory import has_levers, lever_effect
    from tokenomy.report import reuse_figures

    cat = catalog()
    rows = []
    for hw in systems:
        prec = native_precision(hw, cat.model(focus.model).default_precision, cat)
        for h in reuse_figures.HIT_RATES:
            f = _frontier_cached(focus.model, cat.accelerator(hw).id, prec, focus.isl, focus.osl, None, h)
            p = f.at_interactivity(focus.min_tok_s_per_user, allow_extrapolation=sc.allow_extrapolation)
            rows.append({"hardware": hw, "hit_rate": h, "tok_s_per_gpu": p.tok_s_per_gpu if p else None})
    effect = lever_effect(sc)[1] if has_levers(sc) else None
    routing = route_report(dataset_rows(), dataset_prices())
    return {
        "reuse_rows": rows,
        "reuse_tier": focus,
        "reuse_svg": reuse_figures.reuse_svg(rows),
        "levers": effect,
        "routing": routing,
        "routing_svg": reuse_figures.routing_svg(routing.results),
    }


def write_report(
    path: str | Path, scenario: Scenario | None = None, result: Plan | None = None, ranges=None
) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_report(scenario, result, ranges), encoding="utf-8")
    return path
