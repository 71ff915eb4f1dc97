"""Hostile and mistaken input to scenarios and the CLI: a clear one-line error naming the field (or line), exit
code 2, no traceback, no file written that was not asked for, never a negative or NaN figure."""

from __future__ import annotations

import csv
import json

import pytest
from typer.testing import CliRunner

from tokenomy.cli import app
from tokenomy.econ.capacity import parse_mix
from tokenomy.econ.scenario import EXAMPLE_YAML, ScenarioError, parse_scenario
from tokenomy.safe_yaml import MAX_ALIASES, YamlError, load_yaml

runner = CliRunner()
POINTS_HEADER = "model_path,system,backend,isl,osl,concurrency,tp_size,measured_ttft_ms,measured_tpot_ms\n"
GOOD_ROW = "meta-llama/Llama-3.1-70B,h200_sxm,trtllm,1024,1024,16,4,300,20\n"


def cli(*args: str):
    """Run the CLI; the result must be a clean exit (0, 2 or 3), never an uncaught exception."""
    result = runner.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    return result


def bad(*args: str) -> str:
    """A CLI call that must fail as bad input: exit 2 and an `error:` line. Returns the output."""
    result = cli(*args)
    assert result.exit_code == 2, result.output
    return result.output


# ---- scenario files -------------------------------------------------------------------------------------------
def alias_bomb(levels: int) -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\npower_mw: 10\n"


def test_yaml_alias_bomb_is_rejected_with_its_line():
    text = alias_bomb(10)  # 9**10 values once expanded, from < 1 kB
    assert len(text) < 2048
    with pytest.raises(ScenarioError) as info:
        parse_scenario(text, "bomb.yaml")
    assert "bomb.yaml: line" in str(info.value) and "aliases" in str(info.value)


def test_yaml_alias_count_is_capped():
    text = "a: &a 1\nb: [" + ", ".join(["*a"] * (MAX_ALIASES + 1)) + "]\n"
    with pytest.raises(YamlError, match="line 2: more than"):
        load_yaml(text, "many.yaml")
    assert load_yaml("a: &a {x: 1}\nb: *a\n", "ok.yaml")[0] == {"a": {"x": 1}, "b": {"x": 1}}


def test_duplicate_yaml_key_is_rejected_with_both_lines():
    text = EXAMPLE_YAML.replace("pue: 1.2 ", "pue: 1.2\npue: 1.5 ")
    with pytest.raises(ScenarioError) as info:
        parse_scenario(text, "s.yaml")
    assert "line 6: duplicate key 'pue' (first on line 5)" in str(info.value)


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("pue: 1.2 ", "pue: true ", "pue"),
        ("power_mw: 1000 ", "power_mw: .nan ", "power_mw"),
        ("power_mw: 1000 ", "power_mw: .inf ", "power_mw"),
        ("power_mw: 1000 ", "power_mw: '1000' ", "power_mw"),
        ("lifetime_years: 5", "lifetime_years: 1.0e-300", "ownership.lifetime_years"),
        ("lifetime_years: 5", "lifetime_years: 7500", "ownership.lifetime_years"),
    ],
)
def test_scenario_numbers_are_strict_and_finite(old, new, field):
    with pytest.raises(ScenarioError) as info:
        parse_scenario(EXAMPLE_YAML.replace(old, new), "s.yaml")
    assert f" {field}: " in str(info.value) and "line " in str(info.value)


def test_an_unknown_backend_in_a_scenario_is_rejected():
    text = EXAMPLE_YAML.replace(
        "hardware: [{system: hgx_h200}]", "hardware: [{system: hgx_h200}]\n    backend: tensorflow"
    )
    with pytest.raises(ScenarioError, match="generations.0.backend"):
        parse_scenario(text, "s.yaml")


def test_a_tier_listed_twice_is_rejected():
    text = EXAMPLE_YAML.replace("{tier: ultra, share: 0.0}", "{tier: free, share: 0.0}")
    with pytest.raises(ScenarioError, match="free listed more than once"):
        parse_scenario(text, "s.yaml")


def test_fixed_allocation_override_checks_that_shares_sum_to_one(tmp_path):
    text = EXAMPLE_YAML.replace("allocation: fixed ", "allocation: optimize ").replace(
        "{tier: free, share: 0.25}", "{tier: free, share: 0.5}"
    )
    path = tmp_path / "s.yaml"
    path.write_text(text)
    out = bad("plan", str(path), "--allocation", "fixed", "--json")
    assert "sum to 1.25" in out
    out = bad("plan", str(path), "--allocation", "cheapest")
    assert "--allocation" in out and "fixed, optimize" in out


def test_control_characters_and_deep_nesting_are_located():
    with pytest.raises(YamlError, match=r"s.yaml: line 2: a control character \(#x00\)"):
        load_yaml("name: a\npower_mw: \x00 5\n", "s.yaml")
    with pytest.raises(YamlError, match="line 1: nested more than 64 levels deep"):
        load_yaml("[" * 100 + "]" * 100, "s.yaml")


def test_plan_on_a_folder_or_binary_file(tmp_path):
    assert "not a file" in bad("plan", str(tmp_path))
    binary = tmp_path / "s.yaml"
    binary.write_bytes(b"\xff\xfe\x00\x00power_mw: 1")
    assert "not UTF-8" in bad("plan", str(binary))


# ---- options: nonsense numbers and names ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("mix", "message"),
    [
        ("free=2,medium=-1", "between 0 and 1"),
        ("free=nan,medium=1", "between 0 and 1"),
        ("free=0.5,free=0.5", "given twice"),
        ("free", "tier=share"),
        ("free=0.2,medium=0.2", "sum to 0.4"),
    ],
)
def test_tier_mix_nonsense(mix, message):
    with pytest.raises(ValueError, match=message) as info:
        parse_mix(mix)
    assert str(info.value).startswith("tier_mix:")  # the library names its field, not a CLI flag
    assert message in bad("capacity", "-t", "1e12", "--tier-mix", mix)


@pytest.mark.parametrize("value", ["inf", "nan", "0", "-5"])
def test_tokens_per_day_must_be_finite_and_positive(value):
    assert "finite number" in bad("capacity", "-t", value)


def test_pue_nan_says_finite_not_a_bound():
    out = bad("cost", "-m", "llama-3.1-8b", "-H", "h100", "--pue", "nan")
    assert "--pue" in out and "finite number" in out and "nan" in out


@pytest.mark.parametrize(
    "args",
    [
        ["frontier", "-m", "llama-3.1-8b", "-H", "h100", "--backend", "tensorflow"],
        ["frontier", "-m", "llama-3.1-8b", "-H", "h100", "--precision", "fp3"],
        ["frontier", "-m", "llama-3.1-8b", "-H", "h100", "--cost-basis", "free"],
        ["frontier", "-m", "llama-3.1-8b", "-H", "h100", "--mtp-acceptance", "nan"],
        ["cost", "-m", "llama-3.1-8b", "-H", "h100", "--basis", "cheap"],
        ["cost", "-m", "llama-3.1-8b", "-H", "h100", "-u", "inf"],
    ],
)
def test_unknown_choices_and_non_finite_numbers_are_refused(args):
    out = bad(*args)
    assert args[-2] in out


def test_versus_must_be_a_closed_model_of_the_data():
    out = bad("consume", "report", "--versus", "nobody")
    assert "nobody" in out and "claude-4-sonnet-0522-thinking" in out


def test_fractional_concurrency_in_points_is_refused(tmp_path):
    """The row is refused with its reason in `note`; the other rows of the file are still predicted."""
    src = tmp_path / "p.csv"
    src.write_text(POINTS_HEADER + GOOD_ROW.replace(",16,4,", ",4.5,4,") + GOOD_ROW)
    result = cli("predict", "--points", str(src), "--out", str(tmp_path / "o.csv"))
    assert result.exit_code == 0, result.output
    bad_row, good_row = list(csv.DictReader((tmp_path / "o.csv").open()))
    note = bad_row["note"]
    assert "line 2" in note and "concurrency" in note and "whole number" in note
    assert bad_row["predicted_tpot_ms"] == "" and good_row["note"] == "" and good_row["predicted_tpot_ms"]


# ---- misleading messages --------------------------------------------------------------------------------------
def test_an_isl_that_fits_nowhere_says_it_does_not_fit_in_memory():
    result = cli("frontier", "-m", "llama-3.1-405b", "-H", "h100", "--isl", "1000000", "--osl", "100000")
    assert "does not fit in memory" in result.output and "--max-gpus" not in result.output
    result = cli("cost", "-m", "llama-3.1-405b", "-H", "h100", "--isl", "1000000", "--osl", "100000")
    assert "does not fit in memory" in result.output and "cannot reach" not in result.output


def test_escape_codes_in_ids_are_shown_escaped():
    result = cli("catalog", "show", "\x1b]0;pwned\x07\x1b[31mred")
    assert result.exit_code == 2
    # the id's own control sequences never reach the terminal raw (a console may still style its output)
    assert (
        "\x1b]0;" not in result.output and "\x1b[31mred" not in result.output and "\x07" not in result.output
    )
    assert "\\x1b" in result.output


# ---- paths ----------------------------------------------------------------------------------------------------
def test_points_that_are_not_a_csv_file(tmp_path):
    assert "not a file" in bad("validate", "--points", str(tmp_path))
    binary = tmp_path / "b.csv"
    binary.write_bytes(bytes(range(256)) * 4)
    assert "not UTF-8" in bad("validate", "--points", str(binary))
    utf16 = tmp_path / "u.csv"
    utf16.write_text(POINTS_HEADER + GOOD_ROW, encoding="utf-16")
    assert "UTF-16" in bad("validate", "--points", str(utf16))
    header_only = tmp_path / "h.csv"
    header_only.write_text(POINTS_HEADER)
    assert "no rows" in bad("validate", "--points", str(header_only))


@pytest.mark.parametrize("column", ["measured_ttft_ms", "measured_tpot_ms"])
@pytest.mark.parametrize("value", ["0", "-3", "nan", "inf"])
def test_measured_values_must_be_positive_times(tmp_path, column, value):
    row = dict(zip(POINTS_HEADER.strip().split(","), GOOD_ROW.strip().split(","), strict=True))
    row[column] = value
    src = tmp_path / "p.csv"
    src.write_text(POINTS_HEADER + ",".join(row.values()) + "\n" + GOOD_ROW)
    result = cli("validate", "--points", str(src), "--json")
    assert result.exit_code == 0, result.output  # the bad row is set aside with its reason; the file goes on
    data = json.loads(result.stdout)
    assert data["coverage"] == 0.5
    assert any("line 2" in reason and column in reason for reason in data["uncovered_reasons"])


@pytest.mark.slow
def test_calibration_that_is_a_folder_or_a_json_list(tmp_path):
    assert "not a file" in bad("validate", "--calibration", str(tmp_path))
    listed = tmp_path / "cal.json"
    listed.write_text("[1, 2, 3]")
    assert "not a tokenomy calibration" in bad("validate", "--calibration", str(listed))


@pytest.mark.slow
def test_outputs_are_checked_before_the_work(tmp_path):
    src = tmp_path / "p.csv"
    src.write_text(POINTS_HEADER + GOOD_ROW)
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    assert "is a folder" in bad("predict", "--points", str(src), "--out", str(tmp_path))
    assert "must end in .png" in bad("frontier", "-m", "llama-3.1-8b", "-H", "h100", "--plot", "x.txt")
    # A path under a regular file can never be written, even by root: found before planning or fitting.
    unwritable = str(a_file / "out.html")
    assert "does not exist" in bad("report", "--out", unwritable)
    assert "does not exist" in bad("plan", "--report", unwritable)
    assert "does not exist" in bad("calibrate", "--points", str(src), "--out", str(a_file / "c.json"))
    assert "does not exist" in bad("consume", "report", "--plot", str(a_file / "plots"))


def test_no_folder_is_created_silently(tmp_path):
    missing = tmp_path / "no-such-folder"
    out = bad("frontier", "-m", "llama-3.1-8b", "-H", "h100", "--plot", str(missing / "f.png"))
    assert "does not exist" in out and not missing.exists()
    out = bad("report", "--out", str(tmp_path / "new" / "r.html"))
    assert not (tmp_path / "new").exists()


@pytest.mark.slow
def test_json_mode_prints_only_json_on_success(tmp_path):
    result = cli("capacity", "-t", "1e12", "--tier-mix", "free=0.5,medium=0.5", "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert all(r["power_mw"] is None or r["power_mw"] > 0 for r in data["rows"])


def test_json_output_never_holds_nan(capsys):
    """`--json` prints strict JSON: a NaN or an infinity anywhere in the data prints as null."""
    from tokenomy.cli.base import print_json

    print_json({"a": float("nan"), "b": [1.5, float("inf"), (float("-inf"),)], "c": {"d": 2.0}})

    def refuse(name: str):
        raise ValueError(f"{name} in --json output")

    assert json.loads(capsys.readouterr().out, parse_constant=refuse) == {
        "a": None,
        "b": [1.5, None, [None]],
        "c": {"d": 2.0},
    }
