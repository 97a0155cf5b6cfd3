"""Every benchmark in one command; writes ``bench.json`` and ``bench.md`` under the results folder.

Run: ``nice -n 10 .venv/bin/python -m benchmarks.run`` (from the repository root) or
``verdictflow bench``. The run uses a temporary VERDICTFLOW_HOME (the models, calibration and
data cache of the real one are linked in), so the user's corpus and database are not touched.

Measured: ingest chunks/s; search queries/s and p50/p95; verify claims/s end to end for a
batch (warm Dask cluster), single-item latency p50/p95 (fast path and full Prefect flow) and
where its time goes; peak memory of the process tree; the efficiency ratio and gated versus
dense experts (``benchmarks/experts_bench.py``); claims/s as the batch and the workers grow.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks import measure, workload


def _home(base: Path) -> str:
    """A bench home at ``base`` with the real home's models, calibration and data linked."""
    from verdictflow.config import get_settings

    real = get_settings().home.resolve()
    base.mkdir(parents=True, exist_ok=True)
    (real / "data").mkdir(parents=True, exist_ok=True)  # downloads are kept for next time
    for name in ("models", "calibration", "data"):
        if (real / name).exists() and not (base / name).exists():
            (base / name).symlink_to(real / name, target_is_directory=True)
    return str(base)


def bench_ingest(folder: Path, n_docs: int) -> dict[str, Any]:
    """Chunks/s of the ingest flow on ``n_docs`` synthetic documents (load, chunk, embed,
    write LanceDB and the database)."""
    from flows.ingest import ingest_documents

    corpus = workload.write_corpus(folder, n_docs)
    t0 = time.perf_counter()
    result = ingest_documents([str(corpus)])
    wall = time.perf_counter() - t0
    chunks = result["counts"]["chunks"]
    return {
        "docs": n_docs,
        "chunks": chunks,
        "wall_s": round(wall, 3),
        "chunks_per_s": round(chunks / wall, 1),
        "docs_per_s": round(n_docs / wall, 1),
    }


def bench_search(n_queries: int) -> dict[str, Any]:
    """One query at a time (hybrid by default): queries/s and latency percentiles."""
    from retrieval.search import search
    from verdictflow.config import get_settings

    qs = workload.queries(n_queries)
    search(qs[0])  # warm: model and table handles
    times = []
    for q in qs:
        t0 = time.perf_counter()
        hits = search(q)
        times.append(time.perf_counter() - t0)
        if not hits:
            raise RuntimeError(f"search returned nothing for {q!r}: is the corpus ingested?")
    return {
        "queries": n_queries,
        "mode": get_settings().retrieval.search_mode,
        "queries_per_s": round(n_queries / sum(times), 1),
        **measure.percentiles_ms(times),
    }


def _verify_timed(n_items: int, offset: int) -> dict[str, Any]:
    """One verify_items flow run on ``n_items`` new items, with its peak memory (PSS)."""
    from flows.runtime import task_runner
    from flows.verify import verify_items

    flow = verify_items.with_options(task_runner=task_runner())
    # A JSONL path, as the CLI gives it: Prefect refuses flow parameters over 512 KB.
    path = Path(tempfile.mkdtemp(prefix="verdictflow-items-")) / "items.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in workload.items(n_items, offset=offset)))
    with measure.PeakMemory() as peak:
        t0 = time.perf_counter()
        result = flow(path=str(path))
        wall = time.perf_counter() - t0
    claims = result.counts["claims"]
    # quality_failed is a completed run whose batch expectations failed (the synthetic
    # workload is labelled, and its ECE is what it is): only a failed run is an error here.
    if result.status == "failed" or claims < n_items:
        raise RuntimeError(f"verify run {result.run_id}: {result.status}, {result.counts}")
    return {
        "items": n_items,
        "claims": claims,
        "wall_s": round(wall, 3),
        "claims_per_s": round(claims / wall, 1),
        "ms_per_claim": round(1000 * wall / claims, 2),
        "peak_mb": peak.peak_mb,
        "server_mb": peak.server_mb,
        "rss_sum_mb": peak.peak_rss_sum_mb,
    }


def bench_scaling(sizes: Sequence[int], workers: Sequence[int], batch_items: int) -> dict:
    """Claims/s end to end on a warm cluster: per batch size (most workers) and per worker
    count (``batch_items`` claims). The ``batch_items`` run on the most workers is the batch
    figure (with peak memory)."""
    out: dict[str, Any] = {"by_size": [], "by_workers": []}
    offset = 1_000_000
    for n_workers in sorted(set(workers), reverse=True):
        with measure.warm_cluster(n_workers):
            _verify_timed(min(20, batch_items), offset)  # workers load their experts
            offset += 20
            runs = sizes if n_workers == max(workers) else [batch_items]
            for size in runs:
                point = {"workers": n_workers, **_verify_timed(size, offset)}
                offset += size
                if n_workers == max(workers):
                    out["by_size"].append(point)
                if size == batch_items:
                    out["by_workers"].append(point)
    by_size = {p["items"]: p for p in out["by_size"]}
    if len(by_size) > 1:
        sizes_sorted = sorted(by_size)
        first, last = (
            by_size[sizes_sorted[1 if len(sizes_sorted) > 2 else 0]],
            by_size[sizes_sorted[-1]],
        )
        out["claims_per_s_change"] = round(last["claims_per_s"] / first["claims_per_s"] - 1, 3)
    out["batch"] = next((p for p in out["by_workers"] if p["workers"] == max(workers)), None)
    return out


def _fast_path_ms(runs: int, offset: int, **env: str) -> dict[str, float]:
    """p50/p95 of ``runs`` one-item fast-path calls (after 3 warm-up calls), with the given
    ``VERDICTFLOW_*`` settings in force for the measurement only."""
    from flows.verify import verify_items

    times = []
    with measure.settings_env(**env):
        for i in range(runs + 3):
            t0 = time.perf_counter()
            result = verify_items(items=workload.items(1, offset=offset + i))
            if i >= 3:  # the first calls load models and open the database
                times.append(time.perf_counter() - t0)
            if not result.verdicts:
                raise RuntimeError(f"fast path gave no verdict: {result.errors}")
    return measure.percentiles_ms(times)


def bench_latency(runs: int, docs: int) -> dict[str, Any]:
    """Single one-claim item with context, warm: the fast path (the contracts' record rules;
    Great Expectations runs on batches, not here), the full Prefect flow on a warm cluster,
    and the stages of the pipeline timed one by one.

    Every item brings a context not seen before (a product beyond the ``docs`` ingested), so
    its chunks are embedded in the call; ``fast_path_seen_context`` repeats the shipped case
    with contexts the embedding cache already holds (the ingested documents themselves).
    """
    from flows.runtime import task_runner
    from flows.verify import verify_items

    step = runs + 3
    if docs + 5 * step > workload.PRODUCTS:
        raise ValueError(f"latency runs: at most {(workload.PRODUCTS - docs) // 5 - 3}")
    offset = 2_000_000 - 2_000_000 % workload.PRODUCTS + docs  # products not ingested
    fast = _fast_path_ms(runs, offset)
    seen = _fast_path_ms(min(runs, docs - 3), offset - docs) if docs > 3 else None
    offset += 3 * step
    flow_times = []
    with measure.warm_cluster(None):
        flow = verify_items.with_options(task_runner=task_runner()).flow  # always a flow run
        for i in range(max(3, runs // 3) + 1):
            t0 = time.perf_counter()
            flow(items=workload.items(1, offset=offset + i))
            if i:
                flow_times.append(time.perf_counter() - t0)
    return {
        "runs": runs,
        "fast_path": fast,
        "fast_path_seen_context": seen,
        "prefect_flow": measure.percentiles_ms(flow_times),
        "stages_ms": measure.stage_times(workload.items(runs, offset=offset + step)),
    }


def bench_experts(pairs: int, dev_pairs: int, workers: int) -> dict[str, Any]:
    """The experts benchmark (efficiency ratio, gated vs dense), reused as it is. When the
    labelled dev pairs make an expert fail, the rule-made pairs are used and the error kept."""
    from benchmarks import experts_bench
    from experts.registry import load_registry, registry_path
    from verdictflow.config import get_settings

    registry = str(registry_path(None))
    kinds = {s.name: s.kind for s in load_registry(registry)}
    expert = next((n for n, k in kinds.items() if k == "cross_encoder"), "similarity")
    rows, source = experts_bench.dev_rows(pairs, "dev", seed=1)
    if len(rows) < pairs:
        rows += experts_bench.synthetic_rows(pairs - len(rows))
    dev, dev_source = experts_bench.dev_rows(dev_pairs, "dev", seed=3)
    k = get_settings().experts.gate_top_k
    out: dict[str, Any] = {}
    for name, run, data, why in (
        (
            "efficiency",
            lambda r: experts_bench.bench_efficiency(expert, r, workers, registry),
            rows,
            source,
        ),
        ("gating", lambda r: experts_bench.bench_gating(r, registry, k), dev, dev_source),
    ):
        try:
            out[name], out[f"{name}_source"] = run(data), why
        except Exception as exc:
            out[f"{name}_error"] = f"{type(exc).__name__}: {exc}"
            out[name] = run(experts_bench.synthetic_rows(len(data)))
            out[f"{name}_source"] = "rule-made pairs (the labelled pairs failed, see error)"
    return out


def run_all(
    sizes: Sequence[int] = (100, 1000, 10000),
    batch_items: int = 1000,
    latency_runs: int = 30,
    docs: int = 1000,
    queries: int = 200,
    workers: Sequence[int] = (1, 2),
    expert_pairs: int = 2000,
    dev_pairs: int = 600,
    skip_experts: bool = False,
    out: Path | None = None,
) -> dict[str, Any]:
    """Run every benchmark and write ``bench.json`` and ``bench.md`` to ``out``."""
    from verdictflow.config import get_settings, offline_hub

    offline_hub()
    out = Path(out or get_settings().evaluation.results_dir)
    started = time.time()
    base = Path(tempfile.mkdtemp(prefix="verdictflow-bench-"))
    with measure.settings_env(HOME=_home(base / "home")):
        result = _run(sizes, batch_items, latency_runs, docs, queries, workers, base, started)
        if not skip_experts:
            try:
                result["experts"] = bench_experts(expert_pairs, dev_pairs, max(workers))
            except Exception as exc:  # the rest of the figures still get written
                result["experts"] = {"error": f"{type(exc).__name__}: {exc}"}
    result["load_after"] = [round(x, 2) for x in os.getloadavg()]
    result["wall_s"] = round(time.time() - started, 1)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "bench.json", "markdown": out / "bench.md"}
    paths["json"].write_text(json.dumps(result, indent=2, default=str) + "\n")
    paths["markdown"].write_text(measure.markdown(result))
    result["paths"] = {k: str(v) for k, v in paths.items()}
    return result


def _run(
    sizes: Sequence[int],
    batch_items: int,
    latency_runs: int,
    docs: int,
    queries: int,
    workers: Sequence[int],
    base: Path,
    started: float,
) -> dict[str, Any]:
    result: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(started)),
        "machine": measure.machine(),
        "settings": measure.settings_summary(),
        "parameters": {
            "sizes": list(sizes),
            "batch_items": batch_items,
            "latency_runs": latency_runs,
            "docs": docs,
            "queries": queries,
            "workers": list(workers),
        },
    }
    result["ingest"] = bench_ingest(base / "corpus", docs)
    result["search"] = bench_search(queries)
    result["latency"] = bench_latency(latency_runs, docs)
    result["scaling"] = bench_scaling(sizes, workers, batch_items)
    return result


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="verdictflow benchmarks")
    parser.add_argument("--sizes", default="100,1000,10000", help="claims per scaling point")
    parser.add_argument("--batch-items", type=int, default=1000)
    parser.add_argument("--latency-runs", type=int, default=30)
    parser.add_argument("--docs", type=int, default=1000, help="documents ingested")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--workers", default="1,2", help="Dask worker counts")
    parser.add_argument("--expert-pairs", type=int, default=2000)
    parser.add_argument("--dev-pairs", type=int, default=600)
    parser.add_argument("--skip-experts", action="store_true")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    result = run_all(
        sizes=[int(s) for s in args.sizes.split(",")],
        batch_items=args.batch_items,
        latency_runs=args.latency_runs,
        docs=args.docs,
        queries=args.queries,
        workers=[int(w) for w in args.workers.split(",")],
        expert_pairs=args.expert_pairs,
        dev_pairs=args.dev_pairs,
        skip_experts=args.skip_experts,
        out=args.out,
    )
    print(Path(result["paths"]["markdown"]).read_text())


if __name__ == "__main__":
    main()
