"""The max-rate search: the highest load (arrival rate, or concurrency) whose level meets the SLO and is not
saturated. Grows the load (×4 a rate, ×2 a concurrency) until a probe fails; a saturated probe (throughput no longer grows with the
offered load) stops the growth at once and its throughput estimates the capacity; then bisects (geometric)
between the best passing and the lowest failing load until they are within ``tolerance``. Pure logic: the
probe is a function."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

SATURATED_BELOW = 0.95  # rate mode: completions under 95% of the realized arrival rate → saturated
GROWTH_BELOW = 1.1  # concurrency mode: less than 10% more throughput than a lower concurrency → saturated


@dataclass
class Probe:
    load: float  # offered rate (req/s) or concurrency
    achieved_req_s: float
    goodput_req_s: float
    meets_slo: bool
    saturated: bool = False
    run_id: str | None = None
    detail: dict | None = None

    @property
    def good(self) -> bool:
        return self.meets_slo and not self.saturated


def is_saturated(load: float, achieved: float, history: list[Probe], by_rate: bool) -> bool:
    """Rate: the server did not keep up with the offered rate. Concurrency: throughput stopped growing."""
    if by_rate:
        return achieved < SATURATED_BELOW * load
    lower = [p.achieved_req_s for p in history if p.load < load]
    return bool(lower) and achieved < GROWTH_BELOW * max(lower)


def search(
    probe: Callable[[float], Probe],
    start: float,
    max_probes: int = 10,
    tolerance: float = 0.1,
    integer: bool = False,
    growth: float | None = None,
) -> tuple[Probe | None, list[Probe]]:
    """(best good probe, every probe in order). ``integer`` loads (concurrency) are whole and ≥ 1 and grow
    ×2 (rates ×4); among equal goodputs the lowest load wins."""
    growth = growth or (2.0 if integer else 4.0)

    def norm(x: float) -> float:
        return float(max(1, round(x))) if integer else x

    probes: list[Probe] = []
    lo: float | None = None  # highest good load
    hi: float | None = None  # lowest bad load
    capacity: float | None = None  # throughput of a saturated probe (rate mode)
    load = norm(start)
    seen: set[float] = set()
    while len(probes) < max_probes and load not in seen:
        seen.add(load)
        p = probe(load)
        probes.append(p)
        if p.good:
            lo = load if lo is None else max(lo, load)
        else:
            hi = load if hi is None else min(hi, load)
            if p.saturated and not integer and p.achieved_req_s > 0:
                capacity = p.achieved_req_s if capacity is None else min(capacity, p.achieved_req_s)
        if hi is None:
            load = norm(load * growth)
            continue
        if capacity:
            hi = min(hi, max(1.1 * capacity, lo or 0.0))  # beyond the measured capacity nothing can pass
        if lo is None:
            # the very first loads fail: go below, to the capacity estimate when there is one
            guess = 0.9 * capacity if capacity and capacity < hi else hi / growth
            load = norm(guess)
            if integer and load >= hi:
                break
            continue
        if hi <= lo * (1 + tolerance) or (integer and hi - lo <= 1):
            break
        load = math.sqrt(lo * hi)
        if capacity and lo < 0.95 * capacity < hi and 0.95 * capacity not in seen:
            load = 0.95 * capacity  # straight to just under the measured capacity
        load = norm(load)
        if integer and load in (lo, hi):
            break
    good = [p for p in probes if p.good]
    best = max(good, key=lambda p: (p.goodput_req_s, -p.load)) if good else None
    return best, probes
