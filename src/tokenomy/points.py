"""Serving points: rows in the columns of ``calibration.csv`` (deployment + workload, measured columns optional).

This is the I/O edge of `predict`, `validate` and `calibrate`: CSV in, validated rows out, CSV back.
"""

from __future__ import annotations

import csv
import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path

REQUIRED = ["model_path", "system", "backend", "isl", "osl", "concurrency", "tp_size"]
INT_COLUMNS = [
    "isl",
    "osl",
    "concurrency",
    "tp_size",
    "pp_size",
    "attention_dp_size",
    "moe_tp_size",
    "moe_ep_size",
]
FLOAT_COLUMNS = ["measured_ttft_ms", "measured_tpot_ms"]
QUANT_TO_PRECISION = {
    "fp8": "fp8",
    "fp8_block": "fp8",
    "nvfp4": "fp4",
    "mxfp4": "fp4",
    "fp4": "fp4",
    "int4": "int4",
    "w4a16": "int4",
    "bf16": "bf16",
    "fp16": "bf16",
    "float16": "bf16",
}


class PointsError(ValueError):
    """A points file that cannot be read, with the line that is wrong."""


@dataclass
class Point:
    """One deployment × workload, with optional measured TTFT/TPOT."""

    line: int
    raw: dict[str, str]
    model_path: str
    system: str
    backend: str
    precision: str
    gemm_precision: str
    moe_precision: str
    isl: int
    osl: int
    concurrency: int
    tp: int
    pp: int
    dp: int
    moe_tp: int
    moe_ep: int
    measured_ttft_ms: float | None = None
    measured_tpot_ms: float | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def gpus(self) -> int:
        return self.tp * self.pp * self.dp

    @property
    def measured_tput_per_gpu(self) -> float | None:
        """(input + output) tok/s per GPU by Little's law from the measured medians (data README)."""
        if self.measured_ttft_ms is None or self.measured_tpot_ms is None:
            return None
        e2e_ms = self.measured_ttft_ms + (self.osl - 1) * self.measured_tpot_ms
        return self.concurrency * (self.isl + self.osl) / (e2e_ms / 1e3) / self.gpus


def _int(row: dict[str, str], key: str, default: int | None, line: int) -> int:
    text = (row.get(key) or "").strip()
    if not text:
        if default is None:
            raise PointsError(f"line {line}: column '{key}' is empty")
        return default
    try:
        number = float(text)
    except ValueError:
        number = math.nan
    if not math.isfinite(number) or number != int(number):
        raise PointsError(f"line {line}: column '{key}' should be a whole number, got '{text}'") from None
    value = int(number)
    if value == 0 and default is not None:
        return default  # 0 = "not applicable" (e.g. moe_ep_size on a dense model)
    if value <= 0:
        raise PointsError(f"line {line}: column '{key}' must be positive, got {value}")
    return value


def _float(row: dict[str, str], key: str, line: int) -> float | None:
    text = (row.get(key) or "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise PointsError(f"line {line}: column '{key}' should be a number, got '{text}'") from None
    if not math.isfinite(value) or value <= 0:
        raise PointsError(f"line {line}: column '{key}' must be a measured time > 0 ms, got '{text}'")
    return value


def _precision(text: str, fallback: str) -> str:
    text = (text or "").strip().lower()
    return QUANT_TO_PRECISION.get(text, fallback) if text else fallback


def parse_row(row: dict[str, str], line: int) -> Point:
    missing = [k for k in REQUIRED if not (row.get(k) or "").strip()]
    if missing:
        raise PointsError(f"line {line}: missing value(s) for {', '.join(missing)}")
    precision = _precision(row.get("precision", ""), "")
    gemm = _precision(row.get("gemm_quant_mode", ""), precision)
    moe = _precision(row.get("moe_quant_mode", ""), gemm)
    tp = _int(row, "tp_size", None, line)
    dp = _int(row, "attention_dp_size", 1, line)
    moe_gpus = _int(row, "moe_tp_size", 1, line) * _int(row, "moe_ep_size", 1, line)
    if not (row.get("attention_dp_size") or "").strip() and moe_gpus > tp and moe_gpus % tp == 0:
        # Blank attention-DP but MoE layers on more GPUs than tp (vLLM's DP + MoE-TP): by the convention
        # tp × dp = moe_tp × moe_ep, the engine has moe_tp × moe_ep GPUs.
        dp = moe_gpus // tp
    return Point(
        line=line,
        raw=dict(row),
        model_path=row["model_path"].strip(),
        system=row["system"].strip(),
        backend=row["backend"].strip().lower(),
        precision=precision,
        gemm_precision=gemm,
        moe_precision=moe,
        isl=_int(row, "isl", None, line),
        osl=_int(row, "osl", None, line),
        concurrency=_int(row, "concurrency", None, line),
        tp=tp,
        pp=_int(row, "pp_size", 1, line),
        dp=dp,
        moe_tp=_int(row, "moe_tp_size", tp * dp, line),
        moe_ep=_int(row, "moe_ep_size", 1, line),
        measured_ttft_ms=_float(row, "measured_ttft_ms", line),
        measured_tpot_ms=_float(row, "measured_tpot_ms", line),
    )


def read_points(path: str | Path) -> tuple[list[Point], list[str]]:
    """Read a points CSV; returns the points and the header (to write predictions back in the same order)."""
    path = Path(path)
    if not path.exists():
        raise PointsError(f"{path}: no such file")
    if not path.is_file():
        raise PointsError(f"{path}: not a file (a points CSV expected)")
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            header = list(reader.fieldnames or [])
            absent = [c for c in REQUIRED if c not in header]
            if absent:
                raise PointsError(
                    f"{path}: missing column(s) {', '.join(absent)}; expected the calibration.csv columns"
                )
            points = [parse_row(row, i) for i, row in enumerate(reader, start=2)]
    except UnicodeDecodeError:
        raise PointsError(
            f"{path}: not UTF-8 text (a binary or UTF-16 file?); save the CSV as UTF-8"
        ) from None
    except csv.Error as exc:
        raise PointsError(f"{path}: line {reader.line_num}: not a readable CSV ({exc})") from None
    except OSError as exc:
        raise PointsError(f"{path}: cannot read ({exc.strerror})") from None
    if not points:
        raise PointsError(f"{path}: a header but no rows")
    return points, header


def write_points(path: str | Path, header: list[str], rows: list[dict[str, object]]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    extra = [k for k in rows[0] if k not in header] if rows else []
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=header + extra, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def file_sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
