"""A lean HTTP/1.1 client for plain-http streaming (the fast path of ``send``): each connection is an asyncio
Protocol that parses the chunked SSE body inside ``data_received`` and stamps events with the time their bytes
arrived; the awaiting coroutine wakes once per request, not once per token. https and proxies use aiohttp.
"""

from __future__ import annotations

import asyncio
import json
import time
from urllib.parse import urlsplit

from tokenomy.measure.client import Api, RequestResult, StreamError, _Stream

_MAX_HEAD = 64 << 10


class _Exchange:
    """One request's response: status line and headers, then a chunked / sized / until-close body of SSE."""

    __slots__ = (
        "api", "result", "stream", "fut", "t0", "last", "n", "head", "status", "chunked", "remaining",
        "until_close", "chunk_left", "pending", "error_body", "keep_alive", "finished", "on_end",
    )  # fmt: skip

    def __init__(
        self, api: Api, result: RequestResult, t0: float, fut: asyncio.Future, keep_text: bool = False
    ):
        self.api, self.result, self.fut, self.t0 = api, result, fut, t0
        self.stream = _Stream(api, keep_text)
        self.last: float | None = None
        self.n = 0
        self.head = b""
        self.status = 0
        self.chunked = False
        self.remaining = -1  # Content-Length left, -1 unknown
        self.until_close = False
        self.chunk_left = -1  # bytes of the current chunk left; -1: reading a size line
        self.pending = b""  # chunked framing bytes not yet complete
        self.error_body = b""
        self.keep_alive = True
        self.finished = False
        self.on_end = None  # called with the connection when the body ends after the caller stopped waiting

    # ---- body -------------------------------------------------------------------------------------------------
    def _content(self, data: bytes, now: float) -> None:
        if self.status != 200:
            self.error_body += data[: 4096 - len(self.error_body)]
            return
        if self.stream.done:
            return
        k = self.stream.feed(data)
        if k:
            r = self.result
            if self.last is None:
                r.ttft_ms = (now - self.t0) * 1e3
            else:
                r.itl_ms.append((now - self.last) * 1e3)
            if k > 1:
                r.itl_ms.extend([0.0] * (k - 1))
            self.n += k
            self.last = now

    def _chunks(self, data: bytes, now: float) -> bool:
        """Decode chunked framing (only framing bytes wait in ``pending``); the content of everything that
        arrived together is parsed at once. True at the last chunk."""
        if self.chunk_left == -1 and not self.pending:  # the common case: exactly one whole chunk (one event)
            j = data.find(b"\r\n", 0, 18)
            if j > 0:
                try:
                    n = int(data[:j], 16)
                except ValueError:
                    n = 0
                if n and len(data) == j + n + 4 and data[-2:] == b"\r\n":
                    self._content(data[j + 2 : j + 2 + n], now)
                    return False
        buf = self.pending + data if self.pending else data
        self.pending = b""
        i, size = 0, len(buf)
        parts: list[bytes] = []
        add, find = parts.append, buf.find
        left = self.chunk_left  # -1: a size line; -2: a chunk's CRLF; -3: trailers; > 0: data bytes left
        end = False
        while i < size:
            if left > 0:
                j = i + left
                if j > size:
                    add(buf[i:])
                    left -= size - i
                    i = size
                    break
                add(buf[i:j])
                i, left = j, -2
            elif left == -2:
                if size - i < 2:
                    break
                i += 2
                left = -1
            elif left == -3:  # after the last chunk: trailer lines, then an empty line
                j = find(b"\r\n", i)
                if j < 0:
                    break
                i, end = j + 2, j == i
                if end:
                    break
            else:
                j = find(b"\r\n", i)
                if j < 0:
                    if size - i > 1024:
                        raise StreamError("malformed HTTP: bad chunk size line")
                    break
                try:
                    n = int(buf[i:j].split(b";", 1)[0], 16)
                except ValueError:
                    raise StreamError("malformed HTTP: bad chunk size line") from None
                i = j + 2
                left = n if n else -3
        if i < size and not end:
            self.pending = buf[i:]  # a partial size line or CRLF
        self.chunk_left = left
        if parts:
            self._content(parts[0] if len(parts) == 1 else b"".join(parts), now)
        return end

    def feed(self, data: bytes, now: float) -> bool:
        """Bytes that arrived at ``now``; True when the response body is complete."""
        if not self.status:
            self.head += data
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                if len(self.head) > _MAX_HEAD:
                    raise StreamError("malformed HTTP: response head over 64 KiB")
                return False
            self._parse_head(self.head[:end])
            data, self.head = self.head[end + 4 :], b""
        if self.chunked:
            return self._chunks(data, now)
        if self.remaining >= 0:
            part = data[: self.remaining]
            self.remaining -= len(part)
            if part:
                self._content(part, now)
            return self.remaining == 0
        if data:
            self._content(data, now)
        return False  # until close

    def _parse_head(self, head: bytes) -> None:
        lines = head.split(b"\r\n")
        try:
            self.status = int(lines[0].split(b" ", 2)[1])
        except (IndexError, ValueError):
            raise StreamError(f"malformed HTTP: status line {lines[0][:60]!r}") from None
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            value = value.strip().lower()
            if name == b"transfer-encoding" and b"chunked" in value:
                self.chunked = True
            elif name == b"content-length":
                try:
                    self.remaining = int(value)
                except ValueError:
                    raise StreamError("malformed HTTP: bad Content-Length") from None
            elif name == b"connection" and value == b"close":
                self.keep_alive = False
        if not self.chunked and self.remaining < 0:
            self.until_close, self.keep_alive = True, False


class _Conn(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.ex: _Exchange | None = None
        self.closed = False

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        ex = self.ex
        if ex is None or ex.finished:
            self.closed = True  # bytes nobody asked for: do not reuse this connection
            self.transport.close()
            return
        try:
            body_done = ex.feed(data, now)
        except Exception as exc:  # StreamError, or anything a hostile server provokes
            ex.finished = self.closed = True
            self.ex = None
            self.transport.close()
            if not ex.fut.done():
                err = exc if isinstance(exc, StreamError) else StreamError(f"client error: {exc!r}"[:200])
                ex.fut.set_exception(err)
            return
        if ex.stream.done and not ex.fut.done():
            ex.fut.set_result(now)  # [DONE]: the request's end, whatever framing follows
        if body_done:
            ex.finished = True
            self.ex = None
            if not ex.fut.done():
                ex.fut.set_result(now)
            if ex.on_end is not None:
                ex.on_end(self)

    def connection_lost(self, exc) -> None:
        self.closed = True
        ex = self.ex
        if ex is not None and not ex.finished:
            ex.finished = True
            if not ex.fut.done():
                if ex.until_close and ex.status:
                    ex.fut.set_result(time.perf_counter())
                else:
                    ex.fut.set_exception(ConnectionResetError("connection closed mid-response"))


class Http1Pool:
    """Keep-alive connections to one http:// origin, created as needed (no limit)."""

    def __init__(self, url: str):
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"the fast client speaks plain http only, not {url}")
        self.host, self.port = parts.hostname, parts.port or 80
        self.path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.hostport = f"{self.host}:{self.port}" if parts.port else self.host
        self.idle: list[_Conn] = []
        self.all: set[_Conn] = set()

    async def _acquire(self) -> _Conn:
        while self.idle:
            conn = self.idle.pop()
            if not conn.closed:
                return conn
        _, conn = await asyncio.get_running_loop().create_connection(_Conn, self.host, self.port)
        self.all.add(conn)
        return conn

    def _release(self, conn: _Conn) -> None:
        if not conn.closed:
            self.idle.append(conn)

    def close(self) -> None:
        for conn in self.all:
            if conn.transport is not None:
                conn.transport.close()
        self.idle.clear()
        self.all.clear()

    async def send(
        self, body: dict, api: Api, index: int, timeout_s: float, keep_text: bool = False
    ) -> RequestResult:
        """Stream one completion like ``client.send``: never raises, every failure has a reason."""
        loop = asyncio.get_running_loop()
        result = RequestResult(index=index, ok=False, start_s=time.time())
        data = json.dumps(body).encode()
        request = (
            f"POST {self.path} HTTP/1.1\r\nHost: {self.hostport}\r\nContent-Type: application/json\r\n"
            f"Accept: text/event-stream\r\nContent-Length: {len(data)}\r\n\r\n"
        ).encode() + data
        fut = loop.create_future()
        conn = None
        ex = None
        timed_out = False
        wall0, c0 = result.start_s, time.perf_counter()

        def check() -> None:
            nonlocal handle, timed_out
            ref = (ex.last if ex is not None and ex.last is not None else None) or c0
            due = ref + timeout_s
            now = time.perf_counter()
            if now >= due:
                timed_out = True
                if not fut.done():
                    fut.set_exception(TimeoutError())
            else:
                handle = loop.call_later(due - now, check)

        handle = loop.call_later(timeout_s, check)
        try:
            try:
                conn = await asyncio.wait_for(self._acquire(), timeout_s)
            except (TimeoutError, OSError) as exc:
                result.error = f"connection failed: {type(exc).__name__}: {exc}"[:200]
                return result
            t0 = time.perf_counter()
            result.start_s = wall0 + (t0 - c0)
            ex = _Exchange(api, result, t0, fut, keep_text)
            conn.ex = ex
            conn.transport.write(request)
            try:
                t_end = await fut
            except TimeoutError:
                what = "first token" if ex.last is None else f"next token after {ex.n} tokens"
                result.error = f"timeout: no {what} within {timeout_s:g} s"
                return result
            except StreamError as exc:
                result.error = str(exc)
                return result
            except (ConnectionError, OSError) as exc:
                result.error = f"connection reset mid-stream after {ex.n} tokens ({type(exc).__name__})"
                return result
            finally:
                result.streamed_tokens = ex.n
            if ex.status != 200:
                text = ex.error_body.decode("utf-8", "replace")
                result.error = f"HTTP {ex.status}: {text[:200]}".replace("\n", " ")
                return result
            if not ex.stream.done:
                result.error = f"stream ended without [DONE] after {ex.n} tokens"
                return result
            result.e2e_ms = (t_end - t0) * 1e3
            result.prompt_tokens = ex.stream.prompt_tokens
            result.completion_tokens = ex.stream.completion_tokens
            if ex.stream.text is not None:
                result.answer = "".join(ex.stream.text)
            if result.ttft_ms is None:
                result.error = "no tokens streamed"
                return result
            if result.completion_tokens is None:
                result.usage_source = "streamed"
            result.ok = True
            return result
        except Exception as exc:  # anything else: this request's failure
            result.error = f"client error: {type(exc).__name__}: {exc}"[:200]
            return result
        finally:
            handle.cancel()
            if conn is not None:
                reusable = ex is not None and result.error is None and ex.keep_alive and not conn.closed
                if reusable and ex.finished:
                    self.idle.append(conn)
                elif reusable and ex.stream.done:
                    ex.on_end = self._release  # the chunked terminator is still on its way
                elif conn.transport is not None:
                    conn.ex = None
                    conn.closed = True
                    conn.transport.close()
