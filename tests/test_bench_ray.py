"""`bench --workers N` on a local Ray cluster (one ray.init for the module, 2 CPUs): merged percentiles are
those of the union of stored rows, a killed worker leaves a partial run with its finished rows, and an install
without Ray says which extra to add."""

from __future__ import annotations

import json
import sys
import threading
import time

import pytest

aiohttp = pytest.importorskip("aiohttp")
duckdb = pytest.importorskip("duckdb")
from typer.testing import CliRunner  # noqa: E402

from conftest import free_port  # noqa: E402
from tokenomy.cli import app  # noqa: E402
from tokenomy.measure.fake_server import FakeOpenAIThread  # noqa: E402

runner = CliRunner()


@pytest.fixture(scope="module")
def ray_local():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def server():
    with FakeOpenAIThread(free_port(), ttft_s=0.02, gap_s=0.005) as url:
        yield url


def _bench(url: str, db, *extra: str):
    args = ["bench", "--url", url, "--model", "fake-model", "--isl", "4", "--osl", "8", "--warmup", "1"]
    return runner.invoke(app, [*args, "--db", str(db), "--json", "--workers", "2", *extra])


def test_two_workers_store_every_request_and_merge_percentiles_from_rows(ray_local, server, tmp_path):
    db = tmp_path / "w.duckdb"
    result = _bench(server, db, "-c", "4", "--num-prompts", "40")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    level = doc["levels"][0]
    assert level["requests"] == level["completed"] == 40 and level["status"] == "complete"
    assert doc["workers"]["workers"] == 2 and doc["workers"]["max_clock_offset_ms"] >= 0
    con = duckdb.connect(str(db), read_only=True)
    rows = con.execute("SELECT idx, ttft_ms, tpot_ms FROM requests WHERE NOT warmup ORDER BY idx").fetchall()
    assert [r[0] for r in rows] == list(range(40))  # both workers' shares, each request once
    assert con.execute("SELECT count(*) FROM requests WHERE warmup").fetchone()[0] == 2  # one per worker
    # percentiles of the union of stored rows, not an average of the workers' percentiles
    for col, key in (("ttft_ms", "ttft_ms"), ("tpot_ms", "tpot_ms")):
        p50, p90 = con.execute(
            f"SELECT quantile_cont({col}, 0.5), quantile_cont({col}, 0.9) FROM requests WHERE NOT warmup"
        ).fetchone()
        assert level[key]["p50"] == pytest.approx(p50, rel=1e-9)
        assert level[key]["p90"] == pytest.approx(p90, rel=1e-9)


def test_a_killed_worker_leaves_a_partial_run_with_its_finished_rows(ray_local, tmp_path):
    db = tmp_path / "k.duckdb"
    killed: dict = {}

    def names() -> set[str]:
        return {a["name"] for a in ray_local.util.list_named_actors(all_namespaces=True)}

    before = names()

    def kill_one_worker() -> None:
        deadline = time.time() + 120
        while time.time() < deadline:
            new = names() - before
            workers = sorted(n for n in new if n.startswith("tokenomy-bench-") and n.endswith("-w1"))
            if workers and fake.server.served >= 40:  # both workers have finished some requests
                ray_local.kill(ray_local.get_actor(workers[-1]))
                killed["name"] = workers[-1]
                return
            time.sleep(0.1)

    # 0.1 s per request: 2 workers x 2 streams finish ≈ 40 requests/s, 400 take ≈ 10 s
    fake = FakeOpenAIThread(free_port(), ttft_s=0.03, gap_s=0.01)
    with fake as url:
        killer = threading.Thread(target=kill_one_worker, daemon=True)
        killer.start()
        result = _bench(url, db, "-c", "4", "--num-prompts", "400")
        killer.join(timeout=5)
    assert killed, "no worker was found to kill"
    assert result.exit_code == 4, result.output  # partial: said by the exit code
    level = json.loads(result.stdout)["levels"][0]
    assert level["status"] == "partial" and "worker 1 died" in level["partial_reason"]
    con = duckdb.connect(str(db), read_only=True)
    by_worker = dict(
        con.execute("SELECT idx % 2, count(*) FROM requests WHERE NOT warmup AND ok GROUP BY 1").fetchall()
    )
    assert by_worker[0] == 200  # the surviving worker finished its whole share
    assert 5 <= by_worker[1] < 200  # the killed one: what it finished before dying is stored
    assert level["completed"] == by_worker[0] + by_worker[1]
    assert con.execute("SELECT status FROM summaries").fetchone()[0] == "partial"


def test_without_ray_the_error_names_the_extra(monkeypatch, tmp_path):
    with FakeOpenAIThread(free_port(), ttft_s=0.001, gap_s=0.001) as url:
        monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` fails as on an install without it
        result = _bench(url, tmp_path / "n.duckdb", "-c", "2", "--num-prompts", "2")
    assert result.exit_code == 2
    assert "pip install 'tokenomy[ray]'" in result.output and "Traceback" not in result.output


def test_workers_warm_up_first_and_start_the_measured_load_together(ray_local, tmp_path):
    """On a server with one slot the workers' warm-ups queue behind each other; the measured load must still
    start at one moment on every worker (it started a warm-up's service time apart, skewing the first requests)."""
    with FakeOpenAIThread(free_port(), ttft_s=0.1, gap_s=0.002, slots=1) as url:
        db = tmp_path / "s.duckdb"  # 8 warm-ups of 0.1 s queue for 0.8 s, longer than any fixed head start
        result = _bench(url, db, "-c", "2", "--num-prompts", "4", "--warmup", "4")
    assert result.exit_code == 0, result.output
    con = duckdb.connect(str(db), read_only=True)
    firsts = con.execute(
        "SELECT idx % 2, min(start_s) FROM requests WHERE NOT warmup GROUP BY idx % 2 ORDER BY 1"
    ).fetchall()
    warm_end = con.execute("SELECT max(start_s + e2e_ms / 1e3) FROM requests WHERE warmup").fetchone()[0]
    assert len(firsts) == 2
    assert abs(firsts[0][1] - firsts[1][1]) < 0.05  # one warm-up's service is ≥ 100 ms
    assert min(f[1] for f in firsts) >= warm_end - 0.005  # nobody measures while another still warms up


def test_shared_prefix_over_ray_workers_stores_the_reuse_of_every_request(ray_local, server, tmp_path):
    db = tmp_path / "p.duckdb"
    result = _bench(server, db, "-c", "2", "--num-prompts", "10", "--shared-prefix", "64")
    assert result.exit_code == 0, result.output
    level = json.loads(result.stdout)["levels"][0]
    assert level["reuse"]["requests_reusing"] == 10
    con = duckdb.connect(str(db), read_only=True)
    rows = con.execute(
        "SELECT idx, reused_tokens, planned_tokens FROM requests WHERE NOT warmup ORDER BY idx"
    ).fetchall()
    con.close()
    assert [r[0] for r in rows] == list(range(10)) and {r[1] for r in rows} == {64}
    assert all(r[2] > 64 for r in rows)
