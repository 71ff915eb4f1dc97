"""The sourced catalog: hardware, systems, models, tiers, regions and claims, with lookup by id or alias.

>>> from tokenomy.catalog import catalog
>>> catalog().accelerator("H200").value("memory_gb")
141.0
"""

from __future__ import annotations

import difflib
import functools
import json
import re
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from tokenomy.catalog.architecture import Architecture, architecture_from_hf_config
from tokenomy.catalog.schema import (
    ACCELERATOR_FIGURES,
    ENGINE_FIGURES,
    MODEL_FIGURES,
    REGION_FIGURES,
    RENAMED_FIGURES,
    SYSTEM_FIGURES,
    TIER_FIGURES,
    Accelerator,
    Claim,
    Engine,
    Figure,
    MissingFigureError,
    Model,
    Region,
    Source,
    System,
    Tier,
    Variant,
)
from tokenomy.safe_yaml import load_yaml

__all__ = [
    "Catalog",
    "CatalogError",
    "UnknownIdError",
    "MissingFigureError",
    "catalog",
    "normalize",
    "KINDS",
]

KINDS = ("accelerators", "systems", "models", "tiers", "regions", "claims", "engines")
DATA = resources.files("tokenomy.catalog") / "data"


class CatalogError(ValueError):
    """The catalog data itself is malformed (a bug in the YAML, reported with the file and entry)."""


class UnknownIdError(LookupError):
    """An id matched nothing; ``suggestions`` holds the closest known ids."""

    def __init__(self, kind: str, query: str, suggestions: list[str]):
        self.kind, self.query, self.suggestions = kind, query, suggestions
        hint = f" Did you mean: {', '.join(suggestions)}?" if suggestions else ""
        super().__init__(f"unknown {kind} '{query}'.{hint}")


def normalize(text: str) -> str:
    """Case- and punctuation-insensitive key: 'GB200 NVL72' == 'gb200-nvl72' == 'gb200_nvl72'."""
    return re.sub(r"[^a-z0-9.]", "", text.lower())


def _load_yaml(name: str) -> dict[str, Any]:
    """A packaged catalog file; a duplicate key (a silently lost figure) is an error naming the line."""
    return load_yaml((DATA / name).read_text(encoding="utf-8"), f"catalog/data/{name}")[0]


def _figure(raw: Any, defaults: dict[str, Any], sources: dict[str, Source], where: str) -> Figure:
    spec = dict(raw) if isinstance(raw, dict) else {"value": raw}
    source_id = spec.pop("source", defaults.get("source"))
    confidence = spec.pop("confidence", defaults.get("confidence"))
    if source_id not in sources:
        raise CatalogError(f"{where}: unknown source '{source_id}' (see sources.yaml)")
    if confidence is None:
        raise CatalogError(f"{where}: no confidence tag")
    src = sources[source_id]
    return Figure(
        value=float(spec.pop("value")),
        source_id=src.id,
        source=src.title,
        url=src.url,
        as_of=spec.pop("as_of", src.as_of),
        confidence=confidence,
        **spec,
    )


def _figures(
    entry: dict[str, Any], allowed: set[str], sources: dict[str, Source], where: str
) -> dict[str, Figure]:
    defaults = entry.pop("defaults", {})
    raw = entry.pop("figures", {}) or {}
    unknown = set(raw) - allowed
    if renamed := sorted(unknown & set(RENAMED_FIGURES)):
        hints = "; ".join(f"'{k}' is ambiguous (bits or bytes?): write {RENAMED_FIGURES[k]}" for k in renamed)
        raise CatalogError(f"{where}: {hints}")
    if unknown:
        raise CatalogError(f"{where}: unknown figure(s) {sorted(unknown)}; allowed: {sorted(allowed)}")
    return {k: _figure(v, defaults, sources, f"{where}.{k}") for k, v in raw.items()}


@dataclass
class Catalog:
    """All catalog entries, indexed by normalized id, alias and name."""

    sources: dict[str, Source]
    accelerators: dict[str, Accelerator]
    systems: dict[str, System]
    models: dict[str, Model]
    tiers: dict[str, Tier]
    regions: dict[str, Region]
    claims: dict[str, Claim]
    fx_usd: dict[str, Figure]
    engines: dict[str, Engine] = field(default_factory=dict)
    _index: dict[str, dict[str, str]] = field(default_factory=dict, repr=False)
    _hf_index: dict[str, tuple[str, Variant]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for kind in KINDS:
            idx: dict[str, str] = {}
            for entry_id, entry in getattr(self, kind).items():
                for key in [entry_id, entry.name, *entry.aliases]:
                    idx.setdefault(normalize(key), entry_id)
            self._index[kind] = idx
        for model in self.models.values():
            for v in model.variants:
                self._hf_index[normalize(v.hf_id)] = (model.id, v)
                self._hf_index.setdefault(normalize(v.hf_id.split("/")[-1]), (model.id, v))
                self._index["models"].setdefault(normalize(v.hf_id), model.id)

    # ---- lookup -----------------------------------------------------------------------------------------
    def resolve(self, kind: str, query: str) -> str:
        """The canonical id of ``query`` among ``kind``; raises UnknownIdError with close matches."""
        key = normalize(query)
        idx = self._index[kind]
        if key in idx:
            return idx[key]
        raise UnknownIdError(kind.rstrip("s"), query, self.suggest(kind, query))

    def suggest(self, kind: str, query: str, n: int = 4) -> list[str]:
        idx = self._index[kind]
        keys = difflib.get_close_matches(normalize(query), list(idx), n=12, cutoff=0.5)
        out: list[str] = []
        for k in keys:
            if idx[k] not in out:
                out.append(idx[k])
        contains = [i for k, i in idx.items() if normalize(query) and normalize(query) in k and i not in out]
        return (out + contains)[:n]

    def accelerator(self, query: str) -> Accelerator:
        """An accelerator by id or alias; a system id gives the system's accelerator."""
        try:
            return self.accelerators[self.resolve("accelerators", query)]
        except UnknownIdError as err:
            try:
                return self.accelerators[self.system(query).accelerator]
            except UnknownIdError:
                raise err from None

    def system(self, query: str) -> System:
        return self.systems[self.resolve("systems", query)]

    def model(self, query: str) -> Model:
        return self.models[self.resolve("models", query)]

    def tier(self, query: str) -> Tier:
        return self.tiers[self.resolve("tiers", query)]

    def region(self, query: str) -> Region:
        return self.regions[self.resolve("regions", query)]

    def engine(self, query: str) -> Engine:
        return self.engines[self.resolve("engines", query)]

    def claim(self, query: str) -> Claim:
        return self.claims[self.resolve("claims", query)]

    def model_variant(self, hf_id: str) -> tuple[Model, str]:
        """A Hugging Face id (e.g. ``nvidia/DeepSeek-R1-NVFP4``) → its base model and default precision."""
        hit = self._hf_index.get(normalize(hf_id)) or self._hf_index.get(normalize(hf_id.split("/")[-1]))
        if hit:
            return self.models[hit[0]], hit[1].precision
        model = self.model(hf_id)
        return model, model.default_precision

    def find(self, query: str) -> tuple[str, Any]:
        """Any entry by id or alias, searching every kind; raises UnknownIdError naming close matches."""
        key = normalize(query)
        for kind in ("systems", "accelerators", "models", "tiers", "regions", "claims", "engines"):
            if key in self._index[kind]:
                return kind, getattr(self, kind)[self._index[kind][key]]
        suggestions: list[str] = []
        for kind in KINDS:
            suggestions += self.suggest(kind, query, n=2)
        raise UnknownIdError("catalog id", query, suggestions[:5])

    def all_figures(self) -> list[tuple[str, str, Figure]]:
        """(entry id, figure name, figure) for every number in the catalog, for provenance checks."""
        out: list[tuple[str, str, Figure]] = []
        for kind in KINDS:
            for entry_id, entry in getattr(self, kind).items():
                out += [(f"{kind}/{entry_id}", k, f) for k, f in entry.figures.items()]
        out += [("fx", cur, f) for cur, f in self.fx_usd.items()]
        return out


def _load_models(sources: dict[str, Source]) -> dict[str, Model]:
    models: dict[str, Model] = {}
    for raw in _load_yaml("models.yaml")["models"]:
        where = f"models.yaml:{raw.get('id')}"
        figures = _figures(raw, MODEL_FIGURES, sources, where)
        if "config" in raw:
            config_name = raw.pop("config")
            cfg = json.loads((DATA / "model_configs" / config_name).read_text(encoding="utf-8"))
            arch = architecture_from_hf_config(cfg)
            org, name = config_name.removesuffix("_config.json").split("--", 1)
            arch_source = f"https://huggingface.co/{org}/{name}/blob/main/config.json"
        else:
            arch = Architecture(**raw.pop("architecture"))
            arch_source = sources[raw.pop("architecture_source")].title
        models[raw["id"]] = Model(architecture=arch, architecture_source=arch_source, figures=figures, **raw)
    return models


def _load_regions(sources: dict[str, Source]) -> tuple[dict[str, Region], dict[str, Figure]]:
    data = _load_yaml("regions.yaml")
    fx = {cur: _figure(spec, {}, sources, f"regions.yaml:fx.{cur}") for cur, spec in data["fx"].items()}
    regions: dict[str, Region] = {}
    for raw in data["regions"]:
        where = f"regions.yaml:{raw.get('id')}"
        figures = _figures(raw, REGION_FIGURES, sources, where)
        price = figures["electricity"]
        cur = price.currency or "USD"
        if cur not in fx:
            raise CatalogError(f"{where}: no exchange rate for {cur}")
        rate = fx[cur]
        worst = max(price.confidence, rate.confidence, key="OSWU".index)
        note = f"{price.value:g} {cur}/kWh x {rate.value:g} USD/{cur}" + (
            f"; {price.note}" if price.note else ""
        )
        figures["electricity_usd_per_kwh"] = price.model_copy(
            update={"value": price.value * rate.value, "confidence": worst, "note": note, "currency": "USD"}
        )
        regions[raw["id"]] = Region(figures=figures, **raw)
    return regions, fx


@functools.cache
def catalog() -> Catalog:
    """Load and validate the packaged catalog once per process."""
    sources = {sid: Source(id=sid, **spec) for sid, spec in _load_yaml("sources.yaml")["sources"].items()}

    def entries(file: str, key: str, cls: type, allowed: set[str]) -> dict[str, Any]:
        out = {}
        for raw in _load_yaml(file)[key]:
            where = f"{file}:{raw.get('id')}"
            figures = _figures(raw, allowed, sources, where)
            try:
                out[raw["id"]] = cls(figures=figures, **raw)
            except Exception as exc:  # pydantic.ValidationError, with the entry named
                raise CatalogError(f"{where}: {exc}") from exc
        return out

    claims = {}
    for raw in _load_yaml("claims.yaml")["claims"]:
        raw["value"] = _figure(raw["value"], {}, sources, f"claims.yaml:{raw['id']}.value")
        claims[raw["id"]] = Claim(**raw)
    regions, fx = _load_regions(sources)
    cat = Catalog(
        sources=sources,
        accelerators=entries("accelerators.yaml", "accelerators", Accelerator, ACCELERATOR_FIGURES),
        systems=entries("systems.yaml", "systems", System, SYSTEM_FIGURES),
        models=_load_models(sources),
        tiers=entries("tiers.yaml", "tiers", Tier, TIER_FIGURES),
        regions=regions,
        claims=claims,
        fx_usd=fx,
        engines=entries("engines.yaml", "engines", Engine, ENGINE_FIGURES),
    )
    for sys in cat.systems.values():
        if sys.accelerator not in cat.accelerators:
            raise CatalogError(f"systems.yaml:{sys.id}: unknown accelerator '{sys.accelerator}'")
    return cat
