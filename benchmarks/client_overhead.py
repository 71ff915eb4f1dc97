"""Client overhead of `tokenomy bench`: how many streamed tokens one client core parses and timestamps, and the
latency the client itself adds, against a local server that answers at once with a pre-rendered SSE body.

Run: .venv/bin/python benchmarks/client_overhead.py
Targets: ≥ 50,000 streamed tokens/s on one client core; < 1 ms added p50 TTFT at concurrency 64; ≥ 2× a plain loop
over the official `openai` async client, measured in the same run.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing as mp
import os
import socket
import statistics
import time

TOKENS = 64
# The "delayed" server thinks 0.2-0.8 s per request, so the client is far from saturation; the latency the client
# adds = when its parser sees the first token − when the server wrote the answer (same machine clock).
CHUNK = (
    b"data: "
    + json.dumps(
        {
            "id": "x",
            "object": "chat.completion.chunk",
            "model": "m",
            "choices": [{"index": 0, "delta": {"content": "tok"}, "finish_reason": None}],
        }
    ).encode()
    + b"\n\n"
)
USAGE = b'data: {"id": "x", "choices": [], "usage": {"prompt_tokens": 8, "completion_tokens": 64}}\n\n'
BODY = CHUNK * TOKENS + USAGE + b"data: [DONE]\n\n"
RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: "
    + str(len(BODY)).encode()
    + b"\r\nConnection: keep-alive\r\n\r\n"
    + BODY
)


def _serve(port: int, ready) -> None:
    """A deliberately dumb HTTP/1.1 server: read a request (headers + Content-Length body), write RESPONSE."""
    os.sched_setaffinity(0, {1}) if hasattr(os, "sched_setaffinity") and os.cpu_count() > 1 else None

    import random
    import re

    rng = random.Random(0)
    written: dict[str, float] = {}
    user_re = re.compile(rb'"user": ?"(\d+)"')

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                first = head.split(b"\r\n", 1)[0]
                if b" /stats" in first:
                    data = json.dumps(written).encode()
                    writer.write(
                        b"HTTP/1.1 200 OK\r\nContent-Length: "
                        + str(len(data)).encode()
                        + b"\r\nConnection: close\r\n\r\n"
                        + data
                    )
                    await writer.drain()
                    writer.close()
                    return
                delayed = b" /delayed/" in first
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                body = await reader.readexactly(length) if length else b""
                if delayed:
                    # spread arrivals (no synchronized waves), and note when the answer leaves the server
                    await asyncio.sleep(rng.uniform(0.2, 0.8))
                    m = user_re.search(body)
                    if m:
                        written[m.group(1).decode()] = time.time()
                writer.write(RESPONSE)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionResetError):
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=1024)
        ready.set()
        async with server:
            await server.serve_forever()

    asyncio.run(main())


FIRST_TOKEN_WALL: dict[int, float] = {}


def _stats(url: str) -> dict[str, float]:
    import urllib.request

    return json.loads(urllib.request.urlopen(url + "/stats", timeout=10).read())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _ours(
    url: str, concurrency: int, n: int, tag: bool = False
) -> tuple[int, float, float, list[float]]:
    """tokenomy's request path for http:// (the lean HTTP/1.1 client), without storage."""
    from tokenomy.measure.client import Prompt, endpoint, payload
    from tokenomy.measure.http1 import Http1Pool

    body = payload("m", Prompt(text="hello", max_tokens=TOKENS), "chat")
    pool = Http1Pool(endpoint(url, "chat"))
    ttfts: list[float] = []
    tokens = 0
    queue = list(range(n))
    firsts = FIRST_TOKEN_WALL

    async def worker() -> None:
        nonlocal tokens
        while queue:
            i = queue.pop()
            r = await pool.send({**body, "user": str(i)} if tag else body, "chat", i, 30.0)
            assert r.ok, r.error
            tokens += r.output_tokens
            # tagged runs return the wall-clock time of the first token instead of TTFT
            ttfts.append(r.start_s + r.ttft_ms / 1e3 if tag else r.ttft_ms)
            firsts[i] = r.start_s + r.ttft_ms / 1e3

    cpu0, t0 = time.process_time(), time.perf_counter()
    try:
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    finally:
        pool.close()
    return tokens, time.process_time() - cpu0, time.perf_counter() - t0, ttfts


async def _openai(url: str, concurrency: int, n: int) -> tuple[int, float, float]:
    from openai import AsyncOpenAI

    client = AsyncOpenAI(base_url=url + "/v1", api_key="none", max_retries=0)
    tokens = 0
    queue = list(range(n))

    async def worker() -> None:
        nonlocal tokens
        while queue:
            queue.pop()
            stream = await client.chat.completions.create(
                model="m", messages=[{"role": "user", "content": "hi"}], max_tokens=TOKENS, stream=True
            )
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    tokens += 1

    cpu0, t0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    await client.close()
    return tokens, time.process_time() - cpu0, time.perf_counter() - t0


def main() -> None:
    if hasattr(os, "sched_setaffinity") and os.cpu_count() > 1:
        os.sched_setaffinity(0, {0})  # the client gets one core, the server the other
    port = _free_port()
    ready = mp.Event()
    server = mp.Process(target=_serve, args=(port, ready), daemon=True)
    server.start()
    ready.wait(10)
    url = f"http://127.0.0.1:{port}"
    print(f"server: pre-rendered SSE, {TOKENS} tokens a request ({len(BODY)} bytes)")
    try:
        asyncio.run(_ours(url, 8, 64))  # warm up
        results = {}
        for c, n in ((1, 300), (64, 3000), (256, 5000)):
            tokens, cpu, wall, ttfts = asyncio.run(_ours(url, c, n))
            results[c] = tokens / cpu
            print(
                f"tokenomy  c={c:<4d} {tokens / cpu:>10,.0f} streamed tok per client-CPU-s  "
                f"{n / wall:>8,.0f} req/s  {tokens / wall:>10,.0f} tok/s wall  "
                f"p50 TTFT {statistics.median(ttfts):.3f} ms (client + loopback + server)"
            )
        for c, n in ((1, 10), (64, 640), (256, 1280)):
            FIRST_TOKEN_WALL.clear()
            asyncio.run(_ours(url + "/delayed", c, n, tag=True))
            written = _stats(url)
            added = [
                (FIRST_TOKEN_WALL[i] - written[str(i)]) * 1e3 for i in FIRST_TOKEN_WALL if str(i) in written
            ]
            p50 = statistics.median(added)
            verdict = f"  target < 1 ms {'ok' if p50 < 1 else 'MISSED'}" if c == 64 else ""
            print(
                f"latency the client adds at c={c:<4d}: p50 {p50:.3f} ms, p90 "
                f"{statistics.quantiles(added, n=10)[-1]:.3f} ms (first token parsed − answer written){verdict}"
            )
        best = max(results.values())
        ours64 = results[64]
        try:
            tokens, cpu, wall = asyncio.run(_openai(url, 64, 3000))
            ratio = ours64 / (tokens / cpu)
            print(
                f"openai    c=64   {tokens / cpu:>10,.0f} streamed tok per client-CPU-s  {3000 / wall:>8,.0f} req/s "
                f"→ tokenomy / openai = {ratio:.1f}x  target ≥ 2x {'ok' if ratio >= 2 else 'MISSED'}"
            )
        except ImportError:
            print("openai not installed: comparison skipped (pip install openai)")
        print(
            f"best: {best:,.0f} streamed tokens/s on one client core, target ≥ 50,000 "
            f"{'ok' if best >= 50_000 else 'MISSED'}"
        )
    finally:
        server.terminate()


if __name__ == "__main__":
    main()
