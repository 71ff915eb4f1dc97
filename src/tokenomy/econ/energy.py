"""Energy and carbon per token and per query (provisioned: all-in power over throughput). Pure functions."""

from __future__ import annotations

from dataclasses import dataclass

from tokenomy.units import gco2_per_mtok, joules_per_token, wh_of

# Public per-query figures to hold ours against: Oviedo et al., arXiv 2509.20241 (Microsoft, 2025);
# "How Hungry is AI?", arXiv 2505.09598 (2025).
PUBLIC_PER_QUERY_WH = {
    "Microsoft production median, >200B models (Oviedo et al. 2025) [O]": 0.34,
    "Microsoft production, long queries [O]": 4.32,
    "'How Hungry is AI?', o3 / DeepSeek-R1 long prompt [O]": 30.0,
}
# EcoLogits v0.9.1 (https://ecologits.ai) energy per output token: alpha * exp(beta * B) * P_active + gamma Wh, B = 64 (batch) [O].
ECOLOGITS = {"alpha": 1.1665e-6, "beta": -1.1206e-2, "gamma": 4.0529e-5, "batch": 64}


@dataclass
class Energy:
    joules_per_token_it: float  # all-in IT power / total tok/s (InferenceX definition, provisioned)
    joules_per_token_facility: float  # × PUE
    wh_per_query: float  # facility energy for one query of ISL + OSL tokens
    gco2_per_mtok: float  # facility energy × grid intensity
    gco2_per_query: float

    def as_dict(self) -> dict[str, float]:
        return dict(vars(self))


def energy_per_token(
    allin_kw_per_gpu: float, tok_s_per_gpu: float, pue: float, grid_gco2_per_kwh: float, isl: int, osl: int
) -> Energy:
    """Provisioned energy: every token (input and output) carries an equal share of the GPU's all-in power."""
    j_it = joules_per_token(allin_kw_per_gpu, tok_s_per_gpu)
    j_fac = j_it * pue
    wh_query = wh_of(j_fac * (isl + osl))
    g_per_mtok = gco2_per_mtok(j_fac, grid_gco2_per_kwh)
    return Energy(j_it, j_fac, wh_query, g_per_mtok, wh_query / 1000.0 * grid_gco2_per_kwh)


def ecologits_wh_per_output_token(active_params_b: float, pue: float = 1.0) -> float:
    """EcoLogits' estimate of energy per output token, for comparison with ours."""
    e = ECOLOGITS
    return (e["alpha"] * 2.718281828459045 ** (e["beta"] * e["batch"]) * active_params_b + e["gamma"]) * pue
