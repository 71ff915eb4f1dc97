"""Running figures of a level for the live view: counts, tok/s and p50 TTFT/TPOT over the last requests.
Cheap to update (called per finished request) and to read (a few times a second)."""

from __future__ import annotations

import time
from collections import deque

import numpy as np

from tokenomy.measure.client import RequestResult


class LiveStats:
    """Accumulates finished requests; ``snapshot`` gives the figures the live view shows."""

    def __init__(self, label: str, total: int, window: int = 2048):
        self.label, self.total = label, total
        self.done = self.failed = self.tokens = 0
        self.ttft: deque[float] = deque(maxlen=window)
        self.tpot: deque[float] = deque(maxlen=window)
        self.t0 = time.monotonic()

    def add(self, r: RequestResult) -> None:
        if r.warmup:
            return
        self.done += 1
        if not r.ok:
            self.failed += 1
            return
        self.tokens += r.output_tokens
        self.ttft.append(r.ttft_ms)
        tpot = r.tpot_ms
        if tpot is not None:
            self.tpot.append(tpot)

    def snapshot(self) -> dict:
        elapsed = max(time.monotonic() - self.t0, 1e-9)
        return {
            "label": self.label,
            "done": self.done,
            "total": self.total,
            "failed": self.failed,
            "ttft_p50_ms": float(np.median(self.ttft)) if self.ttft else None,
            "tpot_p50_ms": float(np.median(self.tpot)) if self.tpot else None,
            "out_tok_s": self.tokens / elapsed,
            "elapsed_s": elapsed,
        }
