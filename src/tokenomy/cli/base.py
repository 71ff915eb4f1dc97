"""Shared pieces of the command line: the app, consoles, JSON output, errors and number formats."""

from __future__ import annotations

import json
import math
import os
import re
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from tokenomy.catalog import UnknownIdError
from tokenomy.catalog.schema import MissingFigureError
from tokenomy.units import json_safe

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def safe_text(text: str) -> str:
    """Control characters (terminal escape codes in an id or a stored name) shown as visible escapes."""
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)


def _user_errors() -> tuple[type[BaseException], ...]:
    """Errors that mean bad input, not a bug: printed as one line, exit code 2, never a traceback."""
    from tokenomy.econ.scenario import ScenarioError
    from tokenomy.points import PointsError
    from tokenomy.safe_yaml import YamlError

    errors: list[type[BaseException]] = [
        UnknownIdError,
        MissingFigureError,
        ScenarioError,
        PointsError,
        YamlError,
    ]
    store = sys.modules.get("tokenomy.store")  # needs duckdb (an extra); only a loaded store can have raised
    if store is not None:
        errors.append(store.StoreError)
    return tuple(errors)


class _Group(typer.core.TyperGroup):
    """The root command group: input errors raised anywhere below become `error: …` and exit code 2."""

    def invoke(self, ctx: typer.Context) -> Any:
        duckdb = sys.modules.get("duckdb")
        database_error = duckdb.Error if duckdb is not None else ()
        try:
            return super().invoke(ctx)
        except _user_errors() as exc:
            fail(str(exc))
        except database_error as exc:  # a damaged results file found mid-query (truncated pages)
            fail(f"results database: {str(exc).strip().splitlines()[0]}")


app = typer.Typer(
    cls=_Group,
    help="tokenomy: the economics of AI tokens, from watts and silicon to tokens, dollars and carbon.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)


class SafeConsole(Console):
    """A rich console that never sends a control character from data to the terminal."""

    def render_str(self, text: str, *args: Any, **kwargs: Any):  # noqa: D102 - rich hook
        return super().render_str(safe_text(text), *args, **kwargs)


def _console(stderr: bool = False) -> Console:
    """A rich console; when output is not a terminal (pipes, CI logs) tables get 120 columns, not 80."""
    c = SafeConsole(stderr=stderr)
    if not c.is_terminal and not os.environ.get("COLUMNS"):
        c = SafeConsole(stderr=stderr, width=120)
    return c


console = _console()
err_console = _console(stderr=True)


def print_json(data: Any) -> None:
    """``data`` as JSON on stdout; NaN and infinity (which JSON lacks) print as null."""
    sys.stdout.write(json.dumps(json_safe(data), indent=2, default=str, allow_nan=False) + "\n")


def fail(message: str, code: int = 2) -> None:
    err_console.print(f"[bold red]error:[/] {escape(safe_text(message))}", soft_wrap=True)
    raise typer.Exit(code)


# ---- option checks shared by every command -------------------------------------------------------------------
def number(low: float | None = None, high: float | None = None, low_open: bool = False):
    """A typer callback: the option must be a finite number within [low, high] (or (low, high] if low_open)."""

    def check(ctx: typer.Context, param: typer.CallbackParam, value: Any) -> Any:
        if value is None or ctx.resilient_parsing:
            return value
        flag = (param.opts or [f"--{param.name}"])[0]
        for v in value if isinstance(value, list | tuple) else [value]:
            bad = not math.isfinite(v) or (
                low is not None and (v <= low if low_open else v < low) or (high is not None and v > high)
            )
            if bad:
                lo = "" if low is None else f"{'>' if low_open else '≥'} {low:g}"
                hi = "" if high is None else f"≤ {high:g}"
                bounds = " and ".join(b for b in (lo, hi) if b)
                raise typer.BadParameter(
                    f"must be a finite number{' ' + bounds if bounds else ''}, not {v:g}", param_hint=flag
                )
        return value

    return check


def choice(*allowed: str):
    """A typer callback: the option must be one of ``allowed`` (case-insensitive), returned lower-case."""

    def check(ctx: typer.Context, param: typer.CallbackParam, value: Any) -> Any:
        if value is None or ctx.resilient_parsing:
            return value
        flag = (param.opts or [f"--{param.name}"])[0]
        values = value if isinstance(value, list | tuple) else [value]
        for v in values:
            if v.lower() not in allowed:
                raise typer.BadParameter(
                    f"must be one of {', '.join(allowed)}, not '{safe_text(v)}'", param_hint=flag
                )
        return [v.lower() for v in values] if isinstance(value, list | tuple) else value.lower()

    return check


def input_file(path: Path | None, what: str) -> Path | None:
    """Fail unless ``path`` is an existing regular file (None passes: the command's default)."""
    if path is None:
        return None
    if not path.exists():
        fail(f"{path}: no such {what}")
    if not path.is_file():
        fail(f"{path}: not a file ({what} expected)")
    return path


def output_path(path: Path | None, what: str, suffixes: tuple[str, ...] = ()) -> Path | None:
    """Check, before any work, that ``path`` can be written: not a folder, its folder exists and is writable.

    Folders are never created silently; a suffix list (".png", …) is enforced when given.
    """
    if path is None:
        return None
    if path.is_dir():
        fail(f"{path}: is a folder; give a file name for the {what}")
    if suffixes and path.suffix.lower() not in suffixes:
        fail(f"{path}: the {what} must end in {' or '.join(suffixes)}")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        fail(f"{path}: folder {parent} does not exist (create it first)")
    if not os.access(parent, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        fail(f"{path}: not writable")
    return path


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
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
