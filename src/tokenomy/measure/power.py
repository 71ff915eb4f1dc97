"""GPU board power from NVML, sampled in a thread during a run, integrated into joules per token."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import numpy as np


def integrate_joules(times_s: Sequence[float], watts: Sequence[float], start_s: float, end_s: float) -> float:
    """Energy over [start, end] by the trapezoid rule; the window edges are interpolated from the samples,
    so samples taken before or after the run do not count and a run between two samples still does."""
    t = np.asarray(times_s, dtype=float)
    w = np.asarray(watts, dtype=float)
    if t.size < 2 or end_s <= start_s:
        return 0.0
    order = np.argsort(t)
    t, w = t[order], w[order]
    inside = (t > start_s) & (t < end_s)
    edges_t = np.array([start_s, end_s])
    edges_w = np.interp(edges_t, t, w)  # holds the first/last sample beyond the sampled range
    tt = np.concatenate([[start_s], t[inside], [end_s]])
    ww = np.concatenate([[edges_w[0]], w[inside], [edges_w[1]]])
    return float(np.sum((tt[1:] - tt[:-1]) * (ww[1:] + ww[:-1]) / 2.0))


class NvmlSampler:
    """Samples total board power of every visible GPU at ``hz`` (≥ 10) in a background thread."""

    def __init__(self, hz: float = 20.0):
        self.interval = 1.0 / max(hz, 10.0)
        self.times: list[float] = []
        self.watts: list[float] = []
        self.available = False
        self.reason = ""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        try:
            import pynvml  # nvidia-ml-py

            pynvml.nvmlInit()
            self._nvml = pynvml
            self._handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(pynvml.nvmlDeviceGetCount())]
            self.available = bool(self._handles)
            self.reason = "" if self._handles else "NVML found no GPU"
        except Exception as exc:  # no driver, no library, no GPU: say so, measure nothing
            self.reason = f"no NVML power: {type(exc).__name__}: {exc}"[:160]

    def _run(self) -> None:
        while not self._stop.is_set():
            total = sum(self._nvml.nvmlDeviceGetPowerUsage(h) for h in self._handles) / 1000.0
            self.times.append(time.time())
            self.watts.append(total)
            self._stop.wait(self.interval)

    def __enter__(self) -> NvmlSampler:
        if self.available:
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=2)

    def joules(self, start_s: float, end_s: float) -> float | None:
        return integrate_joules(self.times, self.watts, start_s, end_s) if self.available else None
