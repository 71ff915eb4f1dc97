"""Factory scenarios: a validated schema, YAML with errors that name the field and line, and the default.

The built-in default is the GTC 2026 keynote's factory: 1 GW at the meter, PUE 1.2, US average power, the
Free / Medium / High / Premium tiers at 25% each (plus Ultra where a generation reaches it), for Hopper
(HGX H200), Blackwell (GB200 NVL72), Blackwell Ultra (GB300 NVL72) and Vera Rubin NVL72.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from tokenomy.econ.tco import Ownership


class ScenarioError(ValueError):
    """A scenario that cannot be used; the message names the field and the line."""


class HardwareShare(BaseModel):
    model_config = ConfigDict(extra="forbid")
    system: str = Field(description="system or accelerator id, e.g. gb200_nvl72")
    share: float = Field(1.0, gt=0, le=1, description="share of the factory's power on this hardware")


class Generation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    hardware: list[HardwareShare] = Field(min_length=1, max_length=4)
    precision: Literal["bf16", "fp8", "fp4", "int4"] | None = Field(
        None,
        description="weight precision; default: the lowest the hardware computes natively (FP4 > FP8 > BF16)",
    )
    backend: str | None = None

    @model_validator(mode="after")
    def _shares_sum_to_one(self) -> Generation:
        total = sum(h.share for h in self.hardware)
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"hardware shares of '{self.name}' sum to {total:g}, not 1")
        return self


class TierSpec(BaseModel):
    """A price tier; unset fields come from the catalog tier of the same id."""

    model_config = ConfigDict(extra="forbid")
    tier: str = Field(description="catalog tier id: free, medium, high, premium, ultra (or a new name)")
    share: float = Field(0.0, ge=0, le=1, description="share of power under fixed allocation")
    model: str | None = None
    price_usd_per_mtok: float | None = Field(None, ge=0, description="price per M output tokens")
    input_price_usd_per_mtok: float | None = Field(None, ge=0)
    min_tok_s_per_user: float | None = Field(None, gt=0, le=100_000)
    isl: int | None = Field(None, gt=0, le=1_000_000)
    osl: int | None = Field(None, gt=0, le=100_000)
    demand_tokens_per_day: float | None = Field(None, gt=0, description="cap on output tokens sold per day")


class Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = "AI factory"
    power_mw: float = Field(gt=0, le=1_000_000, description="power budget at the meter, MW")
    pue: float = Field(1.2, ge=1.0, le=3.0)
    region: str = "us"
    utilization: float = Field(0.8, gt=0, le=1, description="share of the year the capacity is sold")
    cost_basis: Literal["owned", "hyperscaler", "neocloud", "rental"] = "owned"
    ownership: Ownership = Field(default_factory=Ownership)
    allocation: Literal["fixed", "optimize"] = "fixed"
    allow_extrapolation: bool = Field(
        False, description="let tiers use frontier points beyond what measured data of the engine shows"
    )
    generations: list[Generation] = Field(min_length=1, max_length=8)
    tiers: list[TierSpec] = Field(min_length=1, max_length=12)
    invest: dict[str, Any] | None = Field(
        None, description="build schedules over years, read by `tokenomy invest` (validated there)"
    )

    @model_validator(mode="after")
    def _fixed_shares_sum_to_one(self) -> Scenario:
        total = sum(t.share for t in self.tiers)
        if self.allocation == "fixed" and abs(total - 1.0) > 1e-6:
            raise ValueError(f"tier shares sum to {total:g}; under fixed allocation they must sum to 1")
        return self


EXAMPLE_YAML = """\
# tokenomy factory scenario: `tokenomy plan this.yaml`. Every field but power_mw, generations and tiers
# has a default; numbers marked [U] in outputs are editable assumptions, not published facts.
name: 1 GW AI factory, GTC 2026 token tiers
power_mw: 1000            # power budget at the meter (MW)
pue: 1.2                  # facility overhead: meter power / IT power
region: us                # electricity price and grid carbon: `tokenomy catalog list regions`
utilization: 0.8          # share of the year the capacity is sold [U]
cost_basis: owned         # owned (capex annuity + power + opex) or an InferenceX preset: hyperscaler, neocloud, rental
ownership:                # used by cost_basis: owned [U]
  lifetime_years: 5
  cost_of_capital: 0.10
  opex_fraction: 0.05     # per year, of capex
  networking_fraction: 0.15
allocation: fixed         # fixed shares below, or `optimize` (linear program, HiGHS) under demand caps
generations:              # each one is planned on the whole power budget, then compared
  - name: Hopper
    hardware: [{system: hgx_h200}]
  - name: Blackwell
    hardware: [{system: gb200_nvl72}]
  - name: Blackwell Ultra
    hardware: [{system: gb300_nvl72}]
  - name: Vera Rubin
    hardware: [{system: vr_nvl72}]
tiers:                    # unset fields come from `tokenomy catalog show TIER`
  - {tier: free, share: 0.25}
  - {tier: medium, share: 0.25}
  - {tier: high, share: 0.25}
  - {tier: premium, share: 0.25}
  - {tier: ultra, share: 0.0}   # shown where a generation reaches it; give it a share to sell it
  # a custom tier: {tier: agents, share: 0.1, model: deepseek-r1, price_usd_per_mtok: 10,
  #                 min_tok_s_per_user: 150, isl: 16384, osl: 2048, demand_tokens_per_day: 5.0e12}
"""


def default_scenario() -> Scenario:
    return parse_scenario(EXAMPLE_YAML, "built-in default")


def _line_index(text: str) -> dict[tuple[Any, ...], int]:
    """Map every key path of a YAML document to its 1-based line."""
    index: dict[tuple[Any, ...], int] = {}

    def walk(node: yaml.Node, path: tuple[Any, ...]) -> None:
        index[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                index[(*path, key.value)] = key.start_mark.line + 1
                walk(value, (*path, key.value))
                index[(*path, key.value)] = key.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, (*path, i))

    root = yaml.compose(text)
    if root is not None:
        walk(root, ())
    return index


def parse_scenario(text: str, where: str = "scenario") -> Scenario:
    """Validate a YAML scenario; errors say which field on which line is wrong."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark else ""
        raise ScenarioError(f"{where}:{line}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(data, dict):
        raise ScenarioError(f"{where}: expected a mapping of fields (power_mw, generations, tiers, …)")
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        lines = _line_index(text)
        problems = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            line = None
            for cut in range(len(loc), -1, -1):
                if loc[:cut] in lines:
                    line = lines[loc[:cut]]
                    break
            field = ".".join(str(p) for p in loc) or "(top level)"
            problems.append(f"{where}: line {line}: {field}: {err['msg']}")
        raise ScenarioError("\n".join(problems)) from None


def load_scenario(path: str | Path | None) -> Scenario:
    if path is None:
        return default_scenario()
    path = Path(path)
    if not path.exists():
        raise ScenarioError(f"{path}: no such scenario file (see `tokenomy plan --example`)")
    return parse_scenario(path.read_text(encoding="utf-8"), str(path))
