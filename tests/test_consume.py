"""Consumption: the Token Economy reproduction, rule grading on hand-written answers for every prompt, suite
validation, and an end-to-end run of the suite against the real SmolLM2 server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tokenomy.cli import app
from tokenomy.consume.report import consume_report, dataset_rows
from tokenomy.consume.suite import SuiteError, grade, load_suite

runner = CliRunner()

# A right and a wrong answer, written by hand, for each of the 19 prompts.
ANSWERS = {
    "one_plus_one": ("1 + 1 = 2", "The answer is 3."),
    "capital_of_australia": ("The capital of Australia is Canberra.", "The capital of Australia is Sydney."),
    "train_distance": ("It travels 60 × 2.5 = 150 kilometers.", "It travels 120 kilometers."),
    "brazil_continent": ("Brazil is in South America.", "Brazil is located in Africa."),
    "leap_year_february_days": ("February has 29 days in a leap year.", "February has 28 days."),
    "AIME2023II_P1": (
        "Let the least be a... so the greatest is \\boxed{220}.",
        "The greatest is \\boxed{330}.",
    ),
    "AIME2023II_P1_mod": ("Scaling by 3, the answer is 660.", "The answer is 220."),
    "AIME2025I_P2_modified": ("Summing n = 1, 3, 37 gives \\boxed{41}", "\\boxed{49}"),
    "AIME2025I_Problem_2": ("The sum is 49.", "The sum is 41."),
    "Ice cream parlor": ("N = 2016, and 2016 mod 1000 = 16. Answer: 16", "The answer is 2016 mod 1000 = 61"),
    "Integer pairs": ("There are 117 ordered pairs.", "There are 116 ordered pairs."),
    "roses_logic": (
        "No, we cannot conclude that some roses are red.",
        "Yes, we can conclude some roses are red.",
    ),
    "bridge_torch_easy_10m": (
        "The bridge holds four, so all four cross together in 10 minutes.",
        "A and B cross (3), A returns (1), C and D cross (10)... 17 minutes.",
    ),
    "bridge_torch_easy": (
        "All four walk across together: 10 minutes.",
        "Send A and B first, then A returns.",
    ),
    "bridge_torch_impossible": (
        "It is impossible: the minimum is 17 minutes only with B taking 2, here 19.",
        "A and B cross, A returns, C and D cross, B returns, A and B cross.",
    ),
    "bridge_torch_default": (
        "A+B (2), A back (1), C+D (10), B back (2), A+B (2): total 17 minutes.",
        "All four cross together in 10 minutes.",
    ),
    "monty_hall_inverse": (
        "You want the donkey-free car, and you already likely hold a car: keep your door.",
        "You should switch, as in the classic Monty Hall problem.",
    ),
    "monty_hall_default": (
        "You should switch: switching wins with probability 2/3.",
        "It doesn't matter, it's 50/50, so stay with your door.",
    ),
    "monty_appliance_simple": (
        "Take the box the clerk tested: it is known to work.",
        "Pick any of the remaining three boxes.",
    ),
}


def test_token_efficiency_reproduces_the_published_deepseek_r1_0528_ratios():
    rep = consume_report()
    assert round(rep.get("deepseek-r1-0528", "knowledge").efficiency_ratio, 2) == 4.37
    assert round(rep.get("deepseek-r1-0528", "Math").efficiency_ratio, 2) == 2.11
    assert round(rep.get("deepseek-r1-0528", "logic puzzle").efficiency_ratio, 2) == 2.01
    # the references average to 1 by construction
    refs = [rep.get(m, "Math").efficiency_ratio for m in rep.reference_models]
    assert sum(refs) / 3 == pytest.approx(1.0, rel=0.15)
    assert len(dataset_rows()) == 2178


def test_cost_per_solved_task_and_crossover():
    rep = consume_report()
    s = rep.get("deepseek-r1-0528", "Math")
    assert s.usd_per_solved_task == pytest.approx(s.usd_per_task / s.success_rate)
    c = next(c for c in rep.crossovers if c.open_model == "deepseek-r1-0528" and c.type == "Math")
    closed = rep.get("claude-4-sonnet-0522-thinking", "Math")
    assert c.required_price_ratio == pytest.approx(
        (closed.mean_completion_tokens / closed.success_rate) / (s.mean_completion_tokens / s.success_rate)
    )


@pytest.mark.parametrize("prompt_id", sorted(ANSWERS))
def test_rule_grading_right_and_wrong(prompt_id):
    task = next(t for t in load_suite() if t.prompt_id == prompt_id)
    right, wrong = ANSWERS[prompt_id]
    assert grade(task, right)[0] == 1.0, right
    assert grade(task, wrong)[0] == 0.0, wrong


def test_every_prompt_has_rules_and_an_answer_pair():
    assert {t.prompt_id for t in load_suite()} == set(ANSWERS)


def test_suite_with_a_mistake_names_the_prompt(tmp_path):
    suite = {
        "prompts": [
            {
                "prompt_id": "ok",
                "type": "knowledge",
                "prompt": "2+2?",
                "criteria": ["4"],
                "rules": [[{"final_number": 4}]],
            },
            {
                "prompt_id": "broken",
                "type": "knowledge",
                "prompt": "3+3?",
                "criteria": ["6"],
                "rules": [[{"final_number": 6, "any_of": ["six"]}]],
            },
        ]
    }
    path = tmp_path / "s.json"
    path.write_text(json.dumps(suite))
    with pytest.raises(SuiteError, match="prompt 'broken'"):
        load_suite(str(path))
    result = runner.invoke(
        app, ["consume", "run", "--url", "http://127.0.0.1:9", "--model", "m", "--suite", str(path)]
    )
    assert result.exit_code == 2 and "broken" in result.output


def test_consume_run_against_real_smollm2_appears_in_report(llama_server, tmp_path):
    db = tmp_path / "c.duckdb"
    result = runner.invoke(
        app,
        [
            "consume",
            "run",
            "--url",
            llama_server,
            "--model",
            "smollm2",
            "--runs",
            "1",
            "--max-tokens",
            "24",
            "--db",
            str(db),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["tasks"] == summary["answered"] == 19
    assert summary["completion_tokens"] > 19
    result = runner.invoke(app, ["consume", "report", "--db", str(db), "--json"])
    assert result.exit_code == 0, result.output
    stats = [s for s in json.loads(result.stdout)["stats"] if s["model"] == "smollm2"]
    assert {s["type"] for s in stats} == {"knowledge", "Math", "logic puzzle"}
    assert all(s["source"] == "measured" and 0 < s["mean_completion_tokens"] <= 24 for s in stats)
    assert all(s["efficiency_ratio"] is not None for s in stats)  # measured against the same references
    import duckdb

    rows = duckdb.connect(str(db)).execute("SELECT count(*), count(answer) FROM consume_results").fetchone()
    assert rows == (19, 19)


@pytest.mark.slow
def test_report_plots(tmp_path):
    result = runner.invoke(app, ["consume", "report", "--plot", str(tmp_path), "--json"])
    assert result.exit_code == 0
    for p in json.loads(result.stdout)["plots"]:
        assert Path(p).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_genai_prices_table_offline():
    pytest.importorskip("genai_prices")
    result = runner.invoke(app, ["consume", "report", "--prices", "genai-prices", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    priced = {s["model"] for s in data["stats"] if s["usd_per_task"] is not None}
    assert {"deepseek-r1-0528", "claude-opus-4"} <= priced
    assert data["price_table"] == "genai-prices"
