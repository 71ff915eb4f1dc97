"""Total cost of ownership → $ per GPU-hour, and cost per million tokens. Pure functions.

Two bases: *owned* (capex annuity + power + opex, region-dependent) and the InferenceX *presets*
(hyperscaler-owned, neocloud-owned, 3-year rental; all-in $/GPU-hour from the InferenceX dashboard
constants, SemiAnalysisAI/InferenceX-app `packages/app/src/lib/constants.ts`, Feb 2026).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field

from tokenomy.catalog import Catalog, catalog
from tokenomy.catalog.schema import Accelerator, MissingFigureError, Region, System

HOURS_PER_YEAR = 8760.0
PRESETS = ("hyperscaler", "neocloud", "rental")
# AI-factory capex ≈ $40B per GW (GTC 2026, weak [W]); used only when a system has no price in the catalog.
FALLBACK_CAPEX_USD_PER_GW = 40e9


class Ownership(BaseModel):
    """Assumptions of the owned basis (editable; defaults are tokenomy's and marked [U] in outputs)."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)
    lifetime_years: float = Field(5.0, ge=0.5, le=50, description="depreciation life of the hardware")
    cost_of_capital: float = Field(0.10, ge=0, lt=1, description="annual rate for the capex annuity")
    opex_fraction: float = Field(
        0.05, ge=0, lt=1, description="yearly opex (maintenance, staff, space) / capex"
    )
    networking_fraction: float = Field(
        0.15, ge=0, lt=2, description="networking and storage capex on top of a GPU's price (no system price)"
    )


@dataclass
class GpuHourCost:
    """$ per GPU-hour and its split. For presets the split is unknown (all in ``preset``)."""

    basis: str
    usd_per_gpu_hour: float  # the whole rate; the fields below split it
    capex: float = 0.0
    power: float = 0.0
    opex: float = 0.0
    preset: float = 0.0
    capex_per_gpu_usd: float | None = None
    notes: list[str] = field(default_factory=list)

    def split(self) -> dict[str, float]:
        return {"capex": self.capex, "power": self.power, "opex": self.opex, "preset": self.preset}


def capital_recovery_factor(rate: float, years: float) -> float:
    """Yearly payment per $ of capex over ``years`` at ``rate`` (the annuity factor)."""
    if rate == 0:
        return 1.0 / years
    return rate * (1 + rate) ** years / ((1 + rate) ** years - 1)


def power_usd_per_gpu_hour(allin_kw: float, pue: float, usd_per_kwh: float) -> float:
    """Electricity for one GPU for one hour: all-in IT kW × PUE × price."""
    return allin_kw * pue * usd_per_kwh


def capex_per_gpu_usd(
    acc: Accelerator, system: System | None, own: Ownership, pue: float
) -> tuple[float, str]:
    """Capex per GPU and where it comes from: the system price, the GPU price + networking, or $40B/GW."""
    if system is not None and system.value("price_usd") and system.value("gpus"):
        return system.require("price_usd") / system.require("gpus"), f"{system.name} price / GPUs"
    if acc.value("price_usd"):
        return acc.require("price_usd") * (1 + own.networking_fraction), (
            f"{acc.name} price x (1 + {own.networking_fraction:.0%} networking)"
        )
    allin = acc.value("allin_kw")
    if allin:
        capex = FALLBACK_CAPEX_USD_PER_GW * allin * pue / 1e6
        return capex, "no price in the catalog: $40B per GW of factory [W] x all-in kW x PUE (U)"
    raise MissingFigureError(f"{acc.name}: no price and no all-in power in the catalog; cannot cost it")


def gpu_hour_cost(
    hardware: str,
    basis: str = "owned",
    region: str | Region = "us",
    pue: float | None = None,
    ownership: Ownership | None = None,
    cat: Catalog | None = None,
) -> GpuHourCost:
    """$ per GPU-hour of an accelerator or system under a cost basis, in a region."""
    cat = cat or catalog()
    acc = cat.accelerator(hardware)
    system = _system_of(hardware, acc, cat)
    if basis in PRESETS:
        rate = preset_usd_per_gpu_hour(acc, basis)
        if rate is None:
            raise MissingFigureError(
                f"{acc.name} has no InferenceX '{basis}' $/GPU-hour preset; the 'owned' cost basis (capex, power, opex) "
                "prices it"
            )
        return GpuHourCost(
            basis=basis, usd_per_gpu_hour=rate, preset=rate, notes=[f"InferenceX {basis} preset (all-in)"]
        )
    if basis != "owned":
        raise ValueError(f"unknown cost basis '{basis}'; choose owned, {', '.join(PRESETS)}")
    reg = region if isinstance(region, Region) else cat.region(region)
    pue = pue if pue is not None else reg.require("pue")
    own = ownership or Ownership()
    allin = acc.value("allin_kw")
    if allin is None:
        raise MissingFigureError(
            f"{acc.name} has no all-in power in the catalog; cannot cost its electricity"
        )
    capex, capex_note = capex_per_gpu_usd(acc, system, own, pue)
    capex_h = capex * capital_recovery_factor(own.cost_of_capital, own.lifetime_years) / HOURS_PER_YEAR
    opex_h = capex * own.opex_fraction / HOURS_PER_YEAR
    power_h = power_usd_per_gpu_hour(allin, pue, reg.electricity_usd_per_kwh)
    notes = [
        f"capex ${capex:,.0f}/GPU ({capex_note})",
        f"power {allin:g} kW x PUE {pue:g} at ${reg.electricity_usd_per_kwh:.4f}/kWh ({reg.name})",
    ]
    return GpuHourCost(
        basis="owned",
        usd_per_gpu_hour=capex_h + opex_h + power_h,
        capex=capex_h,
        power=power_h,
        opex=opex_h,
        capex_per_gpu_usd=capex,
        notes=notes,
    )


def _system_of(query: str, acc: Accelerator, cat: Catalog) -> System | None:
    """The system named by ``query``, or the first system built from this accelerator."""
    try:
        return cat.system(query)
    except LookupError:
        pass
    for sys in cat.systems.values():
        if sys.accelerator == acc.id:
            return sys
    return None


def preset_usd_per_gpu_hour(acc: Accelerator, basis: str) -> float | None:
    """The InferenceX all-in $/GPU-hour preset of an accelerator for a basis (hyperscaler, neocloud, rental);
    None when the catalog has none."""
    if basis not in PRESETS:
        raise ValueError(f"unknown $/GPU-hour preset '{basis}'; choose {', '.join(PRESETS)}")
    return acc.value(f"usd_per_gpu_hour_{basis}")
