"""Plain-data views of catalog entries (what `--json` prints and the web API returns)."""

from __future__ import annotations

from typing import Any

from tokenomy.catalog import Catalog, catalog
from tokenomy.catalog.schema import Accelerator, Claim, Figure, Model, Region, System, Tier


def figure_dict(fig: Figure) -> dict[str, Any]:
    return fig.model_dump(mode="json", exclude_none=True)


def figures_dict(figures: dict[str, Figure]) -> dict[str, Any]:
    return {k: figure_dict(f) for k, f in figures.items()}


def entry_summary(entry: Any) -> dict[str, Any]:
    """A compact row: id, name and the headline values (no provenance), per kind."""
    row: dict[str, Any] = {"id": entry.id, "name": entry.name}
    if isinstance(entry, Claim):
        row.update(
            statement=entry.statement,
            metric=entry.metric,
            kind=entry.kind,
            value=entry.value.value,
            unit=entry.unit,
            confidence=entry.value.confidence,
            conditions=entry.conditions.model_dump(exclude_none=True),
        )
        return row
    row["aliases"] = entry.aliases
    if isinstance(entry, Model):
        arch = entry.architecture
        row.update(
            total_params_b=round(entry.total_params_b, 3),
            active_params_b=round(entry.active_params_b, 3),
            attention=arch.attention,
            layers=arch.layers,
            experts=arch.experts,
            experts_per_token=arch.experts_per_token,
            default_precision=entry.default_precision,
            hf_ids=[v.hf_id for v in entry.variants],
        )
    elif isinstance(entry, System):
        row["accelerator"] = entry.accelerator
    elif isinstance(entry, Accelerator):
        row.update(vendor=entry.vendor, family=entry.family)
    elif isinstance(entry, Tier):
        row.update(serves=entry.serves, default_model=entry.default_model)
    row.update({k: f.value for k, f in entry.figures.items()})
    unverified = entry.unverified_figures()
    if unverified:
        row["unverified"] = unverified
    return row


def list_entries(kind: str, cat: Catalog | None = None) -> list[dict[str, Any]]:
    cat = cat or catalog()
    return [entry_summary(e) for e in getattr(cat, kind).values()]


def show_entry(query: str, cat: Catalog | None = None) -> dict[str, Any]:
    """Every figure of one entry with its source, date and confidence; a system also shows its accelerator."""
    cat = cat or catalog()
    kind, entry = cat.find(query)
    out: dict[str, Any] = {"kind": kind.rstrip("s"), **entry_summary(entry)}
    out["figures"] = figures_dict(entry.figures)
    if isinstance(entry, Model):
        out["architecture"] = entry.architecture.model_dump()
        out["architecture_source"] = entry.architecture_source
        if entry.config_note:
            out["config_note"] = entry.config_note
    if isinstance(entry, System):
        acc = cat.accelerators[entry.accelerator]
        out["per_gpu"] = {"id": acc.id, "name": acc.name, "figures": figures_dict(acc.figures)}
    if isinstance(entry, Accelerator):
        out["per_system"] = [
            {"id": sys_.id, "name": sys_.name, "figures": figures_dict(sys_.figures)}
            for sys_ in cat.systems.values()
            if sys_.accelerator == entry.id
        ]
    if isinstance(entry, Region):
        out["fx"] = figure_dict(cat.fx_usd[entry.figures["electricity"].currency or "USD"])
    return out
