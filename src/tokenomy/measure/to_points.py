"""Stored bench runs → calibration points (the columns of calibration.csv), for `calibrate --from-db`."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from tokenomy.points import Point, parse_row
from tokenomy.store import Store


def points_from_db(run_id: str, db: str | Path | None = None) -> tuple[list[Point], str]:
    """One point per completed run of a sweep: its median TTFT and TPOT at its concurrency. The run must name
    the hardware (`bench --hardware`), the engine (`--backend`) and a model the catalog knows."""
    with Store.reader(db) as store:
        data = store.run(run_id)
    points = []
    for i, run in enumerate(data["runs"], start=1):
        s = run["summary"]
        if not s or not s.get("completed") or run["mode"] != "concurrency":
            continue
        missing = [k for k in ("hardware", "backend") if not run.get(k)]
        if missing:
            raise ValueError(
                f"run {run['run_id']} has no {' or '.join(missing)}: measure it with `tokenomy bench --hardware … --backend …`"
            )
        row = {
            "model_path": run["model"],
            "system": run["hardware"],
            "backend": run["backend"],
            "isl": str(run["isl"]),
            "osl": str(run["osl"]),
            "concurrency": str(run["concurrency"]),
            "tp_size": str(run["gpus"] or 1),
            "precision": run["config"].get("precision", ""),
            "measured_ttft_ms": str(s["ttft_ms"]["p50"] or ""),
            "measured_tpot_ms": str(s["tpot_ms"]["p50"] or ""),
        }
        points.append(parse_row(row, i))
    if not points:
        raise ValueError(f"run {run_id} has no completed concurrency levels to calibrate on")
    digest = hashlib.sha256(json.dumps([p.raw for p in points], sort_keys=True).encode()).hexdigest()
    return points, digest
