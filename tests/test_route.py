"""Routing policies from the packaged Token Economy data: oracle bound, cascade and router guarantees."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tokenomy.cli import app
from tokenomy.consume.report import Row, dataset_prices, dataset_rows, tier_prices
from tokenomy.consume.route import (
    build_table,
    cascade,
    learn_router,
    oracle,
    route_policy,
    route_report,
    single,
    split_prompts,
)

ROWS = dataset_rows()
TABLE, _ = build_table(ROWS, dataset_prices())
PROMPTS = TABLE.prompts()


def test_oracle_is_never_worse_than_any_single_model():
    for prompts in (PROMPTS, split_prompts(TABLE, 0.5, 1)[1]):
        o = oracle(TABLE, prompts)
        for m in TABLE.models:
            s = single(TABLE, m, prompts)
            assert o.success_rate >= s.success_rate - 1e-12
            # not dominated: a single model as successful as the oracle is never cheaper per solved task
            if s.success_rate >= o.success_rate - 1e-12:
                assert o.usd_per_solved_task <= s.usd_per_solved_task + 1e-12


@pytest.mark.parametrize("strong", ["o3-mini-high", "claude-opus-4"])
def test_cascade_with_detection_zero_is_the_cheap_model(strong):
    cheap = "deepseek-r1-distill-qwen-7b"
    c = cascade(TABLE, [cheap, strong], 0.0, PROMPTS)
    s = single(TABLE, cheap, PROMPTS)
    assert c.success_rate == pytest.approx(s.success_rate, abs=1e-12)
    assert c.usd_per_solved_task == pytest.approx(s.usd_per_solved_task, rel=1e-12)
    # Detecting failures buys success with the strong model's cost, monotonically.
    prev = c
    for d in (0.5, 1.0):
        nxt = cascade(TABLE, [cheap, strong], d, PROMPTS)
        assert nxt.success_rate >= prev.success_rate and nxt.usd_per_task >= prev.usd_per_task
        prev = nxt
    with pytest.raises(ValueError, match="detection"):
        cascade(TABLE, [cheap, strong], 1.5, PROMPTS)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_router_never_costs_more_per_solved_task_than_the_model_it_beats_on_training(seed):
    train, test = split_prompts(TABLE, 0.5, seed)
    assert not set(train) & set(test) and set(train) | set(test) == set(PROMPTS)
    for beat in TABLE.models:
        r = learn_router(TABLE, train, beat)
        mine = route_policy(TABLE, r, train, beat)
        ref = single(TABLE, beat, train)
        assert mine.success_rate >= ref.success_rate - 1e-12
        if ref.usd_per_solved_task is not None:
            assert mine.usd_per_solved_task <= ref.usd_per_solved_task * (1 + 1e-12)


def test_split_is_seeded_and_stratified_by_type():
    a, b = split_prompts(TABLE, 0.5, 7), split_prompts(TABLE, 0.5, 7)
    assert a == b
    for t in set(TABLE.types.values()):
        assert any(TABLE.types[p] == t for p in a[0]) and any(TABLE.types[p] == t for p in a[1])


def test_pareto_set_is_undominated_and_reproducible():
    rep = route_report(ROWS, dataset_prices())
    again = route_report(ROWS, dataset_prices())
    assert rep.results == again.results and rep.split == again.split
    front = rep.pareto()
    assert front and any(r.kind == "oracle" for r in front)
    for r in front:
        for o in rep.results:
            assert not (o.success_rate > r.success_rate and o.usd_per_solved_task < r.usd_per_solved_task)


def test_a_model_without_a_price_is_left_out_with_a_note():
    prices = tier_prices(1.0, ["o3-mini-high", "deepseek-r1"])
    table, notes = build_table(ROWS, prices)
    assert table.models == ["deepseek-r1", "o3-mini-high"]
    assert any("no price" in n for n in notes)
    with pytest.raises(ValueError, match="no priced"):
        build_table([Row("x", "p", "Math", 1, 1, 0, 1, 1)], {})


@pytest.mark.slow
def test_route_cli_json_and_errors(tmp_path):
    runner = CliRunner()
    res = runner.invoke(
        app, ["route", "--json", "--detection", "0", "--detection", "1", "--plot", str(tmp_path / "r.png")]
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    kinds = {r["kind"] for r in data["results"]}
    assert kinds == {"single", "router", "cascade", "oracle"}
    assert (tmp_path / "r.png").stat().st_size > 1000
    bad = runner.invoke(app, ["route", "--cheap", "no-such-model"])
    assert bad.exit_code != 0 and "cheap" in bad.output and "Traceback" not in bad.output
