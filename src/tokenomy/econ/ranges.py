"""Ranges: P10/P50/P90 of every plan, cost, capacity and invest output, and a tornado of what moves them.

Each catalog figure gets a relative uncertainty: its own ``uncertainty`` where the catalog sets one, else a
default per confidence tag (O ±5%, S ±15%, W ±35%, U ±50%). A range ±r is read as the figure's P10–P90:
the factor is 1 + r·z/1.2816 with z standard normal (floored at 5% of the value). The production model's
error on per-GPU throughput is log-normal, σ = MdAPE / 0.6745, from its in-sample MdAPE for that backend and
hardware family (`tokenomy validate`). Frontiers are not recomputed per draw: the per-GPU throughput read off
the frontier is perturbed, and the money and energy arithmetic is recomputed vectorized over the draws.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tokenomy.catalog import Catalog, catalog
from tokenomy.catalog.schema import Figure

TAG_UNCERTAINTY = {"O": 0.05, "S": 0.15, "W": 0.35, "U": 0.50}
Z90 = 1.2815515655446004  # standard-normal P90
MAD_TO_SIGMA = 0.6744897501960817  # median |z| of a standard normal
DEFAULT_DRAWS = 2000
DEFAULT_SEED = 0
FLOOR = 0.05  # a drawn factor never goes below 5% of the value
SECONDS_PER_YEAR = 8760.0 * 3600.0


# ---- uncertainty of one input --------------------------------------------------------------------------
def figure_uncertainty(fig: Figure) -> float:
    """Relative P10–P90 half-width of a catalog figure: its own, else its confidence tag's default."""
    return fig.uncertainty if fig.uncertainty is not None else TAG_UNCERTAINTY[fig.confidence]


@dataclass
class Input:
    """One uncertain input: a relative P10–P90 half-width around its value, or a log-normal σ (model)."""

    key: str
    label: str
    rel: float
    kind: str  # "catalog", "scenario" or "model"
    tag: str = ""
    lognormal_sigma: float | None = None


@dataclass
class Inputs:
    """The registry of a computation's uncertain inputs; overrides from a scenario's `uncertainty:` block."""

    overrides: dict[str, float] = field(default_factory=dict)
    items: list[Input] = field(default_factory=list)
    index: dict[str, int] = field(default_factory=dict)

    def _rel(self, key: str, tag: str, default: float) -> float:
        if key in self.overrides:
            return float(self.overrides[key])
        if tag in self.overrides:
            return float(self.overrides[tag])
        return default

    def add(self, key: str, label: str, rel: float, kind: str, tag: str = "") -> int:
        if key not in self.index:
            self.index[key] = len(self.items)
            self.items.append(Input(key, label, self._rel(key, tag, rel), kind, tag))
        return self.index[key]

    def figure(self, entry_id: str, name: str, fig: Figure | None) -> int | None:
        """Register catalog figure ``entry_id.name`` (None when the catalog has no such figure)."""
        if fig is None:
            return None
        return self.add(
            f"{entry_id}.{name}",
            f"{entry_id} {name} [{fig.confidence}]",
            figure_uncertainty(fig),
            "catalog",
            fig.confidence,
        )

    def model(self, backend: str, family: str) -> int:
        """Register the model's throughput error for ``backend`` on ``family`` (log-normal)."""
        key = f"model.{backend}/{family}"
        if key not in self.index:
            mdape, how = model_error(backend, family)
            scale = float(self.overrides.get("model_error", 1.0))
            sigma = mdape / MAD_TO_SIGMA * scale
            self.index[key] = len(self.items)
            self.items.append(
                Input(
                    key,
                    f"model tok/s/GPU {backend}/{family} (MdAPE {mdape:.0%}, {how})",
                    float(np.exp(sigma * Z90) - 1),
                    "model",
                    lognormal_sigma=sigma,
                )
            )
        return self.index[key]


def draw_factors(inputs: Inputs, draws: int, seed: int) -> np.ndarray:
    """[draws, n_inputs] multiplicative factors (common random numbers: column j depends only on j's range)."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((draws, max(len(inputs.items), 1)))[:, : len(inputs.items)]
    return factors_from_z(inputs, z)


def factors_from_z(inputs: Inputs, z: np.ndarray) -> np.ndarray:
    out = np.empty_like(z)
    for j, inp in enumerate(inputs.items):
        if inp.lognormal_sigma is not None:
            out[:, j] = np.exp(inp.lognormal_sigma * z[:, j])
        else:
            out[:, j] = np.maximum(1.0 + inp.rel * z[:, j] / Z90, FLOOR)
    return out


# ---- the model's measured error, by backend and hardware family ----------------------------------------
_FAMILY_OF_SYSTEM = {
    "h100": "hopper",
    "h200": "hopper",
    "b200": "blackwell",
    "b300": "blackwell",
    "gb200": "blackwell",
    "gb300": "blackwell",
    "mi300x": "cdna3",
    "mi325x": "cdna3",
    "mi355x": "cdna4",
}


def _family_of(system: str) -> str:
    key = system.lower().split("_")[0]
    return _FAMILY_OF_SYSTEM.get(key, key)


def _cache_path() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "tokenomy" / "model_error.json"


@functools.lru_cache(maxsize=1)
def model_error_table() -> dict[str, float]:
    """In-sample MdAPE of per-GPU throughput by 'backend/family', 'backend' and 'all', from `validate` on the
    packaged measurements; computed once per calibration and cached on disk (keyed by the data's hash)."""
    from tokenomy.perf.calibration import load_calibration

    cal = load_calibration()
    stamp = f"{cal.data_sha256}:{cal.fitted_at}"
    path = _cache_path()
    try:
        saved = json.loads(path.read_text())
        if saved.get("stamp") == stamp:
            return saved["mdape"]
    except (OSError, ValueError, KeyError):
        pass
    from tokenomy.points import packaged_paths, read_many
    from tokenomy.validation import validate

    points, _ = read_many(packaged_paths())
    groups: dict[str, list] = {}
    for p in points:
        backend = (p.backend or "").lower()
        groups.setdefault(f"{backend}/{_family_of(p.system)}", []).append(p)
        groups.setdefault(backend, []).append(p)
    table = {"all": float(cal.notes.get("in_sample", {}).get("tput_per_gpu", {}).get("mdape") or 0.13)}
    for key, pts in groups.items():
        if len(pts) < 20:  # too few points for a median error
            continue
        stats = validate(pts, cal).overall["tput_per_gpu"]
        if stats.mdape is not None and stats.n >= 20:
            table[key] = stats.mdape
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"stamp": stamp, "mdape": table}))
    except OSError:
        pass
    return table


def model_error(backend: str, family: str) -> tuple[float, str]:
    """(MdAPE, where it comes from) for per-GPU throughput of ``backend`` on ``family``."""
    t = model_error_table()
    backend = backend.lower()
    if f"{backend}/{family}" in t:
        return t[f"{backend}/{family}"], f"measured on {backend}/{family}"
    if backend in t:
        return t[backend], f"measured on {backend}, no {family} data"
    return t["all"], "all measured points (no data for this backend)"


# ---- bands ---------------------------------------------------------------------------------------------
@dataclass
class Band:
    p10: float
    p50: float
    p90: float
    point: float | None = None

    def as_dict(self) -> dict[str, float | None]:
        return {"p10": self.p10, "p50": self.p50, "p90": self.p90, "point": self.point}

    def text(self, fmt: Callable[[float], str]) -> str:
        return f"{fmt(self.p10)}–{fmt(self.p90)}"


def band(values: np.ndarray, point: float | None = None) -> Band | None:
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return None
    p10, p50, p90 = np.percentile(v, [10, 50, 90])
    return Band(float(p10), float(p50), float(p90), point)


@dataclass
class Tornado:
    """One output's swing when each input alone goes from its P10 to its P90, largest first."""

    output: str
    base: float
    rows: list[dict[str, float | str]]


def tornado(
    inputs: Inputs, evaluate: Callable[[np.ndarray], dict[str, np.ndarray]], outputs: list[str], top: int = 10
) -> list[Tornado]:
    """One-at-a-time swings: each input at its P10 and its P90, every other at its value."""
    n = len(inputs.items)
    z = np.zeros((2 * n + 1, n))
    for j in range(n):
        z[2 * j, j], z[2 * j + 1, j] = -Z90, Z90
    res = evaluate(factors_from_z(inputs, z))
    out = []
    for name in outputs:
        if name not in res:
            continue
        v = np.asarray(res[name], dtype=float)
        base = float(v[-1])
        rows = []
        for j, inp in enumerate(inputs.items):
            lo, hi = float(v[2 * j]), float(v[2 * j + 1])
            if np.isfinite(lo) and np.isfinite(hi) and abs(hi - lo) > 1e-12 * max(abs(base), 1.0):
                rows.append(
                    {"input": inp.key, "label": inp.label, "at_p10": lo, "at_p90": hi, "swing": abs(hi - lo)}
                )
        rows.sort(key=lambda r: -float(r["swing"]))
        out.append(Tornado(name, base, rows[:top]))
    return out


@dataclass
class Ranges:
    """Bands of every output (by dotted name), the tornado, the inputs and how they were drawn."""

    draws: int
    seed: int
    bands: dict[str, Band]
    tornado: list[Tornado]
    inputs: list[Input]
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "draws": self.draws,
            "seed": self.seed,
            "percentiles": "P10/P50/P90",
            "bands": {k: b.as_dict() for k, b in self.bands.items()},
            "tornado": [{"output": t.output, "base": t.base, "rows": t.rows} for t in self.tornado],
            "inputs": [
                {"key": i.key, "label": i.label, "p10_p90_rel": i.rel, "kind": i.kind} for i in self.inputs
            ],
            "notes": self.notes,
        }


def run(
    inputs: Inputs,
    evaluate: Callable[[np.ndarray], dict[str, np.ndarray]],
    points: dict[str, float | None],
    draws: int,
    seed: int,
    tornado_outputs: list[str],
    notes: list[str],
) -> Ranges:
    """Draw, evaluate vectorized, summarize; then the tornado of ``tornado_outputs``."""
    if draws < 1:
        raise ValueError(f"draws must be at least 1, not {draws}")
    res = evaluate(draw_factors(inputs, draws, seed))
    bands = {}
    for k, v in res.items():
        b = band(v, points.get(k))
        if b is not None:
            bands[k] = b
    return Ranges(draws, seed, bands, tornado(inputs, evaluate, tornado_outputs), inputs.items, notes)


def crf(rate: np.ndarray, years: np.ndarray) -> np.ndarray:
    """Capital recovery factor, vectorized (rate 0 → 1/years)."""
    rate, years = np.asarray(rate, dtype=float), np.asarray(years, dtype=float)
    safe = np.where(rate > 1e-12, rate, 1.0)
    grow = (1 + safe) ** years
    return np.where(rate > 1e-12, safe * grow / (grow - 1), 1.0 / years)


def default_catalog() -> Catalog:
    return catalog()
