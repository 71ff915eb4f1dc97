"""The web API under hostile input: valid-JSON 422s for NaN and extreme numbers, size caps, security headers, the
loopback Host check, offline docs, heavy work off the event loop, cached deterministic answers, and a planner page
that never turns API data into HTML."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest

fastapi = pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from tokenomy.econ.scenario import default_scenario  # noqa: E402
from tokenomy.web import app as web  # noqa: E402

client = TestClient(web.app)
XSS = "<img src=x onerror=alert(1)>"


def body(**changes):
    data = default_scenario().model_dump()
    data.update(changes)
    return data


def post_raw(text: str, **kwargs):
    return client.post("/api/plan", content=text, headers={"content-type": "application/json"}, **kwargs)


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_numbers_are_a_422_with_a_json_body(value):
    rest = '"generations": [{"name": "g", "hardware": [{"system": "hgx_h200"}]}], "tiers": [{"tier": "free"}]'
    text = '{"power_mw": ' + value + ", " + rest + "}"
    r = post_raw(text)
    assert r.status_code == 422
    detail = r.json()["detail"]  # a body JSON can parse: no bare NaN
    assert detail[0]["loc"] == ["body", "power_mw"] and "finite" in detail[0]["msg"]


@pytest.mark.parametrize("years", [1e-300, 7500, 0])
def test_extreme_lifetimes_are_a_422_not_a_500(years):
    sc = body()
    sc["ownership"]["lifetime_years"] = years
    r = client.post("/api/plan", json=sc)
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "ownership", "lifetime_years"]


def test_booleans_are_not_numbers():
    r = client.post("/api/plan", json=body(pue=True))
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "pue"]


def test_body_and_string_sizes_are_capped():
    r = client.post("/api/plan", json=body(name="x" * (web.MAX_BODY_BYTES + 1)))
    assert r.status_code == 413 and len(r.content) < 1000
    r = client.post("/api/plan", json=body(name="x" * 10_000))
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "name"]
    assert len(r.content) < 2000  # the 422 echoes a short excerpt, not the 10 kB

    def chunks():  # no content-length: counted as it streams in
        for _ in range(40):
            yield b"x" * 10_000

    r = client.post("/api/plan", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413


def test_security_headers_on_every_response():
    for r in (client.get("/"), client.get("/api/catalog?kind=tiers"), client.get("/docs"), post_raw("{")):
        assert r.headers["x-content-type-options"] == "nosniff"
        csp = r.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp
    page_csp = client.get("/").headers["content-security-policy"]
    assert "'unsafe-inline'" not in page_csp and re.search(r"script-src 'sha256-[A-Za-z0-9+/=]+'", page_csp)


def test_loopback_server_answers_only_to_loopback_names():
    try:
        web.allow_only_loopback("127.0.0.1")
        for host in ("127.0.0.1:8000", "localhost", "[::1]:8000"):
            assert client.get("/api/catalog?kind=tiers", headers={"host": host}).status_code == 200
        r = client.get("/api/catalog?kind=tiers", headers={"host": "evil.example:8000"})
        assert r.status_code == 400 and "loopback" in r.json()["detail"]
        web.allow_only_loopback("0.0.0.0")
        assert client.get("/api/catalog?kind=tiers", headers={"host": "planner.example"}).status_code == 200
    finally:
        web.allow_only_loopback("0.0.0.0")


def test_docs_work_offline():
    r = client.get("/docs")
    assert r.status_code == 200 and "/api/plan" in r.text and "/openapi.json" in r.text
    assert "<script" not in r.text and "cdn" not in r.text.lower()
    assert client.get("/redoc").status_code == 404
    assert "/api/plan" in client.get("/openapi.json").json()["paths"]


@pytest.mark.slow  # the whole claims audit (≈ 7 s)
def test_claims_are_computed_once():
    first = client.get("/api/claims").json()
    hits = web._claims.cache_info().hits
    assert client.get("/api/claims").json() == first
    assert web._claims.cache_info().hits == hits + 1


@pytest.mark.slow
def test_a_flood_of_plans_does_not_block_other_requests(monkeypatch):
    started, release = threading.Semaphore(0), threading.Event()

    def slow_plan(scenario_json: str):
        started.release()
        assert release.wait(30)
        return b'{"slow": true}'

    monkeypatch.setattr(web, "_plan", slow_plan)
    answers: list[int] = []
    with TestClient(web.app) as shared:  # one event loop for every request, as under uvicorn
        flood = [
            threading.Thread(target=lambda: answers.append(shared.post("/api/plan", json=body()).status_code))
            for _ in range(44)  # more than a default thread pool (40)
        ]
        for thread in flood:
            thread.start()
        try:
            assert started.acquire(timeout=20)
            catalog: list[int] = []
            probe = threading.Thread(
                target=lambda: catalog.append(shared.get("/api/catalog?kind=regions").status_code)
            )
            probe.start()
            probe.join(10)
            assert catalog == [200], "a trivial request waited behind the plans"
        finally:
            release.set()
            for thread in flood:
                thread.join(30)
    assert answers == [200] * 44


def test_names_with_markup_come_back_as_plain_json_strings():
    sc = body(name=XSS)
    sc["generations"][0]["name"] = XSS
    r = client.post("/api/plan", json=sc)
    assert r.status_code == 200 and r.json()["generations"][0]["name"] == XSS
    assert r.headers["content-type"].startswith("application/json")


def test_planner_page_never_parses_api_data_as_html():
    page = (Path(web.__file__).parent / "planner.html").read_text()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in page, sink
    assert "createTextNode" in page
