"""The real llama.cpp server (SmolLM2) reuses a cached prompt prefix: `bench --shared-prefix` measures a large TTFT
saving against prompts of the same length that share nothing, and stores what each request reused."""

from __future__ import annotations

import json

import pytest

duckdb = pytest.importorskip("duckdb")
from typer.testing import CliRunner  # noqa: E402

from tokenomy.cli import app  # noqa: E402

runner = CliRunner()
PREFIX, TAIL = 200, 40  # 83% of each prompt is the shared system prompt


def _ttft_p50(url: str, db, *args: str) -> float:
    res = runner.invoke(
        app,
        ["bench", "--url", url, "--model", "smollm2", "--api", "completions", "-c", "1", "--num-prompts", "3"]
        + ["--osl", "1", "--db", str(db), "--json", *args],
    )
    assert res.exit_code == 0, res.output
    level = json.loads(res.stdout)["levels"][0]
    assert level["completed"] == 3
    return level["ttft_ms"]["p50"]


def test_a_long_shared_prefix_cuts_ttft_on_llama_cpp(llama_server, tmp_path):
    db = tmp_path / "r.duckdb"
    # cold: prompts of the same length that share nothing (no warmup: it would resend the first prompt)
    cold = _ttft_p50(llama_server, db, "--isl", str(PREFIX + TAIL), "--warmup", "0")
    # warm: the warmup request caches the system prompt; each measured request prefills only its own tail
    warm = _ttft_p50(llama_server, db, "--shared-prefix", str(PREFIX), "--isl", str(TAIL), "--warmup", "1")
    saving = 1.0 - warm / cold
    assert saving > 0.4, f"TTFT cold {cold:.0f} ms, warm {warm:.0f} ms: saving {saving:.0%}"
    con = duckdb.connect(str(db), read_only=True)
    reused = con.execute(
        "SELECT reused_tokens FROM requests WHERE NOT warmup AND reused_tokens IS NOT NULL"
    ).fetchall()
    con.close()
    assert [r[0] for r in reused] == [PREFIX] * 3  # only the warm run is a reuse workload
