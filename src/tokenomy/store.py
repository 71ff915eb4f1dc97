"""Results in one DuckDB file: append-only tables `runs`, `requests` and `summaries`.

A run row is written before load starts and each request as it finishes, so a run that is interrupted
(Ctrl-C, crash) keeps every measurement it made; its summary row is simply missing.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
  run_id VARCHAR, sweep_id VARCHAR, created_at TIMESTAMP DEFAULT current_timestamp, url VARCHAR, model VARCHAR,
  api VARCHAR, mode VARCHAR, concurrency INTEGER, rate DOUBLE, isl INTEGER, osl INTEGER, num_prompts INTEGER,
  hardware VARCHAR, gpus INTEGER, backend VARCHAR, config JSON
);
CREATE TABLE IF NOT EXISTS requests (
  run_id VARCHAR, idx INTEGER, warmup BOOLEAN, ok BOOLEAN, error VARCHAR, prompt_tokens INTEGER,
  completion_tokens INTEGER, streamed_tokens INTEGER, usage_source VARCHAR, start_s DOUBLE, ttft_ms DOUBLE,
  e2e_ms DOUBLE, tpot_ms DOUBLE, itl_ms DOUBLE[]
);
CREATE TABLE IF NOT EXISTS summaries (
  run_id VARCHAR, finished_at TIMESTAMP DEFAULT current_timestamp, status VARCHAR, summary JSON
);
"""


REQUEST_COLUMNS = (
    "run_id",
    "idx",
    "warmup",
    "ok",
    "error",
    "prompt_tokens",
    "completion_tokens",
    "streamed_tokens",
    "usage_source",
    "start_s",
    "ttft_ms",
    "e2e_ms",
    "tpot_ms",
    "itl_ms",
)  # the `requests` table, in order
# their types, for the columnar insert
REQUEST_TYPES = ("VARCHAR", "INTEGER", "BOOLEAN", "BOOLEAN", "VARCHAR", "INTEGER", "INTEGER", "INTEGER")
REQUEST_TYPES += ("VARCHAR", "DOUBLE", "DOUBLE", "DOUBLE", "DOUBLE", "DOUBLE[]")


def default_db_path() -> Path:
    """$TOKENOMY_DB, else the user's data dir (XDG): ~/.local/share/tokenomy/results.duckdb."""
    if os.environ.get("TOKENOMY_DB"):
        return Path(os.environ["TOKENOMY_DB"])
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "tokenomy" / "results.duckdb"


class Store:
    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path else default_db_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.con = duckdb.connect(str(self.path))
        self.con.execute(SCHEMA)

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def start_run(self, sweep_id: str | None = None, **fields: Any) -> str:
        run_id = uuid.uuid4().hex[:12]
        config = fields.pop("config", {})
        cols = ["run_id", "sweep_id", *fields.keys(), "config"]
        self.con.execute(
            f"INSERT INTO runs ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
            [run_id, sweep_id or run_id, *fields.values(), json.dumps(config, default=str)],
        )
        return run_id

    def add_request(self, run_id: str, r: Any) -> None:
        """One finished request (a measure.client.RequestResult; duck-typed so the store imports no measure)."""
        self.add_requests(
            [
                (
                    run_id,
                    r.index,
                    r.warmup,
                    r.ok,
                    r.error,
                    r.prompt_tokens,
                    r.completion_tokens,
                    r.streamed_tokens,
                    r.usage_source,
                    r.start_s,
                    r.ttft_ms,
                    r.e2e_ms,
                    r.tpot_ms,
                    r.itl_ms,
                )
            ]
        )

    def add_requests(self, rows: Sequence[Sequence[Any]]) -> None:
        """Many request rows (values in REQUEST_COLUMNS order) in one columnar INSERT: DuckDB scans numpy
        columns and parses the ITL lists from JSON in C++, ~8x cheaper than binding each value from Python."""
        if not rows:
            return
        columns = list(zip(*rows, strict=True))
        columns[-1] = [None if v is None else json.dumps(v) for v in columns[-1]]
        _batch = {f"c{k}": np.array(col, dtype=object) for k, col in enumerate(columns)}  # noqa: F841
        select = ", ".join(f"CAST(c{k} AS {ty})" for k, ty in enumerate(REQUEST_TYPES))
        self.con.execute(f"INSERT INTO requests SELECT {select} FROM _batch")

    def finish_run(self, run_id: str, status: str, summary: dict) -> None:
        self.con.execute(
            "INSERT INTO summaries (run_id, status, summary) VALUES (?, ?, ?)",
            [run_id, status, json.dumps(summary, default=str)],
        )

    # ---- queries -------------------------------------------------------------------------------------------
    def list_runs(self) -> list[dict]:
        rows = self.con.execute(
            """SELECT r.run_id, r.sweep_id, r.created_at, r.model, r.url, r.mode, r.concurrency, r.rate, r.isl, r.osl,
                      r.hardware, r.backend, coalesce(s.status, 'interrupted') AS status,
                      (SELECT count(*) FROM requests q WHERE q.run_id = r.run_id AND NOT q.warmup) AS requests,
                      (SELECT count(*) FROM requests q WHERE q.run_id = r.run_id AND q.ok AND NOT q.warmup) AS ok
               FROM runs r LEFT JOIN summaries s USING (run_id) ORDER BY r.created_at"""
        ).fetchall()
        cols = [
            "run_id",
            "sweep_id",
            "created_at",
            "model",
            "url",
            "mode",
            "concurrency",
            "rate",
            "isl",
            "osl",
            "hardware",
            "backend",
            "status",
            "requests",
            "ok",
        ]
        return [dict(zip(cols, row, strict=True)) for row in rows]

    def run(self, run_id: str) -> dict:
        """A run (or every run of a sweep id) with its summary."""
        rows = self.con.execute(
            """SELECT r.*, s.status, s.summary FROM runs r LEFT JOIN summaries s USING (run_id)
               WHERE r.run_id = ? OR r.sweep_id = ? ORDER BY r.created_at""",
            [run_id, run_id],
        ).fetchall()
        if not rows:
            known = [r["run_id"] for r in self.list_runs()][-5:]
            raise KeyError(
                f"no run '{run_id}' in {self.path}" + (f"; recent: {', '.join(known)}" if known else "")
            )
        cols = [d[0] for d in self.con.description]
        out = []
        for row in rows:
            rec = dict(zip(cols, row, strict=True))
            rec["config"] = json.loads(rec["config"]) if rec["config"] else {}
            rec["summary"] = json.loads(rec["summary"]) if rec["summary"] else None
            rec["status"] = rec["status"] or "interrupted"
            out.append(rec)
        return {"run_id": run_id, "runs": out}

    def export(self, run_id: str, path: str | Path, fmt: str) -> Path:
        """Requests of a run (or every run of a sweep) to csv, parquet or json, with DuckDB's COPY."""
        path = Path(path)
        options = {
            "csv": "FORMAT CSV, HEADER",
            "parquet": "FORMAT PARQUET",
            "json": "FORMAT JSON, ARRAY true",
        }
        if fmt not in options:
            raise ValueError("--format must be csv, parquet or json")
        self.run(run_id)  # a clear KeyError when unknown
        if not run_id.replace("-", "").replace("_", "").isalnum():
            raise KeyError(f"not a run id: {run_id!r}")
        target = str(path).replace("'", "''")
        self.con.execute(
            f"""COPY (SELECT q.* FROM requests q JOIN runs r USING (run_id)
                      WHERE r.run_id = '{run_id}' OR r.sweep_id = '{run_id}' ORDER BY q.run_id, q.idx)
                TO '{target}' ({options[fmt]})"""
        )
        return path
