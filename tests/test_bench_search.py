"""The max-rate search finds a known capacity within 10% in at most 10 probes and stops growing the load at the
first saturated probe; the SLO percentile rule; the CLI wiring against a fake server with a known capacity."""

from __future__ import annotations

import json

import pytest

from tokenomy.measure.client import RequestResult
from tokenomy.measure.metrics import Slo
from tokenomy.measure.search import Probe, is_saturated, search


def _server(capacity: float, history: list[Probe]):
    """Offered load beyond capacity: throughput flat at capacity, queues grow, the TTFT SLO fails."""

    def probe(load: float) -> Probe:
        achieved = min(load, capacity) * 0.98
        p = Probe(load, achieved, achieved, meets_slo=load <= capacity)
        p.saturated = is_saturated(load, achieved, history, by_rate=True)
        history.append(p)
        return p

    return probe


@pytest.mark.parametrize("capacity", [0.7, 3.0, 37.0, 180.0, 2500.0])
@pytest.mark.parametrize("start", [1.0, 10.0])
def test_rate_search_finds_capacity_within_ten_percent_in_ten_probes(capacity, start):
    history: list[Probe] = []
    best, probes = search(_server(capacity, history), start, max_probes=10)
    assert len(probes) <= 10
    assert best is not None and 0.9 * capacity <= best.load <= capacity
    first_bad = next(i for i, p in enumerate(probes) if not p.good)
    # no load above the first failing one is ever probed: growth stops at once
    assert all(p.load < probes[first_bad].load for p in probes[first_bad + 1 :])


def test_concurrency_search_stops_when_throughput_stops_growing():
    history: list[Probe] = []

    def probe(c: float) -> Probe:  # 8 slots: throughput grows to c=8, then flat; latency SLO always met
        achieved = min(c, 8) * 10.0
        p = Probe(c, achieved, achieved, meets_slo=True)
        p.saturated = is_saturated(c, achieved, history, by_rate=False)
        history.append(p)
        return p

    best, probes = search(probe, 1, integer=True)
    assert all(float(p.load).is_integer() for p in probes) and len(probes) <= 10
    assert best.load == 8 and max(p.load for p in probes) <= 16


def test_the_slo_holds_at_its_percentile_and_a_failure_counts_as_slow():
    fast = [RequestResult(i, True, completion_tokens=5, ttft_ms=10.0, e2e_ms=50.0) for i in range(9)]
    slow = RequestResult(9, True, completion_tokens=5, ttft_ms=500.0, e2e_ms=540.0)
    failed = RequestResult(9, False, error="timeout")
    slo = Slo.parse("ttft_ms=100,percentile=p90")
    assert slo.percentile == 90 and slo.limits == {"ttft_ms": 100}
    assert slo.level_meets(fast + [slow])  # 1 slow request in 10: the p90 holds
    assert not Slo.parse("ttft_ms=100,percentile=p99").level_meets(fast + [slow])
    assert not slo.level_meets(fast[:8] + [slow, failed])  # two of ten beyond the limit
    for bad in ("ttft_ms=-1", "percentile=p120", "ttft_ms=nan", "speed=3"):
        with pytest.raises(ValueError, match="slo"):
            Slo.parse(bad)


@pytest.mark.slow
def test_find_max_rate_through_the_cli(tmp_path):
    """Wiring: every probe a stored level, the best reported; a tiny search (2 probes) to stay fast."""
    pytest.importorskip("aiohttp")
    pytest.importorskip("duckdb")
    from typer.testing import CliRunner

    from conftest import free_port
    from tokenomy.cli import app
    from tokenomy.measure.fake_server import FakeOpenAIThread

    with FakeOpenAIThread(free_port(), ttft_s=0.005, gap_s=0.001, slots=4) as url:
        result = CliRunner().invoke(
            app,
            [
                "bench", "--url", url, "--model", "fake-model", "--isl", "4", "--osl", "4", "--warmup", "0",
                "--find-max-rate", "--slo", "ttft_ms=200", "--rate", "20", "--probe-seconds", "1",
                "--max-probes", "2", "--db", str(tmp_path / "s.duckdb"), "--json",
            ],
        )  # fmt: skip
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    probes = doc["search"]["probes"]
    assert [p["load"] for p in probes] == [20.0, 80.0]  # grows x4 while the SLO holds
    assert [lv["rate"] for lv in doc["levels"]] == [20.0, 80.0]  # each probe a stored level
    assert doc["search"]["best"]["load"] in (20.0, 80.0)
