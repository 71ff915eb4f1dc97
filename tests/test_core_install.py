"""`make run` installs the core only: the CLI and the default plan must not need an extra (or click, which newer
typer releases no longer install)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.e2e  # a CLI subprocess

NOT_IN_CORE = ("click", "aiohttp", "duckdb", "fastapi", "uvicorn", "ray", "gguf", "playwright", "uvloop")

SCRIPT = f"""
import sys
for name in {NOT_IN_CORE!r}:
    sys.modules[name] = None  # importing it now raises ImportError, as on a core-only install
from tokenomy.cli import main
sys.argv = ["tokenomy", "plan", "--json"]
main()
"""


def test_the_default_plan_runs_without_any_extra():
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    plan = json.loads(result.stdout)
    assert len(plan["generations"]) == 4 and plan["generations"][1]["revenue_usd"] > 0
