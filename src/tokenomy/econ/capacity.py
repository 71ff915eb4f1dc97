"""Capacity: a token demand (output tokens per day) → MW, GW, GPUs, racks and capex per hardware generation."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from tokenomy import units as U
from tokenomy.catalog import Catalog, catalog
from tokenomy.econ.factory import _unit, resolve_tier
from tokenomy.econ.scenario import Generation, HardwareShare, Scenario, TierSpec, default_scenario
from tokenomy.econ.tco import capex_per_gpu_usd

DEFAULT_GENERATIONS = ("hgx_h200", "gb200_nvl72", "gb300_nvl72", "vr_nvl72")
DEFAULT_MIX = {"free": 1 / 3, "medium": 1 / 3, "high": 1 / 3}  # tiers every generation can serve


@dataclass
class CapacityRow:
    hardware: str
    power_mw: float | None
    gpus: float | None
    racks: float | None
    capex_usd: float | None
    by_tier_mw: dict[str, float | None]
    notes: list[str] = field(default_factory=list)


@dataclass
class CapacityReport:
    tokens_per_day: float
    tier_mix: dict[str, float]
    rows: list[CapacityRow]
    assumptions: list[str]

    def as_dict(self) -> dict:
        return asdict(self)


def parse_mix(text: str | None, label: str = "tier_mix", what: str = "tier") -> dict[str, float]:
    """'free=0.5,medium=0.5' → {'free': 0.5, 'medium': 0.5}: each tier once, shares in [0, 1] summing to 1."""
    if not text:
        return {}
    mix: dict[str, float] = {}
    for part in text.split(","):
        name, sep, value = (s.strip() for s in part.partition("="))
        try:
            share = float(value) if sep and name else None
        except ValueError:
            share = None
        if share is None:
            raise ValueError(
                f"{label}: '{part}' should look like {what}=share, e.g. {'free' if what == 'tier' else 'gpt-oss-120b'}=0.5"
            )
        if not 0 <= share <= 1:  # also rejects nan
            raise ValueError(f"{label}: the share of '{name}' must be between 0 and 1, not {value}")
        if name in mix:
            raise ValueError(f"{label}: {what} '{name}' is given twice")
        mix[name] = share
    if abs(sum(mix.values()) - 1) > 1e-6:
        raise ValueError(f"{label}: shares sum to {sum(mix.values()):g}, not 1")
    return mix


def capacity(
    tokens_per_day: float,
    tier_mix: dict[str, float] | None = None,
    hardware: tuple[str, ...] | list[str] = DEFAULT_GENERATIONS,
    scenario: Scenario | None = None,
    cat: Catalog | None = None,
) -> CapacityReport:
    """Power, GPUs and capex to produce ``tokens_per_day`` output tokens split across tiers (default: a third
    each of Free, Medium and High, at the default scenario's floors and workloads)."""
    if not (math.isfinite(tokens_per_day) and tokens_per_day > 0):
        raise ValueError(f"tokens_per_day must be a finite number > 0, not {tokens_per_day:g}")
    cat = cat or catalog()
    sc = scenario or default_scenario()
    mix = tier_mix or dict(DEFAULT_MIX)
    specs = {t.tier: t for t in sc.tiers}
    tiers = [resolve_tier(specs.get(name) or TierSpec(tier=name), cat) for name in mix]
    rows = []
    for hw in hardware:
        gen = Generation(name=hw, hardware=[HardwareShare(system=hw)])
        by_tier: dict[str, float | None] = {}
        notes = []
        total_mw = 0.0
        for tier in tiers:
            unit, per_gpu = _unit(tier, hw, gen, sc, cat)
            if per_gpu is None or unit.output_tokens_per_day_per_mw <= 0:
                by_tier[tier.id] = None
                notes.append(f"{tier.name}: {unit.reason}")
                continue
            mw = mix[tier.id] * tokens_per_day / unit.output_tokens_per_day_per_mw
            by_tier[tier.id] = mw
            total_mw += mw
        if notes:
            rows.append(CapacityRow(hw, None, None, None, None, by_tier, notes))
            continue
        acc = cat.accelerator(hw)
        try:
            system = cat.system(hw)
        except LookupError:
            system = None
        gpus = total_mw * U.gpus_per_mw(acc.require("allin_kw"), sc.pue)
        capex_gpu, how = capex_per_gpu_usd(acc, system, sc.ownership, sc.pue)
        racks = gpus / system.require("gpus") if system and system.value("gpus") else None
        rows.append(CapacityRow(hw, total_mw, gpus, racks, gpus * capex_gpu, by_tier, [f"capex: {how}"]))
    assumptions = [
        f"tokens are output tokens sold; utilization {sc.utilization:.0%} [U]; PUE {sc.pue:g}",
        "each tier at its floor's most productive frontier point (`tokenomy plan` for the tiers' settings)",
    ]
    return CapacityReport(tokens_per_day, mix, rows, assumptions)


def parse_model_mix(text: str | None) -> dict[str, float]:
    """'gpt-oss-120b=0.7,deepseek-r1=0.3' → a router's token shares per model (summing to 1)."""
    return parse_mix(text, "model_mix", "model")


@dataclass
class LeverCapacityRow:
    """One hardware: what a demand needs without levers and with the tiers' caching and routing."""

    hardware: str
    without_mw: float | None
    with_mw: float | None
    without_gpus: float | None
    with_gpus: float | None
    notes: list[str] = field(default_factory=list)

    @property
    def gpu_change(self) -> float | None:
        if not self.without_gpus or self.with_gpus is None:
            return None
        return self.with_gpus / self.without_gpus - 1.0


def _tokens_per_mw(tier, hw: str, gen: Generation, sc: Scenario, cat: Catalog) -> tuple[float, str]:
    """Output tokens per day per MW of one tier on one hardware (a router's models in their shares)."""
    from dataclasses import asdict as _asdict

    from tokenomy.econ.factory import ResolvedTier

    mix = tier.model_mix or {tier.model: 1.0}
    need = 0.0
    for m, share in mix.items():
        if share <= 0:
            continue
        sub = ResolvedTier(**{**_asdict(tier), "model": cat.model(m).id, "model_mix": None})
        unit, per_gpu = _unit(sub, hw, gen, sc, cat)
        if per_gpu is None or unit.output_tokens_per_day_per_mw <= 0:
            return 0.0, f"{tier.name} ({m}): {unit.reason}"
        need += share / unit.output_tokens_per_day_per_mw
    return 1.0 / need, ""


def capacity_levers(
    tokens_per_day: float,
    tier_mix: dict[str, float] | None = None,
    hardware: tuple[str, ...] | list[str] = DEFAULT_GENERATIONS,
    prefix_hit_rate: float = 0.0,
    model_mix: dict[str, float] | None = None,
    scenario: Scenario | None = None,
    cat: Catalog | None = None,
) -> list[LeverCapacityRow]:
    """MW and GPUs for the demand without levers and with every tier at ``prefix_hit_rate`` and routed by
    ``model_mix`` (tiers that declare their own reuse or mix in the scenario keep theirs)."""
    if not 0 <= prefix_hit_rate <= 1:
        raise ValueError(f"prefix_hit_rate must be in [0, 1], not {prefix_hit_rate}")
    cat = cat or catalog()
    sc = scenario or default_scenario()
    mix = tier_mix or dict(DEFAULT_MIX)
    specs = {t.tier: t for t in sc.tiers}
    plain, levered = [], []
    for name in mix:
        spec = specs.get(name) or TierSpec(tier=name)
        upd = {}
        if prefix_hit_rate and spec.prefix_hit_rate is None:
            upd["prefix_hit_rate"] = prefix_hit_rate
        if model_mix and spec.model_mix is None:
            upd["model_mix"] = model_mix
        lev = spec.model_copy(update=upd)
        levered.append(resolve_tier(lev, cat))
        plain.append(resolve_tier(spec.model_copy(update={"prefix_hit_rate": None, "model_mix": None}), cat))
    rows = []
    for hw in hardware:
        gen = Generation(name=hw, hardware=[HardwareShare(system=hw)])
        acc = cat.accelerator(hw)
        gpus_per_mw = U.gpus_per_mw(acc.require("allin_kw"), sc.pue)
        out: list[float | None] = []
        notes: list[str] = []
        for tiers in (plain, levered):
            mw = 0.0
            for t in tiers:
                tpm, why = _tokens_per_mw(t, hw, gen, sc, cat)
                if tpm <= 0:
                    notes.append(why)
                    mw = None
                    break
                mw += mix[t.id] * tokens_per_day / tpm
            out.append(mw)
        rows.append(
            LeverCapacityRow(
                hw,
                out[0],
                out[1],
                None if out[0] is None else out[0] * gpus_per_mw,
                None if out[1] is None else out[1] * gpus_per_mw,
                notes,
            )
        )
    return rows
