"""Shared pieces of the command line: the app, consoles, JSON output, errors and number formats."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from tokenomy.catalog import UnknownIdError
from tokenomy.catalog.schema import MissingFigureError

app = typer.Typer(
    help="tokenomy: the economics of AI tokens, from watts and silicon to tokens, dollars and carbon.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)


def _console(stderr: bool = False) -> Console:
    """A rich console; when output is not a terminal (pipes, CI logs) tables get 120 columns, not 80."""
    c = Console(stderr=stderr)
    if not c.is_terminal and not os.environ.get("COLUMNS"):
        c = Console(stderr=stderr, width=120)
    return c


console = _console()
err_console = _console(stderr=True)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def fail(message: str, code: int = 2) -> None:
    err_console.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)
    raise typer.Exit(code)


def require_extra(extra: str, *modules: str) -> None:
    """Fail with the install line when an optional dependency is missing."""
    import importlib.util

    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        fail(f"this command needs {', '.join(missing)}: pip install 'tokenomy[{extra}]'")


def fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        if value == 0:
            return "0"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        return f"{value:.{digits}g}"
    return str(value)


class _NoProgress:
    def __enter__(self):
        return None, None

    def __exit__(self, *exc):
        return False


def _progress(quiet: bool, label: str, total: int):
    if quiet:
        return _NoProgress()
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    class _Ctx:
        def __enter__(self):
            self.p = Progress(
                "[progress.description]{task.description}",
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=err_console,
                transient=True,
            )
            self.p.__enter__()
            return self.p, self.p.add_task(f"bench {label}", total=total)

        def __exit__(self, *exc):
            return self.p.__exit__(*exc)

    return _Ctx()


def main() -> None:  # pragma: no cover - console entry point
    try:
        app()
    except (MissingFigureError, UnknownIdError) as exc:
        fail(str(exc))


if __name__ == "__main__":  # pragma: no cover
    main()
