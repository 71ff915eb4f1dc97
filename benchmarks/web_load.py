"""The web server under a flood of plans: do trivial requests still get answered, and how fast are cached ones?

Starts `tokenomy serve`'s app with uvicorn in its own process on a loopback port, sends N concurrent POST /api/plan (each a different
power budget, so none is served from the cache), and while they run, one GET /api/catalog every 0.1 s. Prints p50 /
p90 latency of both, then /api/claims cold and cached, and the time to refuse a 2 kB YAML alias bomb.

Run: .venv/bin/python benchmarks/web_load.py [--plans 200]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import subprocess
import sys
import time

import httpx

from tokenomy.econ.scenario import ScenarioError, default_scenario, parse_scenario


def serve() -> tuple[subprocess.Popen, str]:
    """The app under uvicorn in its own process (the client here must not share its GIL)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = "import uvicorn; from tokenomy.web.app import app; "
    code += f"uvicorn.run(app, host='127.0.0.1', port={port}, log_level='warning')"
    proc = subprocess.Popen([sys.executable, "-c", code])
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            httpx.get(url + "/api/catalog?kind=tiers", timeout=1).raise_for_status()
            return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("the server did not start")


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


async def flood(url: str, plans: int) -> None:
    base = default_scenario().model_dump()
    # One connection per request (no keep-alive): a pooled connection the server has timed out is not a failure.
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=url, timeout=900, limits=limits) as client:

        async def one_plan(i: int) -> float | None:
            t0 = time.perf_counter()
            try:
                r = await client.post("/api/plan", json=base | {"power_mw": 100.0 + i})
                r.raise_for_status()
            except httpx.HTTPError as exc:
                print(f"plan {i}: {type(exc).__name__}: {exc}")
                return None
            return time.perf_counter() - t0

        tasks = [asyncio.create_task(one_plan(i)) for i in range(plans)]
        trivial: list[float] = []
        while not all(t.done() for t in tasks):
            t0 = time.perf_counter()
            (await client.get("/api/catalog", params={"kind": "tiers"})).raise_for_status()
            trivial.append(time.perf_counter() - t0)
            await asyncio.sleep(0.1)
        plan_s = [s for s in (t.result() for t in tasks) if s is not None]
        print(
            f"{plans} concurrent distinct plans ({plans - len(plan_s)} failed): p50 {pct(plan_s, 0.5):.2f} s, "
            f"p90 {pct(plan_s, 0.9):.2f} s"
        )
        print(
            f"GET /api/catalog meanwhile ({len(trivial)} requests): p50 {1e3 * pct(trivial, 0.5):.1f} ms, "
            f"p90 {1e3 * pct(trivial, 0.9):.1f} ms, max {1e3 * max(trivial):.1f} ms"
        )
        for label in ("cold", "cached"):
            t0 = time.perf_counter()
            (await client.get("/api/claims")).raise_for_status()
            print(f"GET /api/claims {label}: {1e3 * (time.perf_counter() - t0):.1f} ms")


def alias_bomb_s() -> float:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    text = "\n".join(lines) + "\n"
    t0 = time.perf_counter()
    with contextlib.suppress(ScenarioError):
        parse_scenario(text, "bomb.yaml")
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--plans", type=int, default=200, help="concurrent plan requests")
    args = ap.parse_args()
    proc, url = serve()
    try:
        asyncio.run(flood(url, args.plans))
    finally:
        proc.terminate()
        proc.wait(10)
    print(f"2 kB YAML alias bomb (9^10 values) refused in {1e3 * alias_bomb_s():.1f} ms")


if __name__ == "__main__":
    main()
