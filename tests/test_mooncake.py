"""Mooncake-format traces: reuse read from hash ids, prompts that share exactly the blocks their ids share."""

from __future__ import annotations

import pytest

from conftest import reuse_from_text
from tokenomy.workloads.mooncake import (
    BLOCK_TOKENS,
    TraceError,
    TraceRequest,
    parse_trace,
    prefix_reuse,
    prompt_text,
    synthetic_trace,
    write_trace,
)


def test_a_trace_without_shared_hash_ids_has_no_shared_prefix():
    trace = [
        TraceRequest(timestamp=i * 10, input_length=700 + i, output_length=5, hash_ids=[2 * i, 2 * i + 1])
        for i in range(50)
    ]
    reuse = prefix_reuse(trace)
    assert reuse.share == 0.0 and set(reuse.cached_tokens) == {0}
    prompts = [prompt_text(r, i) for i, r in enumerate(trace)]
    assert len({p[:200] for p in prompts}) == len(prompts)  # no two prompts even start alike
    assert reuse_from_text(prompts, BLOCK_TOKENS) == [0] * 50


@pytest.mark.slow
def test_reuse_share_of_the_replayed_prompts_matches_the_hash_ids_exactly():
    trace = synthetic_trace(1000, mean_input=1024, seed=3)
    reuse = prefix_reuse(trace)
    assert 0.2 < reuse.share < 0.95
    prompts = [prompt_text(r, i) for i, r in enumerate(trace)]
    assert [len(p.split(" ")) - 1 for p in prompts] == [r.input_length for r in trace]
    from_text = reuse_from_text(prompts, BLOCK_TOKENS)
    assert from_text == reuse.cached_tokens
    assert sum(from_text) / sum(r.input_length for r in trace) == reuse.share


@pytest.mark.slow
def test_synthetic_traces_are_seeded_and_round_trip():
    a, b = synthetic_trace(200, seed=5), synthetic_trace(200, seed=5)
    assert a == b and a != synthetic_trace(200, seed=6)
    assert parse_trace(write_trace(a)) == a
    assert all(x.timestamp <= y.timestamp for x, y in zip(a, a[1:], strict=False))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"timestamp": 0, "input_length": 10, "output_length": 1}\nnot json\n', "line 2: not JSON"),
        ('{"timestamp": 0, "input_length": "10", "output_length": 1}\n', "line 1: input_length"),
        (
            '{"timestamp": 5, "input_length": 10, "output_length": 1}\n{"timestamp": 1, "input_length": 10, "output_length": 1}\n',
            "line 2: timestamp",
        ),
        (
            '{"timestamp": 0, "input_length": 600, "output_length": 1, "hash_ids": [1, 2, 3]}\n',
            "line 1: hash_ids",
        ),
        ("\n\n", "no requests"),
    ],
)
def test_bad_trace_lines_are_named(text, message):
    with pytest.raises(TraceError, match=message):
        parse_trace(text)
