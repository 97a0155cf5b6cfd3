"""Benchmark of the scoring stage; writes JSON and Markdown under benchmarks/results/.

1. Efficiency: pairs/s of one expert through ``score_claims`` inside a Prefect flow on a Dask
   LocalCluster, versus the same expert's bare ``predict`` in one process on the same pairs.
2. Gated top-k versus all experts on every pair: pairs scored, wall time, and quality
   (accuracy, macro-F1, AUROC of supported-vs-not) on a labelled dev set: the
   ``experts.training.data`` splits when cached, else rule-made pairs (said in the output).

Run: ``nice -n 10 .venv/bin/python benchmarks/experts_bench.py --pairs 2000 --train-gate``
(a ``benchmarks`` package in site-packages shadows this folder, so run it as a script).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"


def _claims_and_evidence(rows: list[dict]):
    from verdictflow.contracts import Claim, Evidence

    claims, evidence = [], {}
    for i, r in enumerate(rows):
        cid = f"c{i}"
        claims.append(
            Claim(item_id=f"i{i}", claim_id=cid, index=0, text=r["claim"], start=0, end=1)
        )
        evidence[cid] = [
            Evidence(
                claim_id=cid, doc_id="d", chunk_id=f"k{i}", text=r["evidence"], score=1.0, rank=0
            )
        ]
    return claims, evidence


def synthetic_rows(n: int) -> list[dict]:
    """Rule-made labelled pairs (numbers, names, negation, unrelated), ``n`` of them."""
    from tests.experts.gate_data import labelled_rows

    rows = labelled_rows(max(1, n // 7 + 1))
    return rows[:n]


def dev_rows(n: int, split: str, seed: int) -> tuple[list[dict], str]:
    """Labelled pairs from the training data's split, or rule-made ones when not cached."""
    from experts.training.gate_training import labelled_pairs

    try:
        return labelled_pairs(None, split, n, seed), f"experts.training.data {split} split"
    except Exception as exc:  # data not fetched here: say so
        return synthetic_rows(n), f"rule-made pairs (experts.training.data unavailable: {exc})"


def bench_efficiency(expert_name: str, rows: list[dict], workers: int, registry: str) -> dict:
    """Bare forward pass in this process versus score_claims on a Dask LocalCluster."""
    from prefect import flow
    from prefect_dask import DaskTaskRunner

    from experts.registry import build_expert, load_registry
    from flows.runtime import local_cluster
    from tasks.scoring import score_claims

    (spec,) = [s for s in load_registry(registry) if s.name == expert_name]
    single = str(Path(tempfile.mkdtemp()) / "single.yaml")
    Path(single).write_text(json.dumps({"experts": [spec.model_dump(mode="json")]}))
    pairs = [(r["claim"], r["evidence"]) for r in rows]
    expert = build_expert(spec)
    expert.predict(pairs[:8])  # warm-up
    t0 = time.perf_counter()
    bare = expert.predict(pairs)
    bare_s = time.perf_counter() - t0

    claims, evidence = _claims_and_evidence(rows)

    @flow(name="experts-bench")
    def scoring():
        return score_claims(claims, evidence, registry=single, top_k=1)

    with local_cluster(
        n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        runner = DaskTaskRunner(address=cluster.scheduler_address)
        t0 = time.perf_counter()
        scoring.with_options(task_runner=runner)()  # cold: workers load the expert
        cold_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        scores, report = scoring.with_options(task_runner=runner)()
        warm_s = time.perf_counter() - t0
    dask_probs = np.array([s.probs for s in scores])
    return {
        "expert": expert_name,
        "pairs": len(pairs),
        "workers": workers,
        "batches": report["batches"],
        "bare_s": round(bare_s, 3),
        "bare_pairs_per_s": round(len(pairs) / bare_s, 1),
        "dask_cold_s": round(cold_s, 3),
        "dask_warm_s": round(warm_s, 3),
        "dask_pairs_per_s": round(len(pairs) / warm_s, 1),
        "efficiency_ratio": round(bare_s / warm_s, 3),
        "max_abs_diff_vs_bare": float(np.abs(dask_probs - bare).max()),
    }


def quality(scores, rows: list[dict]) -> dict:
    """Accuracy, macro-F1 (3 classes) and AUROC of p_supported (supported vs not)."""
    from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

    from experts.training.gate_training import label_indices

    y = label_indices([r["label"] for r in rows])
    probs = np.array([s.probs for s in scores])
    pred = probs.argmax(axis=1)
    out = {
        "accuracy": round(float(accuracy_score(y, pred)), 4),
        "macro_f1": round(float(f1_score(y, pred, average="macro", labels=[0, 1, 2])), 4),
    }
    if len(set(y == 0)) == 2:
        out["auroc_supported"] = round(float(roc_auc_score(y == 0, probs[:, 0])), 4)
    return out


def bench_gating(rows: list[dict], registry: str | None, k: int) -> dict:
    """Gated top-k versus every expert on every pair, in this process."""
    from experts.mixture.gate import load_gate
    from experts.registry import load_registry
    from tasks.scoring import score_claims

    specs = load_registry(registry)
    claims, evidence = _claims_and_evidence(rows)
    warm = {c.claim_id: evidence[c.claim_id] for c in claims[:4]}
    score_claims(claims[:4], warm, top_k=len(specs), registry=registry)  # load every expert
    out = {"experts": [s.name for s in specs], "gate": load_gate(specs).version}
    for label, top_k in ((f"gated_top{k}", k), ("all_experts", len(specs))):
        t0 = time.perf_counter()
        scores, report = score_claims(claims, evidence, registry=registry, top_k=top_k)
        out[label] = {
            "pairs_scored": report["pairs_scored"],
            "wall_s": round(time.perf_counter() - t0, 3),
            "gate_s": report["gate_s"],
            "experts_s": report["experts_s"],
            "utilisation": report["utilisation"],
            "balance": report["balance"],
            **quality(scores, rows),
        }
    return out


def markdown(result: dict) -> str:
    eff, gate = result["efficiency"], result["gating"]
    lines = [
        "# Experts benchmark",
        "",
        f"{result['when']} · {result['machine']} · `{result['command']}`",
        "",
        f"## Dask scoring vs bare forward pass ({eff['expert']}, {eff['pairs']} pairs)",
        "",
        "| path | wall s | pairs/s |",
        "|---|---|---|",
        f"| bare predict, 1 process | {eff['bare_s']} | {eff['bare_pairs_per_s']} |",
        f"| score_claims on Dask ({eff['workers']} workers), warm | {eff['dask_warm_s']} | "
        f"{eff['dask_pairs_per_s']} |",
        f"| same, cold (workers load the expert) | {eff['dask_cold_s']} | |",
        "",
        f"Efficiency ratio (bare time / Dask warm time): **{eff['efficiency_ratio']}**; "
        f"max |difference| of probabilities: {eff['max_abs_diff_vs_bare']:.2g}.",
        "",
        f"## Gated vs all experts ({result['dev_pairs']} pairs: {result['dev_source']})",
        "",
        f"Experts: {', '.join(gate['experts'])}; gate: {gate['gate']}.",
        "",
        "| routing | pairs scored | wall s | gate s | experts s | accuracy | macro-F1 "
        "| AUROC sup. | balance |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name in [k for k in gate if k.startswith(("gated", "all"))]:
        g = gate[name]
        lines.append(
            f"| {name} | {g['pairs_scored']} | {g['wall_s']} | {g['gate_s']} | "
            f"{g['experts_s']} | {g['accuracy']} | "
            f"{g['macro_f1']} | {g.get('auroc_supported', '-')} | {g['balance']} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=2000, help="pairs for the efficiency test")
    parser.add_argument("--dev-pairs", type=int, default=600, help="labelled pairs for quality")
    parser.add_argument("--expert", default=None, help="expert for the efficiency test")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--k", type=int, default=None)
    parser.add_argument("--registry", default=None)
    parser.add_argument("--train-gate", action="store_true", help="train a gate on the dev split")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    from experts.registry import load_registry, registry_path
    from verdictflow.config import get_settings

    settings = get_settings()
    registry = str(registry_path(args.registry))
    specs = load_registry(registry)
    kinds = {s.name: s.kind for s in specs}
    expert = args.expert or next(
        (n for n, k in kinds.items() if k == "cross_encoder"), "similarity"
    )
    k = args.k or settings.experts.gate_top_k

    eff_rows, eff_source = dev_rows(args.pairs, "dev", seed=1)
    if len(eff_rows) < args.pairs:  # top up with rule-made pairs to reach the count
        eff_rows += synthetic_rows(args.pairs - len(eff_rows))
    efficiency = bench_efficiency(expert, eff_rows, args.workers, registry)

    if args.train_gate:
        from experts.registry import load_experts
        from experts.training.gate_training import train_gate

        train_rows, _ = dev_rows(args.dev_pairs, "dev", seed=2)
        train_gate(
            [(r["claim"], r["evidence"]) for r in train_rows],
            [r["label"] for r in train_rows],
            load_experts(registry=registry),
        )
    rows, source = dev_rows(args.dev_pairs, "test" if args.train_gate else "dev", seed=3)
    gating = bench_gating(rows, registry, k)

    result = {
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, "
        f"device {settings.resolved_device()}",
        "command": "python benchmarks/experts_bench.py "
        + " ".join(
            f"--{k.replace('_', '-')}" + ("" if v is True else f" {v}")
            for k, v in vars(args).items()
            if v not in (None, False) and k != "out"
        ),
        "torch_threads": settings.compute_threads(),
        "efficiency_pairs_source": eff_source,
        "efficiency": efficiency,
        "dev_source": source,
        "dev_pairs": len(rows),
        "gating": gating,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "experts_bench.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / "experts_bench.md").write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
