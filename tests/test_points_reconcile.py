"""One point per benchmark run: repeated rows counted once, unlabelled MTP runs read as MTP, contradictions out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tokenomy.cli import app
from tokenomy.points import (
    CONFLICT_FACTOR,
    packaged_paths,
    read_many,
    read_points,
    reconcile,
)

HEADER = (
    "model_path,system,backend,precision,isl,osl,concurrency,tp_size,attention_dp_size,moe_tp_size,moe_ep_size,"
    "spec_method,measured_ttft_ms,measured_tpot_ms\n"
)


def _write(path: Path, rows: list[str]) -> Path:
    path.write_text(HEADER + "".join(r + "\n" for r in rows))
    return path


def _row(model="deepseek-ai/DeepSeek-R1", tp=8, dp=1, moe_tp=1, ep=8, spec="", ttft=120.0, tpot=10.0, conc=4):
    return f"{model},h200_sxm,trtllm,fp8,1024,1024,{conc},{tp},{dp},{moe_tp},{ep},{spec},{ttft},{tpot}"


def test_one_run_listed_twice_is_counted_once_as_its_smallest_engine(tmp_path):
    src = _write(
        tmp_path / "p.csv",
        [
            _row(model="deepseek-ai/DeepSeek-V3", tp=64, ep=8, moe_tp=8, tpot=8.6123),
            _row(tpot=8.6123),  # the same medians: the same run, under another model name and engine
            _row(tpot=8.6123, ttft=121.0),  # another TTFT: another run
        ],
    )
    rec = reconcile(read_points(src)[0])
    assert rec.repeats == 1 and len(rec.points) == 2
    assert sorted(p.tp for p in rec.points) == [8, 8]


def test_an_unlabelled_run_takes_the_label_of_the_twin_it_matches(tmp_path):
    src = _write(
        tmp_path / "p.csv",
        [
            _row(spec="mtp", tpot=9.2, ttft=150),
            _row(spec="none", tpot=13.8, ttft=122),
            _row(tpot=8.7, ttft=490),  # unlabelled, near the MTP run: an MTP run
            _row(tpot=13.1, ttft=300),  # unlabelled, near the plain run: plain
            _row(tpot=8.0, ttft=480, conc=8),  # no labelled twin at C8: left as it is
        ],
    )
    rec = reconcile(read_points(src)[0])
    assert rec.mtp_labelled == 1 and rec.conflicting == 0
    by_ttft = {p.measured_ttft_ms: p.spec_method for p in rec.points}
    assert by_ttft == {150: "mtp", 122: "none", 490: "mtp", 300: "none", 480: "none"}
    assert "read as MTP" in rec.note


def test_an_unlabelled_run_far_from_every_labelled_twin_is_left_out(tmp_path):
    plain = 16.0
    src = _write(
        tmp_path / "p.csv",
        [
            _row(spec="none", tpot=plain, ttft=120),
            _row(tpot=plain / (CONFLICT_FACTOR * 1.2), ttft=300),  # far faster than the plain run: not plain
            _row(tpot=plain / 1.1, ttft=301),  # within the spread: kept
            _row(spec="none", tpot=plain / 2, ttft=302, conc=8),  # labelled rows are never second-guessed
            _row(spec="none", tpot=plain, ttft=303, conc=8),
        ],
    )
    rec = reconcile(read_points(src)[0])
    assert rec.conflicting == 1 and len(rec.points) == 4
    assert 300 not in {p.measured_ttft_ms for p in rec.points}
    assert "left out" in rec.note


def test_unlabelled_runs_of_one_configuration_that_disagree_are_left_out_when_no_label_says_which(tmp_path):
    src = _write(
        tmp_path / "p.csv",
        [
            _row(model="deepseek-ai/DeepSeek-V3", tpot=15.0, ttft=200),
            _row(
                tpot=15.0 / (CONFLICT_FACTOR * 1.2), ttft=201
            ),  # R1, one architecture with V3: cannot both be plain
            _row(model="deepseek-ai/DeepSeek-V3", tpot=15.0, ttft=202, conc=8),
            _row(tpot=15.0 / 1.1, ttft=203, conc=8),  # within the spread: both kept
            _row(tpot=15.0 / (CONFLICT_FACTOR * 1.2), ttft=204, conc=16),  # alone: kept
        ],
    )
    rec = reconcile(read_points(src)[0])
    assert rec.disagreeing == 2 and rec.conflicting == 0
    assert sorted(p.measured_ttft_ms for p in rec.points) == [202, 203, 204]
    assert "cannot all be plain runs" in rec.note


@pytest.mark.slow
def test_the_packaged_points_count_each_run_once():
    raw, _ = read_many(packaged_paths(), reconcile_runs=False)
    rec = reconcile(raw)
    assert rec.repeats > 0 and rec.mtp_labelled > 0  # aiconfigurator's file repeats runs and omits MTP labels
    seen = {
        (p.system, p.backend, p.isl, p.osl, p.concurrency, p.measured_ttft_ms, p.measured_tpot_ms)
        for p in rec.points
        if p.measured_tpot_ms is not None and p.measured_ttft_ms is not None
    }
    assert len(seen) == sum(
        1 for p in rec.points if p.measured_tpot_ms is not None and p.measured_ttft_ms is not None
    )
    assert len(read_many(packaged_paths())[0]) == len(rec.points)  # reading several files reconciles them
    # InferenceX labels every row: nothing of it is relabelled or dropped
    assert sum(p.origin == "inferencex_dsr1.csv" for p in rec.points) == sum(
        p.origin == "inferencex_dsr1.csv" for p in raw
    )


@pytest.mark.slow
def test_validate_says_what_reconciling_changed(tmp_path):
    src = _write(tmp_path / "p.csv", [_row(tpot=8.6123), _row(tpot=8.6123, tp=64, moe_tp=8)])
    result = CliRunner().invoke(app, ["validate", "--points", str(src), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["n_points"] == 1
    assert "counted once" in result.stderr


@pytest.mark.slow
def test_as_is_counts_every_row(tmp_path):
    src = _write(tmp_path / "p.csv", [_row(tpot=8.6123), _row(tpot=8.6123, tp=64, moe_tp=8)])
    result = CliRunner().invoke(app, ["validate", "--points", str(src), "--as-is", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["n_points"] == 2
    assert "counted once" not in result.stderr


@pytest.mark.slow
def test_a_fit_records_what_reconciling_changed(tmp_path):
    rows = [_row(tpot=8.6123), _row(tpot=8.6123, tp=64, moe_tp=8)]
    rows += [_row(tpot=9.0 + c / 4, ttft=130 + c, conc=c) for c in (1, 2, 8, 16, 32, 64)]
    src = _write(tmp_path / "p.csv", rows)
    out = tmp_path / "cal.json"
    result = CliRunner().invoke(app, ["calibrate", "--points", str(src), "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    runs = json.loads(out.read_text())["notes"]["runs"]
    assert runs == {"repeats_counted_once": 1, "read_as_mtp": 0, "left_out": 0, "left_out_disagreeing": 0}
