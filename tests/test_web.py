"""The web API (same objects as the library, 422 naming the field), its OpenAPI schema fuzzed with
schemathesis, and the planner page driven in a real headless Chromium."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

fastapi = pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from conftest import serve_app  # noqa: E402
from tokenomy.econ.factory import plan  # noqa: E402
from tokenomy.econ.scenario import default_scenario  # noqa: E402
from tokenomy.web.app import app  # noqa: E402

client = TestClient(app)
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
CHROMIUM = "/usr/bin/chromium"


def test_plan_api_returns_the_library_objects():
    r = client.post("/api/plan")
    assert r.status_code == 200
    data = r.json()
    lib = plan(default_scenario()).as_dict()
    assert [g["name"] for g in data["generations"]] == [g["name"] for g in lib["generations"]]
    assert data["generations"][1]["revenue_usd"] == pytest.approx(lib["generations"][1]["revenue_usd"])


def test_plan_api_names_the_bad_field():
    body = default_scenario().model_dump()
    body["pue"] = 0.2
    r = client.post("/api/plan", json=body)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "pue"]
    body = default_scenario().model_dump()
    body["region"] = "atlantis"
    r = client.post("/api/plan", json=body)
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "region"] and "atlantis" in r.json()["detail"][0]["msg"]


@pytest.mark.slow  # /api/claims runs the whole claims audit (≈ 7 s)
def test_frontier_catalog_cost_claims_endpoints():
    r = client.get("/api/frontier", params={"model": "llama-3.1-70b", "hardware": "h200", "precision": "fp8"})
    assert r.status_code == 200 and len(r.json()["points"]) > 10
    r = client.get("/api/frontier", params={"model": "llama-3.1-71b"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "model"]
    r = client.get("/api/catalog", params={"kind": "models"})
    assert {m["id"] for m in r.json()["models"]} >= {"deepseek-r1", "gpt-oss-120b"}
    r = client.get("/api/catalog", params={"id": "gb200_nvl72"})
    assert r.json()["per_gpu"]["figures"]["allin_kw"]["source"]
    r = client.get(
        "/api/cost", params={"model": "gpt-oss-120b", "hardware": ["b200"], "region": ["us", "france"]}
    )
    assert r.status_code == 200 and len(r.json()["rows"]) == 2
    r = client.get("/api/claims")
    assert len(r.json()) >= 29 and all(c["ratio"] for c in r.json())
    assert client.get("/openapi.json").json()["paths"].keys() >= {"/api/plan", "/api/frontier", "/api/cost"}


@pytest.mark.slow
def test_api_conforms_to_its_openapi_schema():
    schemathesis = pytest.importorskip("schemathesis")
    from hypothesis import HealthCheck, given, settings

    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures, calls = [], []
    operations = list(schema.get_all_operations())
    for op in operations:
        operation = op.ok()

        @settings(
            max_examples=12,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
        )
        @given(case=operation.as_strategy())
        def check(case):
            response = case.call()
            calls.append(case.operation.label)
            if response.status_code >= 500:
                failures.append((case.operation.label, response.status_code, response.text[:300]))
            case.validate_response(response, checks=[schemathesis.checks.not_a_server_error])

        check()
    assert failures == []
    assert len(set(calls)) == len(operations) == 10 and len(calls) >= 30


@pytest.fixture(scope="module")
def server():
    with serve_app(app) as url:
        yield url


needs_chromium = pytest.mark.skipif(
    not Path(CHROMIUM).exists() and not os.environ.get("CI"),
    reason="Debian chromium not installed (make test installs it as root)",
)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.mark.browser
@needs_chromium
def test_planner_page_in_chromium(server):
    from playwright.sync_api import expect, sync_playwright

    assert shutil.which("chromium") or Path(CHROMIUM).exists(), "make test must install Debian's chromium"
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1300, "height": 1100})
        page.goto(server + "/")
        rows = "#plan-table tbody tr"
        # Waits go through locators: the page's CSP forbids the eval that wait_for_function's polling needs.
        expect(page.locator(rows)).to_have_count(4, timeout=60_000)
        revenue = page.locator(f"{rows}[data-generation='Blackwell'] td.revenue")
        before = revenue.inner_text()
        # The tier table reads each tier's tok_s_per_gpu from the plan's JSON: a number, not a dash.
        expect(page.locator("#tier-table tbody tr").first.locator("td").nth(4)).to_have_text(
            re.compile(r"^\d[\d,]*$")
        )
        # $/M tokens per generation comes from the API (one formula, in the library), not from the page's script
        blackwell = page.locator(f"{rows}[data-generation='Blackwell'] td").last
        expected = next(
            g["cost_usd_per_mtok"]
            for g in TestClient(app).post("/api/plan").json()["generations"]
            if g["name"] == "Blackwell"
        )
        assert blackwell.inner_text() == f"{expected:.3f}"

        def slide(selector: str, value: float) -> None:
            page.locator(selector).evaluate(
                f"e => {{ e.value = {value}; e.dispatchEvent(new Event('input', {{bubbles: true}})) }}"
            )

        slide("#power", 2000)
        expect(revenue).not_to_have_text(before, timeout=30_000)
        doubled = revenue.inner_text()
        assert doubled != before and page.locator("#power-value").inner_text() == "2,000 MW"
        slide("#share-premium", 0)  # the stranded Premium share goes to the sellable tiers
        expect(revenue).not_to_have_text(doubled, timeout=30_000)
        assert page.locator("#chart-power rect").count() > 4
        assert page.locator("#chart-money rect").count() > 4
        # The keynote chart: one frontier line per generation and the tiers' operating points.
        expect(page.locator("#chart-keynote polyline").nth(1)).to_be_attached(timeout=60_000)
        assert page.locator("#chart-keynote path.operating").count() >= 2
        assert page.locator("#error").inner_text() == ""
        page.screenshot(path=str(ARTIFACTS / "planner.png"), full_page=True)
        browser.close()
    assert (ARTIFACTS / "planner.png").stat().st_size > 10_000


@pytest.mark.browser
@needs_chromium
def test_markup_in_api_names_stays_text_in_chromium(server):
    """Names from the API that look like HTML are shown as text: no element is created, no handler fires."""
    import json

    from playwright.sync_api import expect, sync_playwright

    evil = '<img src=x onerror="window.pwned=1">'
    real = client.post("/api/plan").json()
    real["generations"][0]["name"] = evil
    real["generations"][0]["tiers"][0]["name"] = evil
    regions = {"regions": [{"id": "us", "name": evil, "electricity_usd_per_kwh": 0.08}]}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.route(
            "**/api/plan",
            lambda route: route.fulfill(status=200, content_type="application/json", body=json.dumps(real)),
        )
        page.route(
            "**/api/catalog?kind=regions",
            lambda route: route.fulfill(
                status=200, content_type="application/json", body=json.dumps(regions)
            ),
        )
        page.goto(server + "/")
        expect(page.locator("#plan-table tbody tr").first).to_be_visible(timeout=30_000)
        expect(page.locator("#status")).to_contain_text("planned", timeout=30_000)
        assert page.locator("#plan-table tbody tr").first.locator("td").first.inner_text() == evil
        assert page.locator("#region option").first.inner_text().startswith(evil)
        assert page.locator("main img").count() == 0
        assert page.evaluate("window.pwned") is None
        browser.close()


@pytest.mark.slow
def test_route_api_and_plan_with_a_hit_rate():
    r = client.get("/api/route")
    assert r.status_code == 200
    data = r.json()
    assert {x["kind"] for x in data["results"]} == {"single", "router", "cascade", "oracle"}
    assert any(x["pareto"] and x["kind"] == "oracle" for x in data["results"])
    assert client.get("/api/route", params={"prices": "<b>"}).status_code == 422
    assert client.get("/api/route", params={"prices": "tier:atlantis"}).status_code == 422
    body = default_scenario().model_dump()
    base = client.post("/api/plan", json=body).json()
    for t in body["tiers"]:
        t["prefix_hit_rate"] = 0.8
    hit = client.post("/api/plan", json=body).json()
    assert hit["generations"][1]["output_tokens_per_year"] > base["generations"][1]["output_tokens_per_year"]
    body["tiers"][0]["prefix_hit_rate"] = 2
    bad = client.post("/api/plan", json=body)
    assert bad.status_code == 422 and "prefix_hit_rate" in str(bad.json()["detail"][0]["loc"])


@pytest.mark.browser
@needs_chromium
def test_planner_hit_rate_slider_and_routing_chart_in_chromium(server):
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1300, "height": 1400})
        page.goto(server + "/")
        rows = "#plan-table tbody tr"
        expect(page.locator(rows)).to_have_count(4, timeout=60_000)
        tokens = page.locator(f"{rows}[data-generation='Blackwell'] td").nth(2)
        before = tokens.inner_text()
        page.locator("#hit").evaluate(
            "e => { e.value = 0.8; e.dispatchEvent(new Event('input', {bubbles: true})) }"
        )
        expect(tokens).not_to_have_text(before, timeout=30_000)
        assert page.locator("#hit-value").inner_text() == "80%"
        expect(page.locator("#chart-route circle[data-kind='oracle']")).to_have_count(1, timeout=60_000)
        assert page.locator("#chart-route polyline.pareto").count() == 1
        assert page.locator("#route-table tbody tr").count() >= 1
        assert page.locator("#error").inner_text() == ""
        browser.close()
