"""The invest and supply API (same objects as the library, 422 naming the field) and the planner's section."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

fastapi = pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from conftest import serve_app  # noqa: E402
from tokenomy.econ.invest import default_invest, invest  # noqa: E402
from tokenomy.econ.supply import supply  # noqa: E402
from tokenomy.web.app import app  # noqa: E402

client = TestClient(app)
CHROMIUM = "/usr/bin/chromium"


@pytest.mark.slow
def test_invest_api_returns_the_library_objects_and_names_bad_fields():
    sc, spec = default_invest()
    lib = invest(sc, spec.model_copy(update={"price_decline_per_year": 0.3}))
    r = client.post("/api/invest", params={"price_decline": 0.3})
    assert r.status_code == 200
    assert [x["npv_usd"] for x in r.json()["results"]] == pytest.approx([x.npv_usd for x in lib.results])
    body = sc.model_dump() | {"invest": spec.model_dump() | {"years": 0}}
    r = client.post("/api/invest", json=body)
    assert r.status_code == 422 and "invest.years" in r.json()["detail"][0]["msg"]
    body = sc.model_dump() | {"region": "atlantis"}
    assert client.post("/api/invest", json=body).json()["detail"][0]["loc"] == ["body", "region"]


def test_supply_api_matches_the_library():
    lib = supply(["us"], (2026, 2028), target=True)
    r = client.get(
        "/api/supply", params={"country": "us", "first_year": 2026, "last_year": 2028, "target": True}
    )
    assert r.status_code == 200 and r.json()["nations"][0]["tokens_per_day"] == pytest.approx(
        lib.nations[0].tokens_per_day
    )
    r = client.get("/api/supply", params={"country": "atlantis"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "country"]


@pytest.fixture(scope="module")
def server():
    with serve_app(app) as url:
        yield url


@pytest.mark.skipif(
    not Path(CHROMIUM).exists() and not os.environ.get("CI"),
    reason="Debian chromium not installed (make test installs it as root)",
)
def test_price_decline_slider_moves_the_npv_in_chromium(server):
    from playwright.sync_api import expect, sync_playwright

    # Waits go through locators: the page's CSP forbids the eval that wait_for_function's polling needs.
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1300, "height": 1400})
        page.goto(server + "/")
        npv = "#invest-table tbody tr td.npv"
        expect(page.locator(npv)).to_have_count(2, timeout=60_000)
        before = page.locator(npv).first.inner_text()
        page.locator("#decline").evaluate(
            "e => { e.value = 0.5; e.dispatchEvent(new Event('input', {bubbles: true})) }"
        )
        expect(page.locator(npv).first).not_to_have_text(before, timeout=30_000)
        assert page.locator("#decline-value").inner_text() == "50%"
        expect(page.locator("#chart-supply polyline").nth(2)).to_be_attached(timeout=30_000)
        assert page.locator("#chart-cash polyline").count() == 2
        browser.close()
