"""Mooncake-format request traces: read, generate, measure their prefix reuse, and build prompts to replay them.

A trace is JSONL, one request a line: ``timestamp`` (ms from the trace's start), ``input_length`` and
``output_length`` (tokens), and ``hash_ids``: one id per block of ``BLOCK_TOKENS`` prompt tokens, equal ids
meaning an identical block *and* prefix (Mooncake, FAST '25: https://github.com/kvcache-ai/Mooncake, traces in
its FAST25-release folder). A request reuses the leading run of its blocks that earlier requests already sent.
"""

from __future__ import annotations

import functools
import json
import math
import random
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

BLOCK_TOKENS = 512  # tokens per hash block in the published Mooncake traces
MAX_REQUESTS = 10_000_000
# Short common words: most tokenizers give each one token with its leading space.
WORDS = [
    "the",
    "of",
    "and",
    "to",
    "in",
    "is",
    "it",
    "you",
    "that",
    "he",
    "was",
    "for",
    "on",
    "are",
    "as",
    "with",
    "his",
    "they",
    "at",
    "be",
    "this",
    "have",
    "from",
    "or",
    "one",
    "had",
    "by",
    "word",
    "but",
    "not",
    "what",
    "all",
    "were",
    "we",
    "when",
    "your",
    "can",
    "said",
    "there",
    "use",
    "an",
    "each",
    "which",
    "she",
    "do",
    "how",
    "their",
    "if",
    "will",
    "up",
    "other",
    "about",
    "out",
    "many",
    "then",
    "them",
    "these",
    "so",
    "some",
    "her",
    "would",
    "make",
    "like",
    "him",
    "into",
    "time",
    "has",
    "look",
    "two",
    "more",
    "write",
    "go",
    "see",
    "number",
    "no",
    "way",
    "could",
    "people",
    "my",
    "than",
    "first",
    "water",
    "been",
    "call",
    "who",
    "oil",
    "its",
    "now",
    "find",
    "long",
    "down",
    "day",
    "did",
    "get",
    "come",
    "made",
    "may",
    "part",
]


class TraceRequest(BaseModel):
    """One request of a Mooncake trace."""

    model_config = ConfigDict(extra="ignore", strict=True)
    timestamp: int | float = Field(ge=0, description="arrival, ms from the trace's start")
    input_length: int = Field(ge=1, le=10_000_000)
    output_length: int = Field(ge=1, le=10_000_000)
    hash_ids: list[int] = Field(default_factory=list, max_length=100_000)


class TraceError(ValueError):
    """A trace line that cannot be used; the message names the line and the field."""


def parse_trace(text: str, where: str = "trace") -> list[TraceRequest]:
    """JSONL → requests in file order; timestamps must not go backwards, and a request has at most one hash
    id per block of its prompt."""
    out: list[TraceRequest] = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        if len(out) >= MAX_REQUESTS:
            raise TraceError(f"{where}: more than {MAX_REQUESTS:,} requests")
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise TraceError(f"{where} line {n}: not JSON ({exc.msg})") from None
        if not isinstance(data, dict):
            raise TraceError(
                f"{where} line {n}: expected an object with timestamp, input_length, output_length"
            )
        try:
            req = TraceRequest.model_validate(data)
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(x) for x in err["loc"]) or "request"
            raise TraceError(f"{where} line {n}: {field}: {err['msg']}") from None
        if len(req.hash_ids) > math.ceil(req.input_length / BLOCK_TOKENS):
            raise TraceError(
                f"{where} line {n}: hash_ids: {len(req.hash_ids)} blocks for {req.input_length} input tokens "
                f"(at most {math.ceil(req.input_length / BLOCK_TOKENS)} of {BLOCK_TOKENS} tokens)"
            )
        if out and req.timestamp < out[-1].timestamp:
            raise TraceError(f"{where} line {n}: timestamp {req.timestamp} is before the previous request's")
        out.append(req)
    if not out:
        raise TraceError(f"{where}: no requests")
    return out


def read_trace(path: str | Path) -> list[TraceRequest]:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TraceError(f"{p}: cannot read ({exc})") from None
    return parse_trace(text, str(p))


def write_trace(trace: list[TraceRequest]) -> str:
    return "".join(json.dumps(r.model_dump()) + "\n" for r in trace)


@dataclass(frozen=True)
class Reuse:
    """Per request: prompt tokens whose KV an earlier request of the trace already produced."""

    cached_tokens: list[int]
    input_tokens: list[int]

    @property
    def share(self) -> float:
        """Share of all prompt tokens that are a reused prefix."""
        return sum(self.cached_tokens) / max(sum(self.input_tokens), 1)


def prefix_reuse(trace: list[TraceRequest], block_tokens: int = BLOCK_TOKENS) -> Reuse:
    """The leading run of each request's blocks already sent by an earlier request (an unbounded cache)."""
    seen: set[int] = set()
    cached = []
    for r in trace:
        k = 0
        while k < len(r.hash_ids) and r.hash_ids[k] in seen:
            k += 1
        cached.append(min(k * block_tokens, r.input_length))
        seen.update(r.hash_ids)
    return Reuse(cached, [r.input_length for r in trace])


@functools.lru_cache(maxsize=65536)
def block_text(hash_id: int, tokens: int = BLOCK_TOKENS) -> str:
    """The text of one block: ``tokens`` words drawn by a generator seeded with the hash id (same id, same text)."""
    rng = random.Random(hash_id * 1_000_003 + 17)
    return " " + " ".join(rng.choice(WORDS) for _ in range(tokens))


def prompt_text(req: TraceRequest, index: int, block_tokens: int = BLOCK_TOKENS) -> str:
    """A prompt of about ``input_length`` words: one block per hash id, then text unique to the request (seeded
    by its index), so requests share exactly the prefix blocks their hash ids share."""
    parts = [block_text(h, block_tokens) for h in req.hash_ids]
    covered = len(req.hash_ids) * block_tokens
    rest = req.input_length - covered
    if rest > 0:
        rng = random.Random(-(index + 1))
        parts.append(" " + " ".join(rng.choice(WORDS) for _ in range(rest)))
    words = "".join(parts).split(" ")[1 : req.input_length + 1]
    return " " + " ".join(words)


def synthetic_trace(
    requests: int = 1000,
    rate_per_s: float = 10.0,
    system_prompts: int = 4,
    system_blocks: int = 4,
    session_share: float = 0.5,
    turns: int = 4,
    mean_input: int = 4096,
    mean_output: int = 256,
    seed: int = 0,
) -> list[TraceRequest]:
    """A seeded Mooncake-format trace: Poisson arrivals; each request starts with one of a few shared system
    prompts; a share of them continue a session (its earlier blocks reused); the rest of each prompt is new."""
    if requests < 1 or rate_per_s <= 0 or not 0 <= session_share <= 1:
        raise ValueError("a synthetic trace needs requests ≥ 1, rate > 0 and a session share in [0, 1]")
    rng = random.Random(seed)
    next_id = 0

    def fresh(n: int) -> list[int]:
        nonlocal next_id
        ids = list(range(next_id, next_id + n))
        next_id += n
        return ids

    systems = [fresh(system_blocks) for _ in range(max(system_prompts, 0))]
    sessions: list[tuple[list[int], int]] = []  # (blocks so far, turns left)
    out, t_ms = [], 0.0
    for _ in range(requests):
        t_ms += rng.expovariate(rate_per_s) * 1000.0
        new_blocks = max(1, round(rng.expovariate(1.0) * mean_input / BLOCK_TOKENS))
        if sessions and rng.random() < session_share:
            i = rng.randrange(len(sessions))
            prefix, left = sessions[i]
            ids = prefix + fresh(new_blocks)
            if left <= 1:
                sessions.pop(i)
            else:
                sessions[i] = (ids[:-1], left - 1)  # a request's last block is partial: never reused
        else:
            prefix = rng.choice(systems) if systems else []
            ids = prefix + fresh(new_blocks)
            if turns > 1:
                sessions.append((ids[:-1], turns - 1))
        tail = rng.randrange(BLOCK_TOKENS)  # the last block is partial
        out.append(
            TraceRequest(
                timestamp=round(t_ms),
                input_length=(len(ids) - 1) * BLOCK_TOKENS + tail + 1,
                output_length=max(1, round(rng.expovariate(1.0 / mean_output))),
                hash_ids=ids,
            )
        )
    return out
