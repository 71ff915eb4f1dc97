"""One streamed request to an OpenAI-compatible server, timed per token; every failure gets a reason.

The SSE parser reads whatever bytes have arrived (``iter_any``), stamps them once with the arrival time, splits
lines itself and decodes JSON once per event: the client must cost far less than the server it measures (see
benchmarks/client_overhead.py). Nothing a server sends can raise out of ``send``: a malformed stream is a failed
request with its reason, and the run goes on.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any, Literal

import aiohttp

Api = Literal["chat", "completions"]

MAX_LINE_BYTES = 1 << 20  # an SSE line longer than 1 MiB fails the request (a token event is ~200 bytes)
MAX_TOKEN_COUNT = 2**31 - 1  # usage counts beyond an INTEGER column are nonsense
_NO_TIMEOUT = aiohttp.ClientTimeout(total=None)
_JSON = {"Content-Type": "application/json"}


@dataclass
class Prompt:
    """What to send: text (or chat messages) and the output length asked for."""

    text: str
    max_tokens: int
    messages: list[dict[str, str]] | None = None
    prompt_tokens_hint: int | None = None  # the intended length (words), before the server tokenizes
    reused_tokens: int | None = None  # prompt tokens an earlier request already sent as the same prefix
    session_id: int | None = None  # multi-turn workloads: the conversation and the turn in it
    turn: int | None = None


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
    max_tokens: int | None = None  # asked for (not stored): runs report how many answers came short
    # reuse workloads (bench --shared-prefix, --sessions, --trace): what the workload planned for this request
    planned_tokens: int | None = None  # prompt tokens intended (words: ~1 token each)
    reused_tokens: int | None = None  # of those, a prefix an earlier request already sent
    session_id: int | None = None
    turn: int | None = None
    due_s: float | None = None  # scheduled send time (epoch s) in rate and trace modes
    answer: str | None = None  # the streamed text, kept only when asked (a session's next turn needs it)

    @property
    def output_tokens(self) -> int:
        return self.completion_tokens if self.completion_tokens is not None else self.streamed_tokens

    @property
    def tpot_ms(self) -> float | None:
        """(E2E − TTFT) / (output tokens − 1), the InferenceX definition."""
        n = self.output_tokens
        if not self.ok or self.ttft_ms is None or self.e2e_ms is None or n < 2:
            return None
        return (self.e2e_ms - self.ttft_ms) / (n - 1)


def endpoint(base_url: str, api: Api) -> str:
    base = base_url.rstrip("/")
    if not base.endswith("/v1"):
        base += "/v1"
    return base + ("/chat/completions" if api == "chat" else "/completions")


def payload(
    model: str,
    prompt: Prompt,
    api: Api,
    ignore_eos: bool = True,
    extra: dict | None = None,
    min_tokens: int | None = None,
) -> dict:
    """The request body; ``min_tokens`` (capped at max_tokens) and ``ignore_eos`` make runs reach the asked
    length on servers that honour them (vLLM, SGLang, TRT-LLM); others ignore unknown fields."""
    body: dict[str, Any] = {
        "model": model,
        "max_tokens": prompt.max_tokens,
        "stream": True,
        "stream_options": {"include_usage": True},
        "temperature": 0.0,
    }
    if ignore_eos:
        body["ignore_eos"] = True
    if min_tokens:
        body["min_tokens"] = min(min_tokens, prompt.max_tokens)
    if api == "chat":
        body["messages"] = prompt.messages or [{"role": "user", "content": prompt.text}]
    else:
        body["prompt"] = prompt.text
    if extra:
        body.update(extra)
    return body


class StreamError(ValueError):
    """The server sent something that is not an OpenAI stream; the message is the failure reason."""


def _count(value: Any, name: str) -> int | None:
    """A usage count: a whole number in [0, 2³¹), or None when absent."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise StreamError(f"bad usage: {name} is {str(value)[:40]!r}, not a number")
    if isinstance(value, float):
        if not value.is_integer():
            raise StreamError(f"bad usage: {name} is {value!r}, not a whole number")
        value = int(value)
    if not 0 <= value <= MAX_TOKEN_COUNT:
        raise StreamError(f"bad usage: {name} is {value}, outside [0, 2^31)")
    return value


class _Stream:
    """Per-request parser state: counts content events, remembers usage, sees [DONE]."""

    __slots__ = ("api", "buf", "done", "prompt_tokens", "completion_tokens", "text")

    def __init__(self, api: Api, keep_text: bool = False):
        self.api = api
        self.text: list[str] | None = [] if keep_text else None  # the content, when kept
        self.buf = b""
        self.done = False
        self.prompt_tokens: int | None = None
        self.completion_tokens: int | None = None

    def feed(self, chunk: bytes) -> int:
        """Bytes that arrived together → how many content events they completed. Raises StreamError."""
        data = self.buf + chunk if self.buf else chunk
        lines = data.split(b"\n")
        self.buf = lines.pop()
        if len(self.buf) > MAX_LINE_BYTES:
            raise StreamError(f"malformed SSE: a line over {MAX_LINE_BYTES >> 10} KiB")
        tokens = 0
        chat = self.api == "chat"
        for line in lines:
            if not line or line == b"\r":
                continue  # the blank line between events
            if line[:5] != b"data:":
                line = line.strip()
                if not line or line[:1] == b":" or line.startswith((b"event:", b"id:", b"retry:")):
                    continue  # keep-alive comment, or fields we do not need
                raise StreamError(f"malformed SSE: unexpected line {line[:60]!r}")
            if len(line) > MAX_LINE_BYTES:
                raise StreamError(f"malformed SSE: a line over {MAX_LINE_BYTES >> 10} KiB")
            event = _loads(line)
            if type(event) is not dict:
                if event is _DONE:
                    self.done = True
                    return tokens
                raise StreamError(f"malformed SSE: event is a JSON {type(event).__name__}, not an object")
            # the common token event, inline: choices[0].delta.content (chat) or choices[0].text
            choices = event.get("choices")
            if choices:
                if type(choices) is not list:
                    raise StreamError(f"malformed SSE: choices is a {type(choices).__name__}, not a list")
                choice = choices[0]
                if type(choice) is not dict:
                    raise StreamError("malformed SSE: a choice is not an object")
                if chat:
                    delta = choice.get("delta")
                    if delta:
                        if type(delta) is not dict:
                            raise StreamError("malformed SSE: delta is not an object")
                        text = delta.get("content")
                        if (text and type(text) is str) or _reasoning(delta):
                            tokens += 1
                            if self.text is not None and text and type(text) is str:
                                self.text.append(text)
                else:
                    text = choice.get("text")
                    if text and type(text) is str:
                        tokens += 1
                        if self.text is not None:
                            self.text.append(text)
            elif "error" in event:
                raise StreamError(f"server error in stream: {str(event['error'])[:160]}")
            usage = event.get("usage")
            if usage:
                if type(usage) is not dict:
                    raise StreamError("bad usage: not an object")
                self.prompt_tokens = _count(usage.get("prompt_tokens"), "prompt_tokens")
                self.completion_tokens = _count(usage.get("completion_tokens"), "completion_tokens")
        return tokens


def _reasoning(delta: dict) -> bool:
    text = delta.get("reasoning_content")
    return bool(text) and type(text) is str


_DONE = object()
_scan = (
    json.JSONDecoder().scan_once
)  # the C scanner, without json.loads' wrappers (encoding detection, regex)


try:  # orjson (extra bench) parses an event from bytes 2-3x faster; anything it refuses takes the slow path
    from orjson import loads as _fast_loads
except ImportError:  # pragma: no cover - the bench extra installs it
    _fast_loads = None


def _loads(line: bytes) -> Any:
    """The JSON value of a ``data:`` line, or _DONE for ``[DONE]``; StreamError when it is not JSON."""
    body = line[6:] if line[5:6] == b" " else line[5:]
    if _fast_loads is not None and body[:1] == b"{":
        try:
            return _fast_loads(body)
        except ValueError:
            pass  # not strict JSON (NaN, huge integers…): json decides
    try:
        text = body.decode()
        value, end = _scan(text, 0)
        if end == len(text):
            return value
    except (UnicodeDecodeError, StopIteration, ValueError):
        pass
    text = body.strip().decode("utf-8", "replace")  # whitespace around, [DONE], or not JSON at all
    if text == "[DONE]":
        return _DONE
    try:
        value, end = _scan(text, 0)
        if end == len(text):
            return value
    except (StopIteration, ValueError):
        pass
    raise StreamError(f"malformed SSE: bad JSON {text[:60].encode()!r}")


async def _sent(session, ctx, params) -> None:
    mark = ctx.trace_request_ctx
    if mark is not None and not mark:
        mark.append(time.perf_counter())


def new_session(**kw: Any) -> aiohttp.ClientSession:
    """A session for ``send``: no connection limit, no cookies, and a hook that notes when each request's body
    has been written, so TTFT counts from the moment the request left, not from when the client got to it."""
    trace = aiohttp.TraceConfig()
    trace.on_request_chunk_sent.append(_sent)
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0),
        cookie_jar=aiohttp.DummyCookieJar(),
        trace_configs=[trace],
        **kw,
    )


async def send(
    session: aiohttp.ClientSession,
    url: str,
    body: dict,
    api: Api,
    index: int,
    timeout_s: float,
    clock=time.perf_counter,
    keep_text: bool = False,
) -> RequestResult:
    """Stream one completion; timings from the request leaving (``new_session`` notes it; else from the call)
    to the arrival of each content event. ``timeout_s`` bounds the time to the first token and between tokens
    (keep-alive comments do not reset it); ``keep_text`` keeps the answer. Never raises."""
    result = RequestResult(index=index, ok=False, start_s=time.time())
    stream = _Stream(api, keep_text)
    loop = asyncio.get_running_loop()
    t0 = clock()
    wall0 = result.start_s
    sent: list[float] = []
    last = None
    itl = result.itl_ms
    n = 0
    try:
        async with asyncio.timeout(timeout_s) as deadline:
            data = json.dumps(body).encode()
            async with session.post(
                url, data=data, headers=_JSON, timeout=_NO_TIMEOUT, trace_request_ctx=sent
            ) as resp:
                if sent and clock is time.perf_counter:
                    result.start_s, t0 = wall0 + (sent[0] - t0), sent[0]
                if resp.status != 200:
                    text = (await resp.content.read(4096)).decode("utf-8", "replace")
                    result.error = f"HTTP {resp.status}: {text[:200]}".replace("\n", " ")
                    return result
                async for chunk in resp.content.iter_any():
                    now = clock()  # when these bytes arrived
                    k = stream.feed(chunk)
                    if k:
                        if last is None:
                            result.ttft_ms = (now - t0) * 1e3
                            k -= 1
                        else:
                            itl.append((now - last) * 1e3)
                            k -= 1
                        if k:
                            itl.extend([0.0] * k)  # events that arrived in the same bytes
                        n = len(itl) + 1
                        last = now
                        deadline.reschedule(loop.time() + timeout_s)
                    if stream.done:
                        break
        result.streamed_tokens = n
        if not stream.done:
            result.error = f"stream ended without [DONE] after {n} tokens"
            return result
    except TimeoutError:
        result.streamed_tokens = n
        what = "first token" if last is None else f"next token after {n} tokens"
        result.error = f"timeout: no {what} within {timeout_s:g} s"
        return result
    except StreamError as exc:
        result.streamed_tokens = n
        result.error = str(exc)
        return result
    except (aiohttp.ClientPayloadError, aiohttp.ServerDisconnectedError, ConnectionResetError) as exc:
        result.streamed_tokens = n
        result.error = f"connection reset mid-stream after {n} tokens ({type(exc).__name__})"
        return result
    except aiohttp.ClientError as exc:
        result.error = f"connection failed: {type(exc).__name__}: {exc}"[:200]
        return result
    except Exception as exc:  # anything else a hostile server provokes is this request's failure
        result.streamed_tokens = n
        result.error = f"client error: {type(exc).__name__}: {exc}"[:200]
        return result
    result.e2e_ms = (clock() - t0) * 1e3
    result.prompt_tokens, result.completion_tokens = stream.prompt_tokens, stream.completion_tokens
    if stream.text is not None:
        result.answer = "".join(stream.text)
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
    """Check the server answers and serves ``model``; returns the model ids it lists (empty when it lists
    none in the OpenAI shape: the first request will tell)."""
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
            raw = await resp.content.read(MAX_LINE_BYTES * 8)
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise PreflightError(f"cannot reach {base_url}: {type(exc).__name__}: {exc}") from None
    try:
        data = json.loads(raw)
    except ValueError:
        raise PreflightError(f"{url} did not return JSON; is this an OpenAI-compatible server?") from None
    listed = data.get("data") if isinstance(data, dict) else None
    if not isinstance(listed, list):
        return []
    ids = [m["id"] for m in listed if isinstance(m, dict) and isinstance(m.get("id"), str)]
    if ids and model not in ids:
        import difflib

        close = difflib.get_close_matches(model, ids, n=3, cutoff=0.3)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise PreflightError(
            f"model '{model}' is not served at {base_url} (it serves: {', '.join(ids)}).{hint}"
        )
    return ids
