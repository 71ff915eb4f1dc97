"""predict / validate / calibrate / frontier through the CLI, and the accuracy that must not regress."""

from __future__ import annotations

import csv
import json
from importlib import resources
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tokenomy.cli import app
from tokenomy.perf.calibration import center_families, load_calibration
from tokenomy.points import packaged_paths, read_many, read_points
from tokenomy.validation import cross_validate, validate

POINTS = Path(str(resources.files("tokenomy.perf") / "data" / "calibration_points.csv"))
runner = CliRunner()

# In-sample on calibration.csv: the targets are TPOT ≤ 12%, tput ≤ 15%, TTFT ≤ 30%. The fit that also matches
# InferenceX's DeepSeek-R1 points reaches 12.0% / 11.9% / 29.9% (README); the limits are the targets.
THRESHOLDS = {"tpot": 0.12, "tput_per_gpu": 0.15, "ttft": 0.30}
MIN_COVERAGE = 0.98


@pytest.fixture(scope="module")
def points():
    """calibration_points.csv's rows as a fit counts them (one per run, see points.reconcile), and its header."""
    rows, _ = read_many(packaged_paths())
    return [p for p in rows if p.origin == POINTS.name], read_points(POINTS)[1]


def test_in_sample_accuracy_does_not_regress(points):
    rows, _ = points
    rep = validate(rows)
    assert rep.coverage >= MIN_COVERAGE
    for metric, limit in THRESHOLDS.items():
        assert rep.overall[metric].mdape <= limit, (metric, rep.overall[metric])


def test_packaged_calibration_records_its_data(points):
    cal = load_calibration()
    runs, digest = read_many(packaged_paths())
    assert len(cal.data_sha256) == 64 and cal.fitted_at
    assert cal.n_points == sum(p.measured_tpot_ms is not None for p in runs)  # fitted on every run, once each
    assert cal.data_sha256 == digest  # the digest of every packaged points file


def test_predict_writes_input_columns_plus_predictions(tmp_path, points):
    _, header = points
    src = tmp_path / "in.csv"
    with POINTS.open() as f:
        lines = f.readlines()[:40]
    # Two rows the model cannot predict: an unknown model and a deployment that cannot fit.
    lines.append("vllm,,acme/Unknown-7B,h100_sxm,bf16,1024,1024,,,8,1,1,,1,1,,\n")
    lines.append("vllm,,meta-llama/Llama-3.1-405B,h100_sxm,bf16,1024,1024,,,8,1,1,,1,1,,\n")
    src.write_text("".join(lines))
    out = tmp_path / "out.csv"
    result = runner.invoke(app, ["predict", "--points", str(src), "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary == {"rows": 41, "predicted": 39, "not_predicted": 2, "out": str(out)}
    rows = list(csv.DictReader(out.open()))
    assert list(rows[0])[: len(header)] == header
    assert list(rows[0])[-4:] == ["predicted_ttft_ms", "predicted_tpot_ms", "predicted_tput_per_gpu", "note"]
    assert float(rows[0]["predicted_tpot_ms"]) > 0 and rows[0]["note"] == ""
    assert "unknown model 'acme/Unknown-7B'" in rows[-2]["note"] and rows[-2]["predicted_tpot_ms"] == ""
    assert rows[-1]["note"].startswith("does not fit")


def test_predict_points_without_measurements(tmp_path):
    src = tmp_path / "plan.csv"
    src.write_text(
        "model_path,system,backend,isl,osl,concurrency,tp_size\nopenai/gpt-oss-120b,b200,vllm,1024,1024,16,1\n"
    )
    out = tmp_path / "out.csv"
    result = runner.invoke(app, ["predict", "--points", str(src), "--out", str(out)])
    assert result.exit_code == 0, result.output
    row = next(csv.DictReader(out.open()))
    assert 1 < float(row["predicted_tpot_ms"]) < 100


def test_a_bad_row_gets_a_note_and_the_file_goes_on(tmp_path):
    src = tmp_path / "bad.csv"
    src.write_text(
        "model_path,system,backend,isl,osl,concurrency,tp_size\n"
        "openai/gpt-oss-120b,b200,vllm,1024,x,16,1\n"
        "openai/gpt-oss-120b,b200,vllm,1024,1024,16,1\n"
    )
    out = tmp_path / "o.csv"
    result = runner.invoke(app, ["predict", "--points", str(src), "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["predicted"] == 1
    bad, good = list(csv.DictReader(out.open()))
    assert "line 2" in bad["note"] and "osl" in bad["note"] and bad["predicted_tpot_ms"] == ""
    assert good["note"] == "" and float(good["predicted_tpot_ms"]) > 0


def test_a_missing_column_stops_the_file(tmp_path):
    src = tmp_path / "bad.csv"
    src.write_text(
        "model_path,system,backend,isl,concurrency,tp_size\nopenai/gpt-oss-120b,b200,vllm,1024,16,1\n"
    )
    result = runner.invoke(app, ["predict", "--points", str(src), "--out", str(tmp_path / "o.csv")])
    assert result.exit_code == 2
    assert "osl" in result.output


def test_disaggregated_and_mtp_rows_are_predicted(tmp_path):
    """InferenceX's Dynamo rows name pools instead of tp_size; each is predicted over every GPU serving."""
    header = (
        "mode,spec_method,backend,model_path,system,precision,isl,osl,concurrency,num_gpus,tp_size,"
        "prefill_num_workers,prefill_tp_size,prefill_attention_dp_size,prefill_moe_tp_size,prefill_moe_ep_size,"
        "decode_num_workers,decode_tp_size,decode_attention_dp_size,decode_moe_tp_size,decode_moe_ep_size\n"
    )
    rows = (
        "disagg,none,trtllm,deepseek-ai/DeepSeek-R1-0528,b200_sxm,fp4,1024,1024,512,24,,1,1,8,1,8,2,8,1,1,8\n"
        "disagg,mtp,trtllm,deepseek-ai/DeepSeek-R1-0528,b200_sxm,fp4,1024,1024,512,24,,1,1,8,1,8,2,8,1,1,8\n"
        "agg,mtp,trtllm,deepseek-ai/DeepSeek-R1-0528,b200_sxm,fp4,1024,1024,64,8,8,,,,,,,,,,\n"
        "agg,none,trtllm,deepseek-ai/DeepSeek-R1-0528,b200_sxm,fp4,1024,1024,64,8,8,,,,,,,,,,\n"
    )
    src = tmp_path / "dis.csv"
    src.write_text(header + rows)
    out = tmp_path / "o.csv"
    result = runner.invoke(app, ["predict", "--points", str(src), "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    got = list(csv.DictReader(out.open()))
    assert all(r["note"] == "" for r in got), [r["note"] for r in got]
    tpot = [float(r["predicted_tpot_ms"]) for r in got]
    assert tpot[1] < tpot[0] and tpot[2] < tpot[3]  # MTP (fitted acceptance > 0) decodes faster


@pytest.mark.slow
def test_validate_json_reports_breakdowns():
    result = runner.invoke(app, ["validate", "--points", str(POINTS), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data["by"]) == {"system", "model", "backend", "isl_osl", "serving"}
    assert data["overall"]["tpot"]["mdape"] <= THRESHOLDS["tpot"]
    assert data["by"]["system"]["b200_sxm"]["tpot"]["n"] > 600


@pytest.mark.slow
def test_validate_defaults_to_every_packaged_file():
    result = runner.invoke(app, ["validate", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["n_points"] == len(read_many(packaged_paths())[0]) < 2364 + 100 + 1593  # one point per run
    assert {"agg", "agg + MTP", "disagg", "disagg + MTP"} <= set(data["by"]["serving"])
    assert {"mi300x", "mi355x", "gb200"} <= set(data["by"]["system"])


@pytest.mark.slow
def test_calibrate_then_use_the_fit(tmp_path, points):
    rows, header = points
    subset = tmp_path / "llama70b.csv"
    with subset.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=header)
        writer.writeheader()
        writer.writerows(p.raw for p in rows if p.model_path == "meta-llama/Llama-3.1-70B")
    out = tmp_path / "cal.json"
    result = runner.invoke(app, ["calibrate", "--points", str(subset), "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    cal = json.loads(out.read_text())
    assert {"trtllm", "vllm", "default"} <= set(cal["params"])
    # No Llama-70B point stores weights in a format its GPU lacks tensor cores for: the penalty is not fitted.
    assert cal["params"]["trtllm"]["dequant_eff"] == 1.0
    assert cal["notes"]["in_sample"]["tpot"]["mdape"] < 0.15
    result = runner.invoke(app, ["validate", "--points", str(subset), "--calibration", str(out), "--json"])
    assert json.loads(result.stdout)["overall"]["tpot"]["mdape"] < 0.15


@pytest.mark.slow
def test_cross_validation_scores_the_group_left_out(points):
    rows, _ = points
    sub = [p for p in rows if p.model_path in ("meta-llama/Llama-3.1-70B", "Qwen/Qwen3-32B")]
    rep = cross_validate(sub, "backend")
    assert rep.mode == "leave-one-backend-out"
    assert set(rep.by["backend"]) == {"trtllm", "vllm", "sglang"}
    # Predicting a backend from the others is harder than in-sample, but not arbitrary.
    assert 0.02 < rep.overall["tpot"].mdape < 0.6


def test_cv_rejects_unknown_grouping():
    result = runner.invoke(app, ["validate", "--cv", "colour"])
    assert result.exit_code == 2 and "system, model, backend" in result.output


@pytest.mark.slow
def test_frontier_json_and_plot(tmp_path):
    png = tmp_path / "f.png"
    result = runner.invoke(
        app,
        [
            "frontier",
            "-m",
            "llama-3.1-70b",
            "-H",
            "h200",
            "-H",
            "gb200",
            "--precision",
            "fp8",
            "--plot",
            str(png),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [d["hardware"] for d in data] == ["h200_sxm", "gb200"]
    assert all(len(d["points"]) > 10 for d in data)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000


def test_frontier_unknown_model_suggests():
    result = runner.invoke(app, ["frontier", "-m", "llama-3.1-71b", "-H", "h200"])
    assert result.exit_code == 2 and "llama-3.1-70b" in result.output


def test_blank_attention_dp_is_read_from_the_moe_convention(points):
    """vLLM rows with MoE-TP wider than TP and a blank attention_dp_size are DP engines (tp × dp = moe_tp × ep)."""
    rows, _ = points
    wide = [p for p in rows if p.raw.get("attention_dp_size", "") == "" and p.moe_tp * p.moe_ep > p.tp]
    assert wide, "the shipped data has such rows"
    assert all(p.tp * p.dp == p.moe_tp * p.moe_ep for p in wide)
    dense = [p for p in rows if p.raw.get("attention_dp_size", "") == "" and p.moe_tp * p.moe_ep <= p.tp]
    assert all(p.dp == 1 for p in dense)


def test_centering_families_keeps_fitted_predictions_and_averages_unseen_ones():
    from tokenomy.perf.calibration import combine

    base = {"mem_decode": 0.5, "mem_experts": 0.4, "step_overhead_ms": 1.0}
    tweaks = {
        "hopper": {"mem_decode": 0.8, "mem_experts": 1.0},
        "blackwell": {"mem_decode": 1.25, "mem_experts": 1.0},
    }
    tweaks = {
        f: {**{k: 1.0 for k in ("compute_decode", "compute_prefill", "step_overhead_ms")}, **t}
        for f, t in tweaks.items()
    }
    new_base, new_tweaks = center_families(base, tweaks)
    for fam in tweaks:
        assert combine(new_base, new_tweaks[fam]) == combine(base, tweaks[fam])
    # The two families' multipliers 0.8 and 1.25 average to 1 in log space: the base stays.
    assert new_base["mem_decode"] == pytest.approx(0.5)
    tweaks["blackwell"]["mem_experts"] = 1.44
    new_base, _ = center_families(base, tweaks)
    assert new_base["mem_experts"] == pytest.approx(0.4 * 1.2)
