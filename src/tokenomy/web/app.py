"""The web planner: a FastAPI JSON API over the library, and one page that re-plans as sliders move.

The API returns the same objects as the library (`--json` on the CLI). Bad input is a 422 that names the field.
Heavy work runs in worker threads (at most HEAVY_WORKERS at once) and deterministic answers are cached, so a
flood of plans never stalls the page or the catalog. Bodies are capped at MAX_BODY_BYTES, every response carries
security headers, and a server bound to loopback answers only to loopback host names (no DNS rebinding).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import html
import json
import math
import re
from importlib import resources
from typing import Any, Literal

import anyio
from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response

from tokenomy.catalog import KINDS, UnknownIdError, catalog
from tokenomy.catalog.schema import MissingFigureError
from tokenomy.catalog.views import list_entries, show_entry
from tokenomy.econ.claims import audit_claims, checks_as_dicts
from tokenomy.econ.cost import cost_report, priced_frontier
from tokenomy.econ.factory import plan
from tokenomy.econ.scenario import Scenario, default_scenario
from tokenomy.perf.frontier import frontier
from tokenomy.units import json_safe

MAX_BODY_BYTES = 256 * 1024  # a scenario is a few kB
MAX_ECHO_CHARS = 200  # a 422 echoes at most this much of the bad input
HEAVY_WORKERS = 2  # plans, frontiers and cost reports computed at once (CPU-bound)
LOOPBACK_NAMES = {"127.0.0.1", "localhost", "::1", "[::1]"}

app = FastAPI(
    title="tokenomy",
    version="0.1.0",
    description="The economics of AI tokens: frontiers, factory plans, costs and claims, as JSON.",
    docs_url=None,  # FastAPI's /docs loads Swagger UI from a CDN; ours below is one offline page
    redoc_url=None,
)
PAGE = (resources.files("tokenomy.web") / "planner.html").read_text(encoding="utf-8")
Precision = Literal["bf16", "fp8", "fp4", "int4"]
_heavy = anyio.CapacityLimiter(HEAVY_WORKERS)
_allowed_hosts: set[str] | None = None  # set by allow_only_loopback()


def _json(value: Any) -> bytes:
    """A library object as JSON bytes (NaN → null), made where it is computed: off the event loop."""
    return json.dumps(json_safe(value), default=str, separators=(",", ":")).encode()


def _reply(body: bytes) -> Response:
    return Response(body, media_type="application/json")


def _echo(value: Any) -> Any:
    """A bad input as a 422 may echo it: JSON-safe (NaN → "NaN") and short."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, str):
        return value[:MAX_ECHO_CHARS] + ("…" if len(value) > MAX_ECHO_CHARS else "")
    if isinstance(value, int | float | bool) or value is None:
        return value
    text = json.dumps(json_safe(value), default=str)
    return _echo(text) if len(text) > MAX_ECHO_CHARS else json_safe(value)


@app.exception_handler(RequestValidationError)
async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
    """FastAPI's 422 shape, with inputs JSON can encode and no 50 MB echo."""
    detail = []
    for err in exc.errors():
        item = {k: err[k] for k in ("type", "loc", "msg") if k in err}
        item["loc"] = list(item.get("loc", ()))
        if "input" in err:
            item["input"] = _echo(err["input"])
        if "ctx" in err:
            item["ctx"] = {
                k: _echo(v) if not isinstance(v, Exception) else str(v) for k, v in err["ctx"].items()
            }
        detail.append(item)
    return JSONResponse({"detail": detail}, status_code=422)


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


async def _off_loop(fn, *args: Any) -> Any:
    """Run CPU-bound work in a worker thread, at most HEAVY_WORKERS at once, keeping the event loop free."""
    return await anyio.to_thread.run_sync(fn, *args, limiter=_heavy)


# ---- pages ----------------------------------------------------------------------------------------------------
def _csp(page: str) -> str:
    """A strict Content-Security-Policy for a page: only its own inline script and style (by hash) may run."""

    def hashes(tag: str) -> str:
        blocks = re.findall(rf"<{tag}(?:\s[^>]*)?>(.*?)</{tag}>", page, flags=re.S)
        return " ".join(
            f"'sha256-{base64.b64encode(hashlib.sha256(b.encode()).digest()).decode()}'" for b in blocks
        )

    script, style = hashes("script") or "'none'", hashes("style") or "'none'"
    return (
        f"default-src 'none'; script-src {script}; style-src {style}; connect-src 'self'; img-src 'self' data:; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )


PAGE_CSP = _csp(PAGE)


@app.get("/", response_class=HTMLResponse, include_in_schema=False)
async def page() -> HTMLResponse:
    return HTMLResponse(PAGE, headers={"Content-Security-Policy": PAGE_CSP})


@functools.cache
def _docs_page() -> str:
    """The API reference as one static page built from the OpenAPI schema (no scripts, works offline)."""
    spec = app.openapi()
    out = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>tokenomy API</title><style>",
        "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1d2330}"
        "code{background:#f2f4f8;padding:0 .2rem}td,th{border-bottom:1px solid #e5e7eb;padding:.2rem .5rem;"
        "text-align:left}table{border-collapse:collapse}",
        "</style></head><body>",
        f"<h1>{html.escape(spec['info']['title'])} API {html.escape(spec['info']['version'])}</h1>",
        f"<p>{html.escape(spec['info'].get('description', ''))} The machine-readable schema is "
        "<a href='/openapi.json'>/openapi.json</a>.</p>",
    ]
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            out.append(f"<h2><code>{method.upper()} {html.escape(path)}</code></h2>")
            out.append(f"<p>{html.escape(op.get('description') or op.get('summary') or '')}</p>")
            params = op.get("parameters", [])
            if params:
                out.append("<table><tr><th>parameter</th><th>in</th><th>schema</th><th>description</th></tr>")
                for p in params:
                    schema = json.dumps(p.get("schema", {}), separators=(",", ":"))
                    out.append(
                        f"<tr><td><code>{html.escape(p['name'])}</code></td><td>{html.escape(p['in'])}</td>"
                        f"<td><code>{html.escape(schema)}</code></td>"
                        f"<td>{html.escape(p.get('description', ''))}</td></tr>"
                    )
                out.append("</table>")
            if "requestBody" in op:
                out.append("<p>Body: JSON, schema in <a href='/openapi.json'>/openapi.json</a>.</p>")
    out.append("</body></html>")
    return "".join(out)


@app.get("/docs", response_class=HTMLResponse, include_in_schema=False)
async def docs() -> HTMLResponse:
    text = _docs_page()
    return HTMLResponse(text, headers={"Content-Security-Policy": _csp(text)})


# ---- the API --------------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=64)
def _catalog(kind: str | None, id: str | None) -> bytes:
    if id is not None:
        return _json(show_entry(id))
    kinds = [kind] if kind else list(KINDS)
    return _json({k: list_entries(k) for k in kinds})


@app.get("/api/catalog")
async def api_catalog(
    kind: Literal["accelerators", "systems", "models", "tiers", "regions", "claims"] | None = None,
    id: str | None = Query(None, max_length=100, description="show one entry with its provenance"),
) -> Any:
    """Catalog entries (a list per kind), or one entry with every figure's source, date and confidence."""
    try:
        return _reply(_catalog(kind, id))
    except UnknownIdError as exc:
        raise _unprocessable("id", exc) from None


@functools.lru_cache(maxsize=256)
def _frontier(*args: Any) -> bytes:
    *physics, cost_basis = args
    return _json(priced_frontier(frontier(*physics), cost_basis).as_dict())


@app.get("/api/frontier")
async def api_frontier(
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
        return _reply(await _off_loop(_frontier, model, hardware, precision, isl, osl, backend, cost_basis))
    except UnknownIdError as exc:
        raise _unprocessable("model" if exc.kind == "model" else "hardware", exc) from None
    except (MissingFigureError, ValueError) as exc:
        raise _unprocessable("hardware", exc) from None


@functools.lru_cache(maxsize=64)
def _plan(scenario_json: str) -> bytes:
    return _json(plan(Scenario.model_validate_json(scenario_json)).as_dict())


@app.post("/api/plan")
async def api_plan(scenario: Scenario | None = None) -> Any:
    """Plan a factory scenario (the body; default: the built-in 1 GW GTC 2026 factory)."""
    sc = scenario or default_scenario()
    _check_ids(sc)
    try:
        return _reply(await _off_loop(_plan, sc.model_dump_json()))
    except (UnknownIdError, MissingFigureError, ValueError, RuntimeError) as exc:
        raise _unprocessable("body.tiers", exc) from None


def _plan_ranges(scenario_json: str, draws: int, seed: int) -> bytes:
    from tokenomy.econ.ranges_econ import plan_ranges

    sc = Scenario.model_validate_json(scenario_json)
    return _json(plan_ranges(sc, plan(sc), draws, seed).as_dict())


@app.post("/api/plan/ranges")
async def api_plan_ranges(
    scenario: Scenario | None = None,
    draws: int = Query(2000, ge=1000, le=20_000, description="Monte Carlo draws"),
    seed: int = Query(0, ge=0, le=2**32 - 1),
) -> Any:
    """P10/P50/P90 of every plan output and the tornado of margin and $/M tokens per generation (the body is a
    scenario, as for /api/plan; its `uncertainty:` block sets the ranges)."""
    sc = scenario or default_scenario()
    _check_ids(sc)
    try:
        return _reply(await _off_loop(_plan_ranges, sc.model_dump_json(), draws, seed))
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
        return json_safe(keynote(plan(sc)).as_dict())
    except (UnknownIdError, MissingFigureError, ValueError, RuntimeError) as exc:
        raise _unprocessable("body.tiers", exc) from None


@functools.lru_cache(maxsize=128)
def _cost(
    model: str, hardware: tuple, tok_s_per_user: float, isl: int, osl: int, region: tuple, basis: tuple
):
    return _json(
        cost_report(model, list(hardware), tok_s_per_user, isl, osl, list(region), list(basis)).as_dict()
    )


@app.get("/api/cost")
async def api_cost(
    model: str = Query("deepseek-r1", max_length=100),
    hardware: list[str] = Query(["hgx_h200", "gb200_nvl72"], max_length=6),
    tok_s_per_user: float = Query(50.0, gt=0, le=10_000),
    isl: int = Query(1024, ge=1, le=1_000_000),
    osl: int = Query(1024, ge=1, le=100_000),
    region: list[str] = Query(["us", "china-west"], max_length=13),
    basis: list[Literal["owned", "hyperscaler", "neocloud", "rental"]] = Query(["owned"], max_length=4),
) -> Any:
    """Cost per M tokens, energy and carbon by hardware, region and cost basis."""
    if any(len(x) > 100 for x in [*hardware, *region]):
        raise _unprocessable("hardware", ValueError("ids are at most 100 characters"))
    try:
        body = await _off_loop(
            _cost, model, tuple(hardware), tok_s_per_user, isl, osl, tuple(region), tuple(basis)
        )
        return _reply(body)
    except UnknownIdError as exc:
        raise _unprocessable({"model": "model", "region": "region"}.get(exc.kind, "hardware"), exc) from None
    except (MissingFigureError, ValueError) as exc:
        raise _unprocessable("hardware", exc) from None


@functools.cache
def _claims() -> bytes:
    return _json(checks_as_dicts(audit_claims()))


@app.get("/api/claims")
async def api_claims() -> Any:
    """Every catalog claim recomputed: claimed, ours, ratio, verdict and the assumptions used."""
    return _reply(await _off_loop(_claims))


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
        return json_safe(invest(sc, spec).as_dict())
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
        return json_safe(
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


@functools.lru_cache(maxsize=32)
def _route(prices: str, seed: int, train_share: float) -> bytes:
    from tokenomy.consume.report import dataset_prices, dataset_rows, tier_prices
    from tokenomy.consume.route import route_report

    rows = dataset_rows()
    if prices == "dataset":
        table = dataset_prices()
    else:
        table = tier_prices(
            catalog().tier(prices[5:]).require("price_usd_per_mtok"), sorted({r.model for r in rows})
        )
    return _json(route_report(rows, table, prices, train_share, seed).as_dict())


@app.get("/api/route")
async def api_route(
    prices: str = Query("dataset", max_length=80, pattern=r"^(dataset|tier:[a-z0-9_-]{1,64})$"),
    seed: int = Query(0, ge=0, le=1_000_000),
    train_share: float = Query(0.5, gt=0, lt=1),
) -> Any:
    """Routing policies of the Token Economy data on cost per solved task and success, with the Pareto set."""
    try:
        return _reply(await _off_loop(_route, prices, seed, train_share))
    except (UnknownIdError, MissingFigureError, ValueError) as exc:
        raise _unprocessable("prices", exc) from None


# ---- transport guards -----------------------------------------------------------------------------------------
def allow_only_loopback(bind_host: str) -> None:
    """When the server is bound to loopback, answer only requests addressed to a loopback name."""
    global _allowed_hosts
    loopback = bind_host in LOOPBACK_NAMES or bind_host.startswith("127.")
    _allowed_hosts = (LOOPBACK_NAMES | {bind_host}) if loopback else None


SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
DEFAULT_CSP = b"default-src 'none'; frame-ancestors 'none'"


def _host_name(value: str) -> str:
    """'localhost:8000' → 'localhost'; '[::1]:8000' → '[::1]'."""
    if value.startswith("["):
        return value.split("]")[0] + "]"
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


class Guard:
    """ASGI middleware: Host check, body size cap, and security headers on every response."""

    def __init__(self, app):
        self.inner = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.inner(scope, receive, send)
        headers = {k.lower(): v for k, v in scope.get("headers", [])}

        async def secured(message):
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                extra = [h for h in SECURITY_HEADERS if h[0] not in names]
                if b"content-security-policy" not in names:
                    extra.append((b"content-security-policy", DEFAULT_CSP))
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        async def refuse(status: int, msg: str) -> None:
            body = json.dumps({"detail": msg}).encode()
            await secured(
                {
                    "type": "http.response.start",
                    "status": status,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})

        if _allowed_hosts is not None:
            host = _host_name(headers.get(b"host", b"").decode("latin-1").strip().lower())
            if host not in _allowed_hosts:
                return await refuse(
                    400, "this server answers only to a loopback host name (127.0.0.1, localhost)"
                )
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
            return await refuse(413, f"request body over {MAX_BODY_BYTES // 1024} KiB")
        if scope.get("method") in ("POST", "PUT", "PATCH"):
            body, more = b"", True
            while more:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return None
                body += message.get("body", b"")
                more = message.get("more_body", False)
                if len(body) > MAX_BODY_BYTES:
                    return await refuse(413, f"request body over {MAX_BODY_BYTES // 1024} KiB")
            replayed = False

            async def replay():
                nonlocal replayed
                if not replayed:
                    replayed = True
                    return {"type": "http.request", "body": body, "more_body": False}
                return await receive()

            return await self.inner(scope, replay, secured)
        return await self.inner(scope, receive, secured)


app.add_middleware(Guard)
