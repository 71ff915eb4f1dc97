"""Hardware and precision as the perf layer sees them: plain numbers in SI units, taken from the catalog."""

from __future__ import annotations

from dataclasses import dataclass

from tokenomy.catalog import Catalog, catalog
from tokenomy.catalog.schema import Accelerator, MissingFigureError

# Bytes per stored weight/KV element. Block-scaled formats carry their scale: NVFP4 = 4 bits + one FP8 scale per
# 16 values; MXFP4 (gpt-oss) and int4 group-32 (Kimi) ≈ 4.25-4.5 bits. FP8 block scales are negligible.
BYTES_PER_ELEMENT = {"bf16": 2.0, "fp16": 2.0, "fp8": 1.0, "fp4": 0.5625, "int4": 0.5625}


def bytes_per_element(precision: str) -> float:
    try:
        return BYTES_PER_ELEMENT[precision]
    except KeyError:
        raise ValueError(
            f"unknown precision '{precision}'; expected one of {sorted(BYTES_PER_ELEMENT)}"
        ) from None


def default_kv_precision(weight_precision: str, backend: str) -> str:
    """KV-cache precision when not given: FP8 for TensorRT-LLM FP8/FP4 engines, BF16 otherwise."""
    return "fp8" if backend == "trtllm" and weight_precision in ("fp8", "fp4") else "bf16"


@dataclass(frozen=True)
class HardwareSpec:
    """One accelerator: dense peaks (FLOP/s), memory (bytes, bytes/s), links (bytes/s, one direction), all-in
    power (kW). Physics only: its prices are econ's (:func:`tokenomy.econ.tco.preset_usd_per_gpu_hour`)."""

    id: str
    family: str
    peak_flop_s: dict[str, float]
    memory_bytes: float
    memory_bw_bytes_s: float
    scaleup_bw_bytes_s: float
    scaleout_bw_bytes_s: float
    scaleup_domain: int
    allin_kw: float | None
    unverified: tuple[str, ...] = ()

    def native(self, precision: str) -> bool:
        """Whether tensor cores take weights in ``precision`` directly (16-bit always; FP8/FP4 where a peak is
        published; int4 weight-only formats never)."""
        return precision in ("bf16", "fp16") or precision in self.peak_flop_s

    def flop_s(self, precision: str) -> float:
        """Dense peak FLOP/s for a GEMM whose weights are stored at ``precision``."""
        for p in {"fp4": ("fp4", "bf16"), "int4": ("bf16",), "fp8": ("fp8", "bf16")}.get(
            precision, (precision, "bf16")
        ):
            if p in self.peak_flop_s:
                return self.peak_flop_s[p]
        # Only an FP4/FP8 peak is published (Rubin, LP30): BF16 runs at half the FP8 rate at best.
        if "fp8" in self.peak_flop_s:
            return self.peak_flop_s["fp8"] / 2
        return self.peak_flop_s["fp4"] / 4


def _domain_size(acc: Accelerator, cat: Catalog) -> int:
    sizes = [s.value("scaleup_domain_gpus") for s in cat.systems.values() if s.accelerator == acc.id]
    sizes = [int(s) for s in sizes if s]
    return max(sizes) if sizes else 8


def hardware_spec(query: str, cat: Catalog | None = None) -> HardwareSpec:
    """Resolve an accelerator or system id into the numbers the model needs; a missing core spec is an error."""
    cat = cat or catalog()
    cache = cat.__dict__.setdefault("_hardware_specs", {})  # kept on the catalog: specs follow its figures
    if query not in cache:
        cache[query] = _hardware_spec(query, cat)
    return cache[query]


def _hardware_spec(query: str, cat: Catalog) -> HardwareSpec:
    acc = cat.accelerator(query)
    peaks = {p: acc.value(f"{p}_dense_tflops") for p in ("bf16", "fp8", "fp4")}
    peaks = {p: v * 1e12 for p, v in peaks.items() if v}
    if not peaks:
        raise MissingFigureError(f"{acc.name} has no published peak FLOPS in the catalog")
    scaleup = acc.value("scaleup_bw_gbytes_s")
    scaleout = acc.value("scaleout_bw_gbytes_s")
    used = [
        "bf16_dense_tflops",
        "fp8_dense_tflops",
        "fp4_dense_tflops",
        "memory_gb",
        "memory_bw_tbytes_s",
        "scaleup_bw_gbytes_s",
        "allin_kw",
    ]
    return HardwareSpec(
        id=acc.id,
        family=acc.family,
        peak_flop_s=peaks,
        memory_bytes=acc.require("memory_gb") * 1e9,
        memory_bw_bytes_s=acc.require("memory_bw_tbytes_s") * 1e12,
        scaleup_bw_bytes_s=(scaleup or 100.0) * 1e9 / 2,
        # No published NIC: assume 400 Gb/s per GPU (flagged by the caller through `unverified`).
        scaleout_bw_bytes_s=(scaleout or 100.0) * 1e9 / 2,
        scaleup_domain=_domain_size(acc, cat),
        allin_kw=acc.value("allin_kw"),
        unverified=tuple(f for f in acc.unverified_figures() if f in used)
        + (() if scaleout else ("scaleout_bw_gbytes_s (assumed 400 Gb/s)",)),
    )
