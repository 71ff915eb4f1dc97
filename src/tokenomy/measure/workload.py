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
        raise ValueError("isl and osl must be at least 1 token")
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


# ---- reuse workloads: a shared system prompt, multi-turn sessions, Mooncake traces --------------------------
SYSTEM_PROMPT_SEED = 20_251_128  # one fixed system prompt: the same text in every run, level and session


def system_prompt(tokens: int) -> str:
    """The shared system prompt: ``tokens`` words (~1 token each) from a fixed seed."""
    rng = np.random.default_rng(SYSTEM_PROMPT_SEED)
    return " ".join(rng.choice(_WORDS, size=tokens))


def with_shared_prefix(prompts: list[Prompt], tokens: int, warm: bool) -> list[Prompt]:
    """Every prompt starts with the same system prompt of ``tokens`` words (a system message in chat); each
    reuses it, except the first when no warmup request sent it before (``warm``)."""
    if tokens < 1:
        raise ValueError("shared_prefix must be at least 1 token")
    head = system_prompt(tokens)
    out = []
    for k, p in enumerate(prompts):
        own = p.prompt_tokens_hint if p.prompt_tokens_hint is not None else len(p.text.split())
        out.append(
            Prompt(
                text=head + "\n" + p.text,
                max_tokens=p.max_tokens,
                messages=[
                    {"role": "system", "content": head},
                    *(p.messages or [{"role": "user", "content": p.text}]),
                ],
                prompt_tokens_hint=tokens + own,
                reused_tokens=tokens if warm or k > 0 else 0,
            )
        )
    return out


class Conversation:
    """One multi-turn session: each turn's request is the whole conversation so far (the server's earlier
    answers included) and new user text; the context already sent counts as reused."""

    def __init__(self, session_id: int, user_texts: list[str], max_tokens: list[int], system: str | None):
        self.session_id, self.user_texts, self.max_tokens = session_id, user_texts, max_tokens
        self.system = system
        self.system_tokens = len(system.split()) if system else 0
        self.messages: list[dict[str, str]] = [{"role": "system", "content": system}] if system else []
        self.transcript = system + "\n" if system else ""  # the completions API's prompt so far
        self.context_tokens = 0  # tokens of the conversation the server has seen (prompt + answer)

    @property
    def turns(self) -> int:
        return len(self.user_texts)

    def request(self, turn: int, system_seen: bool) -> Prompt:
        """Turn ``turn``'s prompt; ``system_seen``: an earlier request already sent the system prompt."""
        user = self.user_texts[turn]
        new = len(user.split())
        if turn == 0:
            reused = self.system_tokens if system_seen else 0
            planned = self.system_tokens + new
        else:
            reused = self.context_tokens
            planned = self.context_tokens + new
        return Prompt(
            text=self.transcript + user,
            max_tokens=self.max_tokens[turn],
            messages=[*self.messages, {"role": "user", "content": user}],
            prompt_tokens_hint=planned,
            reused_tokens=reused,
            session_id=self.session_id,
            turn=turn,
        )

    def record(self, prompt: Prompt, answer: str, prompt_tokens: int | None, output_tokens: int) -> None:
        """The server's answer to ``prompt`` joins the conversation (prompt tokens: the server's count, else
        the planned words)."""
        user = prompt.messages[-1]["content"] if prompt.messages else ""
        self.messages += [{"role": "user", "content": user}, {"role": "assistant", "content": answer}]
        self.transcript = prompt.text + answer + "\n"
        seen = prompt_tokens if prompt_tokens is not None else (prompt.prompt_tokens_hint or 0)
        self.context_tokens = seen + output_tokens


def conversations(
    n: int, turns: int, isl: int, osl: int, seed: int = 0, shared_prefix: int = 0
) -> list[Conversation]:
    """``n`` sessions of ``turns`` turns; each turn adds about ``isl`` new words and asks for about ``osl``
    tokens (lengths in [0.8, 1] × nominal); every session starts with the shared system prompt if one is set."""
    if n < 1 or turns < 1:
        raise ValueError("sessions and turns must be at least 1")
    system = system_prompt(shared_prefix) if shared_prefix > 0 else None
    out = []
    for s in range(n):
        texts = random_prompts(turns, isl, osl, seed=seed * 1_000_003 + s + 1)
        out.append(Conversation(s, [p.text for p in texts], [p.max_tokens for p in texts], system))
    return out


def trace_prompts(trace: list, limit: int | None = None) -> tuple[list[Prompt], list[float]]:
    """A Mooncake trace's prompts (requests sharing hash ids share exactly that prefix text) and their send
    times in seconds from the first request; reuse per request from the hash ids (an unbounded cache)."""
    from tokenomy.workloads.mooncake import prefix_reuse, prompt_text

    trace = trace[:limit] if limit else trace
    reuse = prefix_reuse(trace)
    t0 = trace[0].timestamp
    prompts = [
        Prompt(
            text=prompt_text(r, i),
            max_tokens=r.output_length,
            prompt_tokens_hint=r.input_length,
            reused_tokens=reuse.cached_tokens[i],
        )
        for i, r in enumerate(trace)
    ]
    return prompts, [(r.timestamp - t0) / 1e3 for r in trace]
