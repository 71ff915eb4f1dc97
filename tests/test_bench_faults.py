"""What a hostile or broken server sends is a counted failure of that request and the run goes on; --timeout
bounds the wait for each token (keep-alive comments do not reset it); usage counts are checked."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

aiohttp = pytest.importorskip("aiohttp")
duckdb = pytest.importorskip("duckdb")
from typer.testing import CliRunner  # noqa: E402

from conftest import free_port  # noqa: E402
from tokenomy.cli import app  # noqa: E402
from tokenomy.measure.client import Prompt, endpoint, new_session, payload, send  # noqa: E402
from tokenomy.measure.fake_server import FakeOpenAIThread  # noqa: E402
from tokenomy.measure.http1 import Http1Pool  # noqa: E402

runner = CliRunner()


@pytest.fixture(scope="module")
def server():
    with FakeOpenAIThread(free_port(), ttft_s=0.005, gap_s=0.001) as url:
        yield url


@pytest.fixture(params=["http1", "aiohttp"])
def client(request):
    return request.param


def _send(url: str, timeout_s: float = 5.0, tokens: int = 4, client: str = "http1"):
    """One request through the lean HTTP/1.1 client (the default for http://) or through aiohttp."""

    async def go():
        body = payload("fake-model", Prompt(text="hi", max_tokens=tokens), "chat")
        if client == "http1":
            pool = Http1Pool(endpoint(url, "chat"))
            try:
                return await pool.send(body, "chat", 0, timeout_s)
            finally:
                pool.close()
        async with new_session() as session:
            return await send(session, endpoint(url, "chat"), body, "chat", 0, timeout_s)

    return asyncio.run(go())


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ("not-object", "malformed SSE: event is a JSON list, not an object"),
        ("choices-not-list", "malformed SSE: choices is a dict, not a list"),
        ("usage-text", "bad usage: completion_tokens is 'many', not a number"),
        ("usage-huge", "bad usage: completion_tokens is 1099511627776, outside [0, 2^31)"),
        ("usage-negative", "bad usage: completion_tokens is -5, outside [0, 2^31)"),
        ("long-line", "malformed SSE: a line over 1024 KiB"),
        ("http-500", "HTTP 500: boom"),
    ],
)
def test_each_malformed_stream_is_a_failure_with_its_reason(server, fault, reason, client):
    r = _send(f"{server}/fault/{fault}", client=client)
    assert not r.ok and r.error == reason
    assert r.completion_tokens is None  # nothing bad is kept


def test_a_good_stream_from_the_same_server_is_measured(server, client):
    r = _send(server, tokens=6, client=client)
    assert r.ok and r.completion_tokens == 6 and r.streamed_tokens == 6 and r.usage_source == "server"
    assert r.ttft_ms >= 5.0 and len(r.itl_ms) == 5


def test_timeout_bounds_the_first_token_and_the_gaps_not_a_socket_read(server, client):
    t = time.perf_counter()
    r = _send(f"{server}/fault/keepalive", timeout_s=0.4, client=client)
    took = time.perf_counter() - t
    # comments arrive every 50 ms: a per-read timeout would never fire
    assert not r.ok and r.error == "timeout: no first token within 0.4 s"
    assert 0.35 < took < 3.0
    r = _send(f"{server}/fault/keepalive-after-first", timeout_s=0.4, client=client)
    assert not r.ok and r.error == "timeout: no next token after 1 tokens within 0.4 s"
    assert r.streamed_tokens == 1


def _bench(url: str, db, *extra: str):
    args = ["bench", "--url", url, "--model", "fake-model", "--isl", "4", "--osl", "4", "--warmup", "0"]
    return runner.invoke(app, [*args, "--db", str(db), "--json", *extra])


def test_a_sweep_against_a_broken_server_runs_every_level_and_stores_every_failure(server, tmp_path):
    db = tmp_path / "b.duckdb"
    result = _bench(f"{server}/fault/usage-negative", db, "-c", "1,2", "--num-prompts", "5")
    assert result.exit_code == 3, result.output  # failures: exit 3, not a traceback
    levels = json.loads(result.stdout)["levels"]
    assert [lv["concurrency"] for lv in levels] == [1, 2]
    for lv in levels:
        assert lv["requests"] == lv["failed"] == 5 and lv["status"] == "complete"
        assert lv["failure_reasons"] == {"bad usage": 5}
        assert lv["output_tok_s"] == 0 and lv["input_tok_s"] == 0  # never negative throughput
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT count(*), count(completion_tokens) FROM requests").fetchone() == (10, 0)


def test_models_listed_as_a_bare_list_do_not_stop_the_bench(server, tmp_path):
    result = _bench(f"{server}/fault/models-list", tmp_path / "m.duckdb", "-c", "2", "--num-prompts", "4")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["levels"][0]["completed"] == 4


def test_chunked_sse_split_anywhere_parses_the_same():
    """The lean client's framing: a chunked SSE response fed whole, byte by byte, or in random pieces."""
    import random

    from tokenomy.measure.client import RequestResult
    from tokenomy.measure.http1 import _Exchange

    events = [b'data: {"choices": [{"delta": {"content": "t%d"}}]}\n\n' % k for k in range(5)]
    events.append(b'data: {"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 5}}\n\n')
    events.append(b"data: [DONE]\n\n")
    body = b"".join(b"%x;ext=1\r\n%s\r\n" % (len(e), e) for e in events) + b"0\r\n\r\n"
    raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/event-stream\r\n\r\n" + body

    def parse(pieces: list[bytes]) -> tuple:
        loop = asyncio.new_event_loop()
        ex = _Exchange("chat", RequestResult(0, False), 0.0, loop.create_future())
        done = [ex.feed(p, float(k)) for k, p in enumerate(pieces)]
        loop.close()
        return ex.n, ex.stream.done, ex.stream.completion_tokens, done[-1], any(done[:-1])

    whole = parse([raw])
    assert whole == (5, True, 5, True, False)
    assert parse([raw[i : i + 1] for i in range(len(raw))]) == whole
    rng = random.Random(0)
    for _ in range(50):
        cuts = sorted(rng.sample(range(1, len(raw)), 6))
        assert parse([raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True)]) == whole
