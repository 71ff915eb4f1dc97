"""Measurement: metrics and power integration by hand, the DuckDB store, faults from a fake server, and the
real llama.cpp server (SmolLM2-135M) benchmarked end to end."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

aiohttp = pytest.importorskip("aiohttp")
duckdb = pytest.importorskip("duckdb")
from aiohttp import web  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from conftest import AiohttpServer, free_port  # noqa: E402
from tokenomy.cli import app  # noqa: E402
from tokenomy.measure.client import RequestResult  # noqa: E402
from tokenomy.measure.metrics import Slo, summarize  # noqa: E402
from tokenomy.measure.power import integrate_joules  # noqa: E402
from tokenomy.measure.workload import random_prompts  # noqa: E402
from tokenomy.store import Store  # noqa: E402

runner = CliRunner()


# ---- pure pieces ---------------------------------------------------------------------------------------------------
def test_tpot_and_summary_follow_the_inferencex_definitions():
    good = RequestResult(
        index=0,
        ok=True,
        prompt_tokens=100,
        completion_tokens=11,
        ttft_ms=50.0,
        e2e_ms=150.0,
        itl_ms=[10.0] * 10,
    )
    slow = RequestResult(
        index=1,
        ok=True,
        prompt_tokens=100,
        completion_tokens=11,
        ttft_ms=900.0,
        e2e_ms=1400.0,
        itl_ms=[50.0] * 10,
    )
    bad = RequestResult(index=2, ok=False, error="HTTP 500: boom")
    assert good.tpot_ms == pytest.approx(10.0) and slow.tpot_ms == pytest.approx(50.0)
    s = summarize(
        [good, slow, bad],
        duration_s=2.0,
        slo=Slo.parse("ttft_ms=500,tpot_ms=20"),
        gpus=2,
        allin_kw_per_gpu=1.0,
        usd_per_gpu_hour=2.0,
    )
    assert s["completed"] == 2 and s["failed"] == 1 and s["failure_reasons"] == {"HTTP 500": 1}
    assert s["ttft_ms"]["p50"] == pytest.approx(475.0)
    assert s["output_tok_s"] == pytest.approx(22 / 2.0) and s["input_tok_s"] == pytest.approx(200 / 2.0)
    assert s["tok_s_per_user"] == pytest.approx(1000 / 30.0)  # median TPOT of 10 and 50
    assert s["goodput_req_s"] == pytest.approx(0.5)  # only the fast request meets both SLOs
    assert s["tput_per_gpu"] == pytest.approx(222 / 2.0 / 2)
    assert s["usd_per_mtok"] == pytest.approx(2.0 / (s["tput_per_gpu"] * 3600 / 1e6))
    with pytest.raises(ValueError, match="unknown objective"):
        Slo.parse("latency=3")


def test_power_integration_with_synthetic_samples():
    t = [0.0, 1.0, 2.0, 3.0, 4.0]
    assert integrate_joules(t, [100.0] * 5, 0.0, 4.0) == pytest.approx(400.0)
    ramp = [0.0, 100.0, 200.0, 300.0, 400.0]  # 100 W/s
    assert integrate_joules(t, ramp, 1.0, 3.0) == pytest.approx(400.0)  # trapezoid of a line is exact
    # Window edges fall between samples: interpolated, not rounded to a sample.
    assert integrate_joules(t, ramp, 0.5, 1.5) == pytest.approx(100.0)
    # Samples outside the run do not count; unsorted input is fine.
    assert integrate_joules(list(reversed(t)), list(reversed(ramp)), 2.0, 2.5) == pytest.approx(
        225.0 * 0.5
    )  # 200 → 250 W over half a second
    assert integrate_joules([1.0], [5.0], 0.0, 2.0) == 0.0


def test_random_prompts_follow_the_inferencex_length_rule():
    prompts = random_prompts(200, 1000, 500, seed=1)
    lengths = [len(p.text.split()) for p in prompts]
    assert min(lengths) >= 800 and max(lengths) <= 1000
    assert all(400 <= p.max_tokens <= 500 for p in prompts)
    assert random_prompts(3, 10, 10, seed=7)[0].text == random_prompts(3, 10, 10, seed=7)[0].text


def test_store_keeps_requests_of_an_interrupted_run(tmp_path):
    db = tmp_path / "r.duckdb"
    with Store(db) as store:
        run = store.start_run(
            url="http://x",
            model="m",
            api="chat",
            mode="concurrency",
            concurrency=2,
            isl=8,
            osl=8,
            num_prompts=3,
        )
        for i in range(2):
            store.add_request(
                run,
                RequestResult(
                    index=i, ok=True, completion_tokens=8, ttft_ms=5.0, e2e_ms=40.0, itl_ms=[5.0] * 7
                ),
            )
    # a new process opens the file: the run has no summary, the finished requests are there
    with Store(db) as store:
        runs = store.list_runs()
        assert runs[0]["status"] == "interrupted" and runs[0]["ok"] == 2
        for fmt in ("csv", "parquet", "json"):
            out = store.export(run, tmp_path / f"r.{fmt}", fmt)
            assert out.stat().st_size > 0
    assert len(json.loads((tmp_path / "r.json").read_text())) == 2
    assert duckdb.connect().execute(f"SELECT count(*) FROM '{tmp_path / 'r.parquet'}'").fetchone()[0] == 2


# ---- a fake server for fault injection ------------------------------------------------------------------------------
def _chunk(text: str) -> bytes:
    return b"data: " + json.dumps({"choices": [{"index": 0, "delta": {"content": text}}]}).encode() + b"\n\n"


USAGE = b'data: {"choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 3}}\n\n'
MODES = ["ok", "500", "429", "reset", "stall", "malformed", "nousage", "ok"]
SLOW_MODES = ["slow"]  # every answer after 0.3 s: for the interrupt test


class FakeServer(AiohttpServer):
    """Answers request k with the fault MODES[k % len(MODES)]."""

    def __init__(self, modes: list[str] = MODES):
        super().__init__()
        self.modes = modes
        self.count = 0

    async def models(self, request):
        return web.json_response({"data": [{"id": "fake-model"}, {"id": "other"}]})

    async def chat(self, request):
        await request.json()
        mode = self.modes[self.count % len(self.modes)]
        if mode == "slow":
            await asyncio.sleep(0.3)
        self.count += 1
        if mode == "500":
            return web.Response(status=500, text="internal error")
        if mode == "429":
            return web.Response(status=429, text="rate limited")
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        await resp.write(_chunk("a"))
        if mode == "reset":
            request.transport.close()  # drop the connection mid-stream
            return resp
        if mode == "stall":
            await asyncio.sleep(3.0)  # past the client's --timeout
        if mode == "malformed":
            await resp.write(b"data: {not json\n\n")
        await resp.write(_chunk("b"))
        await resp.write(_chunk("c"))
        if mode != "nousage":
            await resp.write(USAGE)
        await resp.write(b"data: [DONE]\n\n")
        return resp


@pytest.mark.slow
def test_faults_are_counted_with_reasons_and_the_run_goes_on(tmp_path):
    db = tmp_path / "f.duckdb"
    with FakeServer() as url:
        result = runner.invoke(
            app,
            [
                "bench",
                "--url",
                url,
                "--model",
                "fake-model",
                "-c",
                "2",
                "--num-prompts",
                "8",
                "--warmup",
                "0",
                "--isl",
                "4",
                "--osl",
                "3",
                "--timeout",
                "1",
                "--db",
                str(db),
                "--json",
            ],
        )
    assert result.exit_code == 3, result.output  # some requests failed: said by the exit code
    level = json.loads(result.stdout)["levels"][0]
    assert level["requests"] == 8 and level["completed"] == 3 and level["failed"] == 5
    reasons = level["failure_reasons"]
    assert reasons["HTTP 500"] == 1 and reasons["HTTP 429"] == 1
    assert reasons["timeout"] == 1 and reasons["malformed SSE"] == 1
    assert sum(n for k, n in reasons.items() if k.startswith("connection reset mid-stream")) == 1
    assert level["usage_counted_from_stream"] == 1 and level["usage_from_server"] == 2
    rows = duckdb.connect(str(db)).execute("SELECT ok, error FROM requests ORDER BY idx").fetchall()
    assert len(rows) == 8 and sum(ok for ok, _ in rows) == 3  # every finished request is stored


@pytest.mark.slow
def test_wrong_url_or_model_fails_before_any_load():
    result = runner.invoke(
        app, ["bench", "--url", f"http://127.0.0.1:{free_port()}", "--model", "m", "-c", "1"]
    )
    assert result.exit_code == 2 and "cannot reach" in result.output
    with FakeServer() as url:
        result = runner.invoke(app, ["bench", "--url", url, "--model", "fake-modle", "-c", "1"])
    assert result.exit_code == 2
    assert "fake-modle" in result.output and "Did you mean: fake-model" in result.output


@pytest.mark.slow
def test_calibrate_from_db_fits_stored_runs(tmp_path):
    from tokenomy.perf.calibration import load_calibration
    from tokenomy.points import read_points
    from tokenomy.validation import validate

    db = tmp_path / "c.duckdb"
    src = Path(__file__).resolve().parents[1] / "src/tokenomy/perf/data/calibration_points.csv"
    rows, _ = read_points(src)
    picked = [
        p
        for p in rows
        if p.model_path == "meta-llama/Llama-3.1-70B" and p.backend == "vllm" and p.system == "h200_sxm"
    ]
    with Store(db) as store:
        sweep = None
        for p in picked:
            run = store.start_run(
                sweep,
                url="http://gpu",
                model=p.model_path,
                api="chat",
                mode="concurrency",
                concurrency=p.concurrency,
                isl=p.isl,
                osl=p.osl,
                num_prompts=10,
                hardware=p.system,
                gpus=p.tp,
                backend="vllm",
                config={"precision": p.gemm_precision},
            )
            sweep = sweep or run
            store.finish_run(
                run,
                "complete",
                {
                    "completed": 10,
                    "ttft_ms": {"p50": p.measured_ttft_ms},
                    "tpot_ms": {"p50": p.measured_tpot_ms},
                },
            )
    out = tmp_path / "cal.json"
    result = runner.invoke(app, ["calibrate", "--from-db", sweep, "--db", str(db), "--out", str(out)])
    assert result.exit_code == 0, result.output
    cal = load_calibration(out)
    assert "vllm" in cal.params and cal.n_points == len(picked)
    assert validate(picked, cal).overall["tpot"].mdape < 0.15


# ---- the real engine ------------------------------------------------------------------------------------------------
def test_bench_real_llama_cpp_server(llama_server, tmp_path):
    db = tmp_path / "e2e.duckdb"
    result = runner.invoke(
        app,
        [
            "bench",
            "--url",
            llama_server,
            "--model",
            "smollm2",
            "-c",
            "1,4",
            "--isl",
            "32",
            "--osl",
            "16",
            "--num-prompts",
            "4",
            "--warmup",
            "1",
            "--db",
            str(db),
            "--json",
            "--backend",
            "llama.cpp",
            "--export",
            str(tmp_path / "ix.json"),
        ],
    )
    assert result.exit_code == 0, result.output
    levels = json.loads(result.stdout)["levels"]
    assert [lv["concurrency"] for lv in levels] == [1, 4]
    exported = json.loads((tmp_path / "ix.json").read_text())
    assert [row["conc"] for row in exported] == [1, 4] and exported[0]["median_tpot"] > 0
    sweep = json.loads(result.stdout)["sweep_id"]
    listed = json.loads(runner.invoke(app, ["results", "list", "--db", str(db), "--json"]).stdout)
    assert [r["status"] for r in listed] == ["complete", "complete"] and listed[0]["sweep_id"] == sweep
    out = tmp_path / "requests.csv"
    assert runner.invoke(app, ["results", "export", sweep, "--out", str(out), "--db", str(db)]).exit_code == 0
    assert len(out.read_text().splitlines()) == 1 + 8 + 2  # header, 8 requests, 2 warmups (flagged)
    shown = runner.invoke(app, ["results", "show", "nope", "--db", str(db)])
    assert shown.exit_code == 2 and "no run 'nope'" in shown.output
    for lv in levels:
        assert lv["completed"] == lv["requests"] == 4 and lv["failed"] == 0
        assert lv["ttft_ms"]["p50"] < lv["e2e_ms"]["p50"]
        assert 5 < lv["tok_s_per_user"] < 5000  # a 135M model on two CPU cores
        assert 1 < lv["output_tok_s"] < 5000
    con = duckdb.connect(str(db))
    assert con.execute("SELECT count(*) FROM requests WHERE NOT warmup AND ok").fetchone()[0] == 8
    assert con.execute("SELECT count(*) FROM summaries WHERE status = 'complete'").fetchone()[0] == 2
    # queueing: four requests at once wait for each other on one llama.cpp slot, so the last one waits for its
    # first token longer than the quickest answer takes whole (≈ 3x; compared within the level, because the load
    # of a shared machine can change between levels)
    last_ttft, quickest_e2e = con.execute(
        "SELECT max(q.ttft_ms), min(q.e2e_ms) FROM requests q JOIN runs r USING (run_id) "
        "WHERE r.concurrency = 4 AND NOT q.warmup"
    ).fetchone()
    assert last_ttft > 1.5 * quickest_e2e
    # llama-cpp-python sends no usage when streaming: the counted stream must equal the server's own count
    # for the same prompt answered without streaming (greedy decoding, so the same tokens).
    streamed = con.execute(
        "SELECT q.streamed_tokens FROM requests q JOIN runs r USING (run_id) WHERE r.concurrency = 1 AND q.idx = 0"
    ).fetchone()[0]
    prompt = random_prompts(4, 32, 16, seed=0)[0]
    import urllib.request

    body = json.dumps(
        {
            "model": "smollm2",
            "messages": [{"role": "user", "content": prompt.text}],
            "max_tokens": prompt.max_tokens,
            "temperature": 0.0,
        }
    ).encode()
    req = urllib.request.Request(
        llama_server + "/v1/chat/completions", data=body, headers={"Content-Type": "application/json"}
    )
    usage = json.loads(urllib.request.urlopen(req, timeout=60).read())["usage"]
    assert usage["completion_tokens"] == streamed


@pytest.mark.e2e
def test_ctrl_c_keeps_every_finished_request(tmp_path):
    """A real SIGINT to a running `tokenomy bench`: exit 130, the run marked interrupted, its requests stored."""
    import signal

    db = tmp_path / "i.duckdb"
    server = FakeServer(SLOW_MODES)
    with server as url:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tokenomy.cli",
                "bench",
                "--url",
                url,
                "--model",
                "fake-model",
                "-c",
                "1",
                "--num-prompts",
                "100",
                "--warmup",
                "0",
                "--isl",
                "4",
                "--osl",
                "3",
                "--db",
                str(db),
                "--json",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        deadline = time.time() + 60  # start-up takes seconds on a loaded machine: wait for answers instead
        while server.count < 6 and time.time() < deadline:
            time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    assert proc.returncode == 130, proc.stderr.read().decode()[-500:]
    with Store(db) as store:
        runs = store.list_runs()
    assert runs[0]["status"] == "interrupted"
    assert 3 <= runs[0]["ok"] < 100
