"""The web planner: a FastAPI JSON API over the library, and one page that re-plans as sliders move.

The API returns the same objects as the library (`--json` on the CLI). Bad input is a 422 that names the field.
"""

from __future__ import annotations

import dataclasses
import math
from importlib import resources
from typing import Any, Literal

from fastapi import FastAPI, HTTPException, Query
from fastapi.responses import HTMLResponse

from tokenomy.catalog import KINDS, UnknownIdError, catalog
from tokenomy.catalog.schema import MissingFigureError
from tokenomy.catalog.views import list_entries, show_entry
from tokenomy.econ.claims import audit_claims, checks_as_dicts
from tokenomy.econ.cost import cost_report
from tokenomy.econ.factory import plan
from tokenomy.econ.scenario import Scenario, default_scenario
from tokenomy.perf.frontier import frontier

app = FastAPI(
    title="tokenomy",
    version="0.1.0",
    description="The economics of AI tokens: frontiers, factory plans, costs and claims, as JSON.",
)
PAGE = (resources.files("tokenomy.web") / "planner.html").read_text(encoding="utf-8")
Precision = Literal["bf16", "fp8", "fp4", "int4"]


def _clean(value: Any) -> Any:
    """JSON has no NaN or infinity: turn them into null, recursively."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def _unprocessable(field: str, exc: Exception) -> HTTPException:
    """A 422 in FastAPI's own error shape, naming the field: "body.region" or a query parameter name."""
    parts: list[str | int] = [int(p) if p.isdigit() else p for p in field.split(".")]
    loc = parts if parts[0] == "body" else ["query", *parts]
    return HTTPException(status_code=422, detail=[{"loc": loc, "msg": str(exc), "type": "value_error"}])


def _check_ids(sc: Scenario) -> None:
    cat = catalog()
    try:
        cat.region(sc.region)
    except UnknownIdError as exc:
        raise _unprocessable("body.region", exc) from None
    for gi, g in enumerate(sc.generations):
        for hi, h in enumerate(g.hardware):
            try:
                cat.accelerator(h.system)
            except UnknownIdError as exc:
                raise _unprocessable(f"body.generations.{gi}.hardware.{hi}.system", exc) from None
    for ti, t in enumerate(sc.tiers):
        if t.model:
            try:
                cat.model(t.model)
            except UnknownIdError as exc:
                raise _unprocessable(f"body.tiers.{ti}.model", exc) from None


@app.get("/", response_class=HTMLResponse, include_in_schema=False)
def page() -> str:
    return PAGE


@app.get("/api/catalog")
def api_catalog(
    kind: Literal["accelerators", "systems", "models", "tiers", "regions", "claims"] | None = None,
    id: str | None = Query(None, max_length=100, description="show one entry with its provenance"),
) -> Any:
    """Catalog entries (a list per kind), or one entry with every figure's source, date and confidence."""
    if id is not None:
        try:
            return show_entry(id)
        except UnknownIdError as exc:
            raise _unprocessable("id", exc) from None
    kinds = [kind] if kind else list(KINDS)
    return _clean({k: list_entries(k) for k in kinds})


@app.get("/api/frontier")
def api_frontier(
    model: str = Query("llama-3.1-70b", max_length=100),
    hardware: str = Query("h200_sxm", max_length=100),
    precision: Precision | None = None,
    isl: int = Query(1024, ge=1, le=1_000_000),
    osl: int = Query(1024, ge=1, le=100_000),
    backend: Literal["trtllm", "vllm", "sglang", "llama.cpp"] | None = None,
    cost_basis: Literal["hyperscaler", "neocloud", "rental"] = "neocloud",
) -> Any:
    """The Pareto frontier of tok/s per GPU (and per MW, per $) against tok/s/user."""
    try:
        f = frontier(model, hardware, precision, isl, osl, backend, cost_basis)
    except UnknownIdError as exc:
        raise _unprocessable("model" if exc.kind == "model" else "hardware", exc) from None
    except (MissingFigureError, ValueError) as exc:
        raise _unprocessable("hardware", exc) from None
    return _clean(dataclasses.asdict(f))


@app.post("/api/plan")
def api_plan(scenario: Scenario | None = None) -> Any:
    """Plan a factory scenario (the body; default: the built-in 1 GW GTC 2026 factory)."""
    sc = scenario or default_scenario()
    _check_ids(sc)
    try:
        return _clean(plan(sc).as_dict())
    except (UnknownIdError, MissingFigureError, ValueError, RuntimeError) as exc:
        raise _unprocessable("body.tiers", exc) from None


@app.post("/api/keynote")
def api_keynote(scenario: Scenario | None = None) -> Any:
    """The keynote chart's data for a scenario: tok/s per MW against tok/s/user per generation, the tiers as
    bands, each tier's operating point and the measured points where they exist."""
    from tokenomy.report.keynote import keynote

    sc = scenario or default_scenario()
    _check_ids(sc)
    try:
        return _clean(keynote(plan(sc)).as_dict())
    except (UnknownIdError, MissingFigureError, ValueError, RuntimeError) as exc:
        raise _unprocessable("body.tiers", exc) from None


@app.get("/api/cost")
def api_cost(
    model: str = Query("deepseek-r1", max_length=100),
    hardware: list[str] = Query(["hgx_h200", "gb200_nvl72"], max_length=6),
    tok_s_per_user: float = Query(50.0, gt=0, le=10_000),
    isl: int = Query(1024, ge=1, le=1_000_000),
    osl: int = Query(1024, ge=1, le=100_000),
    region: list[str] = Query(["us", "china-west"], max_length=13),
    basis: list[Literal["owned", "hyperscaler", "neocloud", "rental"]] = Query(["owned"], max_length=4),
) -> Any:
    """Cost per M tokens, energy and carbon by hardware, region and cost basis."""
    try:
        return _clean(cost_report(model, hardware, tok_s_per_user, isl, osl, region, basis).as_dict())
    except UnknownIdError as exc:
        raise _unprocessable({"model": "model", "region": "region"}.get(exc.kind, "hardware"), exc) from None
    except (MissingFigureError, ValueError) as exc:
        raise _unprocessable("hardware", exc) from None


@app.get("/api/claims")
def api_claims() -> Any:
    """Every catalog claim recomputed: claimed, ours, ratio, verdict and the assumptions used."""
    return _clean(checks_as_dicts(audit_claims()))


# ---- the factory over time and the nation's supply (`tokenomy invest`, `tokenomy supply`) -------------------
@app.post("/api/invest")
def api_invest(
    scenario: Scenario | None = None,
    price_decline: float | None = Query(
        None, ge=-0.5, le=0.95, description="yearly token-price decline, all tiers"
    ),
) -> Any:
    """Cash flow over years of the scenario's `invest` block (default: the built-in example's block), per
    schedule: revenue, opex, capex, cash flow, NPV, IRR, payback; and the break-even price decline."""
    from tokenomy.econ.invest import default_invest, invest, spec_from_dict
    from tokenomy.econ.scenario import ScenarioError

    example_sc, example_spec = default_invest()
    sc = scenario or example_sc
    _check_ids(sc)
    try:
        spec = spec_from_dict(sc.invest, "body.invest") if sc.invest is not None else example_spec
        if price_decline is not None:
            spec = spec.model_copy(update={"price_decline_per_year": price_decline})
        return _clean(invest(sc, spec).as_dict())
    except (ScenarioError, UnknownIdError, MissingFigureError, ValueError, RuntimeError) as exc:
        raise _unprocessable("body.invest", exc) from None


@app.get("/api/supply")
def api_supply(
    country: list[str] = Query([], max_length=4, description="nation ids (us, china); default: all"),
    first_year: int = Query(2026, ge=2020, le=2060),
    last_year: int = Query(2030, ge=2020, le=2060),
    gw_per_year: float | None = Query(None, ge=0, le=10_000),
    target: bool = False,
    ai_share: float | None = Query(None, ge=0, le=1),
    demand_growth: float | None = Query(None, gt=-1, le=100),
    capex_usd: float | None = Query(None, gt=0, le=1e15),
    usd_per_gw: float | None = Query(None, gt=0, le=1e13),
) -> Any:
    """Tokens/day new power can supply per nation and year vs public demand paths; capex → GW → tokens."""
    from tokenomy.econ.supply import supply

    try:
        return _clean(
            supply(
                country or None,
                (first_year, last_year),
                gw_per_year,
                target,
                ai_share,
                None,
                demand_growth,
                capex_usd,
                usd_per_gw,
            ).as_dict()
        )
    except UnknownIdError as exc:
        raise _unprocessable("country", exc) from None
    except (MissingFigureError, ValueError) as exc:
        raise _unprocessable("first_year", exc) from None
