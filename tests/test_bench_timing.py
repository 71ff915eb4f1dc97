"""Against a server (its own process) that sends the first token after 50 ms and then one every 10 ms, the
bench reports those figures at c=1 and at c=64. Tolerances hold on a loaded 2-core machine: the lower bounds are
physics (nothing arrives early), the upper ones catch a client that timestamps late (the old synchronous store
read TTFT p50 86-150 ms and ITL p50 5.9 ms at c=64); benchmarks/bench_truth.py measures them tightly."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytest.importorskip("aiohttp")
duckdb = pytest.importorskip("duckdb")
from typer.testing import CliRunner  # noqa: E402

from conftest import free_port  # noqa: E402
from tokenomy.cli import app  # noqa: E402
from tokenomy.measure.fake_server import wait_until_serving  # noqa: E402


@pytest.fixture(scope="module")
def timed_server():
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tokenomy.measure.fake_server", "--port", str(port), "--ttft-ms", "50",
         "--gap-ms", "10", "--tokens", "16"],
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    wait_until_serving(url, 10.0, proc)
    yield url
    proc.terminate()
    proc.wait(timeout=10)


@pytest.mark.slow
@pytest.mark.parametrize(("c", "n", "ttft_max_ms"), [(1, 6, 70.0), (64, 192, 100.0)])
def test_reported_ttft_and_tpot_match_what_the_server_sent(timed_server, tmp_path, c, n, ttft_max_ms):
    db = tmp_path / "t.duckdb"
    result = CliRunner().invoke(
        app,
        ["bench", "--url", timed_server, "--model", "fake-model", "-c", str(c), "--num-prompts", str(n),
         "--isl", "8", "--osl", "16", "--warmup", "1", "--db", str(db), "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    lv = json.loads(result.stdout)["levels"][0]
    assert lv["completed"] == n and lv["output_tokens"] == 16 * n
    assert 49.0 <= lv["ttft_ms"]["p50"] <= ttft_max_ms
    assert 9.0 <= lv["tpot_ms"]["p50"] <= 12.0
    assert 7.5 <= lv["itl_ms"]["p50"] <= 12.5  # gaps as sent, not bunched
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT count(*) FROM requests WHERE NOT warmup AND ok").fetchone()[0] == n
