"""The shared bottom layer: the unit formulas every layer uses (tok/s per MW, J/token, $/M tokens) and
human-readable numbers for tables and reports ($1.23B, 4.56T). Pure arithmetic on floats or NumPy arrays."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    Quantity = float | np.ndarray  # a number, or the same formula over a grid

SECONDS_PER_HOUR = 3600.0
TOKENS_PER_MTOK = 1e6
KW_PER_MW = 1000.0


def tok_s_per_mw(tok_s_per_gpu: Quantity, allin_kw_per_gpu: Quantity) -> Quantity:
    """Tokens per second per MW of all-in IT power (InferenceX's definition): tok/s/GPU × 1000 / kW per GPU."""
    return tok_s_per_gpu * KW_PER_MW / allin_kw_per_gpu


def joules_per_token(allin_kw_per_gpu: Quantity, tok_s_per_gpu: Quantity) -> Quantity:
    """IT energy per token (J): all-in W per GPU / tok/s per GPU."""
    return allin_kw_per_gpu * 1000.0 / tok_s_per_gpu


def wh_of(joules: Quantity) -> Quantity:
    """Joules in watt-hours."""
    return joules / SECONDS_PER_HOUR


def gco2_per_mtok(joules_per_token: Quantity, grid_gco2_per_kwh: Quantity) -> Quantity:
    """Grams of CO2e per million tokens: J/token × 1e6 tokens in kWh (÷ 3.6e6 J/kWh) × grid intensity."""
    return joules_per_token * TOKENS_PER_MTOK / 3.6e6 * grid_gco2_per_kwh


def usd_per_mtok(usd_per_gpu_hour: Quantity, tok_s_per_gpu: Quantity) -> Quantity:
    """$ per million tokens (InferenceX's definition): ($/GPU-hour) / (tok/s per GPU × 3600 / 1e6)."""
    return usd_per_gpu_hour / (tok_s_per_gpu * SECONDS_PER_HOUR / TOKENS_PER_MTOK)


def gpus_per_mw(allin_kw_per_gpu: Quantity, pue: Quantity) -> Quantity:
    """GPUs one MW at the meter powers: 1000 / (all-in kW per GPU × PUE)."""
    return KW_PER_MW / (allin_kw_per_gpu * pue)


def usd_for_tokens(tokens: Quantity, usd_per_mtok: Quantity) -> Quantity:
    """$ for a number of tokens at a price per million tokens."""
    return tokens * usd_per_mtok / TOKENS_PER_MTOK


def usd_per_mtok_of(cost_usd: Quantity, tokens: Quantity) -> Quantity:
    """$ per million tokens from a total cost and a token count."""
    return cost_usd / (tokens / TOKENS_PER_MTOK)


def json_safe(value: Any) -> Any:
    """JSON has no NaN or infinity: turn them into null, recursively (dicts, lists, tuples)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


MONEY_UNITS = (("T", 1e12), ("B", 1e9), ("M", 1e6), ("k", 1e3))
COUNT_UNITS = (("P", 1e15), *MONEY_UNITS)


def money(x: float | None, minus: str = "-") -> str:
    """Dollars with a unit suffix; None prints as an em dash."""
    if x is None:
        return "—"
    sign = minus if x < 0 else ""
    x = abs(x)
    for unit, div in MONEY_UNITS:
        if x >= div:
            return f"{sign}${x / div:.2f}{unit}"
    return f"{sign}${x:.2f}"


def count(x: float | None) -> str:
    """A count with a unit suffix (k, M, B, T, P); small numbers keep three significant digits."""
    if x is None:
        return "—"
    for unit, div in COUNT_UNITS:
        if abs(x) >= div:
            return f"{x / div:.2f}{unit}"
    return f"{x:.3g}"
