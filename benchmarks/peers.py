"""`tokenomy bench` side by side with other load generators, in the same run, on this machine: req/s at c=64 of
64-token streams against an instant server, and the TTFT p50 each REPORTS at c=64 against a server whose true TTFT
is 50 ms (then one token every 10 ms). Every client runs pinned to core 0; the fake server
(tokenomy.measure.fake_server) runs on the last core.

Peers: guidellm, aiperf, inference-perf (each in its own virtualenv: ``--peers-dir DIR`` or $TOKENOMY_PEERS holding
DIR/NAME/bin/NAME, else found on PATH; a missing one is skipped and said so) and a plain loop over the `openai`
client when that package is importable. Their figures are read from the result files they write (JSON), never from
the wall time of the command; the table names the field read. "in flight" is the mean number of requests the tool
kept open: its own figure where it reports one, else Little's law (req/s × its reported mean latency, marked ~).

The peers make synthetic prompts with a Hugging Face tokenizer; with no network, a small byte-level BPE tokenizer
(2,000 tokens, trained on this README in a temporary folder with the peer venv's own `tokenizers`) is given to all.

Run: .venv/bin/python benchmarks/peers.py [--requests 2000] [--peers-dir peers] [--only guidellm,aiperf]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_truth import CORES, Server, bench, machine, pin  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SLOW_REQUESTS = 640  # at c=64 against the 50 ms / 10 ms server: 10 rounds
PEER_TIMEOUT_S = 900


@dataclass
class Measure:
    """One tool's run against one server, as the tool reported it."""

    rps: float
    ttft_ms: float
    in_flight: float | None
    in_flight_own: bool  # the tool's own concurrency figure (else Little's law)
    ok: int
    wall_s: float
    sent: int | None = (
        None  # requests the tool says it sent, where it differs from ``ok`` for a reason of its own
    )


@dataclass
class Row:
    tool: str
    fast: Measure | None
    slow: Measure | None
    source: str  # which figures were read


# ---- tokenomy and the plain openai loop (in this process tree) -------------------------------------------------


def ours_cli(fast: Server, slow: Server, n: int) -> Row:
    out = []
    for server, count in ((fast, n), (slow, SLOW_REQUESTS)):
        doc, wall = bench(server.url, "-c", "64", "--num-prompts", str(count), "--isl", "8", "--osl", "64")
        lv = doc["levels"][0]
        rps = lv["request_throughput"]
        out.append(
            Measure(rps, lv["ttft_ms"]["p50"], rps * lv["e2e_ms"]["mean"] / 1e3, False, lv["completed"], wall)
        )
    return Row("tokenomy bench (CLI, DuckDB storage)", *out, "JSON levels[0].request_throughput, ttft_ms.p50")


def _in_core(fn, *args):
    """Run ``fn(*args)`` in a child process on the client core; its return value."""
    import multiprocessing as mp

    ctx = mp.get_context("fork")
    q = ctx.Queue()

    def target() -> None:
        pin(0)()
        q.put(fn(*args))

    p = ctx.Process(target=target)
    p.start()
    out = q.get(timeout=PEER_TIMEOUT_S)
    p.join()
    return out


def _loop_ours(url: str, n: int) -> Measure:
    from tokenomy.measure.bench import BenchConfig, generate
    from tokenomy.measure.workload import random_prompts

    cfg = BenchConfig(url=url, model="fake-model")
    w = time.perf_counter()
    results, t0, t1, _ = asyncio.run(generate(cfg, random_prompts(n, 8, 64), concurrency=64))
    ok = [r for r in results if r.ok]
    rps = len(ok) / (t1 - t0)
    e2e_s = statistics.fmean(r.e2e_ms for r in ok) / 1e3
    return Measure(
        rps, statistics.median(r.ttft_ms for r in ok), rps * e2e_s, False, len(ok), time.perf_counter() - w
    )


def ours_loop(fast: Server, slow: Server, n: int) -> Row:
    return Row(
        "tokenomy's send loop, no storage",
        _in_core(_loop_ours, fast.url, n),
        _in_core(_loop_ours, slow.url, SLOW_REQUESTS),
        "its results, timed in-process",
    )


def _loop_openai(url: str, n: int) -> Measure:
    from openai import AsyncOpenAI

    async def go() -> Measure:
        client = AsyncOpenAI(base_url=url + "/v1", api_key="none", max_retries=0)
        left = list(range(n))
        ttfts: list[float] = []
        e2es: list[float] = []

        async def worker() -> None:
            while left:
                left.pop()
                t = time.perf_counter()
                first = None
                stream = await client.chat.completions.create(
                    model="fake-model",
                    messages=[{"role": "user", "content": "hi"}],
                    max_tokens=64,
                    stream=True,
                )
                async for chunk in stream:
                    if first is None and chunk.choices and chunk.choices[0].delta.content:
                        first = time.perf_counter()
                ttfts.append((first - t) * 1e3)
                e2es.append(time.perf_counter() - t)

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(64)))
        wall = time.perf_counter() - t0
        await client.close()
        rps = n / wall
        return Measure(rps, statistics.median(ttfts), rps * statistics.fmean(e2es), False, n, wall)

    return asyncio.run(go())


def openai_loop(fast: Server, slow: Server, n: int) -> Row:
    return Row(
        "plain loop over the openai client",
        _in_core(_loop_openai, fast.url, min(n, 1500)),
        _in_core(_loop_openai, slow.url, SLOW_REQUESTS),
        "timed in-process around its stream",
    )


# ---- peer CLIs --------------------------------------------------------------------------------------------------


def find_tool(name: str, peers_dir: Path | None) -> Path | None:
    """DIR/NAME/bin/NAME or DIR/bin/NAME under the peers folder, else NAME on PATH."""
    if peers_dir is not None:
        for p in (peers_dir / name / "bin" / name, peers_dir / "bin" / name):
            if p.is_file() and os.access(p, os.X_OK):
                return p
    found = shutil.which(name)
    return Path(found) if found else None


def _peer_env(offline: bool = True) -> dict[str, str]:
    """Hugging Face offline, no colour or terminal UI, and none of tokenomy's sources on the path."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    if offline:
        env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    env.update(NO_COLOR="1")
    env.update(TERM="dumb", COLUMNS="200", TOKENIZERS_PARALLELISM="false")
    return env


def _run(cmd: list[str], cwd: Path, offline: bool = True) -> float:
    """Run a peer command on the client core; its wall seconds. Raises with the tail of its output on failure."""
    t = time.perf_counter()
    out = subprocess.run(
        cmd,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=PEER_TIMEOUT_S,
        preexec_fn=pin(0),
        env=_peer_env(offline),
        stdin=subprocess.DEVNULL,
    )
    if out.returncode != 0:
        tail = (out.stderr.strip() or out.stdout.strip())[-400:]
        raise RuntimeError(f"exit {out.returncode}: {tail}")
    return time.perf_counter() - t


def make_tokenizer(pythons: list[Path], folder: Path) -> Path:
    """A byte-level BPE tokenizer (2,000 tokens, trained on README.md) saved as a Hugging Face folder, built with
    the first of ``pythons`` that has `tokenizers` and `transformers`."""
    script = """
import sys
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast
tok = Tokenizer(models.BPE())
tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
tok.decoder = decoders.ByteLevel()
tok.train([sys.argv[2]], trainers.BpeTrainer(vocab_size=2000, special_tokens=["<|endoftext|>"],
          initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False))
eos = "<|endoftext|>"
PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=eos, bos_token=eos, unk_token=eos,
                        model_max_length=1 << 20).save_pretrained(sys.argv[1])
"""
    errors = []
    for py in pythons:
        out = subprocess.run(
            [str(py), "-c", script, str(folder), str(ROOT / "README.md")],
            capture_output=True,
            text=True,
            timeout=300,
            env=_peer_env(),
        )
        if out.returncode == 0:
            return folder
        errors.append(f"{py}: {out.stderr.strip()[-200:]}")
    raise RuntimeError("could not build a local tokenizer: " + "; ".join(errors))


def guidellm(exe: Path, url: str, n: int, tmp: Path, tok: Path) -> Measure:
    out = tmp / "guidellm.json"
    wall = _run(
        [str(exe), "run", "--backend", f"kind=openai_http,target={url},model=fake-model",
         "--profile", "kind=concurrent,streams=64", "--constraint", f"kind=max_requests,count={n}",
         "--data", "kind=synthetic_text,prompt_tokens=8,output_tokens=64",
         "--tokenizer", f"kind=hf_auto,model={tok}", "--output", f"kind=json,path={out}",
         "--disable-console-interactive"],
        tmp,
    )  # fmt: skip
    b = json.loads(out.read_text())["benchmarks"][0]
    m = b["metrics"]
    return Measure(
        m["requests_per_second"]["successful"]["mean"],
        m["time_to_first_token_ms"]["successful"]["median"],
        m["request_concurrency"]["successful"]["mean"],
        True,
        m["request_totals"]["successful"],
        wall,
        b["scheduler_metrics"]["requests_made"]["total"],
    )


GUIDELLM_SRC = (
    "benchmarks[0].metrics: requests_per_second.successful.mean, time_to_first_token_ms.successful.median, "
    "request_concurrency.successful.mean; ok: request_totals.successful of scheduler_metrics.requests_made.total"
)


def aiperf(exe: Path, url: str, n: int, tmp: Path, tok: Path) -> Measure:
    art = tmp / "aiperf"
    wall = _run(
        [str(exe), "profile", "--model", "fake-model", "--url", url, "--endpoint-type", "chat", "--streaming",
         "--concurrency", "64", "--request-count", str(n),
         "--prompt-input-tokens-mean", "8", "--prompt-input-tokens-stddev", "0",
         "--prompt-output-tokens-mean", "64", "--prompt-output-tokens-stddev", "0",
         "--tokenizer", str(tok), "--output-artifact-dir", str(art), "--ui", "none",
         "--no-server-metrics", "--no-gpu-telemetry", "--workers-max", "1"],
        tmp,
        offline=False,  # aiperf 0.13.0 looks a local tokenizer folder up in the HF cache when HF_HUB_OFFLINE is set
    )  # fmt: skip
    d = json.loads((art / "profile_export_aiperf.json").read_text())
    conc = d.get("effective_concurrency", {}).get("avg")
    return Measure(
        d["request_throughput"]["avg"],
        d["time_to_first_token"]["p50"],
        conc,
        conc is not None,
        int(d.get("completed_request_count", {}).get("avg", n)),
        wall,
    )


AIPERF_SRC = (
    "profile_export_aiperf.json: request_throughput.avg, time_to_first_token.p50, effective_concurrency.avg"
)


def inference_perf(exe: Path, url: str, n: int, tmp: Path, tok: Path) -> Measure:
    out = tmp / "ip-reports"
    cfg = {
        "load": {
            "type": "concurrent",
            "num_workers": 1,
            "stages": [{"num_requests": n, "concurrency_level": 64}],
        },
        "api": {"type": "completion", "streaming": True},
        "server": {"type": "vllm", "model_name": "fake-model", "base_url": url, "ignore_eos": True},
        "tokenizer": {"pretrained_model_name_or_path": str(tok)},
        "data": {
            "type": "random",
            "input_distribution": {"min": 8, "max": 8, "mean": 8, "std_dev": 0, "type": "fixed"},
            "output_distribution": {"min": 64, "max": 64, "mean": 64, "std_dev": 0, "type": "fixed"},
        },
        "report": {"request_lifecycle": {"summary": True, "per_stage": True}, "prometheus": None},
        "storage": {"local_storage": {"path": str(out)}},
    }
    (tmp / "config.yml").write_text(json.dumps(cfg))  # YAML is a superset of JSON
    wall = _run([str(exe), "--config_file", str(tmp / "config.yml")], tmp)
    s = json.loads((out / "stage_0_lifecycle_metrics.json").read_text())["successes"]
    rps = s["throughput"]["requests_per_sec"]
    return Measure(
        rps,
        s["latency"]["time_to_first_token"]["median"] * 1e3,
        rps * s["latency"]["request_latency"]["mean"],
        False,
        s["count"],
        wall,
    )


IP_SRC = (
    "stage_0_lifecycle_metrics.json successes: throughput.requests_per_sec, latency.time_to_first_token.median; "
    "load type concurrent (64), /v1/completions (its random data makes no chat requests)"
)

PEERS: dict[str, tuple[Callable[..., Measure], str]] = {
    "guidellm": (guidellm, GUIDELLM_SRC),
    "aiperf": (aiperf, AIPERF_SRC),
    "inference-perf": (inference_perf, IP_SRC),
}


def version(exe: Path, name: str) -> str:
    """The installed version of the peer's package, from its own venv's metadata."""
    py = exe.resolve().parent / "python"
    if not py.exists():
        return "?"
    out = subprocess.run(
        [str(py), "-c", f"import importlib.metadata as m; print(m.version({name!r}))"],
        capture_output=True,
        text=True,
        timeout=60,
        env=_peer_env(),
    )
    return out.stdout.strip() or "?"


def peer_row(name: str, exe: Path, fast: Server, slow: Server, n: int, tok: Path) -> Row:
    """Both runs of one peer; a run that fails is said and left empty (both failing raises the last reason)."""
    fn, src = PEERS[name]
    out: list[Measure | None] = []
    err: Exception | None = None
    for which, server, count in (("instant", fast, n), ("50 ms", slow, SLOW_REQUESTS)):
        with tempfile.TemporaryDirectory(prefix=f"peer-{name}-") as tmp:
            try:
                out.append(fn(exe, server.url, count, Path(tmp), tok))
            except Exception as exc:  # noqa: BLE001 - keep the other run
                print(f"{name}: the {which}-server run failed ({type(exc).__name__}: {str(exc)[-400:]})")
                out.append(None)
                err = exc
    if err is not None and not any(out):
        raise err
    return Row(f"{name} {version(exe, name)}", *out, src)


# ---- main -------------------------------------------------------------------------------------------------------


def _fmt(v: float | None, spec: str, own: bool = True) -> str:
    if v is None:
        return "—"
    return ("" if own else "~") + format(v, spec)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=2000, help="requests at c=64 against the instant server")
    ap.add_argument(
        "--peers-dir",
        type=Path,
        default=Path(os.environ["TOKENOMY_PEERS"]) if os.environ.get("TOKENOMY_PEERS") else None,
        help="folder with NAME/bin/NAME per peer (default $TOKENOMY_PEERS, else PATH)",
    )
    ap.add_argument(
        "--only", default="", help="comma-separated subset: tokenomy,openai,guidellm,aiperf,inference-perf"
    )
    args = ap.parse_args()
    n = args.requests
    only = {s.strip() for s in args.only.split(",") if s.strip()}
    want = lambda k: not only or k in only  # noqa: E731

    print(machine())
    print(
        f"client on core 0, server on core {CORES - 1}; {n} requests at c=64 against the instant server (req/s), "
        f"{SLOW_REQUESTS} at c=64 against the 50 ms / 10 ms server (TTFT)"
    )
    found = {}
    for name in PEERS:
        if not want(name):
            continue
        exe = find_tool(name, args.peers_dir)
        if exe is None:
            print(f"{name}: not installed (no {name} under --peers-dir/$TOKENOMY_PEERS nor on PATH), skipped")
        else:
            found[name] = exe
            print(f"{name}: {exe}")

    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="peers-tok-") as tokdir:
        tok: Path | None = None
        if found:
            try:
                pythons = [e.resolve().parent / "python" for e in found.values()]
                pythons = [p for p in pythons if p.exists()]
                tok = make_tokenizer(pythons, Path(tokdir) / "tok")
                print(
                    f"local tokenizer for the peers' synthetic prompts: byte-level BPE, 2,000 tokens ({tok})"
                )
            except Exception as exc:  # noqa: BLE001 - every peer needs it; say why they are skipped
                print(f"peers skipped: {exc}")
                found = {}
        with Server(ttft_ms=0, gap_ms=0, tokens=64) as fast, Server(ttft_ms=50, gap_ms=10, tokens=64) as slow:
            jobs: list[tuple[str, Callable[[], Row]]] = []
            if want("tokenomy"):
                jobs += [("tokenomy bench", lambda: ours_cli(fast, slow, n))]
                jobs += [("tokenomy send loop", lambda: ours_loop(fast, slow, n))]
            if want("openai"):
                try:
                    import openai  # noqa: F401

                    jobs.append(("openai loop", lambda: openai_loop(fast, slow, n)))
                except ImportError:
                    print("openai loop: the openai package is not installed, skipped")
            for name, exe in found.items():
                jobs.append((name, lambda name=name, exe=exe: peer_row(name, exe, fast, slow, n, tok)))
            for label, job in jobs:
                t = time.perf_counter()
                try:
                    rows.append(job())
                    print(f"{label}: done in {time.perf_counter() - t:.0f} s")
                except Exception as exc:  # noqa: BLE001 - one peer failing must not stop the others
                    print(f"{label}: failed ({type(exc).__name__}: {str(exc)[-400:]})")

    print(
        f"\n{'tool':<38} {'req/s c=64':>10} {'in flight':>9}   {'TTFT p50 (true 50 ms)':>21} {'in flight':>9}"
        f" {'ok':>18} {'wall s':>11}"
    )
    for r in rows:
        f, s = r.fast, r.slow
        ok = "/".join(
            "—" if m is None else f"{m.ok}" + (f" of {m.sent}" if m.sent and m.sent != m.ok else "")
            for m in (f, s)
        )
        wall = f"{f.wall_s if f else 0:.0f}+{s.wall_s if s else 0:.0f}"
        rps = _fmt(f and f.rps, ",.0f")
        fly_f = _fmt(f and f.in_flight, ".1f", f is None or f.in_flight_own)
        ttft = _fmt(s and s.ttft_ms, ".1f") + " ms"
        fly_s = _fmt(s and s.in_flight, ".1f", s is None or s.in_flight_own)
        print(f"{r.tool:<38} {rps:>10} {fly_f:>9}   {ttft:>21} {fly_s:>9} {ok:>18} {wall:>11}")
    print(
        "\nreq/s and TTFT p50 are the tools' own reported figures; in flight: the mean number of requests open, "
        "the tool's own figure, or ~ Little's law (req/s x reported mean latency; against the instant server it "
        "leaves out the client's own time between a response and the next request, so it reads below 64 even "
        "for a client that keeps every slot busy); ok: successful requests (instant/50 ms runs; 'of N' "
        "where the tool sent more than it counts); wall s: each command's whole wall time incl. its start "
        "(not used for req/s)."
    )
    for r in rows:
        print(f"  {r.tool}: {r.source}")
    for r in rows:
        m = r.slow
        if m and m.in_flight is not None and m.in_flight < 0.8 * 64:
            print(
                f"  {r.tool}: holds {m.in_flight:.1f} requests in flight (mean), not 64, against the 50 ms server"
            )
    ours = next((r for r in rows if r.tool.startswith("tokenomy bench") and r.fast), None)
    peers = [r for r in rows if not r.tool.startswith("tokenomy") and r.fast]
    if ours and peers:
        best = max(peers, key=lambda r: r.fast.rps)
        ratio = ours.fast.rps / best.fast.rps
        print(
            f"\ntokenomy bench (CLI) / fastest peer ({best.tool}, {best.fast.rps:,.0f} req/s) = {ratio:.1f}x "
            f"(target ≥ 2x): {'ok' if ratio >= 2 else 'MISSED'}"
        )
    print(f"load average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
