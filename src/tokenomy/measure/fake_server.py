"""A fake OpenAI-compatible streaming server with a known answer: first token after ``ttft_s``, then one token
every ``gap_s`` (on an absolute schedule, so a late wake-up does not shift later tokens), at most ``slots``
requests generating at once (capacity = slots / (ttft_s + (n − 1)·gap_s) requests/s). A bare asyncio HTTP/1.1
server (keep-alive, chunked), cheap enough to serve thousands of streams a second on one core.

A path prefix ``/fault/NAME`` picks a misbehaviour, for testing clients: see ``FAULTS``. Used by the tests and
by benchmarks/ to check what `tokenomy bench` reports against what was sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import threading

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
        self.served = 0
        self.bodies: list[dict] | None = [] if record else None  # ``record``: every request body, as received
        self.late_ms: list[float] = []  # per answer: how late its first token left, past the schedule
        self._sem: asyncio.Semaphore | None = None

    async def _models(self, writer, fault: str | None) -> None:
        body = (
            b'[{"id": "fake-model"}]'
            if fault == "models-list"
            else b'{"object": "list", "data": [{"id": "fake-model", "object": "model"}]}'
        )
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
            % (len(body), body)
        )

    async def _stream(self, writer, body: bytes, fault: str | None, chat: bool) -> None:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        try:
            req = json.loads(body)
            n = int(self.tokens or req.get("max_tokens") or 16)
            if self.bodies is not None:
                self.bodies.append(req)
        except (ValueError, TypeError, AttributeError):
            n = 16
        if fault == "http-500":
            writer.write(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\nboom")
            return
        token = TOKEN if chat else TEXT_TOKEN
        if self._sem is not None:
            await self._sem.acquire()
            t0 = loop.time()  # queued until a slot frees: the service starts now
        try:
            writer.write(HEAD)
            if fault in ("keepalive", "keepalive-after-first"):
                if fault == "keepalive-after-first":
                    writer.write(_chunk(token))
                for _ in range(400):  # 20 s of comments
                    await asyncio.sleep(0.05)
                    writer.write(_chunk(b": keep-alive\n\n"))
                    await writer.drain()
                return
            for k in range(n):
                due = t0 + self.ttft_s + k * self.gap_s
                delay = due - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                writer.write(_chunk(token))
                if k == 0:
                    self.late_ms.append((loop.time() - due) * 1e3)
                if k == 0 and fault and self._fault_event(fault):
                    writer.write(_chunk(self._fault_event(fault)))
            usage = {"prompt_tokens": 8, "completion_tokens": n}
            event = {"id": "x", "choices": [], "usage": usage}
            writer.write(_chunk(b"data: " + json.dumps(event).encode() + b"\n\n"))
            writer.write(_chunk(b"data: [DONE]\n\n") + b"0\r\n\r\n")
            self.served += 1
        finally:
            if self._sem is not None:
                self._sem.release()

    @staticmethod
    def _fault_event(fault: str) -> bytes:
        events = {
            "not-object": b"data: [1, 2, 3]\n\n",
            "choices-not-list": b'data: {"choices": {"0": {"delta": {"content": "x"}}}}\n\n',
            "usage-text": b'data: {"choices": [], "usage": {"completion_tokens": "many"}}\n\n',
            "usage-huge": b'data: {"choices": [], "usage": {"completion_tokens": 1099511627776}}\n\n',
            "usage-negative": b'data: {"choices": [], "usage": {"prompt_tokens": 8, "completion_tokens": -5}}\n\n',
            "long-line": b"data: " + b"x" * (2 << 20) + b"\n\n",
        }
        return events.get(fault, b"")

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                first = head.split(b"\r\n", 1)[0].decode("latin-1")
                path = first.split(" ")[1] if " " in first else "/"
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                body = await reader.readexactly(length) if length else b""
                fault = path.split("/")[2] if path.startswith("/fault/") else None
                if path.endswith("/stats"):
                    late = sorted(self.late_ms) or [0.0]
                    body = json.dumps(
                        {"served": self.served, "first_token_late_ms_p50": late[len(late) // 2]}
                    ).encode()
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
                    self.late_ms.clear()
                elif path.endswith("/models"):
                    await self._models(writer, fault)
                else:
                    await self._stream(writer, body, fault, path.endswith("/chat/completions"))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    async def serve(self, port: int, ready: threading.Event | None = None) -> None:
        self._sem = asyncio.Semaphore(self.slots) if self.slots else None
        server = await asyncio.start_server(self.handle, "127.0.0.1", port, backlog=4096)
        if ready is not None:
            ready.set()
        async with server:
            await server.serve_forever()


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
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(server.serve(a.port))


if __name__ == "__main__":
    main()
