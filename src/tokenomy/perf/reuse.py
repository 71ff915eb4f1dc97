"""KV-cache reuse: prefix caching, multi-turn sessions and the cache tiers that keep their KV alive.

A request whose first ``cached`` prompt tokens are already in the KV cache prefills only the uncached tail
(:func:`tokenomy.perf.ops.cached_prefill_cost`, used by the serving model below this module). Sessions (agents, chats)
keep their context's KV between turns in HBM, then host DRAM, then local SSD; a prefix that fell out of
every tier is recomputed, and one in a slow tier is reloaded only when that beats recomputing it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from tokenomy.catalog import Catalog, catalog
from tokenomy.catalog.architecture import Architecture
from tokenomy.perf.ops import Parallel, Precision, kv_cache_bytes_per_gpu

if TYPE_CHECKING:
    from tokenomy.perf.calibration import Calibration


@dataclass(frozen=True)
class Session:
    """A multi-turn agent or chat session: a shared system prompt, then turns that append to the context."""

    turns: int = 10
    system_tokens: int = 2000  # shared by every session (the same agent scaffold)
    tokens_per_turn: int = 1000  # appended per turn: user message, tool results
    output_per_turn: int = 300
    think_time_s: float = 5.0  # between a turn's answer and the next request (tool calls, the user)

    def __post_init__(self) -> None:
        if self.turns < 1 or self.tokens_per_turn < 0 or self.output_per_turn < 1 or self.system_tokens < 0:
            raise ValueError("a session needs turns ≥ 1, output per turn ≥ 1 and token counts ≥ 0")
        if self.think_time_s < 0:
            raise ValueError("think_time_s must be ≥ 0")

    def turn_isl(self) -> np.ndarray:
        """Prompt tokens of each turn: the system prompt, every earlier turn and answer, and the new turn."""
        k = np.arange(self.turns, dtype=float)
        return self.system_tokens + k * (self.tokens_per_turn + self.output_per_turn) + self.tokens_per_turn

    def turn_reusable(self) -> np.ndarray:
        """Prompt tokens of each turn already seen: the system prompt, then the whole previous context."""
        return self.turn_isl() - self.tokens_per_turn

    @property
    def mean_isl(self) -> float:
        return float(self.turn_isl().mean())

    @property
    def mean_context(self) -> float:
        """Mean tokens a session holds between turns (its KV while the agent thinks)."""
        return float((self.turn_isl() + self.output_per_turn).mean())

    def hit_rate(self, retained: float) -> float:
        """Share of prompt tokens served from the cache when a share ``retained`` of idle sessions keeps its KV
        (the shared system prompt stays hot: every session uses it)."""
        isl = self.turn_isl()
        reuse = self.system_tokens + retained * (self.turn_reusable() - self.system_tokens)
        reuse[0] = self.system_tokens  # the first turn has only the system prompt to reuse
        return float(reuse.sum() / isl.sum())


@dataclass(frozen=True)
class CacheTier:
    """One place idle KV lives: bytes it can give per GPU and the bandwidth back to the GPU (bytes/s)."""

    name: str
    bytes_per_gpu: float
    read_bw: float  # bytes/s per GPU back into HBM (np.inf for HBM itself)


def system_cache_tiers(system: str, cat: Catalog | None = None) -> tuple[list[CacheTier], list[str]]:
    """Host DRAM and local SSD per GPU of a system from the catalog (HBM is added by the caller); notes say
    which tiers the catalog lacks figures for."""
    cat = cat or catalog()
    try:
        sys_ = cat.system(system)
    except LookupError:
        return [], [f"{system}: not a catalog system, so no host DRAM or SSD tier"]
    gpus = float(sys_.require("gpus"))
    tiers, notes = [], []
    for name, cap, bw in (
        ("host DRAM", "host_dram_gb", "host_to_gpu_gbytes_s"),
        ("local SSD", "local_ssd_tb", "ssd_read_gbytes_s"),
    ):
        c, b = sys_.value(cap), sys_.value(bw)
        if c is None or b is None:
            notes.append(f"{sys_.name}: no {name} figures in the catalog, tier left out")
            continue
        scale = 1e12 if cap.endswith("_tb") else 1e9
        per_gpu_bw = (
            b * 1e9 if bw == "host_to_gpu_gbytes_s" else b * 1e9 / gpus
        )  # SSDs are shared by the node
        tiers.append(CacheTier(name, c * scale / gpus, per_gpu_bw))
    return tiers, notes


@dataclass
class SessionCache:
    """Where idle sessions' KV lives and what a turn's prefix costs: the hit rate the tiers allow."""

    idle_sessions_per_gpu: float
    kv_bytes_per_session: float
    placed: dict[str, float]  # tier → share of idle sessions whose KV it holds
    retained: float  # share of idle sessions whose KV survives to the next turn
    hit_rate: float  # share of prompt tokens served from cache
    reload_s: dict[str, float]  # tier → seconds to bring one session's prefix back
    recompute_s: float  # seconds to prefill the same prefix again
    reload_used: dict[str, bool]  # tier → reload is faster than recomputing (else it counts as a miss)


def session_cache(
    session: Session,
    arch: Architecture,
    prec: Precision,
    par: Parallel,
    sessions_per_gpu: float,
    busy_s: float,
    hbm_free_bytes: float,
    tiers: list[CacheTier],
    recompute_s: float,
) -> SessionCache:
    """Place idle sessions' KV in HBM first, then each tier in order, and derive the prefix hit rate.

    A session is idle a share think / (think + busy) of the time; ``busy_s`` is a turn's time in the engine.
    A tier whose reload is slower than ``recompute_s`` (prefilling the prefix again) is not used: its
    sessions recompute. More capacity in any tier can only keep more sessions, so the hit rate never drops.
    """
    idle = sessions_per_gpu * session.think_time_s / max(session.think_time_s + busy_s, 1e-9)
    one = Parallel(*(np.ones(1, int) for _ in range(5)))
    kv = float(kv_cache_bytes_per_gpu(arch, prec, one, np.ones(1), np.array([session.mean_context]))[0])
    kv_per_gpu_session = kv / float(np.asarray(par.gpus).ravel()[0])  # spread over the engine's GPUs
    need = idle * kv_per_gpu_session
    placed: dict[str, float] = {}
    reload_s: dict[str, float] = {}
    used: dict[str, bool] = {}
    left = need
    kept = 0.0
    for tier in [CacheTier("HBM", max(hbm_free_bytes, 0.0), np.inf), *tiers]:
        take = min(left, tier.bytes_per_gpu)
        share = take / need if need > 0 else 0.0
        t_reload = 0.0 if np.isinf(tier.read_bw) else kv_per_gpu_session / tier.read_bw
        reload_s[tier.name] = t_reload
        used[tier.name] = t_reload <= recompute_s
        placed[tier.name] = share
        if used[tier.name]:
            kept += share
        left -= take
    retained = 1.0 if need <= 0 else min(kept, 1.0)
    return SessionCache(idle, kv, placed, retained, session.hit_rate(retained), reload_s, recompute_s, used)


def parse_session(text: str) -> Session:
    """``TURNS,TOKENS_PER_TURN,OUTPUT_PER_TURN,THINK_S[,SYSTEM_TOKENS]`` → a Session (errors name the field)."""
    names = ("turns", "tokens_per_turn", "output_per_turn", "think_time_s", "system_tokens")
    parts = [p.strip() for p in text.split(",")]
    if not 4 <= len(parts) <= 5:
        raise ValueError("a session is TURNS,TOKENS_PER_TURN,OUTPUT_PER_TURN,THINK_S[,SYSTEM_TOKENS]")
    values: dict[str, float] = {}
    for name, part in zip(names, parts, strict=False):
        try:
            values[name] = float(part)
        except ValueError:
            raise ValueError(f"session {name} '{part}' is not a number") from None
        if not np.isfinite(values[name]) or values[name] < 0:
            raise ValueError(f"session {name} must be a finite number ≥ 0")
    ints = {k: int(v) for k, v in values.items() if k != "think_time_s"}
    return Session(**ints, think_time_s=values["think_time_s"])


def session_reuse(
    model: str,
    hardware: str,
    session: Session,
    sessions_per_gpu: float = 8.0,
    tok_s_per_user: float = 50.0,
    precision: str | None = None,
    backend: str | None = None,
    cat: Catalog | None = None,
) -> tuple[SessionCache, list[str]]:
    """The prefix hit rate a system's cache tiers give a session workload, on one engine of the model (the
    smallest engine that holds its weights with room for KV) with ``sessions_per_gpu`` sessions open per GPU."""
    from tokenomy.perf.calibration import load_calibration
    from tokenomy.perf.frontier import default_backend, default_max_gpus, prefill_engine
    from tokenomy.perf.hardware import default_kv_precision, hardware_spec
    from tokenomy.perf.ops import serving_precision, weight_bytes_per_gpu
    from tokenomy.perf.serving import USABLE_MEMORY, prefill_s

    cat = cat or catalog()
    m = cat.model(model)
    hw = hardware_spec(hardware, cat)
    precision = precision or m.default_precision
    backend = (backend or default_backend(hw)).lower()
    prec = serving_precision(m.architecture, precision, precision, default_kv_precision(precision, backend))
    # The smallest engine whose weights leave room for KV (tensor parallel, experts spread over its GPUs).
    par = prefill_engine(m.architecture, hw, prec, default_max_gpus(m.architecture, hw, prec))
    if par is None:
        raise ValueError(f"{m.id} does not fit on {hardware}: no engine holds its weights")
    gpus = int(par.gpus[0])
    busy_s = session.output_per_turn / tok_s_per_user
    running = sessions_per_gpu * gpus * busy_s / max(busy_s + session.think_time_s, 1e-9)
    free = hw.memory_bytes * USABLE_MEMORY - float(weight_bytes_per_gpu(m.architecture, prec, par)[0])
    free -= float(
        kv_cache_bytes_per_gpu(
            m.architecture, prec, par, np.array([running]), np.array([session.mean_context])
        )[0]
    )
    eff = load_calibration().efficiency(backend, hw.family)
    prefix = np.array([session.mean_isl - session.tokens_per_turn])
    recompute = float(prefill_s(m.architecture, hw, prec, par, prefix, eff)[0])
    tiers, notes = system_cache_tiers(hardware, cat)
    result = session_cache(
        session, m.architecture, prec, par, sessions_per_gpu, busy_s, free, tiers, recompute
    )
    return result, notes


@dataclass
class PrefixSaving:
    """Predicted TTFT of one request alone on the server, without and with its shared prefix cached."""

    isl: int
    shared_tokens: int
    ttft_ms_cold: float
    ttft_ms_cached: float

    @property
    def saving(self) -> float:
        """Share of the cold TTFT the cached prefix saves."""
        return 1.0 - self.ttft_ms_cached / self.ttft_ms_cold


def predicted_prefix_saving(
    model: str,
    hardware: str,
    isl: int,
    shared_tokens: int,
    backend: str = "llama.cpp",
    precision: str | None = None,
    tp: int = 1,
    cat: Catalog | None = None,
    calibration: Calibration | None = None,
) -> PrefixSaving:
    """What the model predicts a shared, cached prompt prefix saves in TTFT at concurrency 1 (llama.cpp reuses
    a cached prompt prefix), on a catalog hardware with ``calibration``'s (else the packaged) efficiencies for
    ``backend``."""
    from tokenomy.perf.calibration import load_calibration
    from tokenomy.perf.hardware import default_kv_precision, hardware_spec
    from tokenomy.perf.ops import serving_precision
    from tokenomy.perf.serving import Workload, predict_serving

    if not 0 <= shared_tokens < isl:
        raise ValueError(f"shared_tokens must be in [0, isl), not {shared_tokens} of {isl}")
    cat = cat or catalog()
    m = cat.model(model)
    hw = hardware_spec(hardware, cat)
    precision = precision or m.default_precision
    prec = serving_precision(m.architecture, precision, precision, default_kv_precision(precision, backend))
    eff = (calibration or load_calibration()).efficiency(backend, hw.family)
    one = np.ones(1, int)
    par = Parallel(tp=one * tp, pp=one, dp=one, moe_tp=one * tp, moe_ep=one)
    x = np.array([float(isl)])
    cold = predict_serving(m.architecture, hw, prec, par, Workload(x, np.ones(1), np.ones(1)), eff)
    warm = predict_serving(
        m.architecture,
        hw,
        prec,
        par,
        Workload(x, np.ones(1), np.ones(1), np.array([float(shared_tokens)])),
        eff,
    )
    return PrefixSaving(isl, shared_tokens, float(cold.ttft_ms[0]), float(warm.ttft_ms[0]))
