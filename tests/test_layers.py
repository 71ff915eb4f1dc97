"""The house's layers: every `tokenomy` import (module level or inside a function) points down, and no module
reaches itself through its imports. Read from the source with ast, nothing imported."""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path

import tokenomy

SRC = Path(tokenomy.__file__).parent

# Lowest first; a module may import its own layer or any layer below (DESIGN.md: catalog → measure → perf →
# econ → cli/web/report, with the shared formulas and the measured-data formats at the bottom).
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("shared", ("tokenomy", "tokenomy.units", "tokenomy.safe_yaml")),
    ("catalog", ("tokenomy.catalog",)),
    ("data", ("tokenomy.points", "tokenomy.store")),
    ("measure", ("tokenomy.measure", "tokenomy.consume", "tokenomy.workloads")),
    ("perf", ("tokenomy.perf",)),
    ("validation", ("tokenomy.validation",)),
    ("econ", ("tokenomy.econ",)),
    ("cli/web/report", ("tokenomy.cli", "tokenomy.web", "tokenomy.report")),
]


def module_name(path: Path) -> str:
    parts = ["tokenomy", *path.relative_to(SRC).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in SRC.rglob("*.py")}


def layer(module: str) -> int:
    """The rank of a module: its longest matching layer prefix."""
    best, rank = -1, None
    for i, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, rank = len(prefix), i
    assert rank is not None, f"{module} is in no layer: add it to LAYERS"
    return rank


def _type_checking_only(tree: ast.Module) -> set[int]:
    """ids of the import nodes under `if TYPE_CHECKING:` (annotations only: no run-time dependency)."""
    ids: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            ids |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    return ids


@functools.cache
def tree_of(path: Path) -> ast.Module:
    """A source file's syntax tree, parsed once for every check of this module."""
    return ast.parse(path.read_text(encoding="utf-8"))


def imports_of(module: str) -> set[str]:
    """The tokenomy modules ``module`` imports anywhere in its source (relative imports resolved)."""
    path = MODULES[module]
    tree = tree_of(path)
    skip = _type_checking_only(tree)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([base] if base else []))
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        else:
            continue
        for name in names:
            while name and name not in MODULES:  # `import tokenomy.x.y` of an attribute: its module
                name = name.rpartition(".")[0]
            if name.startswith("tokenomy") and name != module:
                out.add(name)
    return out


GRAPH = {m: imports_of(m) for m in MODULES}


def test_every_module_is_in_a_layer():
    for m in MODULES:
        layer(m)


def test_no_upward_import():
    upward = [
        f"{m} ({LAYERS[layer(m)][0]}) imports {t} ({LAYERS[layer(t)][0]})"
        for m, targets in GRAPH.items()
        for t in targets
        if layer(t) > layer(m)
    ]
    assert not upward, "\n".join(upward)


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` as a path that ends where it starts, or None."""
    state: dict[str, int] = {}  # 1: on the path, 2: done
    path: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        path.append(m)
        for t in sorted(graph.get(m, ())):
            if state.get(t) == 1:
                return path[path.index(t) :] + [t]
            if t not in state and (found := visit(t)):
                return found
        path.pop()
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state and (found := visit(m)):
            return found
    return None


def test_no_import_cycle():
    cycle = find_cycle(GRAPH)
    assert cycle is None, " → ".join(cycle)


def test_the_checks_can_fail():
    """The checker sees a cycle through a function-level import and an upward import when there is one."""
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
    assert layer("tokenomy.perf.frontier") < layer("tokenomy.econ.cost") < layer("tokenomy.cli.perf")
    assert "tokenomy.econ.cost" in GRAPH["tokenomy.cli.perf"]  # imported inside the command function
    assert "tokenomy.units" in GRAPH["tokenomy.perf.frontier"]


def test_the_repository_cites_nothing_outside_itself():
    """No file of the product points to notes beside the checkout (a sources file or a shared folder): the
    catalog cites the original sources. The needles are built so this file does not match itself."""
    repo = SRC.parents[1]
    needles = ("FACTS" + ".md", ".." + "/shared")
    files = [repo / "README.md", repo / "Makefile", repo / "pyproject.toml"]
    for folder in ("src", "tests", "benchmarks", "docs"):
        files += [p for p in (repo / folder).rglob("*") if p.is_file()]
    hits = []
    for path in files:
        if (
            not path.exists()
            or path.suffix in (".png", ".gguf", ".duckdb", ".pyc")
            or ".egg-info" in str(path)
        ):
            continue
        text = path.read_bytes().decode("utf-8", errors="ignore")
        hits += [f"{path.relative_to(repo)}: {n}" for n in needles if n in text]
    assert not hits, hits


def flag_errors(source: str | ast.Module) -> list[str]:
    """The messages of ``raise`` statements in ``source`` that name a command-line flag (``--name``); a whole
    command to run, quoted as `tokenomy …`, is a hint and allowed."""
    found = []
    for node in ast.walk(ast.parse(source) if isinstance(source, str) else source):
        if isinstance(node, ast.Raise) and node.exc is not None:
            for sub in ast.walk(node.exc):
                if isinstance(sub, ast.Constant) and isinstance(sub.value, str):
                    text = re.sub(r"`tokenomy [^`]*`", "", sub.value)
                    if any(
                        text[i : i + 2] == "--" and text[i + 2 : i + 3].isalpha() for i in range(len(text))
                    ):
                        found.append(text)
    return found


def test_libraries_raise_errors_naming_fields_not_flags():
    """Below the CLI an error names the field it is about (``ai_share``), never a flag (``--ai-share``): the same
    library serves the web API and scripts, where no flag exists; the CLI adds its flag when it reports."""
    hits = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        if rel.startswith(("cli/", "web/")) or rel == "measure/fake_server.py":  # the edges own their flags
            continue
        hits += [f"{rel}: {m}" for m in flag_errors(tree_of(path))]
    assert not hits, hits
    assert flag_errors('raise ValueError(f"--mix: {x} is bad")') == ["--mix: "]  # the check can fail
