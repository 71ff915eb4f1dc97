"""Workloads: random prompts of a nominal length (InferenceX method: lengths uniform in [0.8, 1.0] × nominal)
or a JSONL dataset. Random words from a fixed vocabulary are ~1 token each in common tokenizers; the
server's `usage.prompt_tokens` gives the exact count."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from tokenomy.measure.client import Prompt

_WORDS = [
    "time",
    "year",
    "people",
    "way",
    "day",
    "man",
    "thing",
    "woman",
    "life",
    "child",
    "world",
    "school",
    "state",
    "family",
    "student",
    "group",
    "country",
    "problem",
    "hand",
    "part",
    "place",
    "case",
    "week",
    "company",
    "system",
    "program",
    "question",
    "work",
    "government",
    "number",
    "night",
    "point",
    "home",
    "water",
    "room",
    "mother",
    "area",
    "money",
    "story",
    "fact",
    "month",
    "lot",
    "right",
    "study",
    "book",
    "eye",
    "job",
    "word",
    "business",
    "issue",
    "side",
    "kind",
    "head",
    "house",
    "service",
    "friend",
    "father",
    "power",
    "hour",
    "game",
    "line",
    "end",
    "member",
    "law",
    "car",
    "city",
    "community",
    "name",
    "president",
    "team",
    "minute",
    "idea",
    "kid",
    "body",
    "information",
    "back",
    "parent",
    "face",
    "others",
    "level",
    "office",
    "door",
    "health",
    "person",
    "art",
    "war",
    "history",
    "party",
    "result",
    "change",
    "morning",
    "reason",
    "research",
    "girl",
    "guy",
    "moment",
    "air",
    "teacher",
    "force",
    "education",
    "foot",
    "boy",
    "age",
    "policy",
]


def random_prompts(n: int, isl: int, osl: int, seed: int = 0, low: float = 0.8) -> list[Prompt]:
    """``n`` prompts of about ``isl`` words asking for about ``osl`` tokens, lengths in [low, 1] × nominal."""
    if isl < 1 or osl < 1:
        raise ValueError("--isl and --osl must be at least 1")
    rng = np.random.default_rng(seed)
    prompts = []
    for _ in range(n):
        n_in = max(1, int(round(isl * rng.uniform(low, 1.0))))
        n_out = max(1, int(round(osl * rng.uniform(low, 1.0))))
        words = rng.choice(_WORDS, size=n_in)
        prompts.append(Prompt(text=" ".join(words), max_tokens=n_out, prompt_tokens_hint=n_in))
    return prompts


class DatasetError(ValueError):
    pass


def load_dataset(path: str | Path, n: int | None, default_max_tokens: int) -> list[Prompt]:
    """JSONL, one object a line: {"prompt": "..."} or {"messages": [...]}, optional "max_tokens"."""
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"{path}: no such dataset file")
    prompts = []
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError as exc:
            raise DatasetError(f"{path}: line {i}: not JSON ({exc})") from None
        if not isinstance(obj, dict) or not ("prompt" in obj or "messages" in obj):
            raise DatasetError(f"{path}: line {i}: expected an object with 'prompt' or 'messages'")
        text = obj.get("prompt") or " ".join(m.get("content", "") for m in obj["messages"])
        prompts.append(
            Prompt(
                text=text,
                max_tokens=int(obj.get("max_tokens", default_max_tokens)),
                messages=obj.get("messages"),
            )
        )
    if not prompts:
        raise DatasetError(f"{path}: no prompts")
    if n is not None:
        prompts = [prompts[i % len(prompts)] for i in range(n)]
    return prompts
