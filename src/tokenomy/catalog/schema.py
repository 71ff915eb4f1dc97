"""Pydantic schemas of the catalog. Every number is a :class:`Figure` that carries its provenance."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from tokenomy.catalog.architecture import Architecture

Confidence = Literal["O", "S", "W", "U"]
CONFIDENCE_MEANING = {
    "O": "first-party",
    "S": "reputable secondary",
    "W": "weak",
    "U": "unverified or derived (editable default)",
}


class Source(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    title: str
    url: str
    as_of: dt.date


class Figure(BaseModel):
    """One sourced number: the value and where it comes from."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    value: float
    source_id: str
    source: str
    url: str
    as_of: dt.date
    confidence: Confidence
    note: str | None = None
    currency: str | None = None
    uncertainty: float | None = Field(
        None, ge=0, le=5, description="relative P10–P90 half-width; default by confidence (econ/ranges.py)"
    )

    @property
    def unverified(self) -> bool:
        return self.confidence == "U"


class Entry(BaseModel):
    """Common shape of a catalog entry: an id, a display name, aliases and sourced figures."""

    model_config = ConfigDict(extra="forbid")
    id: str
    name: str
    aliases: list[str] = Field(default_factory=list)
    figures: dict[str, Figure] = Field(default_factory=dict)

    def value(self, name: str) -> float | None:
        """The number behind figure ``name``, or None when the catalog does not know it."""
        fig = self.figures.get(name)
        return None if fig is None else fig.value

    def require(self, name: str) -> float:
        fig = self.figures.get(name)
        if fig is None:
            raise MissingFigureError(f"{self.name} has no '{name}' in the catalog (unknown or unpublished)")
        return fig.value

    def unverified_figures(self) -> list[str]:
        return [k for k, f in self.figures.items() if f.unverified]


class MissingFigureError(LookupError):
    """A computation needs a figure the catalog does not have."""


ACCELERATOR_FIGURES = {
    "bf16_dense_tflops",
    "fp8_dense_tflops",
    "fp4_dense_tflops",
    "memory_gb",
    "memory_bw_tbytes_s",
    "scaleup_bw_gbytes_s",
    "scaleout_bw_gbytes_s",
    "tdp_w",
    "allin_kw",
    "price_usd",
    "usd_per_gpu_hour_hyperscaler",
    "usd_per_gpu_hour_neocloud",
    "usd_per_gpu_hour_rental",
}
SYSTEM_FIGURES = {
    "gpus",
    "scaleup_domain_gpus",
    "system_kw",
    "allin_kw",
    "price_usd",
    "host_dram_gb",  # host memory per system, for KV-cache offload
    "host_to_gpu_gbytes_s",  # GB/s per GPU, one direction, host memory → HBM
    "local_ssd_tb",  # local NVMe per system
    "ssd_read_gbytes_s",  # GB/s per system, sequential read of the local NVMe
}
# Names whose unit was ambiguous (bits or bytes per second?) and what they are now: a catalog still using one
# is rejected with this hint rather than read in the wrong unit.
RENAMED_FIGURES = {
    "memory_bw_tbps": "memory_bw_tbytes_s (TB/s)",
    "scaleup_bw_gbps": "scaleup_bw_gbytes_s (GB/s, both directions per GPU)",
    "scaleout_bw_gbps": "scaleout_bw_gbytes_s (GB/s, both directions per GPU: a 400 Gb/s NIC is 100)",
    "host_to_gpu_gbps": "host_to_gpu_gbytes_s (GB/s per GPU, one direction)",
    "ssd_read_gbps": "ssd_read_gbytes_s (GB/s per system)",
}
MODEL_FIGURES = {"published_total_params_b", "published_active_params_b"}
TIER_FIGURES = {
    "price_usd_per_mtok",
    "input_price_usd_per_mtok",
    "min_tok_s_per_user",
    "isl_tokens",
    "osl_tokens",
}
REGION_FIGURES = {"electricity", "electricity_usd_per_kwh", "grid_gco2_per_kwh", "pue"}
ENGINE_FIGURES = {"max_running_per_rank", "max_concurrency", "mtp_draft_tokens"}


class Accelerator(Entry):
    kind: Literal["accelerator"] = "accelerator"
    vendor: str
    family: str
    memory_kind: str


class System(Entry):
    kind: Literal["system"] = "system"
    accelerator: str


class Variant(BaseModel):
    model_config = ConfigDict(extra="forbid")
    hf_id: str
    precision: Literal["bf16", "fp8", "fp4", "int4"]


class Model(Entry):
    kind: Literal["model"] = "model"
    architecture: Architecture
    architecture_source: str
    default_precision: Literal["bf16", "fp8", "fp4", "int4"]
    variants: list[Variant] = Field(default_factory=list)
    config_note: str | None = None

    @property
    def total_params_b(self) -> float:
        return self.architecture.total_params / 1e9

    @property
    def active_params_b(self) -> float:
        return self.architecture.active_params / 1e9


class Engine(Entry):
    """A serving engine (TensorRT-LLM, SGLang, vLLM, ATOM) and the limits a deployment of it respects."""

    kind: Literal["engine"] = "engine"
    vendors: list[Literal["nvidia", "amd"]]


class Tier(Entry):
    kind: Literal["tier"] = "tier"
    serves: str
    default_model: str


class Region(Entry):
    kind: Literal["region"] = "region"

    @property
    def electricity_usd_per_kwh(self) -> float:
        return self.require("electricity_usd_per_kwh")


class ClaimConditions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    hardware: str | None = None
    baseline: str | None = None
    model: str | None = None
    precision: str | None = None
    baseline_precision: str | None = None
    isl: int | None = None
    osl: int | None = None
    tok_s_per_user: float | None = None
    sweep: str | None = None  # the benchmark's search space, e.g. inferencex-v1 (TP 1-8, concurrency 4-64)
    note: str | None = None


class Claim(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    statement: str
    metric: str
    kind: Literal["absolute", "ratio"]
    value: Figure
    unit: str
    conditions: ClaimConditions

    @property
    def name(self) -> str:
        return self.statement

    @property
    def aliases(self) -> list[str]:
        return []

    @property
    def figures(self) -> dict[str, Figure]:
        return {"value": self.value}


# ---- figures over years (markets.yaml): roadmap, nations, demand paths -----------------------------------
ROADMAP_FIGURES = {"available_year", "price_usd"}
NATION_FIGURES = {
    "gw_added_per_year",
    "gw_added_per_year_utility",
    "gw_added_per_year_target",
    "gw_added_per_year_nea",
    "ai_share",
    "pue",
}


class RoadmapEntry(Entry):
    """A hardware generation that can be bought from a date (decimal year, e.g. 2025.5 = 1 July 2025)."""

    kind: Literal["roadmap"] = "roadmap"
    system: str

    @property
    def available_year(self) -> float:
        return self.require("available_year")


class Nation(Entry):
    """Power added per year by a country, the share for AI [U], the hardware its AI capacity uses, by year."""

    kind: Literal["nation"] = "nation"
    region: str
    hardware: dict[int, str | dict[str, float]] = Field(default_factory=dict)  # system, or {system: share}


class DemandPath(Entry):
    """Public token volumes over time; each point's ``as_of`` is its date."""

    kind: Literal["demand"] = "demand"
    per: Literal["day", "month"]
    points: list[Figure] = Field(min_length=1)
