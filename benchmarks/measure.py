"""What the benchmarks measure with: percentiles, peak memory, a warm Dask cluster, the
machine, per-stage timings, and the Markdown report."""

from __future__ import annotations

import contextlib
import os
import platform
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np


def percentiles_ms(seconds: Sequence[float]) -> dict[str, float]:
    """p50, p95 and mean of durations, in milliseconds."""
    arr = np.asarray(seconds, dtype=np.float64) * 1000
    if not len(arr):
        return {"p50_ms": float("nan"), "p95_ms": float("nan"), "mean_ms": float("nan")}
    return {
        "p50_ms": round(float(np.percentile(arr, 50)), 1),
        "p95_ms": round(float(np.percentile(arr, 95)), 1),
        "mean_ms": round(float(arr.mean()), 1),
        "n": int(len(arr)),
    }


def _is_prefect_server(proc: Any) -> bool:
    """The temporary Prefect API server a flow run starts (a service, not the run itself)."""
    cmd = " ".join(proc.cmdline())
    return "uvicorn" in cmd or ("prefect" in cmd and " server " in f"{cmd} ")


class PeakMemory:
    """Samples the memory of this process and all its children (Dask workers, the Prefect
    server) while in the ``with`` block.

    ``peak_mb``: the highest sum of PSS (proportional set size: a page shared by n processes,
    such as torch's libraries or a memory-mapped model, counts 1/n in each) over the run's own
    processes, the Prefect server left out; ``server_mb``: the server's PSS at that peak;
    ``peak_rss_sum_mb``: the highest plain RSS sum over every process, server included (it
    counts shared pages once per process, so it overstates).
    """

    def __init__(self, interval_s: float = 0.25) -> None:
        self.interval_s = interval_s
        self.peak_mb = 0.0
        self.server_mb = 0.0
        self.peak_rss_sum_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _totals(self) -> tuple[float, float, float]:
        import psutil

        me = psutil.Process(os.getpid())
        run = server = rss = 0
        for proc in [me, *me.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):
                info = proc.memory_full_info()
                rss += info.rss
                if _is_prefect_server(proc):
                    server += info.pss
                else:
                    run += info.pss
        return run / 2**20, server / 2**20, rss / 2**20

    def _record(self) -> None:
        run, server, rss = self._totals()
        if run > self.peak_mb:
            self.peak_mb, self.server_mb = round(run, 1), round(server, 1)
        self.peak_rss_sum_mb = max(self.peak_rss_sum_mb, round(rss, 1))

    def _sample(self) -> None:
        while not self._stop.is_set():
            self._record()
            self._stop.wait(self.interval_s)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._record()


@contextlib.contextmanager
def warm_cluster(n_workers: int | None) -> Iterator[str | None]:
    """A LocalCluster kept up for the block, given to the flows as ``dask_address`` so their
    workers stay warm between runs; yields its address (None when Dask is off)."""
    from distributed import LocalCluster

    from flows.runtime import local_cluster
    from verdictflow.config import get_settings

    settings = get_settings()
    if not settings.dask.use_dask:
        yield None
        return
    # local_cluster gives worker processes this process's Prefect API; threads share it anyway
    make = local_cluster if settings.dask.processes else LocalCluster
    with (
        make(
            n_workers=n_workers or settings.dask.n_workers,
            threads_per_worker=settings.dask.threads_per_worker,
            processes=settings.dask.processes,
            dashboard_address=None,
        ) as cluster,
        settings_env(DASK_ADDRESS=cluster.scheduler_address),
    ):
        yield cluster.scheduler_address


@contextlib.contextmanager
def settings_env(**values: str) -> Iterator[None]:
    """``VERDICTFLOW_<KEY>=value`` for each keyword while the block runs; settings are re-read
    on entry and again after the previous values are back."""
    from verdictflow.config import reset_settings

    names = {f"VERDICTFLOW_{key}": value for key, value in values.items()}
    saved = {name: os.environ.get(name) for name in names}
    os.environ.update(names)
    reset_settings()
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        reset_settings()


def _cpu_model() -> str | None:
    """The CPU's model name (Linux), so runs on different hosts can be told apart."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def machine() -> dict[str, Any]:
    """Cores, memory, GPU, versions, code version and the load when the run started."""
    import psutil
    import torch

    from verdictflow.verdicts import code_version

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {
        "platform": platform.platform(),
        "cpu": _cpu_model() or platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "gpu": gpu,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "code_version": code_version(),
        "load_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def settings_summary() -> dict[str, Any]:
    """The settings that change the figures."""
    from verdictflow.config import get_settings

    s = get_settings()
    return {
        "dask": s.dask.model_dump(),
        "torch_threads": s.compute_threads(),
        "gate_top_k": s.experts.gate_top_k,
        "top_k": s.retrieval.top_k,
        "fast_path_max_items": getattr(s.verify, "fast_path_max_items", None),
        "device": s.resolved_device(),
        "database": s.db_url.split("://")[0],
    }


def decide_in_process(claims: list) -> tuple[list, dict]:
    """The verify pipeline's stages after the claims, in this process and without storage
    (evidence -> gate + experts -> decide): the claim verdicts, in claim order, and the
    scoring report (routing, combiner)."""
    from experts.mixture.scoring import Scorer
    from tasks import stages

    evidence = stages.evidence_for(claims)
    scoring = Scorer().score(claims, evidence)
    return stages.decide(claims, evidence, scoring.scores), scoring.report


def _split_all(items, split_claims) -> list:
    return [claim for item in items for claim in split_claims(item)]


def stage_times(records: list[dict]) -> dict[str, float]:
    """Median milliseconds of each pipeline stage for one item at a time, library calls only
    (no Prefect): where the single-item latency goes."""
    from retrieval.evidence import gather_evidence
    from storage.repository import repository_for
    from tasks.scoring import score_claims
    from tasks.stages import decide, persist_batch
    from verdictflow.claims import split_claims
    from verdictflow.config import get_settings
    from verdictflow.inputs import coerce_items
    from verdictflow.verdicts import group_items

    repo = repository_for(get_settings().db_url)
    times: dict[str, list[float]] = {}

    def timed(name: str, fn, *args):
        t0 = time.perf_counter()
        value = fn(*args)
        times.setdefault(name, []).append(time.perf_counter() - t0)
        return value

    for n, record in enumerate(records):
        run_id = f"stage-bench-{n}"
        items, _ = timed("validate", coerce_items, [record])
        claims = timed("split", _split_all, items, split_claims)
        timed("open_run", repo.start_run, run_id, "verify", {}, "bench")
        evidence = timed("evidence", gather_evidence, claims)
        scores, _ = timed("score", score_claims, claims, evidence)
        decided = timed("decide", decide, claims, evidence, scores)
        verdicts = group_items(decided)
        timed("persist", persist_batch, run_id, claims, evidence, scores, verdicts)
        timed("close_run", repo.finish_run, run_id, "completed", {}, {})
    return {name: round(1000 * float(np.median(v)), 2) for name, v in times.items()}


def _p50_p95(figures: dict[str, float] | None) -> str:
    return f"{figures['p50_ms']} / {figures['p95_ms']}" if figures else "not measured"


def _row(name: str, value: Any, target: str = "") -> str:
    return f"| {name} | {value} | {target} |"


def markdown(result: dict[str, Any]) -> str:
    """The benchmark report: one table of figures with their targets, then the details."""
    m, ing, srch, lat = result["machine"], result["ingest"], result["search"], result["latency"]
    scaling = result["scaling"]
    batch = scaling.get("batch") or {}
    lines = [
        "# verdictflow benchmarks",
        "",
        f"{result['when']} · {m['cores']} cores ({m['cpu']}), {m['memory_gb']} GB, "
        f"GPU: {m['gpu'] or 'none'} · code `{m['code_version']}` · load average at start "
        f"{m['load_at_start']}, after {result.get('load_after')} · {result['wall_s']} s",
        "",
        "| figure | value | target |",
        "|---|---|---|",
        _row("ingest chunks/s", f"{ing['chunks_per_s']} ({ing['chunks']} chunks)"),
        _row(f"search queries/s ({srch['mode']})", srch["queries_per_s"]),
        _row("search p50 / p95 ms", f"{srch['p50_ms']} / {srch['p95_ms']}"),
        _row(
            f"verify claims/s, {batch.get('items')}-item batch (warm)",
            batch.get("claims_per_s"),
        ),
        _row(
            "single item p50 / p95 ms, fast path (a new context, record rules on)",
            f"{lat['fast_path']['p50_ms']} / {lat['fast_path']['p95_ms']}",
            "p50 ≤ 150",
        ),
        _row(
            "  the same, a context already embedded (an ingested document)",
            _p50_p95(lat.get("fast_path_seen_context")),
        ),
        _row(
            "single item p50 / p95 ms, full Prefect flow",
            f"{lat['prefect_flow']['p50_ms']} / {lat['prefect_flow']['p95_ms']}",
        ),
        _row(
            f"peak memory of the {batch.get('items')}-item run (MB PSS: flow process + "
            "Dask workers)",
            batch.get("peak_mb"),
            "≤ 3072",
        ),
        _row(
            "  the Prefect server beside it (MB PSS) / plain RSS sum of every process (MB)",
            f"{batch.get('server_mb')} / {batch.get('rss_sum_mb')}",
        ),
    ]
    experts = result.get("experts")
    if experts and "error" in experts:
        lines.append(_row("experts benchmark", f"failed: {experts['error'][:200]}"))
    elif experts:
        eff, gating = experts["efficiency"], experts["gating"]
        lines.append(
            _row("efficiency ratio (bare / Dask scoring)", eff["efficiency_ratio"], "≥ 0.8")
        )
        for name in [k for k in gating if k.startswith(("gated", "all"))]:
            g = gating[name]
            lines.append(
                _row(
                    f"{name}: pairs scored, wall s, macro-F1, AUROC",
                    f"{g['pairs_scored']}, {g['wall_s']}, {g['macro_f1']}, "
                    f"{g.get('auroc_supported', '-')}",
                )
            )
    for name in ("efficiency", "gating"):
        if experts and f"{name}_source" in experts:
            note = experts[f"{name}_source"]
            if f"{name}_error" in experts:
                note += f" ({experts[f'{name}_error'][:160]})"
            lines.append(_row(f"{name} data", note))
    if "claims_per_s_change" in scaling:
        lines.append(
            _row(
                "claims/s change, 1k -> largest batch",
                f"{100 * scaling['claims_per_s_change']:+.1f} %",
                "≥ -10 %",
            )
        )
    lines += ["", "## Scaling (end to end, warm cluster)", ""]
    lines += [
        "| workers | claims | wall s | claims/s | ms/claim | peak MB |",
        "|---|---|---|---|---|---|",
    ]
    seen = set()
    for p in scaling["by_size"] + scaling["by_workers"]:
        key = (p["workers"], p["claims"])
        if key not in seen:
            seen.add(key)
            lines.append(
                f"| {p['workers']} | {p['claims']} | {p['wall_s']} | {p['claims_per_s']} | "
                f"{p['ms_per_claim']} | {p['peak_mb']} |"
            )
    lines += ["", "## Where a single item's time goes (library stages, ms, median)", ""]
    lines += ["| " + " | ".join(lat["stages_ms"]) + " |", "|" + "---|" * len(lat["stages_ms"])]
    lines.append("| " + " | ".join(str(v) for v in lat["stages_ms"].values()) + " |")
    lines += ["", f"Settings: `{result['settings']}`", ""]
    return "\n".join(lines)
