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
from tokenomy.safe_yaml import YamlError, load_yaml

# Strict: `pue: true` is not 1.0 and "5" is not 5; NaN and infinity are not numbers a plan can use.
STRICT = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class ScenarioError(ValueError):
    """A scenario that cannot be used; the message names the field and the line."""


class HardwareShare(BaseModel):
    model_config = STRICT
    system: str = Field(max_length=100, description="system or accelerator id, e.g. gb200_nvl72")
    share: float = Field(1.0, gt=0, le=1, description="share of the factory's power on this hardware")


class Generation(BaseModel):
    model_config = STRICT
    name: str = Field(min_length=1, max_length=100)
    hardware: list[HardwareShare] = Field(min_length=1, max_length=4)
    precision: Literal["bf16", "fp8", "fp4", "int4"] | None = Field(
        None,
        description="weight precision; default: the lowest the hardware computes natively (FP4 > FP8 > BF16)",
    )
    backend: Literal["trtllm", "vllm", "sglang", "llama.cpp"] | None = Field(
        None, description="serving framework; default: trtllm on NVIDIA, vllm elsewhere"
    )

    @model_validator(mode="after")
    def _shares_sum_to_one(self) -> Generation:
        total = sum(h.share for h in self.hardware)
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"hardware shares of '{self.name}' sum to {total:g}, not 1")
        return self


class TierSpec(BaseModel):
    """A price tier; unset fields come from the catalog tier of the same id."""

    model_config = STRICT
    tier: str = Field(
        min_length=1,
        max_length=64,
        description="catalog tier id: free, medium, high, premium, ultra (or a new name)",
    )
    share: float = Field(0.0, ge=0, le=1, description="share of power under fixed allocation")
    model: str | None = Field(None, max_length=100)
    price_usd_per_mtok: float | None = Field(None, ge=0, le=1e6, description="price per M output tokens")
    input_price_usd_per_mtok: float | None = Field(None, ge=0, le=1e6)
    min_tok_s_per_user: float | None = Field(None, gt=0, le=100_000)
    isl: int | None = Field(None, gt=0, le=1_000_000)
    osl: int | None = Field(None, gt=0, le=100_000)
    demand_tokens_per_day: float | None = Field(
        None, gt=0, le=1e18, description="cap on output tokens sold per day"
    )
    prefix_hit_rate: float | None = Field(
        None, ge=0, le=1, description="share of prompt tokens served from the KV cache (prefix reuse)"
    )
    cached_input_price_usd_per_mtok: float | None = Field(
        None, ge=0, le=1e6, description="price per M cached input tokens (default: the input price)"
    )
    model_mix: dict[str, float] | None = Field(
        None, max_length=8, description="a router's shares of the tier's tokens per model id, summing to 1"
    )

    @model_validator(mode="after")
    def _mix_sums_to_one(self) -> TierSpec:
        if self.model_mix is not None:
            if not self.model_mix:
                raise ValueError(f"model_mix of tier '{self.tier}' is empty")
            bad = [k for k, v in self.model_mix.items() if not 0 <= v <= 1 or len(k) > 100]
            if bad:
                raise ValueError(f"model_mix of tier '{self.tier}': share of {bad[0]!r} must be in [0, 1]")
            total = sum(self.model_mix.values())
            if abs(total - 1.0) > 1e-6:
                raise ValueError(f"model_mix of tier '{self.tier}' sums to {total:g}, not 1")
        return self


class Scenario(BaseModel):
    model_config = STRICT
    name: str = Field("AI factory", max_length=200)
    power_mw: float = Field(gt=0, le=1_000_000, description="power budget at the meter, MW")
    pue: float = Field(1.2, ge=1.0, le=3.0)
    region: str = Field("us", max_length=64)
    utilization: float = Field(0.8, gt=0, le=1, description="share of the year the capacity is sold")
    cost_basis: Literal["owned", "hyperscaler", "neocloud", "rental"] = "owned"
    ownership: Ownership = Field(default_factory=Ownership)
    allocation: Literal["fixed", "optimize"] = "fixed"
    calibration: str | None = Field(
        None,
        max_length=4096,
        description="a calibration JSON written by `tokenomy calibrate` (default: the packaged fit)",
    )
    allow_extrapolation: bool = Field(
        False, description="let tiers use frontier points beyond what measured data of the engine shows"
    )
    generations: list[Generation] = Field(min_length=1, max_length=8)
    tiers: list[TierSpec] = Field(min_length=1, max_length=12)
    invest: dict[str, Any] | None = Field(
        None, description="build schedules over years, read by `tokenomy invest` (validated there)"
    )
    uncertainty: dict[str, float] | None = Field(
        None,
        description="`--ranges`: relative P10–P90 half-widths by input key (e.g. gb200.allin_kw, "
        "scenario.utilization), by confidence tag (O, S, W, U), or model_error (× the measured error)",
    )

    @model_validator(mode="after")
    def _uncertainty_in_range(self) -> Scenario:
        for key, value in (self.uncertainty or {}).items():
            if not 0 <= value <= 5:
                raise ValueError(
                    f"uncertainty.{key} must be between 0 and 5 (a relative half-width), not {value}"
                )
        return self

    @model_validator(mode="after")
    def _fixed_shares_sum_to_one(self) -> Scenario:
        total = sum(t.share for t in self.tiers)
        if self.allocation == "fixed" and abs(total - 1.0) > 1e-6:
            raise ValueError(f"tier shares sum to {total:g}; under fixed allocation they must sum to 1")
        names = [t.tier for t in self.tiers]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"tier(s) {', '.join(twice)} listed more than once")
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
# uncertainty:            # `--ranges` only: relative P10-P90 half-widths; default by confidence tag O 0.05, S 0.15,
#   U: 0.5                #  W 0.35, U 0.5; per input key (see `plan --ranges --json` inputs), or model_error: 1.0
#   scenario.utilization: 0.1
#   gb200.allin_kw: 0.05
#   model_error: 1.0      # × the production model's measured error (0: none)
"""


def default_scenario() -> Scenario:
    return parse_scenario(EXAMPLE_YAML, "built-in default")


def _line_index(root: yaml.Node | None) -> dict[tuple[Any, ...], int]:
    """Map every key path of a composed YAML document to its 1-based line."""
    index: dict[tuple[Any, ...], int] = {}

    def walk(node: yaml.Node, path: tuple[Any, ...]) -> None:
        index.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                walk(value, (*path, key.value))
                index[(*path, key.value)] = key.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, (*path, i))

    if root is not None:
        walk(root, ())
    return index


def validation_problems(exc: ValidationError, where: str, lines: dict[tuple[Any, ...], int]) -> str:
    """One line per problem: where, the line of the field (when known), the field and what is wrong."""
    problems = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        line = None
        for cut in range(len(loc), -1, -1):
            if loc[:cut] in lines:
                line = lines[loc[:cut]]
                break
        field = ".".join(str(p) for p in loc) or "(top level)"
        at = f" line {line}:" if line else ""
        problems.append(f"{where}:{at} {field}: {err['msg']}")
    return "\n".join(problems)


def parse_scenario(text: str, where: str = "scenario") -> Scenario:
    """Validate a YAML scenario; errors say which field on which line is wrong."""
    try:
        data, root = load_yaml(text, where)
    except YamlError as exc:
        raise ScenarioError(str(exc)) from None
    if not isinstance(data, dict):
        raise ScenarioError(f"{where}: expected a mapping of fields (power_mw, generations, tiers, …)")
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(validation_problems(exc, where, _line_index(root))) from None


def with_allocation(sc: Scenario, allocation: str) -> Scenario:
    """The scenario under another allocation, validated again (fixed shares must then sum to 1)."""
    try:
        return Scenario.model_validate(sc.model_dump() | {"allocation": allocation})
    except ValidationError as exc:
        raise ScenarioError(validation_problems(exc, "allocation " + allocation, {})) from None


def load_scenario(path: str | Path | None) -> Scenario:
    """The built-in default (no path) or a YAML file, validated."""
    if path is None:
        return default_scenario()
    path = Path(path)
    if not path.exists():
        raise ScenarioError(f"{path}: no such scenario file (see `tokenomy plan --example`)")
    if not path.is_file():
        raise ScenarioError(f"{path}: not a file (a scenario is one YAML file)")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ScenarioError(f"{path}: not UTF-8 text (a scenario is a YAML file)") from None
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read ({exc.strerror})") from None
    return parse_scenario(text, str(path))
