"""The `tokenomy` command line: thin wrappers that call the library and render with rich.

Every command takes `--json` to print the same data as machine-readable JSON on stdout (and nothing else).
One module per layer registers its commands on the shared app.
"""

from tokenomy.cli import catalog, consume, econ, invest, measure, perf  # noqa: F401  (registers the commands)
from tokenomy.cli.base import app, main

__all__ = ["app", "main"]
