"""Serving points: rows in the columns of ``calibration.csv`` (deployment + workload, measured columns optional).

This is the I/O edge of `predict`, `validate` and `calibrate`: CSV in, validated rows out, CSV back. Rows may be
aggregated (one engine, ``tp_size`` …) or disaggregated (``mode=disagg``: a prefill and a decode pool, each
``*_num_workers`` engines of ``prefill_*`` / ``decode_*`` parallelism), with or without speculative decoding
(``spec_method=mtp``). A row that cannot be read keeps its line and says why in ``error``; only a missing column
or an unreadable file stops the whole file.

The column names are an external format (InferenceX / aiconfigurator, DESIGN.md "interfaces that must stay
stable") and keep their names, with these meanings:

- ``measured_ttft_ms``, ``measured_tpot_ms``: median time to first token and time per output token (ms).
- ``measured_tput_per_gpu``: (input + output) tokens per second divided by every GPU serving (both pools when
  disaggregated); tokenomy's own name for the quantity is ``tok_s_per_gpu``.
- ``measured_output_tput_per_gpu`` (InferenceX files; read but not used): output tokens per second per GPU, and
  under disaggregation per *decode* GPU only (tokenomy's ``output_tok_s_per_gpu`` counts every GPU serving).
- ``predicted_ttft_ms``, ``predicted_tpot_ms``, ``predicted_tput_per_gpu`` (written by ``predict``): the model's
  figures in the same units as the measured columns (``predicted_tput_per_gpu`` = ``tok_s_per_gpu``).
"""

from __future__ import annotations

import csv
import hashlib
import math
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path
from statistics import median

REQUIRED = ["model_path", "system", "backend", "isl", "osl", "concurrency"]
PAR_COLUMNS = ["tp_size", "pp_size", "attention_dp_size", "moe_tp_size", "moe_ep_size"]
POOLS = ("prefill", "decode")
# InferenceX draws prompt and output lengths uniformly in [0.8, 1.0] × the nominal ISL/OSL (0.9× on average).
INFERENCEX_LENGTH_SCALE = 0.9
# InferenceX sends 10 prompts per client slot (`--num-prompts $(( CONC * 10 ))`, benchmarks/dsr1_fp8_h200.sh in
# github.com/SemiAnalysisAI/InferenceX @1fc5d73) and divides the tokens by the whole run's duration.
INFERENCEX_PROMPTS_PER_CLIENT = 10
INT_COLUMNS = [
    "isl",
    "osl",
    "concurrency",
    "tp_size",
    "pp_size",
    "attention_dp_size",
    "moe_tp_size",
    "moe_ep_size",
]
FLOAT_COLUMNS = ["measured_ttft_ms", "measured_tpot_ms", "measured_tput_per_gpu"]
QUANT_TO_PRECISION = {
    "fp8": "fp8",
    "fp8_block": "fp8",
    "nvfp4": "fp4",
    "mxfp4": "fp4",
    "fp4": "fp4",
    "int4": "int4",
    "w4a16": "int4",
    "bf16": "bf16",
    "fp16": "bf16",
    "float16": "bf16",
}


class PointsError(ValueError):
    """A points file that cannot be read, with the line that is wrong."""


@dataclass(frozen=True)
class Engine:
    """One engine's parallelism (aiconfigurator's names): attention TP, PP, attention-DP, MoE-TP, MoE-EP."""

    tp: int = 1
    pp: int = 1
    dp: int = 1
    moe_tp: int = 1
    moe_ep: int = 1

    @property
    def gpus(self) -> int:
        """GPUs in the engine: attention ranks, or the MoE group when the experts span more GPUs."""
        return max(self.tp * self.pp * self.dp, self.moe_tp * self.moe_ep * self.pp)


@dataclass(frozen=True)
class Pool:
    """A disaggregated pool: ``workers`` identical engines."""

    workers: int
    engine: Engine

    @property
    def gpus(self) -> int:
        return self.workers * self.engine.gpus


@dataclass
class Point:
    """One deployment × workload, with optional measured TTFT/TPOT (and throughput per GPU)."""

    line: int
    raw: dict[str, str]
    model_path: str = ""
    system: str = ""
    backend: str = ""
    precision: str = ""
    gemm_precision: str = ""
    moe_precision: str = ""
    isl: int = 0
    osl: int = 0
    concurrency: int = 0
    tp: int = 1
    pp: int = 1
    dp: int = 1
    moe_tp: int = 1
    moe_ep: int = 1
    measured_ttft_ms: float | None = None
    measured_tpot_ms: float | None = None
    measured_tput_column: float | None = None  # (input + output) tok/s per GPU, when the file measured it
    mode: str = "agg"  # "agg" (one engine prefills and decodes) or "disagg" (prefill and decode pools)
    spec_method: str = "none"  # "mtp": DeepSeek multi-token prediction (speculative decoding)
    prefill: Pool | None = None
    decode: Pool | None = None
    length_scale: float = 1.0  # mean / nominal ISL and OSL (InferenceX: 0.9)
    prompts_per_client: int = (
        0  # prompts each client slot sent in a throughput run (InferenceX: 10); 0: steady
    )
    assumption: str = ""  # how a row with incomplete parallelism was read
    error: str = ""  # why this row cannot be predicted (unreadable values)
    origin: str = ""  # the file the row came from (its name)
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def disaggregated(self) -> bool:
        return self.mode == "disagg"

    @property
    def engine(self) -> Engine:
        return Engine(self.tp, self.pp, self.dp, self.moe_tp, self.moe_ep)

    @property
    def gpus(self) -> int:
        """Every GPU serving: the engine, or both pools."""
        if self.prefill and self.decode:
            return self.prefill.gpus + self.decode.gpus
        return self.tp * self.pp * self.dp

    @property
    def mean_isl(self) -> float:
        return self.isl * self.length_scale

    @property
    def mean_osl(self) -> float:
        return self.osl * self.length_scale

    @property
    def lengths_vary(self) -> bool:
        """Prompt and output lengths drawn at random: requests finish at different times and stop arriving in
        waves (InferenceX); fixed lengths keep a closed-loop benchmark's requests in step."""
        return self.length_scale != 1.0

    @property
    def run_share(self) -> float:
        """Share of the steady-state throughput that the file's throughput run measured (1 when steady)."""
        return finite_run_share(self.prompts_per_client)

    @property
    def measured_tput_per_gpu(self) -> float | None:
        """(input + output) tok/s per GPU serving (named after its column): the file's own column, else Little's
        law on the measured medians."""
        if self.measured_tput_column:
            return self.measured_tput_column
        if self.measured_ttft_ms is None or self.measured_tpot_ms is None or not self.gpus:
            return None
        e2e_ms = self.measured_ttft_ms + (self.mean_osl - 1) * self.measured_tpot_ms
        return self.concurrency * (self.mean_isl + self.mean_osl) / (e2e_ms / 1e3) / self.gpus


def finite_run_share(prompts_per_client: float) -> float:
    """Throughput a closed-loop run of ``prompts_per_client`` prompts per client slot measures, as a share of
    steady state: all slots start together, but the last prompt sent runs a whole request time while the load
    drains, so the run lasts (n + 0.5) request times for n requests' worth of work. 0 means steady state."""
    return prompts_per_client / (prompts_per_client + 0.5) if prompts_per_client > 0 else 1.0


def _int(row: dict[str, str], key: str, default: int | None, line: int) -> int:
    text = (row.get(key) or "").strip()
    if not text:
        if default is None:
            raise PointsError(f"line {line}: column '{key}' is empty")
        return default
    try:
        number = float(text)
    except ValueError:
        number = math.nan
    if not math.isfinite(number) or number != int(number):
        raise PointsError(f"line {line}: column '{key}' should be a whole number, got '{text}'") from None
    value = int(number)
    if value == 0 and default is not None:
        return default  # 0 = "not applicable" (e.g. moe_ep_size on a dense model)
    if value <= 0:
        raise PointsError(f"line {line}: column '{key}' must be positive, got {value}")
    return value


def _float(row: dict[str, str], key: str, line: int) -> float | None:
    text = (row.get(key) or "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise PointsError(f"line {line}: column '{key}' should be a number, got '{text}'") from None
    if not math.isfinite(value) or value <= 0:
        raise PointsError(f"line {line}: column '{key}' must be a finite number > 0, got '{text}'")
    return value


def _precision(text: str, fallback: str) -> str:
    text = (text or "").strip().lower()
    return QUANT_TO_PRECISION.get(text, fallback) if text else fallback


def _engine(row: dict[str, str], prefix: str, line: int) -> Engine:
    """One engine's parallelism from ``{prefix}tp_size`` … (blank attention-DP read by the MoE convention)."""
    tp = _int(row, f"{prefix}tp_size", None, line)
    dp = _int(row, f"{prefix}attention_dp_size", 1, line)
    moe_tp_given = (row.get(f"{prefix}moe_tp_size") or "").strip()
    moe_ep = _int(row, f"{prefix}moe_ep_size", 1, line)
    moe_gpus = _int(row, f"{prefix}moe_tp_size", 1, line) * moe_ep
    if moe_gpus > tp * dp and moe_gpus % tp == 0:
        # MoE layers on more GPUs than the attention ranks (vLLM's DP + MoE-TP with a blank attention-DP, or
        # ATOM's "TP1 EP8" pools): by the convention tp × dp = moe_tp × moe_ep, attention is data-parallel.
        dp = moe_gpus // tp
    moe_tp = _int(row, f"{prefix}moe_tp_size", tp * dp, line) if moe_tp_given else max(tp * dp // moe_ep, 1)
    return Engine(tp=tp, pp=_int(row, f"{prefix}pp_size", 1, line), dp=dp, moe_tp=moe_tp, moe_ep=moe_ep)


PREFILL_WORKER_GPUS = 4  # an unrecorded prefill worker: one GB200 compute tray (4 GPUs)
NARROW_ENGINE_GPUS = (
    8  # engines up to this size are read as TP × EP; wider ones as attention-DP × EP (wide EP)
)


def _assumed_engine(gpus: int) -> Engine:
    """An engine of ``gpus`` GPUs whose parallelism a file did not record, as Dynamo's recipes build them."""
    if gpus <= NARROW_ENGINE_GPUS:
        return Engine(tp=gpus, dp=1, moe_tp=1, moe_ep=gpus)
    return Engine(tp=1, dp=gpus, moe_tp=1, moe_ep=gpus)


def _pools(row: dict[str, str], line: int) -> tuple[Pool, Pool, str]:
    """The prefill and decode pools of a disaggregated row, checked against ``num_gpus`` when the file has it.

    Where the file records no parallelism for the pools (all sizes 1, or worker counts 0) the row is read as
    Dynamo's recipes run it: 4-GPU prefill workers and the rest as equal decode engines; where the recorded
    worker counts do not add up to ``num_gpus``, the decode (else prefill) worker count is read from it. The
    returned assumption says how the row was read.
    """
    workers = {p: int(float((row.get(f"{p}_num_workers") or "0").strip() or 0)) for p in POOLS}
    engines = {p: _engine(row, f"{p}_", line) for p in POOLS}
    pools = {p: Pool(workers[p], engines[p]) for p in POOLS}
    total = _int(row, "num_gpus", 0, line) if (row.get("num_gpus") or "").strip() else 0
    counted = sum(pl.gpus for pl in pools.values())
    if not total or counted == total:
        for p in POOLS:
            if workers[p] < 1:
                raise PointsError(f"line {line}: column '{p}_num_workers' must be a positive whole number")
        return pools["prefill"], pools["decode"], ""
    if workers["prefill"] == 0 and workers["decode"] == 0:
        # Worker counts 0: tp_size is each pool's GPU count and the engines are not recorded.
        sizes = {p: engines[p].tp for p in POOLS}
        workers = {"prefill": max(sizes["prefill"] // PREFILL_WORKER_GPUS, 1), "decode": 1}
    elif all(e == Engine() for e in engines.values()):
        sizes = {"prefill": workers["prefill"] * PREFILL_WORKER_GPUS}
        sizes["decode"] = total - sizes["prefill"]
    else:
        for mine, other in (("decode", "prefill"), ("prefill", "decode")):
            left = total - pools[other].gpus
            if left > 0 and left % engines[mine].gpus == 0:
                pools[mine] = Pool(left // engines[mine].gpus, engines[mine])
                note = f"{mine} worker count read from num_gpus {total}: {pools[mine].workers}"
                return pools["prefill"], pools["decode"], note
        raise PointsError(
            f"line {line}: the pools' parallelism counts {counted} GPUs but num_gpus is {total}"
        )
    per = {p: sizes[p] // max(workers[p], 1) for p in POOLS}
    if min(per.values()) < 1 or sum(per[p] * workers[p] for p in POOLS) != total:
        raise PointsError(f"line {line}: cannot split num_gpus {total} into the recorded worker counts")
    pools = {p: Pool(workers[p], _assumed_engine(per[p])) for p in POOLS}
    note = "pool parallelism not recorded: read as " + ", ".join(
        f"{workers[p]} × {per[p]}-GPU {p}" for p in POOLS
    )
    return pools["prefill"], pools["decode"], note


def parse_row(row: dict[str, str], line: int) -> Point:
    """One CSV row → a Point; raises :class:`PointsError` naming the line and column that are wrong."""
    missing = [k for k in REQUIRED if not (row.get(k) or "").strip()]
    mode = (row.get("mode") or "agg").strip().lower() or "agg"
    if mode not in ("agg", "disagg"):
        raise PointsError(f"line {line}: mode must be 'agg' or 'disagg', got '{mode}'")
    if mode == "agg" and not (row.get("tp_size") or "").strip():
        missing.append("tp_size")
    if missing:
        raise PointsError(f"line {line}: missing value(s) for {', '.join(missing)}")
    spec = (row.get("spec_method") or "none").strip().lower() or "none"
    if spec not in ("none", "mtp"):
        raise PointsError(f"line {line}: spec_method must be 'mtp' or 'none', got '{spec}'")
    precision = _precision(row.get("precision", ""), "")
    gemm = _precision(row.get("gemm_quant_mode", ""), precision)
    moe = _precision(row.get("moe_quant_mode", ""), gemm)
    prefill = decode = None
    assumption = ""
    if mode == "disagg":
        prefill, decode, assumption = _pools(row, line)
        engine = decode.engine
    else:
        engine = _engine(row, "", line)
    source = (row.get("source") or "").lower()
    return Point(
        line=line,
        raw=dict(row),
        model_path=row["model_path"].strip(),
        system=row["system"].strip(),
        backend=row["backend"].strip().lower(),
        precision=precision,
        gemm_precision=gemm,
        moe_precision=moe,
        isl=_int(row, "isl", None, line),
        osl=_int(row, "osl", None, line),
        concurrency=_int(row, "concurrency", None, line),
        tp=engine.tp,
        pp=engine.pp,
        dp=engine.dp,
        moe_tp=engine.moe_tp,
        moe_ep=engine.moe_ep,
        measured_ttft_ms=_float(row, "measured_ttft_ms", line),
        measured_tpot_ms=_float(row, "measured_tpot_ms", line),
        measured_tput_column=_float(row, "measured_tput_per_gpu", line),
        mode=mode,
        spec_method=spec,
        prefill=prefill,
        decode=decode,
        length_scale=INFERENCEX_LENGTH_SCALE if "inferencex" in source else 1.0,
        prompts_per_client=INFERENCEX_PROMPTS_PER_CLIENT if "inferencex" in source else 0,
        assumption=assumption,
    )


def read_points(path: str | Path) -> tuple[list[Point], list[str]]:
    """Read a points CSV; returns the points and the header (to write predictions back in the same order)."""
    path = Path(path)
    if not path.exists():
        raise PointsError(f"{path}: no such file")
    if not path.is_file():
        raise PointsError(f"{path}: not a file (a points CSV expected)")
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            header = list(reader.fieldnames or [])
            absent = [c for c in REQUIRED if c not in header]
            if absent:
                raise PointsError(
                    f"{path}: missing column(s) {', '.join(absent)}; expected the calibration.csv columns"
                )
            points = []
            for i, row in enumerate(reader, start=2):
                try:
                    points.append(replace(parse_row(row, i), origin=path.name))
                except PointsError as exc:  # a bad row gets its note; the file goes on
                    points.append(Point(line=i, raw=dict(row), error=str(exc), origin=path.name))
    except UnicodeDecodeError:
        raise PointsError(
            f"{path}: not UTF-8 text (a binary or UTF-16 file?); save the CSV as UTF-8"
        ) from None
    except csv.Error as exc:
        raise PointsError(f"{path}: line {reader.line_num}: not a readable CSV ({exc})") from None
    except OSError as exc:
        raise PointsError(f"{path}: cannot read ({exc.strerror})") from None
    if not points:
        raise PointsError(f"{path}: a header but no rows")
    return points, header


def write_points(path: str | Path, header: list[str], rows: list[dict[str, object]]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    extra = [k for k in rows[0] if k not in header] if rows else []
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=header + extra, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def file_sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


PACKAGED_FILES = ("calibration_points.csv", "calibration_disagg.csv", "inferencex_dsr1.csv")


def packaged_paths() -> list[Path]:
    """The measured points shipped with tokenomy (see perf/data/NOTICE): aggregated, disaggregated, InferenceX."""
    from importlib import resources

    root = resources.files("tokenomy.perf") / "data"
    return [Path(str(root / name)) for name in PACKAGED_FILES]


def read_many(paths: list[Path], reconcile_runs: bool = True) -> tuple[list[Point], str]:
    """Read several points files into one list (reconciled, see :func:`reconcile`, unless ``reconcile_runs`` is
    False); returns the points and a digest of the files' bytes."""
    points: list[Point] = []
    digest = hashlib.sha256()
    for path in paths:
        rows, _ = read_points(path)
        points += rows
        digest.update(Path(path).read_bytes())
    return (reconcile(points).points if reconcile_runs else points), digest.hexdigest()


# ---- one run, one point --------------------------------------------------------------------------------------
# An unlabelled run within this factor of an MTP twin's TPOT, where no plain twin was measured, is an MTP run.
MTP_TWIN_TOLERANCE = 1.15
# An unlabelled run further than this from every labelled run of its configuration (5× the median run-to-run
# TPOT spread of repeated runs, 6.5%) is not what its labels say: left out.
CONFLICT_FACTOR = 1.3


@dataclass(frozen=True)
class Reconciled:
    """Points as a fit and a validation should count them, and what was changed to get there."""

    points: list[Point]
    repeats: int  # rows dropped: a measurement another row already gives, under another label
    mtp_labelled: int  # rows without a spec_method that their labelled twins show to be MTP runs
    conflicting: int = 0  # rows without a spec_method far from every labelled run of their configuration
    disagreeing: int = 0  # rows without a spec_method, no labelled twin, far from an unlabelled run of theirs

    @property
    def counts(self) -> dict[str, int]:
        """What reconciling changed, as a fit's notes record it."""
        return {
            "repeats_counted_once": self.repeats,
            "read_as_mtp": self.mtp_labelled,
            "left_out": self.conflicting,
            "left_out_disagreeing": self.disagreeing,
        }

    @property
    def note(self) -> str:
        parts = []
        if self.repeats:
            parts.append(
                f"{self.repeats} row(s) repeat another row's measurement (same system, backend, workload, TTFT "
                "and TPOT), as a copy or under another model or parallelism label: counted once, as the smallest "
                "engine"
            )
        if self.mtp_labelled:
            parts.append(
                f"{self.mtp_labelled} row(s) without spec_method match their configuration's MTP runs, not its "
                "plain ones: read as MTP"
            )
        if self.conflicting:
            parts.append(
                f"{self.conflicting} row(s) without spec_method differ from every labelled run of their "
                f"configuration by more than {CONFLICT_FACTOR}×: left out"
            )
        if self.disagreeing:
            parts.append(
                f"{self.disagreeing} row(s) without spec_method and without labelled runs of their configuration "
                f"differ from another run of it (same architecture, engine, workload) by more than "
                f"{CONFLICT_FACTOR}×, so they cannot all be plain runs: left out"
            )
        return "; ".join(parts)


def _same_run(p: Point) -> tuple | None:
    """Two rows with this key are one benchmark run: medians to the file's last digit do not repeat by chance."""
    if p.error or p.measured_tpot_ms is None or p.measured_ttft_ms is None:
        return None
    return (p.system, p.backend, p.mode, p.isl, p.osl, p.concurrency, p.measured_ttft_ms, p.measured_tpot_ms)


def _architecture(model_path: str) -> object:
    """The model's architecture (checkpoints of one architecture serve alike), else its path."""
    from tokenomy.catalog import UnknownIdError, catalog

    try:
        return catalog().model_variant(model_path)[0].architecture
    except UnknownIdError:
        return model_path


def _configuration(p: Point, arch: object) -> tuple:
    return (
        arch,
        p.system,
        p.backend,
        p.precision,
        p.mode,
        p.isl,
        p.osl,
        p.concurrency,
        p.engine,
        p.prefill,
        p.decode,
    )


def _labelled(p: Point) -> bool:
    return bool((p.raw.get("spec_method") or "").strip())


def reconcile(points: list[Point]) -> Reconciled:
    """One point per benchmark run, labelled as it ran.

    Collections of measurements sometimes list one run several times (under a model's two names, or under a
    second parallelism label), and some leave speculative decoding unsaid: an MTP run then reads as a plain
    run 1.5-2× faster than the engine is. A repeated run is kept once, as its smallest engine; a row without
    ``spec_method`` becomes MTP when it is closer to the MTP runs of its exact configuration than to the plain
    ones (within ``MTP_TWIN_TOLERANCE`` of them where only MTP runs exist), and is left out when plain runs were
    measured and it is further than ``CONFLICT_FACTOR`` from every labelled run. Without labelled runs, unlabelled
    runs of one configuration more than ``CONFLICT_FACTOR`` apart are all left out: nothing says which ran as
    labelled (DeepSeek-R1 and -V3, one architecture, measured 1.3-2.2× apart on the same engine).
    """
    runs: dict[tuple, list[int]] = defaultdict(list)
    for i, p in enumerate(points):
        if (key := _same_run(p)) is not None:
            runs[key].append(i)
    dropped = {i for idx in runs.values() for i in idx if i != min(idx, key=lambda j: (points[j].gpus, j))}
    arch = {path: _architecture(path) for path in {p.model_path for p in points if not p.error}}
    twins: dict[tuple, dict[str, list[float]]] = defaultdict(lambda: {"mtp": [], "none": []})
    unlabelled: dict[int, tuple] = {}  # configuration of each kept row without spec_method
    for i, p in enumerate(points):
        if p.error or not p.measured_tpot_ms:
            continue
        config = _configuration(p, arch[p.model_path])
        if _labelled(p):
            twins[config][p.spec_method].append(math.log(p.measured_tpot_ms))
        elif i not in dropped:
            unlabelled[i] = config
    runs_tpot: dict[tuple, list[float]] = defaultdict(list)
    for i, config in unlabelled.items():
        runs_tpot[config].append(points[i].measured_tpot_ms)
    kept: list[Point] = []
    labelled = conflicting = disagreeing = 0
    for i, p in enumerate(points):
        if i in dropped:
            continue
        seen = None
        if i in unlabelled:
            seen = twins.get(unlabelled[i])
            tpots = runs_tpot[unlabelled[i]]
            if not seen and max(tpots) > CONFLICT_FACTOR * min(tpots):
                disagreeing += 1
                continue
        if seen:
            x = math.log(p.measured_tpot_ms)
            to_mtp = abs(x - median(seen["mtp"])) if seen["mtp"] else math.inf
            plain = abs(x - median(seen["none"])) if seen["none"] else math.log(MTP_TWIN_TOLERANCE)
            if min(to_mtp, plain) > math.log(CONFLICT_FACTOR):
                conflicting += 1
                continue
            if to_mtp < plain:
                p = replace(p, spec_method="mtp")
                labelled += 1
        kept.append(p)
    return Reconciled(kept, len(dropped), labelled, conflicting, disagreeing)
