"""The results database as a file: folders, foreign, truncated, locked or missing files give a clear error; readers
never write or create; writers refuse a DuckDB file that is not tokenomy's. And `consume run` against a server whose
200 answers are not chat completions: each a counted failure, stored, the run goes on."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

duckdb = pytest.importorskip("duckdb")
web = pytest.importorskip("aiohttp.web")

from conftest import AiohttpServer  # noqa: E402
from tokenomy.cli import app  # noqa: E402
from tokenomy.store import Store, StoreError  # noqa: E402

runner = CliRunner()


def tokenomy_db(path) -> str:
    """A real results database with one (interrupted) run."""
    with Store(path) as store:
        run_id = store.start_run(url="http://x", model="m", api="chat", mode="concurrency", concurrency=1)
    return run_id


def test_a_folder_is_not_a_database(tmp_path):
    with pytest.raises(StoreError, match="is a folder"):
        Store(tmp_path)
    with pytest.raises(StoreError, match="is a folder"):
        Store.reader(tmp_path)


def test_a_file_that_is_not_duckdb(tmp_path):
    other = tmp_path / "notes.duckdb"
    other.write_text("hello, not a database\n" * 10)
    for opener in (Store, Store.reader):
        with pytest.raises(StoreError, match="not a DuckDB database file"):
            opener(other)
    assert other.read_text().startswith("hello")
    result = runner.invoke(app, ["results", "list", "--db", str(other)])
    assert result.exit_code == 2 and "not a DuckDB database file" in result.output


def test_a_truncated_database(tmp_path):
    path = tmp_path / "r.duckdb"
    tokenomy_db(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    for opener in (Store.reader, Store):
        with pytest.raises(StoreError) as info:
            opener(path)
        assert str(path) in str(info.value)
    result = runner.invoke(app, ["results", "list", "--db", str(path)])
    assert result.exit_code == 2 and result.output.startswith("error:") and str(path) in result.output
    # Cut near the end, the file still opens; the damage shows only when a query reads the missing pages.
    path.write_bytes(data[:-4096])
    result = runner.invoke(app, ["results", "list", "--db", str(path), "--json"])
    assert result.exit_code == 2 and result.output.startswith("error: results database:"), result.output


@pytest.mark.slow
def test_a_database_locked_by_another_process(tmp_path):
    path = tmp_path / "r.duckdb"
    tokenomy_db(path)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print(1, flush=True); time.sleep(60)",
            str(path),
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout.readline().strip() == b"1"
        with pytest.raises(StoreError, match="in use by another process"):
            Store.reader(path)
        result = runner.invoke(app, ["results", "list", "--db", str(path)])
        assert result.exit_code == 2 and "in use by another process" in result.output
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.slow
def test_readers_open_read_only_and_never_create(tmp_path):
    path = tmp_path / "r.duckdb"
    run_id = tokenomy_db(path)
    with Store.reader(path) as store:
        assert store.run(run_id)["runs"][0]["model"] == "m"
        with pytest.raises(duckdb.Error):
            store.con.execute("CREATE TABLE x (a INTEGER)")
    missing = tmp_path / "typo.duckdb"
    for args in (
        ["results", "list", "--db", str(missing)],
        ["results", "show", run_id, "--db", str(missing)],
        ["calibrate", "--from-db", run_id, "--db", str(missing), "--out", str(tmp_path / "c.json")],
        ["consume", "report", "--db", str(missing)],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert "no results database" in result.output
        assert not missing.exists(), args


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to read-only files")
def test_a_read_only_file_is_readable_but_not_writable(tmp_path):
    path = tmp_path / "r.duckdb"
    tokenomy_db(path)
    path.chmod(0o444)
    with Store.reader(path) as store:
        assert len(store.list_runs()) == 1
    with pytest.raises(StoreError, match="read-only"):
        Store(path)


@pytest.mark.slow
def test_writers_refuse_an_unrelated_duckdb_and_add_nothing(tmp_path):
    path = tmp_path / "theirs.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE runs (id INTEGER, athlete VARCHAR)")
    con.close()
    with pytest.raises(StoreError, match="table 'runs' is not tokenomy's"):
        Store(path)
    other = tmp_path / "other.duckdb"
    con = duckdb.connect(str(other))
    con.execute("CREATE TABLE sales (id INTEGER)")
    con.close()
    with pytest.raises(StoreError, match="tables sales"):
        Store(other)
    for p, table in ((path, "runs"), (other, "sales")):
        con = duckdb.connect(str(p), read_only=True)
        assert [r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()] == [
            table
        ]
        con.close()


def test_a_writer_needs_an_existing_folder(tmp_path):
    with pytest.raises(StoreError, match="does not exist"):
        Store(tmp_path / "no" / "such" / "r.duckdb")
    assert not (tmp_path / "no").exists()


@pytest.mark.slow
def test_export_to_a_folder_is_refused(tmp_path):
    path = tmp_path / "r.duckdb"
    run_id = tokenomy_db(path)
    result = runner.invoke(app, ["results", "export", run_id, "--db", str(path), "-o", str(tmp_path)])
    assert result.exit_code == 2 and "is a folder" in result.output
    result = runner.invoke(
        app, ["results", "export", run_id, "--db", str(path), "-o", str(tmp_path / "r.csv")]
    )
    assert result.exit_code == 0, result.output


# ---- consume run against 200 answers that are not chat completions ---------------------------------------------
BODIES = [
    (b"<html>gateway page</html>", "text/html"),
    (b"[1, 2, 3]", "application/json"),
    (b'{"choices": "none"}', "application/json"),
    (
        b'{"choices": [{"message": {"content": "4"}}], "usage": {"completion_tokens": "many"}}',
        "application/json",
    ),
    (
        b'{"choices": [{"message": {"content": "4"}}], "usage": {"completion_tokens": -19547}}',
        "application/json",
    ),
]


class BadBodies(AiohttpServer):
    """An OpenAI-like server whose chat answers cycle through BODIES, all with HTTP 200."""

    def __init__(self):
        super().__init__()
        self.count = 0

    async def models(self, request):
        return web.json_response({"data": [{"id": "fake-model"}]})

    async def chat(self, request):
        body, kind = BODIES[self.count % len(BODIES)]
        self.count += 1
        return web.Response(body=body, content_type=kind)


@pytest.mark.slow
def test_consume_run_counts_non_completion_answers_as_failures(tmp_path):
    suite = tmp_path / "suite.json"
    prompts = [
        {"prompt_id": f"p{i}", "type": "math", "prompt": "2+2?", "criteria": ["says 4"]} for i in range(5)
    ]
    suite.write_text(json.dumps({"prompts": prompts}))
    db = tmp_path / "c.duckdb"
    with BadBodies() as url:
        result = runner.invoke(
            app,
            [
                "consume",
                "run",
                "--url",
                url,
                "--model",
                "fake-model",
                "--suite",
                str(suite),
                "--db",
                str(db),
                "--json",
            ],
        )
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 3, result.output
    summary = json.loads(result.stdout)
    assert summary["tasks"] == 5 and summary["failed"] == 5 and summary["completion_tokens"] == 0
    with Store.reader(db) as store:
        errors = [
            r[0] for r in store.con.execute("SELECT error FROM consume_results ORDER BY prompt_id").fetchall()
        ]
    assert len(errors) == 5 and all(errors)
    assert any("not JSON" in e for e in errors) and any("completion_tokens" in e for e in errors)


def test_escape_codes_in_stored_names_are_printed_escaped(tmp_path):
    path = tmp_path / "r.duckdb"
    with Store(path) as store:
        store.start_run(url="http://x", model="\x1b[31mred\x1b]0;title\x07", api="chat", mode="concurrency")
    result = runner.invoke(app, ["results", "list", "--db", str(path)])
    assert result.exit_code == 0
    # the data's own control sequences never reach the terminal raw (a console may still style its table)
    assert (
        "\x1b[31mred" not in result.output and "\x1b]0;" not in result.output and "\x07" not in result.output
    )
    assert "\\x1b" in result.output  # shown escaped (the narrow table may wrap the rest of the name)
