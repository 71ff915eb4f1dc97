"""Bench reuse workloads against the fake server, through the CLI and a real DuckDB file: a shared system
prompt, multi-turn sessions that resend the conversation with the server's answers, and a Mooncake trace whose
replayed prompts reuse exactly what its hash ids say."""

from __future__ import annotations

import json

import pytest

duckdb = pytest.importorskip("duckdb")
pytest.importorskip("aiohttp")
from typer.testing import CliRunner  # noqa: E402

from conftest import free_port, reuse_from_text  # noqa: E402
from tokenomy.cli import app  # noqa: E402
from tokenomy.measure.fake_server import FakeOpenAIThread  # noqa: E402
from tokenomy.store import Store  # noqa: E402
from tokenomy.workloads.mooncake import (  # noqa: E402
    BLOCK_TOKENS,
    TraceRequest,
    prefix_reuse,
    synthetic_trace,
    write_trace,
)

runner = CliRunner()


@pytest.fixture
def fake():
    """A fake server that records every request body it receives."""
    t = FakeOpenAIThread(free_port(), ttft_s=0.002, gap_s=0.0005, record=True)
    with t as url:
        yield url, t.server


def _bench(url: str, db, *args: str):
    res = runner.invoke(
        app, ["bench", "--url", url, "--model", "fake-model", "--db", str(db), "--json", *args]
    )
    return res, (json.loads(res.stdout) if res.exit_code in (0, 3) else None)


def _rows(db, cols: str) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(f"SELECT {cols} FROM requests WHERE NOT warmup ORDER BY idx").fetchall()
    finally:
        con.close()


def _received(server, n_warm: int) -> list[str]:
    """Prompt texts the server received (completions API), warmup requests left out."""
    return [b["prompt"] for b in server.bodies[n_warm:]]


@pytest.mark.slow
def test_trace_replay_reuse_share_matches_the_hash_ids_exactly(fake, tmp_path):
    url, server = fake
    trace = synthetic_trace(300, rate_per_s=200, mean_input=1024, mean_output=4, seed=5)
    path = tmp_path / "trace.jsonl"
    path.write_text(write_trace(trace))
    res, doc = _bench(
        url, tmp_path / "r.duckdb", "--trace", str(path), "--api", "completions", "--warmup", "1"
    )
    assert res.exit_code == 0, res.output
    expected = prefix_reuse(trace)
    level = doc["levels"][0]
    assert level["completed"] == 300 and level["reuse"]["share"] == expected.share
    rows = _rows(tmp_path / "r.duckdb", "idx, planned_tokens, reused_tokens, due_s, start_s")
    assert [r[0] for r in rows] == list(range(300))
    assert [r[1] for r in rows] == [t.input_length for t in trace]
    assert [r[2] for r in rows] == expected.cached_tokens
    # the server saw 300 distinct prompts (each its own tail) that share about those blocks: requests sent
    # within the same millisecond may reach it in either order (the in-order test below checks exactly)
    sent = _received(server, 1)
    assert len(sent) == len(set(sent)) == 300
    share = sum(reuse_from_text(sent, BLOCK_TOKENS)) / sum(t.input_length for t in trace)
    assert share == pytest.approx(expected.share, abs=0.02)
    # sends left at the trace's timestamps: the offsets between requests are the trace's
    due = [r[3] for r in rows]
    assert all(d is not None for d in due)
    offsets = [d - due[0] for d in due]
    assert offsets == pytest.approx([(t.timestamp - trace[0].timestamp) / 1e3 for t in trace], abs=1e-6)
    assert (
        level["send_late_ms"]["p50"] < 50
    )  # loose: a shared CI machine; benchmarks/trace_replay.py measures


@pytest.mark.slow
def test_trace_in_send_order_reuses_by_text_exactly(fake, tmp_path):
    """Replayed in the trace's order, the prompt texts alone give exactly the hash ids' reuse per request."""
    url, server = fake
    trace = synthetic_trace(120, rate_per_s=20, mean_input=1024, mean_output=2, seed=9)
    path = tmp_path / "trace.jsonl"
    path.write_text(write_trace(trace))
    res, _ = _bench(url, tmp_path / "r.duckdb", "--trace", str(path), "--api", "completions", "--warmup", "0")
    assert res.exit_code == 0, res.output
    sent = _received(server, 0)
    assert reuse_from_text(sent, BLOCK_TOKENS) == prefix_reuse(trace).cached_tokens


@pytest.mark.slow
def test_a_trace_with_no_shared_hash_ids_gives_no_shared_prefixes(fake, tmp_path):
    url, server = fake
    trace = [
        TraceRequest(
            timestamp=i * 5, input_length=1100 + i, output_length=2, hash_ids=[3 * i, 3 * i + 1, 3 * i + 2]
        )
        for i in range(40)
    ]
    path = tmp_path / "trace.jsonl"
    path.write_text(write_trace(trace))
    res, doc = _bench(url, tmp_path / "r.duckdb", "--trace", str(path), "--api", "completions")
    assert res.exit_code == 0, res.output
    assert doc["levels"][0]["reuse"]["share"] == 0.0 and doc["levels"][0]["reuse"]["requests_reusing"] == 0
    assert {r[0] for r in _rows(tmp_path / "r.duckdb", "reused_tokens")} == {0}
    sent = _received(server, 1)
    assert reuse_from_text(sent, BLOCK_TOKENS) == [0] * 40
    assert len({p[:100] for p in sent}) == 40  # no two prompts even start alike


@pytest.mark.slow
def test_shared_prefix_every_request_starts_with_the_same_system_prompt(fake, tmp_path):
    url, server = fake
    res, doc = _bench(
        url, tmp_path / "r.duckdb", "-c", "3", "--num-prompts", "9", "--shared-prefix", "300", "--isl", "40",
        "--osl", "3",
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    bodies = server.bodies
    assert len(bodies) == 10  # one warmup, nine measured
    systems = {b["messages"][0]["content"] for b in bodies}
    assert len(systems) == 1 and len(next(iter(systems)).split()) == 300
    assert all(b["messages"][0]["role"] == "system" and b["messages"][1]["role"] == "user" for b in bodies)
    assert len({b["messages"][1]["content"] for b in bodies}) == 10  # each its own part
    rows = _rows(tmp_path / "r.duckdb", "planned_tokens, reused_tokens")
    assert all(reused == 300 and planned > 300 for planned, reused in rows)
    r = doc["levels"][0]["reuse"]
    assert r["share"] == pytest.approx(300 * 9 / sum(p for p, _ in rows)) and r["share"] > 0.85


def test_shared_prefix_without_warmup_the_first_request_reuses_nothing(fake, tmp_path):
    url, _ = fake
    res, _ = _bench(
        url, tmp_path / "r.duckdb", "-c", "1", "--num-prompts", "4", "--shared-prefix", "50", "--warmup", "0",
        "--api", "completions", "--isl", "10", "--osl", "2",
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert [r[0] for r in _rows(tmp_path / "r.duckdb", "reused_tokens")] == [0, 50, 50, 50]


@pytest.mark.slow
def test_sessions_resend_the_conversation_with_the_servers_answers(fake, tmp_path):
    url, server = fake
    res, doc = _bench(
        url, tmp_path / "r.duckdb", "--sessions", "3", "--turns", "4", "--isl", "20", "--osl", "3",
        "--shared-prefix", "30",
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    level = doc["levels"][0]
    assert level["completed"] == 12 and level["concurrency"] == 3  # all sessions at once by default
    assert level["reuse"]["sessions"] == 3 and level["reuse"]["turns"] == 4
    measured = server.bodies[1:]
    by_session: dict[str, list[list[dict]]] = {}
    for b in measured:  # a session is known by its first user message
        by_session.setdefault(b["messages"][1]["content"], []).append(b["messages"])
    assert len(by_session) == 3
    for turns in by_session.values():
        turns.sort(key=len)
        assert [len(m) for m in turns] == [2, 4, 6, 8]  # system, then user/assistant pairs, then the new user
        for prev, cur in zip(turns, turns[1:], strict=False):
            assert cur[: len(prev)] == prev  # the whole earlier conversation, unchanged
            answer = cur[len(prev)]
            assert (
                answer["role"] == "assistant" and answer["content"] == "tok" * 3
            )  # what the server streamed
    rows = _rows(tmp_path / "r.duckdb", "idx, session_id, turn, reused_tokens, planned_tokens")
    assert [(r[1], r[2]) for r in rows] == [(s, t) for s in range(3) for t in range(4)]
    assert all(r[3] == 30 for r in rows if r[2] == 0)  # turn 1: the system prompt (warmup sent it)
    assert all(r[3] > 0 and r[3] < r[4] for r in rows if r[2] > 0)


@pytest.mark.slow
def test_sessions_think_between_turns(fake, tmp_path):
    url, _ = fake
    res, doc = _bench(url, tmp_path / "t.duckdb", "--sessions", "2", "--turns", "3", "--isl", "5", "--osl", "2",
                      "--think-s", "0.15")  # fmt: skip
    assert res.exit_code == 0, res.output
    rows = _rows(tmp_path / "t.duckdb", "session_id, turn, start_s, e2e_ms")
    for s in (0, 1):
        turns = sorted((r for r in rows if r[0] == s), key=lambda r: r[1])
        for prev, cur in zip(turns, turns[1:], strict=False):
            assert cur[2] - (prev[2] + prev[3] / 1e3) >= 0.15  # the next turn waited the think time
    res, _ = _bench(url, tmp_path / "x.duckdb", "-c", "1", "--think-s", "1")
    assert res.exit_code == 2 and "--sessions" in res.output


def test_a_failed_turn_skips_the_rest_of_its_session(tmp_path):
    with FakeOpenAIThread(free_port(), ttft_s=0.001, gap_s=0.001) as url:
        res, doc = _bench(
            url + "/fault/http-500", tmp_path / "r.duckdb", "--sessions", "2", "--turns", "3", "--warmup", "0"
        )
    assert res.exit_code == 3, res.output
    level = doc["levels"][0]
    assert level["requests"] == 6 and level["failed"] == 6
    assert level["failure_reasons"] == {"HTTP 500": 2, "skipped": 4}
    assert len(_rows(tmp_path / "r.duckdb", "idx")) == 6


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--trace", "T", "-c", "2"], "drop --concurrency"),
        (["--trace", "T", "--workers", "2"], "drop --workers"),
        (["--trace", "T", "--shared-prefix", "10"], "brings its own prompts"),
        (["--sessions", "2", "--rate", "3"], "not at a rate"),
        (["--sessions", "2", "--workers", "2"], "drop --workers"),
        (["--sessions", "2", "--num-prompts", "5"], "drop --dataset and --num-prompts"),
        (["--turns", "3", "-c", "1"], "--turns and --think-s go with --sessions"),
        (["--trace", "MISSING"], "no such file"),
        (["--trace", "BAD"], "line 2: input_length"),
    ],
)
def test_bad_reuse_options_are_refused_clearly(tmp_path, args, message):
    good = tmp_path / "t.jsonl"
    good.write_text(write_trace(synthetic_trace(3, mean_input=600)))
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        '{"timestamp": 0, "input_length": 5, "output_length": 1}\n{"timestamp": 1, "output_length": 1}\n'
    )
    sub = {"T": str(good), "BAD": str(bad), "MISSING": str(tmp_path / "nope.jsonl")}
    args = [sub.get(a, a) for a in args]
    with FakeOpenAIThread(free_port()) as url:
        res = runner.invoke(
            app, ["bench", "--url", url, "--model", "fake-model", "--db", str(tmp_path / "r.db"), *args]
        )
    assert res.exit_code == 2, res.output
    assert message in res.output and "Traceback" not in res.output


@pytest.mark.slow
def test_an_older_results_file_gains_the_reuse_columns_and_keeps_its_rows(tmp_path, fake):
    """A file of the schema before reuse columns: readers open it, a bench adds the columns (old rows NULL)."""
    db = tmp_path / "old.duckdb"
    con = duckdb.connect(str(db))
    con.execute(
        """CREATE TABLE runs (run_id VARCHAR, sweep_id VARCHAR, created_at TIMESTAMP DEFAULT current_timestamp,
           url VARCHAR, model VARCHAR, api VARCHAR, mode VARCHAR, concurrency INTEGER, rate DOUBLE, isl INTEGER,
           osl INTEGER, num_prompts INTEGER, hardware VARCHAR, gpus INTEGER, backend VARCHAR, config JSON);
           CREATE TABLE requests (run_id VARCHAR, idx INTEGER, warmup BOOLEAN, ok BOOLEAN, error VARCHAR,
           prompt_tokens INTEGER, completion_tokens INTEGER, streamed_tokens INTEGER, usage_source VARCHAR,
           start_s DOUBLE, ttft_ms DOUBLE, e2e_ms DOUBLE, tpot_ms DOUBLE, itl_ms DOUBLE[]);
           CREATE TABLE summaries (run_id VARCHAR, finished_at TIMESTAMP DEFAULT current_timestamp,
           status VARCHAR, summary JSON);
           INSERT INTO runs (run_id, sweep_id, model) VALUES ('old1', 'old1', 'm');
           INSERT INTO requests VALUES ('old1', 0, false, true, NULL, 10, 5, 5, 'server', 1.0, 2.0, 3.0, 0.25,
                                        [0.5, 0.25]);"""
    )
    con.close()
    with Store.reader(db) as store:  # read-only: opens, nothing changed
        assert store.list_runs()[0]["run_id"] == "old1"
    url, _ = fake
    res, doc = _bench(
        url, db, "-c", "1", "--num-prompts", "2", "--shared-prefix", "20", "--isl", "5", "--osl", "2"
    )
    assert res.exit_code == 0, res.output
    con = duckdb.connect(str(db), read_only=True)
    rows = con.execute(
        "SELECT run_id, itl_ms, reused_tokens, planned_tokens FROM requests WHERE NOT warmup ORDER BY run_id"
    ).fetchall()
    con.close()
    old = [r for r in rows if r[0] == "old1"]
    new = [r for r in rows if r[0] != "old1"]
    assert old == [("old1", [0.5, 0.25], None, None)]
    assert len(new) == 2 and all(r[2] == 20 and r[3] > 20 for r in new)
