"""Benchmark metrics with the InferenceX definitions (TTFT, TPOT = (E2E − TTFT)/(n − 1), ITL, E2E, goodput).
Pure functions."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tokenomy.measure.client import RequestResult
from tokenomy.units import joules_per_token, tok_s_per_mw, usd_per_mtok


@dataclass(frozen=True)
class Slo:
    """Service-level objectives for goodput; None = no limit."""

    ttft_ms: float | None = None
    tpot_ms: float | None = None
    e2e_ms: float | None = None
    percentile: float = (
        90.0  # a level meets the SLO when this percentile of each metric does (max-rate search)
    )

    @classmethod
    def parse(cls, text: str | None) -> Slo:
        """'ttft_ms=500,tpot_ms=50[,percentile=p90]' → Slo(500, 50, percentile=90)."""
        if not text:
            return cls()
        values: dict[str, float] = {}
        for part in text.split(","):
            key, _, val = part.partition("=")
            key, val = key.strip(), val.strip()
            if key == "percentile":
                val = val.lstrip("pP")
            elif key not in ("ttft_ms", "tpot_ms", "e2e_ms"):
                raise ValueError(f"slo: unknown objective '{key}' (use ttft_ms, tpot_ms, e2e_ms, percentile)")
            try:
                number = float(val)
            except ValueError:
                raise ValueError(f"slo: '{part}' needs a number, e.g. ttft_ms=500") from None
            if not (number > 0 and number < float("inf")) or (key == "percentile" and number > 100):
                raise ValueError(f"slo: '{part}' must be a positive number (a percentile at most 100)")
            values[key] = number
        return cls(**values)

    @property
    def limits(self) -> dict[str, float]:
        return {
            k: v
            for k, v in (("ttft_ms", self.ttft_ms), ("tpot_ms", self.tpot_ms), ("e2e_ms", self.e2e_ms))
            if v
        }

    def level_meets(self, results: Sequence[RequestResult]) -> bool:
        """The ``percentile`` of TTFT, TPOT and E2E over the level's requests (a failure counts as infinitely
        slow) within the limits."""
        measured = [r for r in results if not r.warmup]
        if not measured:
            return False
        for key, limit in self.limits.items():
            values = [getattr(r, key) if r.ok else 1e18 for r in measured]  # a failure: slower than any
            arr = np.asarray([v for v in values if v is not None], dtype=float)
            if arr.size == 0:
                return False
            if float(np.percentile(arr, self.percentile)) > limit:
                return False
        return True

    def met(self, r: RequestResult) -> bool:
        if not r.ok:
            return False
        checks = ((self.ttft_ms, r.ttft_ms), (self.tpot_ms, r.tpot_ms), (self.e2e_ms, r.e2e_ms))
        return all(limit is None or (value is not None and value <= limit) for limit, value in checks)


def distribution(values: Sequence[float]) -> dict[str, float | None]:
    arr = np.asarray([v for v in values if v is not None], dtype=float)
    if arr.size == 0:
        return {"mean": None, "p50": None, "p90": None, "p99": None}
    return {
        "mean": float(arr.mean()),
        "p50": float(np.percentile(arr, 50)),
        "p90": float(np.percentile(arr, 90)),
        "p99": float(np.percentile(arr, 99)),
    }


def summarize(
    results: Sequence[RequestResult],
    duration_s: float,
    slo: Slo | None = None,
    gpus: int | None = None,
    allin_kw_per_gpu: float | None = None,
    usd_per_gpu_hour: float | None = None,
) -> dict:
    """TTFT, TPOT, ITL, E2E distributions; request/input/output/total throughput; tok/s/user; goodput; failures.

    With ``gpus``: ``tput_per_gpu`` = (input + output) tok/s per GPU serving and ``output_tput_per_gpu`` = output
    tok/s per GPU, keys named as InferenceX's result format names them (summaries are stored in the results
    database and exported in that format; elsewhere tokenomy calls them ``tok_s_per_gpu``, ``output_tok_s_per_gpu``).
    """
    measured = [r for r in results if not r.warmup]
    ok = [r for r in measured if r.ok]
    failed = [r for r in measured if not r.ok]
    reasons = Counter((r.error or "").split(":")[0] for r in failed)
    tpots = [r.tpot_ms for r in ok if r.tpot_ms is not None]
    out_tokens = sum(r.output_tokens for r in ok)
    in_tokens = sum(r.prompt_tokens or 0 for r in ok)
    d = max(duration_s, 1e-9)
    slo = slo or Slo()
    median_tpot = float(np.median(tpots)) if tpots else None
    summary = {
        "requests": len(measured),
        "completed": len(ok),
        "failed": len(failed),
        "failure_reasons": dict(reasons),
        "failures": [{"index": r.index, "error": r.error} for r in failed][:50],
        "usage_from_server": sum(r.usage_source == "server" for r in ok),
        "usage_counted_from_stream": sum(r.usage_source == "streamed" for r in ok),
        "prompt_tokens_estimated": sum(r.prompt_tokens_estimated for r in ok),
        "short_outputs": sum(1 for r in ok if r.max_tokens and r.output_tokens < r.max_tokens),
        "duration_s": duration_s,
        "ttft_ms": distribution([r.ttft_ms for r in ok]),
        "tpot_ms": distribution(tpots),
        "itl_ms": distribution([x for r in ok for x in r.itl_ms]),
        "e2e_ms": distribution([r.e2e_ms for r in ok]),
        "request_throughput": len(ok) / d,
        "input_tok_s": in_tokens / d,
        "output_tok_s": out_tokens / d,
        "total_tok_s": (in_tokens + out_tokens) / d,
        "tok_s_per_user": 1000.0 / median_tpot if median_tpot else None,
        "goodput_req_s": sum(slo.met(r) for r in ok) / d,
        "slo": slo.limits,
        "input_tokens": in_tokens,
        "output_tokens": out_tokens,
    }
    if gpus:
        summary["tput_per_gpu"] = summary["total_tok_s"] / gpus
        summary["output_tput_per_gpu"] = summary["output_tok_s"] / gpus
        if allin_kw_per_gpu:
            summary["tok_s_per_mw"] = tok_s_per_mw(summary["tput_per_gpu"], allin_kw_per_gpu)
            summary["joules_per_token_provisioned"] = joules_per_token(
                allin_kw_per_gpu, max(summary["tput_per_gpu"], 1e-12)
            )
        if usd_per_gpu_hour:
            tput = summary["tput_per_gpu"]
            summary["usd_per_mtok"] = usd_per_mtok(usd_per_gpu_hour, tput) if tput else None
    return summary


def reuse_summary(results: Sequence[RequestResult]) -> dict | None:
    """Reuse workloads: the share of planned prompt tokens that are a prefix an earlier request sent (all
    measured requests, failed ones too: what was replayed) and the sessions; None for other workloads."""
    measured = [r for r in results if not r.warmup]
    planned = [r for r in measured if r.planned_tokens is not None]
    if not planned:
        return None
    total = sum(r.planned_tokens for r in planned)
    reused = sum(r.reused_tokens or 0 for r in planned)
    out: dict = {
        "planned_prompt_tokens": total,
        "reused_prompt_tokens": reused,
        "share": reused / total if total else 0.0,
        "requests_reusing": sum(1 for r in planned if r.reused_tokens),
    }
    sessions = {r.session_id for r in measured if r.session_id is not None}
    if sessions:
        out["sessions"] = len(sessions)
        out["turns"] = max(r.turn for r in measured if r.turn is not None) + 1
    return out


def send_lateness(results: Sequence[RequestResult]) -> dict | None:
    """Rate and trace modes: how late each request left against its schedule (ms), or None."""
    late = [(r.start_s - r.due_s) * 1e3 for r in results if not r.warmup and r.due_s is not None]
    return distribution(late) | {"max": max(late)} if late else None
