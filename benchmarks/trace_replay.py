"""Replay a Mooncake-format trace through `tokenomy bench --trace` against the fake server and check the schedule
and the reuse from what the bench stored in DuckDB.

Run: .venv/bin/python benchmarks/trace_replay.py [--requests 1000] [--rate 25] [--trace FILE.jsonl]
Printed: how late each request left against the trace's timestamp (p50 / p99 / max, from the `requests` table:
start_s − due_s), the reuse share stored per request against the share the trace's hash ids give, and the
wall time. The fake server runs in its own process (as a real server would); the bench is the CLI itself.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np

from tokenomy.measure.fake_server import free_port, wait_until_serving
from tokenomy.workloads.mooncake import prefix_reuse, read_trace, synthetic_trace, write_trace


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--rate", type=float, default=25.0, help="arrivals per second of the synthetic trace")
    ap.add_argument(
        "--trace", type=Path, default=None, help="a Mooncake JSONL trace instead of a synthetic one"
    )
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "trace.jsonl"
        if a.trace:
            trace = read_trace(a.trace)[: a.requests]
        else:
            trace = synthetic_trace(a.requests, rate_per_s=a.rate, mean_input=2048, mean_output=64, seed=0)
        path.write_text(write_trace(trace), encoding="utf-8")
        span = (trace[-1].timestamp - trace[0].timestamp) / 1e3
        print(
            f"trace: {len(trace):,} requests over {span:.1f} s, hash-id reuse share {prefix_reuse(trace).share:.4%}"
        )
        port = free_port()
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
        server = subprocess.Popen(
            [sys.executable, "-m", "tokenomy.measure.fake_server", "--port", str(port), "--ttft-ms", "20"]
            + ["--gap-ms", "5"],
            env=env,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            wait_until_serving(url, 10.0, server)
            db = Path(tmp) / "results.duckdb"
            t0 = time.perf_counter()
            out = subprocess.run(
                [sys.executable, "-m", "tokenomy.cli", "bench", "--url", url, "--model", "fake-model"]
                + ["--api", "completions", "--trace", str(path), "--db", str(db), "--json"],
                env=env,
                capture_output=True,
                text=True,
            )
            wall = time.perf_counter() - t0
        finally:
            server.terminate()
            server.wait(10)
        if out.returncode != 0:
            sys.exit(f"bench failed ({out.returncode}): {out.stderr[-2000:]}")
        doc = json.loads(out.stdout)
        con = duckdb.connect(str(db), read_only=True)
        rows = con.execute(
            "SELECT start_s - due_s, planned_tokens, reused_tokens, ok FROM requests WHERE NOT warmup ORDER BY idx"
        ).fetchall()
        con.close()
    late_ms = np.array([r[0] for r in rows]) * 1e3
    stored_share = sum(r[2] for r in rows) / sum(r[1] for r in rows)
    expected = prefix_reuse(trace)
    exact = [r[2] for r in rows] == expected.cached_tokens
    print(
        f"replayed: {len(rows):,} requests stored, {sum(r[3] for r in rows):,} ok, in {wall:.1f} s (CLI, DuckDB)"
    )
    print(
        f"send lateness vs trace timestamps: p50 {np.percentile(late_ms, 50):.2f} ms, "
        f"p99 {np.percentile(late_ms, 99):.2f} ms, max {late_ms.max():.2f} ms (target: p99 <= 5 ms)"
    )
    print(
        f"reuse share stored {stored_share:.4%} vs hash ids {expected.share:.4%}: "
        f"{'exact, request by request' if exact else 'DIFFERENT'}"
    )
    worst = np.argsort(late_ms)[-5:][::-1]
    print("latest sends (request: ms late): " + ", ".join(f"{i}: {late_ms[i]:.1f}" for i in worst))
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} (1 min) at the end")
    print(f"summary (bench --json): send_late_ms p99 {doc['levels'][0]['send_late_ms']['p99']:.2f} ms")


if __name__ == "__main__":
    main()
