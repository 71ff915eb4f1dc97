"""Figures over years: the hardware roadmap, power added per nation and public token-demand paths.

Loaded from ``data/markets.yaml``, whose sources join those of ``sources.yaml``; every number is a sourced
:class:`Figure` like the rest of the catalog.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from tokenomy.catalog import (
    Catalog,
    CatalogError,
    UnknownIdError,
    _figure,
    _figures,
    _load_yaml,
    catalog,
    normalize,
)
from tokenomy.catalog.schema import (
    NATION_FIGURES,
    ROADMAP_FIGURES,
    DemandPath,
    Figure,
    Nation,
    RoadmapEntry,
    Source,
)


@dataclass
class Markets:
    roadmap: dict[str, RoadmapEntry]
    nations: dict[str, Nation]
    demand: dict[str, DemandPath]
    sources: dict[str, Source]

    def _get(self, kind: str, query: str) -> Any:
        entries = getattr(self, kind)
        key = normalize(query)
        for entry in entries.values():
            if key in {normalize(k) for k in (entry.id, entry.name, *entry.aliases)}:
                return entry
        raise UnknownIdError(kind.rstrip("s"), query, [e for e in entries if key[:3] in normalize(e)])

    def generation(self, query: str) -> RoadmapEntry:
        """A roadmap generation by id, name or alias (e.g. ``blackwell``)."""
        return self._get("roadmap", query)

    def generation_for_system(self, system_id: str) -> RoadmapEntry | None:
        return next((g for g in self.roadmap.values() if g.system == system_id), None)

    def nation(self, query: str) -> Nation:
        return self._get("nations", query)

    def demand_path(self, query: str) -> DemandPath:
        return self._get("demand", query)

    def all_figures(self) -> list[tuple[str, str, Figure]]:
        out: list[tuple[str, str, Figure]] = []
        for kind in ("roadmap", "nations"):
            for eid, e in getattr(self, kind).items():
                out += [(f"{kind}/{eid}", k, f) for k, f in e.figures.items()]
        for eid, d in self.demand.items():
            out += [(f"demand/{eid}", f"point{i}", f) for i, f in enumerate(d.points)]
        return out


def markets(cat: Catalog | None = None) -> Markets:
    """Load and validate ``markets.yaml`` once per process; unknown systems or sources are errors."""
    return _markets() if cat is None or cat is catalog() else _load(cat)


@functools.cache
def _markets() -> Markets:
    return _load(catalog())


def _load(cat: Catalog) -> Markets:
    data = _load_yaml("markets.yaml")
    sources = dict(cat.sources)
    for sid, spec in data.get("sources", {}).items():
        if sid in sources:
            raise CatalogError(f"markets.yaml: source '{sid}' is already defined in sources.yaml")
        sources[sid] = Source(id=sid, **spec)

    def load(key: str, cls: type, allowed: set[str]) -> dict[str, Any]:
        out = {}
        for raw in data[key]:
            raw = dict(raw)
            where = f"markets.yaml:{key}.{raw.get('id')}"
            figures = _figures(raw, allowed, sources, where)
            if key == "demand":
                raw["points"] = [
                    _figure(p, {}, sources, f"{where}.points[{i}]") for i, p in enumerate(raw["points"])
                ]
            try:
                out[raw["id"]] = cls(figures=figures, **raw)
            except Exception as exc:  # pydantic.ValidationError, with the entry named
                raise CatalogError(f"{where}: {exc}") from exc
        return out

    m = Markets(
        roadmap=load("roadmap", RoadmapEntry, ROADMAP_FIGURES),
        nations=load("nations", Nation, NATION_FIGURES),
        demand=load("demand", DemandPath, set()),
        sources=sources,
    )
    for g in m.roadmap.values():
        cat.system(g.system)  # raises UnknownIdError on a typo
    for n in m.nations.values():
        cat.region(n.region)
        for spec in n.hardware.values():
            for system in [spec] if isinstance(spec, str) else spec:
                cat.system(system)
    return m
