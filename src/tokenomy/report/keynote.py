"""The keynote chart's data: tok/s per MW against tok/s/user for every generation of a plan, the price tiers as
bands (floor and price), each tier's chosen operating point, and measured points where they exist."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from tokenomy.catalog import Catalog, catalog
from tokenomy.econ.factory import Plan, _frontier_cached
from tokenomy.points import packaged_paths, read_many
from tokenomy.units import tok_s_per_mw
from tokenomy.validation import measured_on_frontier


@dataclass
class Series:
    """One generation: its frontier for the focus tier's workload and its tiers' operating points."""

    generation: str
    hardware: str
    frontier: list[dict] = field(
        default_factory=list
    )  # tok_s_per_user, tok_s_per_mw, extrapolated, deployment
    operating: list[dict] = field(
        default_factory=list
    )  # tier, model, tok_s_per_user, tok_s_per_mw, extrapolated
    measured: list[dict] = field(default_factory=list)  # label, tok_s_per_user, tok_s_per_mw


@dataclass
class Keynote:
    model: str
    precision_by_generation: dict[str, str]
    isl: int
    osl: int
    tiers: list[dict]  # name, floor tok/s/user, price $/M
    series: list[Series]

    def as_dict(self) -> dict:
        return asdict(self)


def keynote(plan: Plan, cat: Catalog | None = None) -> Keynote:
    """The chart's series for ``plan``: frontiers drawn for its first paid tier's model and ISL/OSL; measured
    points of a model with the same architecture (DeepSeek-R1-0528 for DeepSeek-R1) are overlaid."""
    cat = cat or catalog()
    tiers0 = plan.generations[0].tiers
    focus = next((t for t in tiers0 if t.price_usd_per_mtok > 0), tiers0[0])
    points, _ = read_many(packaged_paths())
    series, precisions = [], {}
    for g in plan.generations:
        t0 = next(t for t in g.tiers if t.tier == focus.tier)
        acc = cat.accelerator(t0.hardware)
        kw = acc.value("allin_kw")
        s = Series(generation=g.name, hardware=t0.hardware)
        precisions[g.name] = t0.precision
        if kw:
            f = _frontier_cached(focus.model, acc.id, t0.precision, focus.isl, focus.osl, None)
            s.frontier = [
                {
                    "tok_s_per_user": p.tok_s_per_user,
                    "tok_s_per_mw": p.tok_s_per_mw,
                    "extrapolated": p.extrapolated,
                    "deployment": f"{p.backend} {p.deployment}",
                }
                for p in f.points
            ]
            s.measured = [
                {
                    "label": m.label,
                    "tok_s_per_user": m.tok_s_per_user,
                    "tok_s_per_mw": tok_s_per_mw(m.tok_s_per_gpu, kw),
                }
                for m in measured_on_frontier(
                    points, focus.model, acc.id, t0.precision, focus.isl, focus.osl, cat
                )
            ]
            for t in g.tiers:
                if t.reachable and t.tok_s_per_gpu:
                    s.operating.append(
                        {
                            "tier": t.name,
                            "model": t.model,
                            "tok_s_per_user": t.tok_s_per_user,
                            "tok_s_per_mw": tok_s_per_mw(t.tok_s_per_gpu, kw),
                            "extrapolated": t.extrapolated,
                        }
                    )
        series.append(s)
    tiers = sorted(
        ({"name": t.name, "floor": t.min_tok_s_per_user, "price": t.price_usd_per_mtok} for t in tiers0),
        key=lambda t: t["floor"],
    )
    return Keynote(focus.model, precisions, focus.isl, focus.osl, tiers, series)
