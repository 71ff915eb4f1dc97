"""A fake OpenAI-compatible streaming server with a known answer: first token after ``ttft_s``, then one token
every ``gap_s`` (on an absolute schedule, so a late wake-up does not shift later tokens), at most ``slots``
requests generating at once (capacity = slots / (ttft_s + (n − 1)·gap_s) requests/s). A bare asyncio HTTP/1.1
server (keep-alive, chunked; one Protocol per connection, one timer per token, no coroutine per stream; an instant
server writes each answer at once), cheap enough that the server's core is not what a client benchmark measures.

A path prefix ``/fault/NAME`` picks a misbehaviour, for testing clients: see ``FAULTS``. Used by the tests and
by benchmarks/ to check what `tokenomy bench` reports against what was sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import threading
import time
from collections import deque

FAULTS = {
    "not-object": "an SSE event that is JSON but not an object",
    "choices-not-list": "choices is an object",
    "usage-text": "usage.completion_tokens is a string",
    "usage-huge": "usage.completion_tokens is 2^40",
    "usage-negative": "usage.completion_tokens is -5",
    "long-line": "a 2 MiB SSE line",
    "keepalive": "keep-alive comments every 50 ms and never a token",
    "keepalive-after-first": "one token, then only keep-alive comments",
    "http-500": "HTTP 500",
    "models-list": "/v1/models answers a JSON list",
}

FAULT_EVENTS = {
    "not-object": b"data: [1, 2, 3]\n\n",
    "choices-not-list": b'data: {"choices": {"0": {"delta": {"content": "x"}}}}\n\n',
    "usage-text": b'data: {"choices": [], "usage": {"completion_tokens": "many"}}\n\n',
    "usage-huge": b'data: {"choices": [], "usage": {"completion_tokens": 1099511627776}}\n\n',
    "usage-negative": b'data: {"choices": [], "usage": {"prompt_tokens": 8, "completion_tokens": -5}}\n\n',
}


def _fault_event(fault: str | None) -> bytes:
    """The extra SSE event a fault sends after the first token (empty for none)."""
    if fault == "long-line":
        return b"data: " + b"x" * (2 << 20) + b"\n\n"
    return FAULT_EVENTS.get(fault or "", b"")


EARLY_S = 5e-4  # a token may leave this much before its time, never more (re-arming for less would spin)


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


TOKEN = (
    b'data: {"id":"x","object":"chat.completion.chunk","model":"fake","choices":[{"index":0,'
    b'"delta":{"content":"tok"},"finish_reason":null}]}\n\n'
)
TEXT_TOKEN = b'data: {"id":"x","object":"text_completion","choices":[{"index":0,"text":"tok"}]}\n\n'
HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n"
    b"Connection: keep-alive\r\n\r\n"
)


class FakeOpenAI:
    """Serve on 127.0.0.1:``port``; ``served`` counts answered requests."""

    def __init__(
        self,
        ttft_s: float = 0.05,
        gap_s: float = 0.01,
        slots: int | None = None,
        tokens=None,
        record: bool = False,
    ):
        self.ttft_s, self.gap_s, self.tokens = ttft_s, gap_s, tokens
        self.slots = slots
        self.bodies: list[dict] | None = [] if record else None  # ``record``: every request body, as received
        self.busy = 0  # requests generating now (at most ``slots``)
        self.queue: deque[_Answer] = deque()  # waiting for a slot
        self.served = 0
        self.late_ms: list[float] = []  # per answer: how late its first token left, past the schedule
        self._whole: dict[tuple[int, bool], bytes] = {}  # instant answers, rendered once per length

    # ---- requests ----------------------------------------------------------------------------------------------
    def answer(self, conn: _ServerConn, path: str, body: bytes) -> None:
        """Start answering one request on ``conn``; ``conn.next_request()`` is called when it is done."""
        fault = path.split("/")[2] if path.startswith("/fault/") else None
        if path.endswith("/stats"):
            late = sorted(self.late_ms) or [0.0]
            stats = json.dumps(
                {"served": self.served, "first_token_late_ms_p50": late[len(late) // 2]}
            ).encode()
            self.late_ms.clear()
            conn.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(stats), stats))
            return conn.next_request()
        if path.endswith("/models"):
            models = (
                b'[{"id": "fake-model"}]'
                if fault == "models-list"
                else b'{"object": "list", "data": [{"id": "fake-model", "object": "model"}]}'
            )
            conn.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                % (len(models), models)
            )
            return conn.next_request()
        if fault == "http-500":
            conn.write(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\nboom")
            return conn.next_request()
        try:
            req = json.loads(body)
            n = int(self.tokens or req.get("max_tokens") or 16)
            if self.bodies is not None:
                self.bodies.append(req)
        except (ValueError, TypeError, AttributeError):
            n = 16
        chat = path.endswith("/chat/completions")
        if fault in ("keepalive", "keepalive-after-first"):
            conn.task = asyncio.ensure_future(self._keepalive(conn, fault, chat))
            return
        ans = _Answer(self, conn, max(n, 1), chat, _fault_event(fault))
        conn.answer = ans
        if self.slots is not None and self.busy >= self.slots:
            self.queue.append(ans)  # its service starts when a slot frees
        else:
            self._start(ans)

    def _start(self, ans: _Answer) -> None:
        self.busy += 1
        ans.t0 = time.perf_counter()
        if self.ttft_s <= 0 and self.gap_s <= 0 and not ans.event:
            ans.conn.write(self._instant(ans.n, ans.chat))  # the whole answer in one write
            self.late_ms.append(0.0)
            return self._done(ans)
        ans.conn.write(HEAD)
        ans.arm()

    def _done(self, ans: _Answer) -> None:
        self.served += 1
        ans.conn.answer = None
        self.release()
        ans.conn.next_request()

    def release(self) -> None:
        """A slot frees: start what waits for one."""
        self.busy -= 1
        while self.queue and (self.slots is None or self.busy < self.slots):
            nxt = self.queue.popleft()
            if not nxt.conn.closed:
                self._start(nxt)

    def _instant(self, n: int, chat: bool) -> bytes:
        key = (n, chat)
        if key not in self._whole:
            token = _chunk(TOKEN if chat else TEXT_TOKEN)
            self._whole[key] = HEAD + token * n + _end(n)
        return self._whole[key]

    async def _keepalive(self, conn: _ServerConn, fault: str, chat: bool) -> None:
        conn.write(HEAD)
        if fault == "keepalive-after-first":
            conn.write(_chunk(TOKEN if chat else TEXT_TOKEN))
        for _ in range(400):  # 20 s of comments
            await asyncio.sleep(0.05)
            if conn.closed:
                return
            conn.write(_chunk(b": keep-alive\n\n"))
        conn.close()

    async def serve(self, port: int, ready: threading.Event | None = None) -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: _ServerConn(self), "127.0.0.1", port, backlog=4096)
        if ready is not None:
            ready.set()
        async with server:
            await server.serve_forever()


class _Answer:
    """One streamed answer: tokens leave on an absolute schedule (a late wake-up does not shift later ones)."""

    __slots__ = ("server", "conn", "n", "chat", "event", "k", "t0", "handle")

    def __init__(self, server: FakeOpenAI, conn: _ServerConn, n: int, chat: bool, event: bytes):
        self.server, self.conn, self.n, self.chat = server, conn, n, chat
        self.event = event  # what a fault sends after the first token (empty: none)
        self.k = 0
        self.t0 = 0.0
        self.handle: asyncio.TimerHandle | None = None

    def due(self) -> float:
        """When token k is due (perf_counter seconds)."""
        return self.t0 + self.server.ttft_s + self.k * self.server.gap_s

    def arm(self) -> None:
        """Wake for token k. The schedule runs on perf_counter: uvloop's loop clock is millisecond-grained."""
        delay = self.due() - time.perf_counter()
        self.handle = asyncio.get_running_loop().call_later(max(delay, 0.0), self.tick)

    def tick(self) -> None:
        """Send token k (never early); arm token k + 1, or end the answer."""
        s, conn = self.server, self.conn
        if conn.closed:
            return  # connection_lost frees the slot
        now = time.perf_counter()
        if now < self.due() - EARLY_S:
            return self.arm()  # the timer fired early: wait out the rest
        conn.write(_chunk(TOKEN if self.chat else TEXT_TOKEN))
        if self.k == 0:
            s.late_ms.append((now - self.due()) * 1e3)
            if self.event:
                conn.write(_chunk(self.event))
        self.k += 1
        if self.k < self.n:
            return self.arm()
        conn.write(_end(self.n))
        s._done(self)


def _end(n: int) -> bytes:
    """The usage event, [DONE] and the chunked terminator."""
    usage = json.dumps({"id": "x", "choices": [], "usage": {"prompt_tokens": 8, "completion_tokens": n}})
    return _chunk(b"data: " + usage.encode() + b"\n\n") + _chunk(b"data: [DONE]\n\n") + b"0\r\n\r\n"


class _ServerConn(asyncio.Protocol):
    """One keep-alive connection: requests are read from the buffer and answered one at a time."""

    def __init__(self, server: FakeOpenAI):
        self.server = server
        self.buf = b""
        self.transport: asyncio.Transport | None = None
        self.answer: _Answer | None = None
        self.task: asyncio.Future | None = None
        self.busy = False
        self.closed = False

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if not self.busy:
            self.next_request()

    def next_request(self) -> None:
        """Answer the next complete request in the buffer, if any."""
        self.busy = False
        if self.closed:
            return
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            if len(self.buf) > 1 << 16:
                self.close()
            return
        head = self.buf[:end]
        length = 0
        for line in head.split(b"\r\n")[1:]:
            if line[:15].lower() == b"content-length:":
                try:
                    length = int(line[15:])
                except ValueError:
                    return self.close()
        if len(self.buf) < end + 4 + length:
            return  # the body is still coming
        body = self.buf[end + 4 : end + 4 + length]
        self.buf = self.buf[end + 4 + length :]
        first_line = head.split(b"\r\n", 1)[0].decode("latin-1")
        path = first_line.split(" ")[1] if first_line.count(" ") >= 1 else "/"
        self.busy = True
        self.server.answer(self, path, body)

    def write(self, data: bytes) -> None:
        if not self.closed:
            self.transport.write(data)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc) -> None:
        self.closed = True
        ans, self.answer = self.answer, None
        if ans is not None and ans.handle is not None:  # started: its slot frees
            ans.handle.cancel()
            self.server.release()
        if self.task is not None:
            self.task.cancel()


def free_port() -> int:
    """A free TCP port on loopback."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_serving(url: str, timeout_s: float = 10.0, proc=None) -> bool:
    """Poll ``url``/v1/models until any OpenAI-compatible server there answers (True), or ``proc`` (its
    ``subprocess.Popen``) exits or ``timeout_s`` passes (False)."""
    import urllib.request

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url + "/v1/models", timeout=1)
            return True
        except OSError:
            if proc is not None and proc.poll() is not None:
                return False
            time.sleep(0.1)
    return False


class FakeOpenAIThread:
    """``with FakeOpenAIThread(port, ...) as url:`` serves in a daemon thread of this process."""

    def __init__(self, port: int, **kw):
        self.port = port
        self.server = FakeOpenAI(**kw)
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.task = self.loop.create_task(self.server.serve(self.port, self.ready))
        with contextlib.suppress(asyncio.CancelledError, RuntimeError):
            self.loop.run_until_complete(self.task)

    def __enter__(self) -> str:
        self.thread.start()
        self.ready.wait(10)
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc) -> None:
        self.loop.call_soon_threadsafe(self.task.cancel)
        self.thread.join(timeout=10)


def main(argv: list[str] | None = None) -> None:
    """``python -m tokenomy.measure.fake_server --port P [--ttft-ms 50 --gap-ms 10 --slots K --tokens N]``."""
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--ttft-ms", type=float, default=50.0)
    ap.add_argument("--gap-ms", type=float, default=10.0)
    ap.add_argument("--slots", type=int, default=None)
    ap.add_argument("--tokens", type=int, default=None, help="tokens per answer (default: max_tokens)")
    ap.add_argument("--cpu", type=int, default=None, help="pin to this core")
    a = ap.parse_args(argv)
    if a.cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {a.cpu})
    server = FakeOpenAI(a.ttft_ms / 1e3, a.gap_ms / 1e3, a.slots, a.tokens)
    try:
        import uvloop

        run = uvloop.run
    except ImportError:
        run = asyncio.run
    with contextlib.suppress(KeyboardInterrupt):
        run(server.serve(a.port))


if __name__ == "__main__":
    main()
