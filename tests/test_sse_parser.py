"""The SSE event parser gives the same answer with orjson (the fast path) and without it (json's C scanner):
token counts, usage, [DONE], and the same failure for every malformed event."""

from __future__ import annotations

import pytest

pytest.importorskip("aiohttp")
from tokenomy.measure import client  # noqa: E402
from tokenomy.measure.client import StreamError, _Stream  # noqa: E402

CHAT = b'data: {"choices":[{"index":0,"delta":{"content":"tok"}}]}\n\n'
EVENTS = [
    CHAT * 3,
    b'data: {"choices":[{"delta":{"reasoning_content":"think"}}]}\n\n',
    b'data:{"choices":[{"delta":{"content":""}}]}\n\n',  # empty content: not a token
    b'data: {"choices":[],"usage":{"prompt_tokens":8,"completion_tokens":3}}\n\ndata: [DONE]\n\n',
    b'data:  {"choices":[{"delta":{"content":"x"}}]}  \n\n',  # whitespace around the JSON
    b": keep-alive\n\n" + CHAT,
    b'data: {"choices":[{"delta":{"content":"x"}}],"usage":{"completion_tokens":NaN}}\n\n',
    b'data: {"choices":[],"usage":{"completion_tokens":1099511627776}}\n\n',
    b'data: {"choices":[],"usage":{"completion_tokens":-5}}\n\n',
    b"data: [1, 2, 3]\n\n",
    b'data: {"choices": {"0": {}}}\n\n',
    b'data: {"choices":[{"delta":{"content":"x"}}]} trailing\n\n',
    b'data: {"error": {"message": "overloaded"}}\n\n',
    b"data: {not json}\n\n",
    b"data: \xff\xfe\n\n",
]


def _parse(data: bytes) -> tuple:
    s = _Stream("chat")
    try:
        n = s.feed(data)
    except StreamError as exc:
        return ("error", str(exc))
    return (n, s.done, s.prompt_tokens, s.completion_tokens)


@pytest.mark.parametrize("data", EVENTS)
def test_fast_and_slow_json_paths_agree(data, monkeypatch):
    fast = _parse(data)
    monkeypatch.setattr(client, "_fast_loads", None)
    assert _parse(data) == fast


def test_the_parser_counts_tokens_and_usage():
    assert _parse(CHAT * 3) == (3, False, None, None)
    assert _parse(EVENTS[3]) == (0, True, 8, 3)
    assert _parse(EVENTS[9])[0] == "error"  # an event that is not an object fails the request
