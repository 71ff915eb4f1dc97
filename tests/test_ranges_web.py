"""Ranges on the web: the /api/plan/ranges endpoint, the planner's band table in Chromium, and the report."""

from __future__ import annotations

import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from test_web import CHROMIUM, CHROMIUM_ARGS, needs_chromium, server  # noqa: E402, F401
from tokenomy.web.app import app  # noqa: E402

client = TestClient(app)


def test_plan_ranges_api_bands_contain_the_point_and_are_seeded():
    body = {
        "power_mw": 100,
        "generations": [{"name": "Blackwell", "hardware": [{"system": "gb200_nvl72"}]}],
        "tiers": [{"tier": "medium", "share": 0.5}, {"tier": "high", "share": 0.5}],
    }
    a = client.post("/api/plan/ranges?draws=1000&seed=4", json=body)
    b = client.post("/api/plan/ranges?draws=1000&seed=4", json=body)
    assert a.status_code == 200 and a.json() == b.json()
    band = a.json()["bands"]["Blackwell.revenue_usd"]
    assert band["p10"] < band["point"] < band["p90"]
    bad = client.post("/api/plan/ranges?draws=5", json=body)
    assert bad.status_code == 422 and "draws" in bad.text
    body["uncertainty"] = {"U": -1}
    assert client.post("/api/plan/ranges", json=body).status_code == 422


@pytest.mark.browser
@needs_chromium
def test_planner_shows_ranges_in_chromium(server):  # noqa: F811
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(server + "/")
        rows = page.locator("#ranges-table tbody tr")
        expect(rows).to_have_count(4, timeout=90_000)
        expect(page.locator("#ranges-caption")).to_contain_text("draws", timeout=60_000)
        cell = page.locator("#ranges-table tbody tr[data-generation='Blackwell'] td.band").first
        assert "–" in cell.inner_text() and "$" in cell.inner_text()
        browser.close()


@pytest.mark.slow
def test_report_shows_bands_tornado_and_claims_in_the_new_form(tmp_path):
    from tokenomy.report.html import write_report

    text = write_report(tmp_path / "r.html").read_text()
    assert 'id="ranges"' in text and 'class="tornado"' in text
    assert "verdict: where it holds" in text and "InferenceX measured" in text
