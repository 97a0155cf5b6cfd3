"""Retrieval benchmark: ingest throughput, search latency and evidence recall@5.

Run (a script, not a test)::

    nice -n 10 .venv/bin/python benchmarks/retrieval_bench.py [--chunks 20000] [--queries 1000]

- ingest throughput (documents/s, chunks/s) on the demo corpus and on ~20k chunks built from
  VitaminC evidence sentences (one document per distinct sentence);
- search latency p50/p95 of vector, full-text and hybrid search at that size (queries embedded
  beforehand; the embedding cost per query is reported on its own);
- evidence recall@1/@5 and MRR@5 on VitaminC: the query is a claim, the target its own
  evidence sentence;
- the same vector figures with an IVF-PQ index, to set ``vector_index_min_rows``.

Everything runs in a temporary VERDICTFLOW_HOME; results go to
``benchmarks/results/retrieval.json`` and ``retrieval.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _fresh_home(tag: str) -> Path:
    from verdictflow.config import reset_settings

    home = Path(tempfile.mkdtemp(prefix=f"vf-bench-{tag}-"))
    os.environ["VERDICTFLOW_HOME"] = str(home)
    reset_settings()
    return home


def _ingest(paths: list[Path]) -> dict:
    from retrieval.ingest import ingest_paths
    from retrieval.store import ChunkStore

    start = time.perf_counter()
    report = ingest_paths(paths)
    seconds = time.perf_counter() - start
    docs = report.counts["new"]
    chunks = ChunkStore().count()
    return {
        "documents": docs,
        "chunks": chunks,
        "failed": report.counts["failed"],
        "seconds": round(seconds, 2),
        "docs_per_s": round(docs / seconds, 1),
        "chunks_per_s": round(chunks / seconds, 1),
        "load_s": round(report.timings["load_s"], 2),
    }


def vitaminc_corpus(folder: Path, n_chunks: int, cache_dir: str | None) -> tuple[Path, dict]:
    """A JSONL of distinct VitaminC evidence sentences (about ``n_chunks``) and evidence->id."""
    from experts.training.data import load_vitaminc

    df = load_vitaminc(Path(cache_dir) if cache_dir else None)
    ids: dict[str, str] = {}
    rows = []
    for evidence, page in zip(df["evidence"], df["page"], strict=True):
        if evidence in ids:
            continue
        if len(ids) >= n_chunks:
            break
        ids[evidence] = f"vc-{len(ids):06d}"
        rows.append({"id": ids[evidence], "text": evidence, "page": page, "domain": "vitaminc"})
    path = folder / "vitaminc.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    queries = df[df["evidence"].isin(ids)]
    return path, {"ids": ids, "claims": queries[["claim", "evidence", "label"]]}


def _latency(fn, n: int) -> dict:
    times = []
    for i in range(n):
        t = time.perf_counter()
        fn(i)
        times.append((time.perf_counter() - t) * 1000)
    return {"p50_ms": round(float(np.percentile(times, 50)), 2),
            "p95_ms": round(float(np.percentile(times, 95)), 2)}  # fmt: skip


def search_figures(claims, ids: dict, n_queries: int, n_latency: int, seed: int = 0) -> dict:
    """Latency and recall of each mode on a sample of claims."""
    from retrieval.embedding import embed_texts
    from retrieval.search import search_many
    from retrieval.store import ChunkStore

    sample = claims.sample(n=min(n_queries, len(claims)), random_state=seed)
    texts = sample["claim"].tolist()
    targets = [ids[e] for e in sample["evidence"]]
    t = time.perf_counter()
    vectors = embed_texts(texts)
    embed_ms = (time.perf_counter() - t) * 1000 / len(texts)
    store = ChunkStore()
    tbl = store.table()
    out: dict = {"queries": len(texts), "embed_ms_per_query_batched": round(embed_ms, 2)}
    for mode in ("vector", "fts", "hybrid"):

        def one(i: int, mode: str = mode) -> list:
            return search_many([texts[i]], k=5, mode=mode, vectors=vectors[i : i + 1], store=store)

        lat = _latency(one, min(n_latency, len(texts)))
        ranks = []
        for i in range(len(texts)):
            hits = one(i)[0]
            rank = next((h.rank for h in hits if h.doc_id == targets[i]), None)
            ranks.append(rank)
        r1 = np.mean([r == 1 for r in ranks])
        r5 = np.mean([r is not None for r in ranks])
        mrr = np.mean([1 / r if r else 0.0 for r in ranks])
        out[mode] = {**lat, "recall@1": round(float(r1), 4), "recall@5": round(float(r5), 4),
                     "mrr@5": round(float(mrr), 4)}  # fmt: skip
    out["rows"] = tbl.count_rows()
    return out


def indexed_vector_figures(claims, ids: dict, n_queries: int, n_latency: int) -> dict:
    """Vector search with an IVF-PQ index on the same table (built here, timed)."""
    from lancedb.index import IvfPq

    from retrieval.store import ChunkStore

    tbl = ChunkStore().table()
    n = tbl.count_rows()
    t = time.perf_counter()
    tbl.create_index(
        "vector", config=IvfPq(distance_type="cosine", num_partitions=max(1, int(n**0.5)))
    )
    build_s = time.perf_counter() - t
    figures = search_figures(claims, ids, n_queries, n_latency)
    return {"build_s": round(build_s, 2), "vector": figures["vector"],
            "hybrid": figures["hybrid"]}  # fmt: skip


def markdown(results: dict) -> str:
    lines = [
        "# Retrieval benchmark",
        "",
        f"Machine: {results['machine']}. Embedding on {results['device']}, "
        f"torch threads {results['torch_threads']}. {results['date']}.",
        "",
        "## Ingest throughput",
        "",
        "| corpus | documents | chunks | seconds | documents/s | chunks/s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, r in results["ingest"].items():
        lines.append(
            f"| {name} | {r['documents']} | {r['chunks']} | {r['seconds']} | "
            f"{r['docs_per_s']} | {r['chunks_per_s']} |"
        )
    s = results["search"]
    lines += [
        "",
        f"## Search at {s['rows']} chunks ({s['queries']} VitaminC claims, k=5)",
        "",
        f"Query embedding (batched): {s['embed_ms_per_query_batched']} ms per query, "
        "not included below.",
        "",
        "| mode | p50 ms | p95 ms | recall@1 | recall@5 | MRR@5 |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for mode in ("vector", "fts", "hybrid"):
        r = s[mode]
        lines.append(
            f"| {mode} (flat) | {r['p50_ms']} | {r['p95_ms']} | {r['recall@1']} | "
            f"{r['recall@5']} | {r['mrr@5']} |"
        )
    if "indexed" in results:
        ix = results["indexed"]
        for mode in ("vector", "hybrid"):
            r = ix[mode]
            lines.append(
                f"| {mode} (IVF-PQ, built in {ix['build_s']} s) | {r['p50_ms']} | {r['p95_ms']} "
                f"| {r['recall@1']} | {r['recall@5']} | {r['mrr@5']} |"
            )
    lines += ["", f"Best recall@5: **{results['best_mode']}** (the default `search_mode`).", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=20_000, help="VitaminC corpus size.")
    parser.add_argument("--queries", type=int, default=1000, help="Claims for recall.")
    parser.add_argument("--latency-queries", type=int, default=300, help="Claims timed.")
    parser.add_argument("--vitaminc-cache", default=None, help="Folder with vitaminc/task.json.")
    parser.add_argument("--no-index", action="store_true", help="Skip the IVF-PQ experiment.")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()

    warm = _fresh_home("warmup")
    (warm / "warm.txt").write_text("Warm up the model, the tokenizer and LanceDB.")
    _ingest([warm / "warm.txt"])  # one-time costs (imports, model load) stay out of the figures
    from verdictflow.config import get_settings

    settings = get_settings()
    results: dict = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
        "device": settings.resolved_device(),
        "torch_threads": settings.compute_threads(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "settings": settings.retrieval.model_dump(mode="json"),
        "ingest": {},
    }
    demo = ROOT / "examples" / "demo" / "corpus"
    if demo.exists():
        _fresh_home("demo")
        results["ingest"]["demo corpus"] = _ingest([demo])
        print("demo", results["ingest"]["demo corpus"], flush=True)

    home = _fresh_home("vitaminc")
    corpus_dir = home / "corpus"
    corpus_dir.mkdir()
    path, vc = vitaminc_corpus(corpus_dir, args.chunks, args.vitaminc_cache)
    results["ingest"]["VitaminC evidence"] = _ingest([path])
    print("vitaminc", results["ingest"]["VitaminC evidence"], flush=True)
    results["search"] = search_figures(vc["claims"], vc["ids"], args.queries, args.latency_queries)
    print("search", results["search"], flush=True)
    results["best_mode"] = max(
        ("vector", "fts", "hybrid"), key=lambda m: results["search"][m]["recall@5"]
    )
    if not args.no_index:
        results["indexed"] = indexed_vector_figures(
            vc["claims"], vc["ids"], args.queries, args.latency_queries
        )
        print("indexed", results["indexed"], flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "retrieval.json").write_text(json.dumps(results, indent=2) + "\n")
    (args.out / "retrieval.md").write_text(markdown(results))
    print(markdown(results))


if __name__ == "__main__":
    main()
