"""One streamed request to an OpenAI-compatible server, timed per token; every failure gets a reason.

The SSE parser works on raw lines (aiohttp's StreamReader) and decodes JSON once per event: the client must
cost far less than the server it measures (see benchmarks/client_overhead.py).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, Literal

import aiohttp

Api = Literal["chat", "completions"]


@dataclass
class Prompt:
    """What to send: text (or chat messages) and the output length asked for."""

    text: str
    max_tokens: int
    messages: list[dict[str, str]] | None = None
    prompt_tokens_hint: int | None = None  # the intended length (words), before the server tokenizes


@dataclass
class RequestResult:
    index: int
    ok: bool
    error: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    # "server" (usage block) or "streamed" (counted chunks: the server sent no usage)
    usage_source: str = "server"
    prompt_tokens_estimated: bool = False  # no usage: prompt length taken from the workload (words)
    streamed_tokens: int = 0
    start_s: float = 0.0  # wall-clock epoch seconds at send
    ttft_ms: float | None = None
    e2e_ms: float | None = None
    itl_ms: list[float] = field(default_factory=list)
    warmup: bool = False

    @property
    def output_tokens(self) -> int:
        return self.completion_tokens if self.completion_tokens is not None else self.streamed_tokens

    @property
    def tpot_ms(self) -> float | None:
        """InferenceX definition: (E2E − TTFT) / (output tokens − 1)."""
        n = self.output_tokens
        if not self.ok or self.ttft_ms is None or self.e2e_ms is None or n < 2:
            return None
        return (self.e2e_ms - self.ttft_ms) / (n - 1)


def endpoint(base_url: str, api: Api) -> str:
    base = base_url.rstrip("/")
    if not base.endswith("/v1"):
        base += "/v1"
    return base + ("/chat/completions" if api == "chat" else "/completions")


def payload(model: str, prompt: Prompt, api: Api, ignore_eos: bool = True, extra: dict | None = None) -> dict:
    body: dict[str, Any] = {
        "model": model,
        "max_tokens": prompt.max_tokens,
        "stream": True,
        "stream_options": {"include_usage": True},
        "temperature": 0.0,
    }
    if ignore_eos:
        body["ignore_eos"] = True  # vLLM / SGLang / TRT-LLM honour it; others ignore it
    if api == "chat":
        body["messages"] = prompt.messages or [{"role": "user", "content": prompt.text}]
    else:
        body["prompt"] = prompt.text
    if extra:
        body.update(extra)
    return body


def _content(event: dict, api: Api) -> str | None:
    choices = event.get("choices") or []
    if not choices:
        return None
    choice = choices[0]
    if api == "chat":
        delta = choice.get("delta") or {}
        return (delta.get("content") or "") + (delta.get("reasoning_content") or "")
    return choice.get("text")


async def send(
    session: aiohttp.ClientSession,
    url: str,
    body: dict,
    api: Api,
    index: int,
    timeout_s: float,
    clock=time.perf_counter,
) -> RequestResult:
    """Stream one completion; timings from send to each content event. Never raises: errors are results."""
    result = RequestResult(index=index, ok=False, start_s=time.time())
    t0 = clock()
    last = None
    try:
        async with session.post(
            url,
            json=body,
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=timeout_s, sock_read=timeout_s),
        ) as resp:
            if resp.status != 200:
                text = (await resp.text())[:200].replace("\n", " ")
                result.error = f"HTTP {resp.status}: {text}"
                return result
            done = False
            async for raw in resp.content:
                line = raw.strip()
                if not line or line.startswith(b":"):
                    continue
                if not line.startswith(b"data:"):
                    if line.startswith((b"event:", b"id:", b"retry:")):
                        continue
                    result.error = f"malformed SSE: unexpected line {line[:60]!r}"
                    return result
                data = line[5:].strip()
                if data == b"[DONE]":
                    done = True
                    break
                try:
                    event = json.loads(data)
                except ValueError:
                    result.error = f"malformed SSE: bad JSON {data[:60]!r}"
                    return result
                if "error" in event:
                    result.error = f"server error in stream: {str(event['error'])[:160]}"
                    return result
                text = _content(event, api)
                if text:
                    now = clock()
                    if last is None:
                        result.ttft_ms = (now - t0) * 1e3
                    else:
                        result.itl_ms.append((now - last) * 1e3)
                    last = now
                    result.streamed_tokens += 1
                usage = event.get("usage")
                if usage:
                    result.prompt_tokens = usage.get("prompt_tokens")
                    result.completion_tokens = usage.get("completion_tokens")
            if not done:
                result.error = f"stream ended without [DONE] after {result.streamed_tokens} tokens"
                return result
    except TimeoutError:
        result.error = f"timeout: no data for {timeout_s:g} s after {result.streamed_tokens} tokens"
        return result
    except (aiohttp.ClientPayloadError, aiohttp.ServerDisconnectedError, ConnectionResetError) as exc:
        result.error = (
            f"connection reset mid-stream after {result.streamed_tokens} tokens ({type(exc).__name__})"
        )
        return result
    except aiohttp.ClientError as exc:
        result.error = f"connection failed: {type(exc).__name__}: {exc}"[:200]
        return result
    result.e2e_ms = (clock() - t0) * 1e3
    if result.ttft_ms is None:
        result.error = "no tokens streamed"
        return result
    if result.completion_tokens is None:
        result.usage_source = "streamed"  # flagged in the summary: counted chunks, not the server's usage
    result.ok = True
    return result


class PreflightError(RuntimeError):
    """The endpoint cannot be benchmarked (wrong URL, unknown model): said before any load is sent."""


async def preflight(
    session: aiohttp.ClientSession, base_url: str, model: str, timeout_s: float = 10.0
) -> list[str]:
    """Check the server answers and serves ``model``; returns the model ids it lists."""
    url = base_url.rstrip("/")
    url = (url if url.endswith("/v1") else url + "/v1") + "/models"
    try:
        async with session.get(url, timeout=aiohttp.ClientTimeout(total=timeout_s)) as resp:
            if resp.status == 404:
                return []  # some servers do not list models; the first request will tell
            if resp.status != 200:
                raise PreflightError(
                    f"{url} answered HTTP {resp.status}; is this an OpenAI-compatible server?"
                )
            data = await resp.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise PreflightError(f"cannot reach {base_url}: {type(exc).__name__}: {exc}") from None
    except ValueError:
        raise PreflightError(f"{url} did not return JSON; is this an OpenAI-compatible server?") from None
    ids = [m.get("id", "") for m in data.get("data", []) if isinstance(m, dict)]
    if ids and model not in ids:
        import difflib

        close = difflib.get_close_matches(model, ids, n=3, cutoff=0.3)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise PreflightError(
            f"model '{model}' is not served at {base_url} (it serves: {', '.join(ids)}).{hint}"
        )
    return ids
