"""Results in one DuckDB file: append-only tables `runs`, `requests` and `summaries`.

A run row is written before load starts and each request as it finishes, so a run that is interrupted
(Ctrl-C, crash) keeps every measurement it made; its summary row is simply missing. Readers open the file
read-only and never create it; writers check that an existing file holds tokenomy's tables before writing.
"""

from __future__ import annotations

import functools
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
  e2e_ms DOUBLE, tpot_ms DOUBLE, itl_ms DOUBLE[], planned_tokens INTEGER, reused_tokens INTEGER,
  session_id INTEGER, turn INTEGER, due_s DOUBLE
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
    "planned_tokens",
    "reused_tokens",
    "session_id",
    "turn",
    "due_s",
)  # the `requests` table, in order
# their types, for the columnar insert
REQUEST_TYPES = ("VARCHAR", "INTEGER", "BOOLEAN", "BOOLEAN", "VARCHAR", "INTEGER", "INTEGER", "INTEGER")
REQUEST_TYPES += ("VARCHAR", "DOUBLE", "DOUBLE", "DOUBLE", "DOUBLE", "DOUBLE[]")
REQUEST_TYPES += ("INTEGER", "INTEGER", "INTEGER", "INTEGER", "DOUBLE")
_ITL = REQUEST_COLUMNS.index("itl_ms")
# Columns added after the first release: a file without them gets them (ALTER TABLE … ADD COLUMN, NULL in
# older rows) when opened for writing; readers see them as missing and go on.
ADDED_COLUMNS = {
    "requests": dict(zip(REQUEST_COLUMNS[_ITL + 1 :], REQUEST_TYPES[_ITL + 1 :], strict=True)),
}


def default_db_path() -> Path:
    """$TOKENOMY_DB, else the user's data dir (XDG): ~/.local/share/tokenomy/results.duckdb."""
    if os.environ.get("TOKENOMY_DB"):
        return Path(os.environ["TOKENOMY_DB"])
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "tokenomy" / "results.duckdb"


class StoreError(Exception):
    """A results database that cannot be opened or is not tokenomy's; the message names the file."""


DUCKDB_MAGIC = b"DUCK"  # bytes 8-12 of every DuckDB database file


@functools.cache
def _expected_columns() -> dict[str, set[str]]:
    """Tokenomy's tables and their columns, read from SCHEMA itself."""
    con = duckdb.connect(":memory:")
    try:
        con.execute(SCHEMA)
        return _columns(con)
    finally:
        con.close()


def _columns(con: duckdb.DuckDBPyConnection) -> dict[str, set[str]]:
    rows = con.execute(
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'main'"
    ).fetchall()
    tables: dict[str, set[str]] = {}
    for table, column in rows:
        tables.setdefault(table, set()).add(column)
    return tables


def _check_file(path: Path, read_only: bool, default: bool) -> None:
    """Refuse, with a reason, a path that is not (or cannot become) a tokenomy DuckDB file."""
    if path.is_dir():
        raise StoreError(f"{path}: is a folder, not a DuckDB file")
    if not path.exists():
        if read_only:
            raise StoreError(f"{path}: no results database there (nothing stored yet, or a mistyped path)")
        if default:
            path.parent.mkdir(parents=True, exist_ok=True)
        if not path.parent.is_dir():
            raise StoreError(f"{path}: folder {path.parent} does not exist")
        if not os.access(path.parent, os.W_OK | os.X_OK):
            raise StoreError(f"{path}: folder {path.parent} is read-only; cannot create the database")
        return
    if not path.is_file():
        raise StoreError(f"{path}: not a regular file")
    try:
        with path.open("rb") as f:
            head = f.read(16)
    except OSError as exc:
        raise StoreError(f"{path}: cannot read ({exc.strerror})") from None
    if len(head) < 12 or head[8:12] != DUCKDB_MAGIC:
        raise StoreError(f"{path}: not a DuckDB database file")
    if not read_only and not os.access(path, os.W_OK):
        raise StoreError(f"{path}: read-only; cannot store results in it")


def _connect(path: Path, read_only: bool) -> duckdb.DuckDBPyConnection:
    try:
        return duckdb.connect(str(path), read_only=read_only)
    except duckdb.Error as exc:
        text = str(exc)
        if "lock" in text.lower() or "different configuration" in text:
            raise StoreError(
                f"{path}: in use by another process (a running bench?); try again later"
            ) from None
        first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
        raise StoreError(f"{path}: cannot open as a DuckDB database ({first})") from None


class Store:
    """The results database. ``read_only=True`` for readers: the file must exist and is never changed."""

    def __init__(self, path: str | Path | None = None, read_only: bool = False):
        self.path = Path(path) if path else default_db_path()
        self.read_only = read_only
        _check_file(self.path, read_only, default=path is None)
        self.con = _connect(self.path, read_only)
        try:
            self._check_schema()
            if not read_only:
                self.con.execute(SCHEMA)
        except duckdb.Error as exc:
            self.con.close()
            raise StoreError(
                f"{self.path}: unreadable DuckDB database ({str(exc).splitlines()[0]})"
            ) from None
        except BaseException:
            self.con.close()
            raise

    @classmethod
    def reader(cls, path: str | Path | None = None) -> Store:
        """Open an existing database read-only (list, show, export, calibrate from it, reports)."""
        return cls(path, read_only=True)

    def _check_schema(self) -> None:
        """An existing file must hold tokenomy's tables (with their columns), or nothing at all when writing."""
        tables = _columns(self.con)
        expected = _expected_columns()
        ours = [t for t in expected if t in tables]
        for table in ours:
            missing = sorted(expected[table] - tables[table] - set(ADDED_COLUMNS.get(table, {})))
            if missing:
                raise StoreError(
                    f"{self.path}: its table '{table}' is not tokenomy's (no column {', '.join(missing)}); "
                    "use another file"
                )
        if not ours and tables:
            raise StoreError(
                f"{self.path}: a DuckDB database of something else (tables {', '.join(sorted(tables))}); "
                "use another file"
            )
        if self.read_only and len(ours) < len(expected):
            raise StoreError(f"{self.path}: holds no tokenomy results (tables missing)")
        if not self.read_only:  # an older file: add the newer columns (older rows read NULL)
            for table in ours:
                for column, kind in ADDED_COLUMNS.get(table, {}).items():
                    if column not in tables[table]:
                        self.con.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")

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
        self.add_requests([request_values(run_id, r)])

    def add_requests(self, rows: Sequence[Sequence[Any]]) -> None:
        """Many request rows (values in REQUEST_COLUMNS order) in one columnar INSERT: DuckDB scans numpy
        columns and parses the ITL lists from JSON in C++, ~8x cheaper than binding each value from Python."""
        if not rows:
            return
        columns = list(zip(*rows, strict=True))
        columns[_ITL] = [None if v is None else json.dumps(v) for v in columns[_ITL]]
        _batch = {f"c{k}": np.array(col, dtype=object) for k, col in enumerate(columns)}  # noqa: F841
        select = ", ".join(f"CAST(c{k} AS {ty})" for k, ty in enumerate(REQUEST_TYPES))
        names = ", ".join(REQUEST_COLUMNS)  # by name: a migrated file may order its columns differently
        self.con.execute(f"INSERT INTO requests ({names}) SELECT {select} FROM _batch")

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
        if path.is_dir():
            raise StoreError(f"{path}: is a folder; give a file name")
        if not path.parent.is_dir():
            raise StoreError(f"{path}: folder {path.parent} does not exist")
        options = {
            "csv": "FORMAT CSV, HEADER",
            "parquet": "FORMAT PARQUET",
            "json": "FORMAT JSON, ARRAY true",
        }
        if fmt not in options:
            raise ValueError(f"format must be csv, parquet or json, not '{fmt}'")
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


def request_values(run_id: str, r: Any) -> tuple:
    """A finished request as a `requests` row in REQUEST_COLUMNS order (``idx`` is the request's ``index``)."""
    return (run_id, *(getattr(r, "index" if c == "idx" else c) for c in REQUEST_COLUMNS[1:]))
