"""Human-readable numbers for tables and reports: $1.23B, 4.56T."""

from __future__ import annotations

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
