"""Bench summaries as rows of the InferenceX result format (one per concurrency level). Pure."""

from __future__ import annotations


def inferencex_rows(
    summaries: list[dict], model: str, hardware: str | None, backend: str | None, isl: int, osl: int
) -> list[dict]:
    """One InferenceX row per level summary (per-GPU throughput only when --gpus was given)."""
    rows = []
    for s in summaries:
        rows.append(
            {
                "hw": hardware,
                "model": model,
                "framework": backend,
                "isl": isl,
                "osl": osl,
                "conc": s["concurrency"],
                "tput_per_gpu": s.get("tput_per_gpu"),
                "output_tput_per_gpu": s.get("output_tput_per_gpu"),
                "median_ttft": s["ttft_ms"]["p50"],
                "median_tpot": s["tpot_ms"]["p50"],
                "median_itl": s["itl_ms"]["p50"],
                "median_e2el": s["e2e_ms"]["p50"],
                "median_intvty": s["tok_s_per_user"],
                "p99_ttft": s["ttft_ms"]["p99"],
                "p99_tpot": s["tpot_ms"]["p99"],
                "completed": s["completed"],
                "failed": s["failed"],
                "run_id": s["run_id"],
            }
        )
    return rows
