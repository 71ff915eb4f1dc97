"""Run a task suite against an OpenAI-compatible endpoint: tokens (prompt, completion, reasoning) from `usage`,
the answer, its grade and the latency, stored in the results database as each task finishes."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp

from tokenomy.consume.report import Row
from tokenomy.consume.suite import Task, grade
from tokenomy.measure.client import endpoint

JUDGE_RUBRIC = (
    "You grade an answer against one criterion. Reply with exactly one word: PASS if the answer meets the "
    "criterion, FAIL otherwise.\n\nQuestion:\n{question}\n\nCriterion:\n{criterion}\n\nAnswer:\n{answer}\n"
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS consume_results (
  run_id VARCHAR, created_at TIMESTAMP DEFAULT current_timestamp, url VARCHAR, model VARCHAR, prompt_id VARCHAR,
  type VARCHAR, run INTEGER, ok BOOLEAN, error VARCHAR, prompt_tokens INTEGER, completion_tokens INTEGER,
  reasoning_tokens INTEGER, score DOUBLE, criteria_met VARCHAR, answer VARCHAR, latency_ms DOUBLE, grader VARCHAR,
  judge_verdicts VARCHAR, judge_tokens INTEGER
);
"""


@dataclass
class TaskResult:
    prompt_id: str
    type: str
    run: int
    ok: bool
    error: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    score: float = 0.0
    criteria_met: str = ""
    answer: str = ""
    latency_ms: float = 0.0
    judge_verdicts: str = ""
    judge_tokens: int = 0


async def _complete(
    session: aiohttp.ClientSession, url: str, model: str, text: str, max_tokens: int, timeout_s: float
) -> tuple[dict, float]:
    body = {
        "model": model,
        "messages": [{"role": "user", "content": text}],
        "max_tokens": max_tokens,
        "temperature": 0.0,
        "stream": False,
    }
    t0 = time.perf_counter()
    async with session.post(url, json=body, timeout=aiohttp.ClientTimeout(total=timeout_s)) as resp:
        if resp.status != 200:
            raise RuntimeError(f"HTTP {resp.status}: {(await resp.text(errors='replace'))[:200]}")
        body = await resp.read()
    try:
        data = json.loads(body)
    except ValueError:
        raise ResponseError(f"HTTP 200 but the body is not JSON: {body[:80]!r}") from None
    if not isinstance(data, dict):
        raise ResponseError(f"HTTP 200 but the JSON is a {type(data).__name__}, not an object")
    return data, (time.perf_counter() - t0) * 1e3


class ResponseError(RuntimeError):
    """A 200 response that is not a chat completion (not JSON, wrong shape, impossible token counts)."""


def _count(usage: dict, key: str) -> int:
    """A token count from `usage`: a whole number ≥ 0 (absent = 0)."""
    value = usage.get(key) or 0
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not 0 <= value < 2**31
        or value != int(value)
    ):
        raise ResponseError(f"usage.{key} is not a token count: {str(value)[:40]!r}")
    return int(value)


def _answer(data: dict) -> tuple[str, dict]:
    """The answer text and the `usage` object of a chat (or completions) response."""
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise ResponseError("the response has no choices[0] object")
    choice = choices[0]
    message = choice.get("message") if isinstance(choice.get("message"), dict) else {}
    text = message.get("content") or choice.get("text") or ""
    usage = data.get("usage") or {}
    if not isinstance(text, str) or not isinstance(usage, dict):
        raise ResponseError("the response's content or usage has the wrong type")
    return text, usage


async def _judge(
    session, judge_url: str, judge_model: str, task: Task, answer: str, timeout_s: float
) -> tuple[float, list[bool], str, int]:
    url = endpoint(judge_url, "chat")
    met, verdicts, tokens = [], [], 0
    for criterion in task.criteria:
        data, _ = await _complete(
            session,
            url,
            judge_model,
            JUDGE_RUBRIC.format(question=task.prompt, criterion=criterion, answer=answer),
            8,
            timeout_s,
        )
        text, usage = _answer(data)
        tokens += _count(usage, "total_tokens")
        verdict = "PASS" if "PASS" in text.upper() and "FAIL" not in text.upper() else "FAIL"
        verdicts.append(verdict)
        met.append(verdict == "PASS")
    weights = task.weight or [1.0] * len(met)
    score = sum(w for w, ok in zip(weights, met, strict=True) if ok) / sum(weights)
    return score, met, ",".join(verdicts), tokens


async def run_suite(
    url: str,
    model: str,
    tasks: list[Task],
    runs: int = 1,
    max_tokens: int = 4096,
    grader: str = "rules",
    judge_url: str | None = None,
    judge_model: str | None = None,
    concurrency: int = 1,
    timeout_s: float = 600.0,
    on_result: Callable[[TaskResult], None] | None = None,
) -> list[TaskResult]:
    """Every task × run; failures are results with a reason, never exceptions."""
    if grader == "judge" and not judge_url:
        raise ValueError("grader judge needs a judge_url")
    target = endpoint(url, "chat")
    jobs = [(t, r) for r in range(1, runs + 1) for t in tasks]
    results: list[TaskResult] = []
    limit = asyncio.Semaphore(concurrency)

    async with aiohttp.ClientSession() as session:

        async def one(task: Task, run: int) -> None:
            async with limit:
                res = TaskResult(task.prompt_id, task.type, run, ok=False)
                try:
                    data, res.latency_ms = await _complete(
                        session, target, model, task.prompt, max_tokens, timeout_s
                    )
                    res.answer, usage = _answer(data)
                    res.prompt_tokens = _count(usage, "prompt_tokens")
                    res.completion_tokens = _count(usage, "completion_tokens")
                    details = usage.get("completion_tokens_details") or {}
                    res.reasoning_tokens = _count(
                        details if isinstance(details, dict) else {}, "reasoning_tokens"
                    )
                    if grader == "judge":
                        res.score, met, res.judge_verdicts, res.judge_tokens = await _judge(
                            session, judge_url, judge_model or model, task, res.answer, timeout_s
                        )
                    else:
                        res.score, met = grade(task, res.answer)
                    res.criteria_met = ",".join("1" if m else "0" for m in met)
                    res.ok = True
                except (aiohttp.ClientError, RuntimeError, TimeoutError) as exc:
                    res.error = f"{type(exc).__name__}: {exc}"[:200]
                results.append(res)
                if on_result:
                    on_result(res)

        await asyncio.gather(*(one(t, r) for t, r in jobs))
    return results


class ConsumeStore:
    """consume_results in the same DuckDB file as the bench results."""

    def __init__(self, store):
        self.store = store
        self.con = store.con
        if not getattr(store, "read_only", False):
            self.con.execute(SCHEMA)

    def add(self, run_id: str, url: str, model: str, grader: str, r: TaskResult) -> None:
        self.con.execute(
            "INSERT INTO consume_results (run_id, url, model, prompt_id, type, run, ok, error, prompt_tokens, "
            "completion_tokens, reasoning_tokens, score, criteria_met, answer, latency_ms, grader, judge_verdicts, "
            "judge_tokens) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                run_id,
                url,
                model,
                r.prompt_id,
                r.type,
                r.run,
                r.ok,
                r.error,
                r.prompt_tokens,
                r.completion_tokens,
                r.reasoning_tokens,
                r.score,
                r.criteria_met,
                r.answer,
                r.latency_ms,
                grader,
                r.judge_verdicts,
                r.judge_tokens,
            ],
        )

    def rows(self) -> list[Row]:
        """Measured answers as report rows (successful requests only)."""
        tables = {
            r[0] for r in self.con.execute("SELECT table_name FROM information_schema.tables").fetchall()
        }
        if "consume_results" not in tables:
            return []  # a results database with bench runs only
        data = self.con.execute(
            "SELECT model, prompt_id, type, run, completion_tokens, reasoning_tokens, score, prompt_tokens "
            "FROM consume_results WHERE ok"
        ).fetchall()
        return [
            Row(
                model=m,
                prompt_id=p,
                type=t,
                run=r,
                completion_tokens=float(c),
                reasoning_tokens=float(rs or 0),
                score=float(s),
                prompt_tokens=float(pt or 0),
                open_weights=True,
                source="measured",
            )
            for m, p, t, r, c, rs, s, pt in data
        ]


def new_run_id() -> str:
    return uuid.uuid4().hex[:12]
